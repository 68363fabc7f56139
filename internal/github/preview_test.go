package github_test

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/org/lean4-cf-action/internal/ghtest"
	"github.com/org/lean4-cf-action/internal/github"
	"github.com/org/lean4-cf-action/internal/report"
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

// TestPreviewDeployments follows one pull request's preview through GitHub's Deployments: a deploy, a
// re-run of the same commit, a new commit, the close and a second close. Other environments stay as they were.
func TestPreviewDeployments(t *testing.T) {
	ctx := context.Background()
	s, c := newDouble(t)
	const shaA, shaB = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	const url = "https://lean4-server-pr-7.acct.workers.dev"
	prod := s.AddDeployment(ghtest.Deployment{Ref: shaA, Environment: "production", ProductionEnvironment: true,
		Statuses: []ghtest.DeploymentStatus{{State: "success"}}})
	other := s.AddDeployment(ghtest.Deployment{Ref: shaA, Environment: github.PreviewEnvironment(8), TransientEnvironment: true,
		Statuses: []ghtest.DeploymentStatus{{State: "success"}}})
	deploy := func(sha string, ok bool) int64 {
		t.Helper()
		d, err := c.StartPreviewDeployment(ctx, github.PreviewDeploymentOptions{PR: 7, SHA: sha, Description: "preview of #7", LogURL: "https://github.com/octo/lean/actions/runs/1"})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Finish(ctx, ok, url, "verified"); err != nil {
			t.Fatal(err)
		}
		return d.ID
	}
	latest := func() map[int64]string {
		out := map[int64]string{}
		for _, d := range s.Deployments() {
			out[d.ID] = d.Statuses[len(d.Statuses)-1].State
		}
		return out
	}

	first := deploy(shaA, true)
	if again := deploy(shaA, true); again != first {
		t.Errorf("a re-run of the same commit created deployment %d beside %d", again, first)
	}
	failed := deploy(shaB, false)
	if got := latest(); got[first] != "success" || got[failed] != "failure" {
		t.Errorf("after a failed deploy of a new commit: %v; the earlier success must stay live", got)
	}
	second := deploy(shaB, true)
	if second != failed {
		t.Errorf("the retry of commit B created %d beside %d", second, failed)
	}
	if got := latest(); got[first] != "inactive" || got[second] != "success" || got[prod] != "success" || got[other] != "success" {
		t.Errorf("after commit B: %v; want only the earlier preview deployment inactive", got)
	}
	for _, d := range s.Deployments() {
		if d.ID == first || d.ID == second {
			if d.Environment != "preview/pr-7" || !d.TransientEnvironment || d.ProductionEnvironment || d.AutoMerge || d.Task != "deploy" {
				t.Errorf("deployment %+v: want transient, not production, in preview/pr-7", d)
			}
			for _, st := range d.Statuses {
				if (st.State == "success") != (st.EnvironmentURL == url) {
					t.Errorf("deployment %d: status %s with environment URL %q; want the URL on success only", d.ID, st.State, st.EnvironmentURL)
				}
			}
		}
	}

	n, err := c.DeactivatePreview(ctx, 7, "pull request #7 was closed", "")
	if err != nil || n != 1 {
		t.Fatalf("DeactivatePreview = %d, %v; want 1 deployment changed", n, err)
	}
	if got := latest(); got[second] != "inactive" || got[prod] != "success" || got[other] != "success" {
		t.Errorf("after the close: %v", got)
	}
	s.ResetLog()
	if n, err := c.DeactivatePreview(ctx, 7, "again", ""); err != nil || n != 0 {
		t.Fatalf("second DeactivatePreview = %d, %v; want 0", n, err)
	}
	if w := s.Writes(); len(w) != 0 {
		t.Errorf("a second delete wrote %v", w)
	}
}

// TestDeactivatePreviewPages deactivates an environment with more deployments than one page holds.
func TestDeactivatePreviewPages(t *testing.T) {
	s, c := newDouble(t)
	for range 130 {
		s.AddDeployment(ghtest.Deployment{Ref: headSHA, Environment: "preview/pr-7", TransientEnvironment: true,
			Statuses: []ghtest.DeploymentStatus{{State: "success"}}})
	}
	n, err := c.DeactivatePreview(context.Background(), 7, "closed", "")
	if err != nil || n != 130 {
		t.Fatalf("DeactivatePreview = %d, %v; want 130", n, err)
	}
	if _, err := c.DeactivatePreview(context.Background(), 0, "closed", ""); err == nil {
		t.Error("pull request 0 was accepted")
	}
	s.FailNext("GET", "/repos/octo/lean/deployments", 403)
	if _, err := c.DeactivatePreview(context.Background(), 7, "closed", ""); err == nil || !strings.Contains(err.Error(), "deployments: write") {
		t.Errorf("err = %v, want the missing permission named", err)
	}
}

func TestClosed(t *testing.T) {
	tests := []struct {
		name    string
		prs     []int
		want    map[int]bool
		fail    int // status of GET /pulls/3
		errHas  string
		request int // GET requests expected
	}{
		{name: "open, closed and merged", prs: []int{7, 3, 4}, want: map[int]bool{7: false, 3: true, 4: true}, request: 3},
		{name: "duplicates read once", prs: []int{3, 3, 8}, want: map[int]bool{3: true, 8: false}, request: 2},
		{name: "none", prs: nil, want: map[int]bool{}, request: 0},
		{name: "no such pull request is an error, not closed", prs: []int{99}, errHas: "octo/lean has none, or the token may not read it (404)", request: 1},
		{name: "a token without the permission", prs: []int{3}, fail: 403, errHas: "add `pull-requests: read`", request: 1},
		{name: "a bad number", prs: []int{0}, errHas: "not a pull request number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := newDouble(t)
			s.AddPull(ghtest.Pull{Number: 3, HeadSHA: strings.Repeat("3", 40), HeadRepo: repo, State: "closed"})
			s.AddPull(ghtest.Pull{Number: 4, HeadSHA: strings.Repeat("4", 40), HeadRepo: "mallory/lean", State: "closed"})
			if tt.fail != 0 {
				s.FailNext("GET", "/repos/octo/lean/pulls/3", tt.fail)
			}
			var cp github.ClosedPRs = c
			got, err := cp.Closed(context.Background(), tt.prs)
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("err = %v, want %q", err, tt.errHas)
				}
			} else if err != nil || !maps.Equal(got, tt.want) {
				t.Fatalf("Closed = %v, %v; want %v", got, err, tt.want)
			}
			if n := len(s.Requests()); n != tt.request {
				t.Errorf("%d requests, want %d", n, tt.request)
			}
		})
	}
}

// TestPreviewAnswers runs preview triggers through what the Action does (gate, then the preview comment
// and reactions) beside an existing production deploy comment, which must stay as it was.
func TestPreviewAnswers(t *testing.T) {
	info := report.PreviewInfo{Production: "lean", PR: 7}
	deployed := report.PreviewComment(info, &report.Result{Name: "lean-pr-7", Outcome: "deployed", URL: "https://lean-pr-7.acct.workers.dev"}, "")
	tests := []struct {
		name      string
		fixtures  []string
		body      string // the run's comment body when allowed
		reaction  github.Reaction
		reactions []string // on the last fixture's comment
		comment   string   // the preview comment contains this
	}{
		{name: "preview deployed, then updated", fixtures: []string{"issue_comment_preview", "pull_request"}, body: deployed,
			reaction: github.ReactDone, reactions: []string{"eyes", "rocket"}, comment: "deployed and verified"},
		{name: "deleted by comment", fixtures: []string{"pull_request_opened", "issue_comment_preview_delete"}, reaction: github.ReactDone,
			body:      report.PreviewDeletedComment(info, report.PreviewRemoval{Worker: "lean-pr-7", Why: "`/lean4 preview delete` by @alice"}, ""),
			reactions: []string{"eyes", "rocket"}, comment: "deleted"},
		{name: "reader refused", fixtures: []string{"issue_comment_preview_reader"}, reactions: []string{"eyes", "confused"},
			comment: "`/lean4 preview` was not run: @bob has the read role"},
		{name: "cap reached", fixtures: []string{"issue_comment_preview"}, body: report.PreviewCapComment(info, 1, []int{3}, ""),
			reaction: github.ReactRefused, reactions: []string{"eyes", "confused"}, comment: "1 of 1 previews in use"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s, c := newDouble(t)
			prod := s.AddComment(7, github.ActionsBot, report.Marker("lean")+"\nproduction")
			var last int64
			for _, f := range tt.fixtures {
				tr := trigger(t, f)
				if tr.Comment != nil {
					tr.Comment.ID = s.AddComment(tr.PR, tr.Comment.Author, tr.Comment.Line)
					last = tr.Comment.ID
					if err := c.Acknowledge(ctx, tr); err != nil {
						t.Fatal(err)
					}
				}
				_, err := c.GatePreview(ctx, tr, github.GateOptions{})
				if r, ok := github.IsRefusal(err); ok {
					if _, err := c.RefusePreview(ctx, tr, "lean", r.Reason); err != nil {
						t.Fatal(err)
					}
					continue
				} else if err != nil {
					t.Fatal(err)
				}
				body, reaction := deployed, github.ReactDone
				if tt.body != "" {
					body, reaction = tt.body, tt.reaction
				}
				if _, err := c.ConcludePreview(ctx, tr, "lean", body, reaction); err != nil {
					t.Fatal(err)
				}
			}
			var previews []ghtest.Comment
			for _, cm := range s.Comments(7) {
				switch {
				case cm.ID == prod:
					if cm.Body != report.Marker("lean")+"\nproduction" {
						t.Errorf("the production comment changed: %q", cm.Body)
					}
				case cm.User == github.ActionsBot:
					previews = append(previews, cm)
				}
			}
			if len(previews) != 1 || !strings.Contains(previews[0].Body, tt.comment) {
				t.Fatalf("want one preview comment containing %q, got %+v", tt.comment, previews)
			}
			var got []string
			for _, r := range s.Reactions() {
				if r.CommentID == last {
					got = append(got, r.Content)
				}
			}
			if !slices.Equal(got, tt.reactions) {
				t.Errorf("reactions %v, want %v", got, tt.reactions)
			}
		})
	}
}

// A fork's pull_request run has a read-only token: its refusal and its close write nothing.
func TestPreviewForkWritesNothing(t *testing.T) {
	for _, f := range []string{"pull_request_fork", "pull_request_fork_closed"} {
		s, c := newDouble(t)
		tr := trigger(t, f)
		_, err := c.GatePreview(context.Background(), tr, github.GateOptions{})
		if r, ok := github.IsRefusal(err); ok {
			_, err = c.RefusePreview(context.Background(), tr, "lean", r.Reason)
		} else if err == nil {
			_, err = c.ConcludePreview(context.Background(), tr, "lean", report.PreviewMarker("lean"), github.ReactDone)
		}
		if err != nil {
			t.Fatal(err)
		}
		if n := len(s.Requests()); n != 0 {
			t.Errorf("%s: %d requests with a fork's read-only token", f, n)
		}
	}
}

// A preview comment, well formed or refused, is the preview workflow's; other commands are not.
func TestIsPreviewCommand(t *testing.T) {
	for _, tt := range []struct {
		body string
		want bool
	}{
		{"/lean4 preview", true},
		{"/lean4 preview delete", true},
		{"/lean4 preview worker-name=x", true}, // refused, still the preview workflow's to answer
		{"/lean4 deploy", false},
		{"/lean4 previews", false},
		{"/lean4 status url=x", false},
	} {
		t.Run(tt.body, func(t *testing.T) {
			cmd, _, err := github.ParseCommand(tt.body)
			tr := &github.Trigger{Command: cmd.Name, Comment: &github.TriggerComment{Line: cmd.Line}}
			if err != nil {
				tr.Command, tr.Refuse = "", err.Error()
			}
			if got := github.IsPreviewCommand(tr); got != tt.want {
				t.Fatalf("IsPreviewCommand(%q) = %v, want %v", tt.body, got, tt.want)
			}
		})
	}
	if github.IsPreviewCommand(&github.Trigger{Event: "push"}) {
		t.Fatal("a push is a preview command")
	}
}
