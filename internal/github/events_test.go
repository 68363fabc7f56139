package github_test

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/lean4-cf-action/internal/ghtest"
	"github.com/org/lean4-cf-action/internal/github"
)

func TestReadEvent(t *testing.T) {
	tests := []struct {
		fixture, event string
		want           github.Trigger // Comment compared by author and line only
		author, line   string
		ignoreHas      string
		refuseHas      string
	}{
		{fixture: "push", event: "push", want: github.Trigger{Event: "push", Repo: repo, SHA: "2222222222222222222222222222222222222222", Ref: "refs/heads/main"}},
		{fixture: "workflow_dispatch", event: "workflow_dispatch", want: github.Trigger{Event: "workflow_dispatch", Repo: repo, Ref: "refs/heads/main",
			SHA: "env-sha", Inputs: map[string]string{"image": "ghcr.io/ldct/lean4-server:v4.24.0", "max-instances": "2", "stage": "push", "dry-run": "true"}}},
		{fixture: "pull_request", event: "pull_request", want: github.Trigger{Event: "pull_request", Action: "synchronize", Repo: repo, PR: 7,
			SHA: "7777777777777777777777777777777777777777", Ref: "lean-next", HeadRepo: repo}},
		{fixture: "pull_request_fork", event: "pull_request", want: github.Trigger{Event: "pull_request", Action: "opened", Repo: repo, PR: 8,
			SHA: "8888888888888888888888888888888888888888", Ref: "lean-next", HeadRepo: "mallory/lean", Fork: true}},
		{fixture: "pull_request_closed", event: "pull_request", ignoreHas: "#7 was closed"},
		{fixture: "issue_comment_writer", event: "issue_comment", want: github.Trigger{Event: "issue_comment", Action: "created", Repo: repo, PR: 7,
			Command: "deploy", Args: map[string]string{"max-instances": "2", "sleep-after": "5m"}},
			author: "alice", line: "/lean4 deploy max-instances=2 sleep-after=5m"},
		{fixture: "issue_comment_reader", event: "issue_comment", want: github.Trigger{Event: "issue_comment", Action: "created", Repo: repo, PR: 7, Command: "deploy"},
			author: "bob", line: "/lean4 deploy"},
		{fixture: "issue_comment_fork", event: "issue_comment", want: github.Trigger{Event: "issue_comment", Action: "created", Repo: repo, PR: 8, Command: "deploy"},
			author: "alice", line: "/lean4 deploy"},
		{fixture: "issue_comment_bot", event: "issue_comment", ignoreHas: "by the bot github-actions[bot]"},
		{fixture: "issue_comment_edited", event: "issue_comment", ignoreHas: "was edited, not created"},
		{fixture: "issue_comment_issue", event: "issue_comment", ignoreHas: "on issue #3, not on a pull request"},
		{fixture: "issue_comment_chatter", event: "issue_comment", ignoreHas: "no /lean4 command"},
		{fixture: "issue_comment_secret", event: "issue_comment", refuseHas: "is a secret", author: "alice", line: "/lean4 deploy cloudflare-api-token=***"},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			env := map[string]string{"GITHUB_EVENT_NAME": tt.event, "GITHUB_EVENT_PATH": ghtest.EventFile(t, tt.fixture),
				"GITHUB_SHA": "env-sha", "GITHUB_REF": "refs/heads/main", "GITHUB_REPOSITORY": repo}
			got, err := github.ReadEvent(func(k string) string { return env[k] })
			if err != nil {
				t.Fatal(err)
			}
			if tt.ignoreHas != "" {
				if !strings.Contains(got.Ignore, tt.ignoreHas) {
					t.Fatalf("Ignore = %q, want %q", got.Ignore, tt.ignoreHas)
				}
				return
			}
			if got.Ignore != "" {
				t.Fatalf("ignored: %s", got.Ignore)
			}
			if tt.refuseHas != "" {
				if !strings.Contains(got.Refuse, tt.refuseHas) || strings.Contains(got.Refuse, "sekr1t") {
					t.Fatalf("Refuse = %q, want %q without the secret", got.Refuse, tt.refuseHas)
				}
			} else if got.Refuse != "" {
				t.Fatalf("refused: %s", got.Refuse)
			}
			if tt.author != "" {
				if got.Comment == nil || got.Comment.Author != tt.author || got.Comment.Line != tt.line || got.Comment.ID == 0 || got.Comment.CreatedAt.IsZero() {
					t.Fatalf("Comment = %+v, want author %q line %q", got.Comment, tt.author, tt.line)
				}
				if tt.refuseHas != "" {
					return
				}
			} else if got.Comment != nil {
				t.Fatalf("unexpected comment %+v", got.Comment)
			}
			got.Comment = nil
			if !equalTrigger(*got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

func equalTrigger(a, b github.Trigger) bool {
	return maps.Equal(a.Args, b.Args) && maps.Equal(a.Inputs, b.Inputs) && a.Comment == b.Comment &&
		fmt.Sprintf("%#v", []any{a.Event, a.Action, a.Repo, a.Command, a.SHA, a.Ref, a.PR, a.HeadRepo, a.Fork, a.Ignore, a.Refuse}) ==
			fmt.Sprintf("%#v", []any{b.Event, b.Action, b.Repo, b.Command, b.SHA, b.Ref, b.PR, b.HeadRepo, b.Fork, b.Ignore, b.Refuse})
}

func TestReadEventErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"not in Actions", map[string]string{}, "GITHUB_EVENT_NAME and GITHUB_EVENT_PATH must be set"},
		{"missing file", map[string]string{"GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": "/nonexistent/event.json"}, "reading the event"},
		{"bad JSON", map[string]string{"GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": bad}, "parsing the push event payload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := github.ReadEvent(func(k string) string { return tt.env[k] })
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
