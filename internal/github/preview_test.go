package github_test

import (
	"context"
	"strings"
	"testing"

	"github.com/org/lean4-cf-action/internal/ghtest"
	"github.com/org/lean4-cf-action/internal/github"
)

func TestDecidePreview(t *testing.T) {
	const pr7, pr8 = "7777777777777777777777777777777777777777", "8888888888888888888888888888888888888888"
	tests := []struct {
		fixture string
		want    github.PreviewDecision // Why compared by substring
	}{
		{"pull_request_opened", github.PreviewDecision{Action: github.PreviewDeploy, PR: 7, SHA: pr7, HeadRepo: repo, Why: "#7 was opened"}},
		{"pull_request", github.PreviewDecision{Action: github.PreviewDeploy, PR: 7, SHA: pr7, HeadRepo: repo, Why: "#7 was synchronize"}},
		{"pull_request_reopened", github.PreviewDecision{Action: github.PreviewDeploy, PR: 7, SHA: pr7, HeadRepo: repo, Why: "#7 was reopened"}},
		{"pull_request_closed", github.PreviewDecision{Action: github.PreviewDelete, PR: 7, SHA: pr7, HeadRepo: repo, Why: "#7 was closed"}},
		{"pull_request_merged", github.PreviewDecision{Action: github.PreviewDelete, PR: 7, SHA: pr7, HeadRepo: repo, Merged: true, Why: "#7 was merged"}},
		{"pull_request_labeled", github.PreviewDecision{Action: github.PreviewIgnore, PR: 7, SHA: pr7, HeadRepo: repo, Why: "#7 was labeled; previews follow"}},
		// The pure decision does not refuse a fork: the gate does (TestGatePreview).
		{"pull_request_fork", github.PreviewDecision{Action: github.PreviewDeploy, PR: 8, SHA: pr8, HeadRepo: "mallory/lean", Fork: true, Why: "#8 was opened"}},
		{"pull_request_fork_closed", github.PreviewDecision{Action: github.PreviewDelete, PR: 8, SHA: pr8, HeadRepo: "mallory/lean", Fork: true, Why: "#8 was closed"}},
		{"issue_comment_preview", github.PreviewDecision{Action: github.PreviewDeploy, PR: 7, Why: "`/lean4 preview` by @alice"}},
		{"issue_comment_preview_delete", github.PreviewDecision{Action: github.PreviewDelete, PR: 7, Why: "`/lean4 preview delete` by @alice"}},
		{"issue_comment_preview_reader", github.PreviewDecision{Action: github.PreviewDeploy, PR: 7, Why: "by @bob"}},
		{"issue_comment_preview_bad", github.PreviewDecision{Action: github.PreviewDeploy, PR: 7, Why: "`/lean4 preview delete now` by @alice"}},
		{"issue_comment_writer", github.PreviewDecision{Action: github.PreviewIgnore, PR: 7, Why: "command is deploy, not preview"}},
		{"issue_comment_secret", github.PreviewDecision{Action: github.PreviewIgnore, PR: 7, Why: "not preview"}},
		{"issue_comment_chatter", github.PreviewDecision{Action: github.PreviewIgnore, Why: "no /lean4 command"}},
		{"issue_comment_bot", github.PreviewDecision{Action: github.PreviewIgnore, Why: "bots cannot run commands"}},
		{"issue_comment_issue", github.PreviewDecision{Action: github.PreviewIgnore, Why: "not on a pull request"}},
		{"push", github.PreviewDecision{Action: github.PreviewIgnore, SHA: "2222222222222222222222222222222222222222", Why: "not push"}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			got := github.DecidePreview(trigger(t, tt.fixture))
			why := got.Why
			got.Why, tt.want.Why = "", strings.TrimSpace(tt.want.Why)
			if !strings.Contains(why, tt.want.Why) || tt.want.Why == "" {
				t.Errorf("Why = %q, want it to contain %q", why, tt.want.Why)
			}
			tt.want.Why = ""
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestGatePreview runs the decision through the permission gate against the GitHub double: the same
// gate as deploy for a preview, only the permission for a delete, nothing for a close.
func TestGatePreview(t *testing.T) {
	tests := []struct {
		name       string
		fixture    string
		allowForks bool
		closed     bool // PR 7 is closed on GitHub
		refusal    string
		want       github.PreviewAction
		wantSHA    string
		wantAPI    bool
	}{
		{name: "writer's preview deploys the head read from GitHub", fixture: "issue_comment_preview", want: github.PreviewDeploy, wantSHA: headSHA, wantAPI: true},
		{name: "reader's preview refused", fixture: "issue_comment_preview_reader", refusal: "@bob has the read role", wantAPI: true},
		{name: "fork's preview refused", fixture: "issue_comment_preview_fork", refusal: "comes from mallory/lean", wantAPI: true},
		{name: "fork's preview allowed", fixture: "issue_comment_preview_fork", allowForks: true, want: github.PreviewDeploy,
			wantSHA: "8888888888888888888888888888888888888888", wantAPI: true},
		{name: "preview of a closed PR refused", fixture: "issue_comment_preview", closed: true, refusal: "#7 is closed", wantAPI: true},
		{name: "malformed preview refused after the permission check", fixture: "issue_comment_preview_bad", refusal: `"now" is not key=value`, wantAPI: true},
		{name: "delete on a closed PR by a writer", fixture: "issue_comment_preview_delete", closed: true, want: github.PreviewDelete, wantAPI: true},
		{name: "pull_request from a branch", fixture: "pull_request_opened", want: github.PreviewDeploy, wantSHA: "7777777777777777777777777777777777777777"},
		{name: "pull_request from a fork refused without the API", fixture: "pull_request_fork", refusal: "from forks are not deployed"},
		{name: "a fork's close deletes", fixture: "pull_request_fork_closed", want: github.PreviewDelete, wantSHA: "8888888888888888888888888888888888888888"},
		{name: "merge deletes", fixture: "pull_request_merged", want: github.PreviewDelete, wantSHA: "7777777777777777777777777777777777777777"},
		{name: "deploy comment ignored without the API", fixture: "issue_comment_writer", want: github.PreviewIgnore},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := newDouble(t)
			if tt.closed {
				s.AddPull(ghtest.Pull{Number: 7, HeadSHA: headSHA, HeadRepo: repo, State: "closed"})
			}
			d, err := c.GatePreview(context.Background(), trigger(t, tt.fixture), github.GateOptions{AllowForks: tt.allowForks})
			if tt.refusal != "" {
				if r, ok := github.IsRefusal(err); !ok || !strings.Contains(r.Reason, tt.refusal) {
					t.Fatalf("err = %v, want a refusal containing %q", err, tt.refusal)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if d.Action != tt.want || d.SHA != tt.wantSHA {
					t.Errorf("decision %+v, want %s at %q", d, tt.want, tt.wantSHA)
				}
			}
			if n := len(s.Requests()); (n > 0) != tt.wantAPI {
				t.Errorf("%d API requests, want some: %v", n, tt.wantAPI)
			}
			if w := s.Writes(); len(w) > 0 {
				t.Errorf("the gate wrote: %v", w)
			}
		})
	}
}
