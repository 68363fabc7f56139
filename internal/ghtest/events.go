package ghtest

import (
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Event payload fixtures, in the shape GitHub writes to GITHUB_EVENT_PATH. All are for repository
// octo/lean; pull request 7 is from a branch of octo/lean, 8 from the fork mallory/lean.
//
//	push, workflow_dispatch, pull_request (synchronize), pull_request_opened, pull_request_reopened,
//	pull_request_labeled, pull_request_closed, pull_request_merged, pull_request_fork (opened),
//	pull_request_fork_closed,
//	issue_comment_writer (alice: "/lean4 deploy max-instances=2 sleep-after=5m" on PR 7),
//	issue_comment_reader (bob: "/lean4 deploy"), issue_comment_fork (alice on PR 8),
//	issue_comment_bot (github-actions[bot]), issue_comment_edited, issue_comment_issue (not a PR),
//	issue_comment_chatter (no command line), issue_comment_secret (a token as an argument),
//	issue_comment_preview (alice: "/lean4 preview" on PR 7), issue_comment_preview_delete (alice:
//	"/lean4 preview delete"), issue_comment_preview_reader (bob), issue_comment_preview_fork (alice on PR 8),
//	issue_comment_preview_bad (alice: "/lean4 preview delete now")
//
//go:embed testdata/events/*.json
var events embed.FS

// FixtureRepo is the repository every event fixture names.
const FixtureRepo = "octo/lean"

// Event returns the payload of the named fixture.
func Event(t testing.TB, name string) []byte {
	t.Helper()
	b, err := EventPayload(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// EventPayload returns the payload of the named fixture, or an error naming a fixture that does not exist.
func EventPayload(name string) ([]byte, error) {
	b, err := events.ReadFile("testdata/events/" + name + ".json")
	if err != nil {
		return nil, fmt.Errorf("ghtest: no event fixture %q: %w", name, err)
	}
	return b, nil
}

// EventFile writes the named fixture to a temporary file and returns its path, for GITHUB_EVENT_PATH.
func EventFile(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(p, Event(t, name), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
