package github_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/org/lean4-cf-action/internal/ghtest"
	"github.com/org/lean4-cf-action/internal/github"
	"github.com/org/lean4-cf-action/internal/report"
)

const (
	repo    = ghtest.FixtureRepo
	token   = "ghs_test-token"
	headSHA = "abcdefabcdefabcdefabcdefabcdefabcdefabcd" // differs from every SHA in the payloads
)

// newDouble starts the GitHub double with the fixtures' cast: alice writes, bob reads, PR 7 is from a
// branch, PR 8 from a fork.
func newDouble(t *testing.T) (*ghtest.Server, *github.Client) {
	t.Helper()
	s := ghtest.New(t, repo)
	s.Token = token
	s.SetRole("alice", "write")
	s.SetRole("bob", "read")
	s.AddPull(ghtest.Pull{Number: 7, HeadSHA: headSHA, HeadRef: "lean-next", HeadRepo: repo, User: "alice"})
	s.AddPull(ghtest.Pull{Number: 8, HeadSHA: "8888888888888888888888888888888888888888", HeadRef: "lean-next", HeadRepo: "mallory/lean", User: "mallory"})
	return s, newClient(t, s, "")
}

func newClient(t *testing.T, s *ghtest.Server, author string) *github.Client {
	t.Helper()
	c, err := github.NewClient(github.ClientOptions{Repository: repo, Token: token, APIURL: s.URL, CommentAuthor: author})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func trigger(t *testing.T, fixture string) *github.Trigger {
	t.Helper()
	name := fixture // push, workflow_dispatch
	for _, ev := range []string{"issue_comment", "pull_request"} {
		if strings.HasPrefix(fixture, ev) {
			name = ev
		}
	}
	tr, err := github.ParseEvent(name, ghtest.Event(t, fixture))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestUpsertCommentKeepsOneCommentPerPRAndWorker(t *testing.T) {
	ctx := context.Background()
	s, c := newDouble(t)
	// Comments that must be left alone: a person quoting the marker, and another worker's sticky comment.
	s.AddComment(7, "alice", "copying "+report.Marker("lean")+" here")
	other := s.AddComment(7, github.ActionsBot, report.Marker("lean-staging")+"\nstaging")

	for run := 1; run <= 2; run++ {
		r := &report.Result{Name: "lean", Outcome: "deployed", URL: fmt.Sprintf("https://lean.example.workers.dev/run%d", run)}
		st, err := c.UpsertComment(ctx, 7, report.Marker("lean"), report.Comment(r, ""))
		if err != nil {
			t.Fatal(err)
		}
		if st.Created != (run == 1) {
			t.Errorf("run %d: Created = %v", run, st.Created)
		}
	}
	var mine []ghtest.Comment
	for _, cm := range s.Comments(7) {
		if cm.User == github.ActionsBot && strings.Contains(cm.Body, report.Marker("lean")) {
			mine = append(mine, cm)
		}
	}
	if len(mine) != 1 {
		t.Fatalf("want exactly one sticky comment for lean, got %d: %+v", len(mine), mine)
	}
	if !strings.Contains(mine[0].Body, "run2") || strings.Contains(mine[0].Body, "run1") {
		t.Errorf("sticky comment not updated in place: %q", mine[0].Body)
	}
	if got := s.Comments(7); len(got) != 3 || got[1].ID != other || got[1].Body != report.Marker("lean-staging")+"\nstaging" {
		t.Errorf("other comments changed: %+v", got)
	}
	wantWrites := []string{"POST /repos/octo/lean/issues/7/comments", fmt.Sprintf("PATCH /repos/octo/lean/issues/comments/%d", mine[0].ID)}
	if w := s.Writes(); !slices.Equal(w, wantWrites) {
		t.Errorf("writes = %v, want %v", w, wantWrites)
	}
}

// TestUpsertCommentConcurrentRuns has another run create its comment between this run's listing and its
// create: this run must fold its comment into the older one.
func TestUpsertCommentConcurrentRuns(t *testing.T) {
	s, c := newDouble(t)
	var other int64
	s.Before = func(r ghtest.Request) {
		if r.Method == "POST" && strings.HasSuffix(r.Path, "/issues/7/comments") && other == 0 {
			other = s.AddComment(7, github.ActionsBot, report.Marker("lean")+"\nfrom the other run")
		}
	}
	st, err := c.UpsertComment(context.Background(), 7, report.Marker("lean"), report.Marker("lean")+"\nfrom this run")
	if err != nil {
		t.Fatal(err)
	}
	got := s.Comments(7)
	if len(got) != 1 || got[0].ID != other || st.ID != other || st.Created || !strings.Contains(got[0].Body, "from this run") {
		t.Fatalf("sticky %+v, comments %+v: want only comment %d, with this run's body", st, got, other)
	}
	if w := s.Writes(); len(w) != 3 || !strings.HasPrefix(w[1], "DELETE ") || !strings.HasPrefix(w[2], "PATCH ") {
		t.Errorf("writes = %v, want POST, DELETE of the duplicate, PATCH", w)
	}
}

func TestUpsertCommentFollowsPagination(t *testing.T) {
	ctx := context.Background()
	s, c := newDouble(t)
	for i := range 230 {
		s.AddComment(7, "alice", fmt.Sprintf("comment %d", i))
	}
	id := s.AddComment(7, github.ActionsBot, report.Marker("lean")+"\nold")
	st, err := c.UpsertComment(ctx, 7, report.Marker("lean"), report.Marker("lean")+"\nnew")
	if err != nil {
		t.Fatal(err)
	}
	if st.Created || st.ID != id {
		t.Fatalf("got %+v, want comment %d updated", st, id)
	}
	var lists []string
	for _, r := range s.Requests() {
		if r.Method == "GET" && strings.Contains(r.Path, "/comments") {
			lists = append(lists, r.Path)
		}
	}
	want := []string{
		"/repos/octo/lean/issues/7/comments?per_page=100",
		"/repos/octo/lean/issues/7/comments?page=2&per_page=100",
		"/repos/octo/lean/issues/7/comments?page=3&per_page=100",
	}
	if !slices.Equal(lists, want) {
		t.Errorf("list requests = %v, want %v", lists, want)
	}
}

func TestCommentAuthor(t *testing.T) {
	tests := []struct {
		name, login, option, existingBy string
		wantCreated                     bool
		wantUserCall                    bool
	}{
		{name: "GITHUB_TOKEN is github-actions[bot]", login: github.ActionsBot, existingBy: github.ActionsBot, wantUserCall: true},
		{name: "a personal token is its user", login: "deploy-bot", existingBy: "deploy-bot", wantUserCall: true},
		{name: "a personal token ignores the Actions bot's comment", login: "deploy-bot", existingBy: github.ActionsBot, wantCreated: true, wantUserCall: true},
		{name: "an App token named by the option", login: "lean4-app[bot]", option: "lean4-app[bot]", existingBy: "lean4-app[bot]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newDouble(t)
			s.Login = tt.login
			c := newClient(t, s, tt.option)
			s.AddComment(7, tt.existingBy, report.Marker("lean"))
			st, err := c.UpsertComment(context.Background(), 7, report.Marker("lean"), report.Marker("lean")+"\nx")
			if err != nil {
				t.Fatal(err)
			}
			if st.Created != tt.wantCreated {
				t.Errorf("Created = %v, want %v", st.Created, tt.wantCreated)
			}
			called := slices.ContainsFunc(s.Requests(), func(r ghtest.Request) bool { return r.Path == "/user" })
			if called != tt.wantUserCall {
				t.Errorf("GET /user called = %v, want %v", called, tt.wantUserCall)
			}
		})
	}
}

func TestUpsertCommentRequiresMarker(t *testing.T) {
	_, c := newDouble(t)
	if _, err := c.UpsertComment(context.Background(), 7, report.Marker("lean"), "no marker"); err == nil {
		t.Fatal("a body without its marker was posted")
	}
}

func TestAuthorize(t *testing.T) {
	tests := []struct {
		name       string
		fixture    string
		role       string // alice's role, when set
		allowForks bool
		closed     bool
		pull       *ghtest.Pull // replaces PR 7
		refusal    string       // non-empty: a refusal containing this
		wantSHA    string
		wantAPI    bool // whether the gate may call the API
	}{
		{name: "writer deploys the head SHA", fixture: "issue_comment_writer", wantSHA: headSHA, wantAPI: true},
		{name: "maintainer", fixture: "issue_comment_writer", role: "maintain", wantSHA: headSHA, wantAPI: true},
		{name: "admin", fixture: "issue_comment_writer", role: "admin", wantSHA: headSHA, wantAPI: true},
		{name: "triage refused", fixture: "issue_comment_writer", role: "triage", refusal: "@alice has the triage role", wantAPI: true},
		{name: "reader refused", fixture: "issue_comment_reader", refusal: "@bob has the read role on octo/lean; slash commands need write", wantAPI: true},
		{name: "fork refused", fixture: "issue_comment_fork", refusal: "comes from mallory/lean", wantAPI: true},
		{name: "fork allowed", fixture: "issue_comment_fork", allowForks: true, wantSHA: "8888888888888888888888888888888888888888", wantAPI: true},
		{name: "closed PR refused", fixture: "issue_comment_writer", closed: true, refusal: "#7 is closed", wantAPI: true},
		{name: "commit after the comment refused", fixture: "issue_comment_writer", refusal: "committed at 2026-11-01T12:00:01Z, after the command was written at 2026-11-01T12:00:00Z",
			pull: &ghtest.Pull{Number: 7, HeadSHA: headSHA, HeadRepo: repo, HeadCommitted: time.Date(2026, 11, 1, 12, 0, 1, 0, time.UTC)}, wantAPI: true},
		{name: "deleted fork refused", fixture: "issue_comment_writer", refusal: "comes from a deleted fork",
			pull: &ghtest.Pull{Number: 7, HeadSHA: headSHA}, wantAPI: true},
		{name: "secret argument refused", fixture: "issue_comment_secret", refusal: `"cloudflare-api-token" is a secret`, wantAPI: true},
		{name: "fork pull_request refused without the API", fixture: "pull_request_fork", refusal: "comes from mallory/lean"},
		{name: "fork pull_request allowed", fixture: "pull_request_fork", allowForks: true, wantSHA: "8888888888888888888888888888888888888888"},
		{name: "branch pull_request uses its head", fixture: "pull_request", wantSHA: "7777777777777777777777777777777777777777"},
		{name: "push passes", fixture: "push", wantSHA: "2222222222222222222222222222222222222222"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := newDouble(t)
			if tt.role != "" {
				s.SetRole("alice", tt.role)
			}
			if tt.closed {
				s.AddPull(ghtest.Pull{Number: 7, HeadSHA: headSHA, HeadRepo: repo, State: "closed"})
			}
			if tt.pull != nil {
				s.AddPull(*tt.pull)
			}
			tr := trigger(t, tt.fixture)
			err := c.Authorize(context.Background(), tr, github.GateOptions{AllowForks: tt.allowForks})
			if tt.refusal != "" {
				r, ok := github.IsRefusal(err)
				if !ok || !strings.Contains(r.Reason, tt.refusal) {
					t.Fatalf("err = %v, want a refusal containing %q", err, tt.refusal)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if tr.SHA != tt.wantSHA {
					t.Errorf("SHA = %q, want %q", tr.SHA, tt.wantSHA)
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

// TestSlashCommandAnswers runs a comment through what the CLI does: acknowledge, authorize,
// refuse or conclude, and checks the reactions and the one comment it leaves, for a reader, a writer run
// twice, a secret and a failed run.
func TestSlashCommandAnswers(t *testing.T) {
	tests := []struct {
		name      string
		fixtures  []string
		fail      bool
		reactions []string // on each fixture's comment, in order
		comment   string   // the sticky comment contains this
		notIn     string   // and never this
	}{
		{name: "reader refused", fixtures: []string{"issue_comment_reader"}, reactions: []string{"eyes", "confused"},
			comment: "`/lean4 deploy` was not run: @bob has the read role"},
		{name: "secret refused and not echoed", fixtures: []string{"issue_comment_secret"}, reactions: []string{"eyes", "confused"},
			comment: "cloudflare-api-token=***", notIn: "cfut_sekr1t"},
		{name: "writer twice", fixtures: []string{"issue_comment_writer", "issue_comment_writer"}, reactions: []string{"eyes", "rocket"},
			comment: "deployed and verified"},
		{name: "writer, failed run", fixtures: []string{"issue_comment_writer"}, fail: true, reactions: []string{"eyes", "-1"},
			comment: "failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s, c := newDouble(t)
			for _, f := range tt.fixtures {
				tr := trigger(t, f)
				// The comment exists on GitHub, as the one the payload describes.
				tr.Comment.ID = s.AddComment(tr.PR, tr.Comment.Author, tr.Comment.Line)
				if err := c.Acknowledge(ctx, tr); err != nil {
					t.Fatal(err)
				}
				err := c.Authorize(ctx, tr, github.GateOptions{})
				if r, ok := github.IsRefusal(err); ok {
					if _, err := c.Refuse(ctx, tr, "lean", r.Reason); err != nil {
						t.Fatal(err)
					}
					continue
				} else if err != nil {
					t.Fatal(err)
				}
				res := &report.Result{Name: "lean", Outcome: "deployed", URL: "https://lean.example.workers.dev"}
				if tt.fail {
					res.Outcome, res.Error = "failed", "promote: Lean did not answer"
				}
				if _, err := c.Conclude(ctx, tr, "lean", report.Comment(res, ""), !tt.fail); err != nil {
					t.Fatal(err)
				}
			}
			var stickies []ghtest.Comment
			for _, cm := range s.Comments(7) {
				if cm.User == github.ActionsBot {
					stickies = append(stickies, cm)
				}
			}
			if len(stickies) != 1 {
				t.Fatalf("want one sticky comment, got %d", len(stickies))
			}
			if !strings.Contains(stickies[0].Body, tt.comment) {
				t.Errorf("sticky comment lacks %q:\n%s", tt.comment, stickies[0].Body)
			}
			for _, r := range s.Requests() {
				if tt.notIn != "" && strings.Contains(r.Body, tt.notIn) {
					t.Errorf("secret sent to GitHub in %s: %s", r, r.Body)
				}
			}
			byComment := map[int64][]string{}
			for _, r := range s.Reactions() {
				byComment[r.CommentID] = append(byComment[r.CommentID], r.Content)
			}
			for id, got := range byComment {
				if !slices.Equal(got, tt.reactions) {
					t.Errorf("reactions on %d = %v, want %v", id, got, tt.reactions)
				}
			}
			if len(byComment) != len(tt.fixtures) {
				t.Errorf("reactions on %d comments, want %d", len(byComment), len(tt.fixtures))
			}
		})
	}
}

func TestRefuseForkPullRequestWritesNothing(t *testing.T) {
	s, c := newDouble(t)
	tr := trigger(t, "pull_request_fork")
	err := c.Authorize(context.Background(), tr, github.GateOptions{})
	r, ok := github.IsRefusal(err)
	if !ok {
		t.Fatalf("err = %v, want a refusal", err)
	}
	if _, err := c.Refuse(context.Background(), tr, "lean", r.Reason); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("%d requests with a fork's read-only token: %v", n, s.Requests())
	}
}

func TestDeployments(t *testing.T) {
	tests := []struct {
		name       string
		ok         bool
		wantStates []string
		wantURL    string
	}{
		{name: "success", ok: true, wantStates: []string{"in_progress", "success"}, wantURL: "https://lean.example.workers.dev"},
		{name: "failure", ok: false, wantStates: []string{"in_progress", "failure"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s, c := newDouble(t)
			d, err := c.StartDeployment(ctx, github.DeploymentOptions{Environment: "lean-preview", SHA: headSHA,
				Description: strings.Repeat("long ", 60), LogURL: "https://github.com/octo/lean/actions/runs/1", Transient: true})
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Finish(ctx, tt.ok, "https://lean.example.workers.dev", "done"); err != nil {
				t.Fatal(err)
			}
			deps := s.Deployments()
			if len(deps) != 1 {
				t.Fatalf("%d deployments, want 1", len(deps))
			}
			dep := deps[0]
			if dep.Ref != headSHA || dep.Environment != "lean-preview" || dep.AutoMerge || dep.RequiredContexts == nil ||
				len(dep.RequiredContexts) != 0 || !dep.TransientEnvironment || dep.Task != "deploy" {
				t.Errorf("deployment = %+v", dep)
			}
			var states []string
			for _, st := range dep.Statuses {
				states = append(states, st.State)
				if st.LogURL != "https://github.com/octo/lean/actions/runs/1" || st.Environment != "lean-preview" {
					t.Errorf("status %+v lacks the log URL or environment", st)
				}
			}
			if !slices.Equal(states, tt.wantStates) {
				t.Errorf("states = %v, want %v", states, tt.wantStates)
			}
			if last := dep.Statuses[len(dep.Statuses)-1]; last.EnvironmentURL != tt.wantURL {
				t.Errorf("environment_url = %q, want %q", last.EnvironmentURL, tt.wantURL)
			}
			want := []string{"POST /repos/octo/lean/deployments",
				fmt.Sprintf("POST /repos/octo/lean/deployments/%d/statuses", dep.ID),
				fmt.Sprintf("POST /repos/octo/lean/deployments/%d/statuses", dep.ID)}
			if w := s.Writes(); !slices.Equal(w, want) {
				t.Errorf("writes = %v, want %v", w, want)
			}
		})
	}
}

func TestAPIErrorsAreWrapped(t *testing.T) {
	s, c := newDouble(t)
	s.FailNext("GET", "/repos/octo/lean/collaborators/alice/permission", 500)
	err := c.Authorize(context.Background(), trigger(t, "issue_comment_writer"), github.GateOptions{})
	if _, refused := github.IsRefusal(err); err == nil || refused || !strings.Contains(err.Error(), "reading alice's permission on octo/lean") {
		t.Fatalf("err = %v, want a wrapped API failure", err)
	}
	s.FailNext("POST", "/repos/octo/lean/deployments", 403)
	_, err = c.StartDeployment(context.Background(), github.DeploymentOptions{Environment: "e", SHA: headSHA})
	if err == nil || !strings.Contains(err.Error(), "add `deployments: write` to the job's permissions: block") {
		t.Fatalf("err = %v, want the missing permission named", err)
	}
	s.FailNext("POST", "/repos/octo/lean/issues/7/comments", 403)
	_, err = c.UpsertComment(context.Background(), 7, "<!-- m -->", "<!-- m -->")
	if err == nil || !strings.Contains(err.Error(), "add `pull-requests: write`") {
		t.Fatalf("err = %v, want the missing permission named", err)
	}
	bad, err := github.NewClient(github.ClientOptions{Repository: repo, Token: "wrong", APIURL: s.URL})
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.React(context.Background(), 1, github.ReactReceived); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("err = %v, want 401", err)
	}
}

func TestNewClientValidates(t *testing.T) {
	tests := []struct{ name, repo, token, api, want string }{
		{"no repo", "", "t", "", "not owner/name"},
		{"bad repo", "a/b/c", "t", "", "not owner/name"},
		{"no token", "a/b", "", "", "no token"},
		{"bad URL", "a/b", "t", "ftp://x", "not an http(s) URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := github.NewClient(github.ClientOptions{Repository: tt.repo, Token: tt.token, APIURL: tt.api})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// A push's commit is reported on the open pull requests whose head it is, and only those.
func TestOpenPullsWithCommit(t *testing.T) {
	s, c := newDouble(t)
	head := strings.Repeat("c", 40)
	s.AddPull(ghtest.Pull{Number: 3, HeadSHA: head, HeadRepo: "octo/lean"})
	s.AddPull(ghtest.Pull{Number: 4, HeadSHA: head, HeadRepo: "octo/lean", State: "closed"})
	s.AddPull(ghtest.Pull{Number: 5, HeadSHA: strings.Repeat("d", 40), HeadRepo: "octo/lean"})
	for _, tt := range []struct {
		sha  string
		want string
	}{{head, "[3]"}, {strings.Repeat("e", 40), "[]"}} {
		got, err := c.OpenPullsWithCommit(context.Background(), tt.sha)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != tt.want {
			t.Errorf("OpenPullsWithCommit(%s) = %v, want %s", tt.sha[:4], got, tt.want)
		}
	}
	s.FailNext("GET", "/repos/octo/lean/commits/"+head+"/pulls", 403)
	if _, err := c.OpenPullsWithCommit(context.Background(), head); err == nil || !strings.Contains(err.Error(), "pull-requests: read") {
		t.Fatalf("a 403 should name the missing permission, got %v", err)
	}
}
