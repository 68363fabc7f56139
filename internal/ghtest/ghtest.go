// Package ghtest is a local double of the GitHub REST API for tests, following its documentation
// (https://docs.github.com/en/rest, see docs/platform-facts.md) field by field: issue comments (list with Link
// pagination, create, update, delete), reactions on issue comments, the collaborator permission endpoint, pull
// requests, commits (GET, for the committer date; GET .../pulls, the
// pull requests whose head it is), deployments and deployment statuses (create; list newest first with
// filters and Link pagination; auto_inactive on success), and GET /user. Every request is logged. A request for a
// route the double does not know fails the test, in the style of cli/cli's HTTP registry.
package ghtest

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Request is one logged API call.
type Request struct {
	Method string
	Path   string // URL path with the query, e.g. /repos/o/r/issues/1/comments?page=2&per_page=100
	Body   string
}

func (r Request) String() string { return r.Method + " " + r.Path }

// Comment is an issue comment the double holds.
type Comment struct {
	ID        int64
	Issue     int
	User      string
	Body      string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Reaction is a reaction created on an issue comment.
type Reaction struct {
	CommentID int64
	User      string
	Content   string
}

// Pull is a pull request the double serves from GET /repos/{o}/{r}/pulls/{n}.
type Pull struct {
	Number  int
	HeadSHA string
	HeadRef string
	// HeadRepo is the head repository's full name; "" serves "repo": null, as for a deleted fork.
	HeadRepo string
	State    string // default open
	User     string
	// HeadCommitted is the head commit's committer date (GET /commits/{sha}). Default 2026-11-01T11:00:00Z,
	// an hour before the comments in the event fixtures.
	HeadCommitted time.Time
}

// Deployment is a created deployment, with its statuses in the order they were created.
type Deployment struct {
	ID                    int64
	Ref, Task             string
	Environment           string
	Description           string
	AutoMerge             bool
	RequiredContexts      []string // nil when the request left the field out
	TransientEnvironment  bool
	ProductionEnvironment bool
	Statuses              []DeploymentStatus
}

// DeploymentStatus is one status of a deployment.
type DeploymentStatus struct {
	ID             int64
	State          string
	LogURL         string
	EnvironmentURL string
	Description    string
	Environment    string
}

// Server is the GitHub API double. Its URL is the value for GITHUB_API_URL.
type Server struct {
	URL string
	// Repo is the only repository served ("owner/name"); requests for another fail the test.
	Repo string
	// Token, when set, is the bearer token every request must carry; others get 401.
	Token string
	// Login is the identity of Token: the author of comments and reactions it makes. Default
	// github-actions[bot], for which GET /user answers 403 as it does for GITHUB_TOKEN.
	Login string
	// DefaultPerPage is the page size when a list request sends no per_page (GitHub: 30).
	DefaultPerPage int
	// Before, when set, runs before each request is served (without the double's lock held), so a test can
	// change state between two requests, as a concurrent run would.
	Before func(Request)

	errorf func(format string, args ...any) // reports a request for an unknown route
	srv    *httptest.Server

	mu          sync.Mutex
	log         []Request
	nextID      int64
	comments    []*Comment
	reactions   []Reaction
	roles       map[string]string
	pulls       map[int]Pull
	commits     map[string]time.Time
	deployments []*Deployment
	fail        map[string]int // "METHOD /path" -> status to answer once
	unknownLog  []Request
}

// New starts a double serving repo ("owner/name") and closes it when the test ends. A request for a route
// the double does not know fails t.
func New(t testing.TB, repo string) *Server {
	t.Helper()
	s := Start(repo)
	s.errorf = t.Errorf
	t.Cleanup(s.Close)
	return s
}

// Start starts a double serving repo ("owner/name") outside a *testing.T (for example in a testscript
// Setup). The caller closes it, and checks Unknown for requests the double could not serve.
func Start(repo string) *Server {
	s := &Server{Repo: repo, Login: "github-actions[bot]", DefaultPerPage: 30, nextID: 1000,
		roles: map[string]string{}, pulls: map[int]Pull{}, commits: map[string]time.Time{}, fail: map[string]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// Close stops the double.
func (s *Server) Close() { s.srv.Close() }

// Unknown returns the requests for routes the double does not serve.
func (s *Server) Unknown() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.unknownLog)
}

// SetRole makes user a collaborator with a role: admin, maintain, write, triage or read.
func (s *Server) SetRole(user, role string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roles[user] = role
}

// AddPull serves a pull request.
func (s *Server) AddPull(p Pull) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.State == "" {
		p.State = "open"
	}
	if p.HeadCommitted.IsZero() {
		p.HeadCommitted = time.Date(2026, 11, 1, 11, 0, 0, 0, time.UTC)
	}
	s.pulls[p.Number] = p
	s.commits[p.HeadSHA] = p.HeadCommitted
}

// AddDeployment records a deployment with its statuses (oldest first), as earlier runs would have left
// it, and returns its id; the statuses get ids too.
func (s *Server) AddDeployment(d Deployment) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	d.ID = s.nextID
	d.Statuses = slices.Clone(d.Statuses)
	for i := range d.Statuses {
		s.nextID++
		d.Statuses[i].ID = s.nextID
		if d.Statuses[i].Environment == "" {
			d.Statuses[i].Environment = d.Environment
		}
	}
	s.deployments = append(s.deployments, &d)
	return d.ID
}

// AddComment posts a comment on an issue or pull request as user and returns its id.
func (s *Server) AddComment(issue int, user, body string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addComment(issue, user, body).ID
}

// FailNext makes the next request with this method and path (no query) answer status.
func (s *Server) FailNext(method, path string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail[method+" "+path] = status
}

// Comments returns the comments on an issue, oldest first.
func (s *Server) Comments(issue int) []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Comment
	for _, c := range s.comments {
		if c.Issue == issue {
			out = append(out, *c)
		}
	}
	return out
}

// Reactions returns the reactions created, in order.
func (s *Server) Reactions() []Reaction {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reactions)
}

// Deployments returns the deployments created, in order, each with its statuses.
func (s *Server) Deployments() []Deployment {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Deployment, len(s.deployments))
	for i, d := range s.deployments {
		out[i] = *d
		out[i].Statuses = slices.Clone(d.Statuses)
	}
	return out
}

// Requests returns the request log.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// ResetLog forgets the requests logged so far (not the state they made), so a test can check what the
// next run sends.
func (s *Server) ResetLog() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = nil
}

// Writes returns the logged requests that change state (anything but GET and HEAD), as "METHOD /path".
func (s *Server) Writes() []string {
	var out []string
	for _, r := range s.Requests() {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			out = append(out, r.String())
		}
	}
	return out
}

func (s *Server) addComment(issue int, user, body string) *Comment {
	s.nextID++
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(s.nextID) * time.Second)
	c := &Comment{ID: s.nextID, Issue: issue, User: user, Body: body, CreatedAt: now, UpdatedAt: now}
	s.comments = append(s.comments, c)
	return c
}

var (
	reIssueComments = regexp.MustCompile(`^/issues/(\d+)/comments$`)
	reComment       = regexp.MustCompile(`^/issues/comments/(\d+)$`)
	reReactions     = regexp.MustCompile(`^/issues/comments/(\d+)/reactions$`)
	rePermission    = regexp.MustCompile(`^/collaborators/([^/]+)/permission$`)
	rePull          = regexp.MustCompile(`^/pulls/(\d+)$`)
	reCommit        = regexp.MustCompile(`^/commits/([0-9a-f]{7,40})$`)
	reCommitPulls   = regexp.MustCompile(`^/commits/([0-9a-f]{7,40})/pulls$`)
	reDeployments   = regexp.MustCompile(`^/deployments$`)
	reStatuses      = regexp.MustCompile(`^/deployments/(\d+)/statuses$`)
)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if s.Before != nil {
		s.Before(Request{Method: r.Method, Path: r.URL.RequestURI(), Body: string(body)})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, Request{Method: r.Method, Path: r.URL.RequestURI(), Body: string(body)})

	if s.Token != "" && r.Header.Get("Authorization") != "Bearer "+s.Token {
		writeJSON(w, http.StatusUnauthorized, apiError("Bad credentials"))
		return
	}
	if st, ok := s.fail[r.Method+" "+r.URL.Path]; ok {
		delete(s.fail, r.Method+" "+r.URL.Path)
		writeJSON(w, st, apiError(http.StatusText(st)))
		return
	}
	if r.Method == http.MethodGet && r.URL.Path == "/user" {
		if strings.HasSuffix(s.Login, "[bot]") {
			writeJSON(w, http.StatusForbidden, apiError("Resource not accessible by integration"))
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"login": s.Login, "type": "User"})
		return
	}
	prefix := "/repos/" + s.Repo
	rest, ok := strings.CutPrefix(r.URL.Path, prefix)
	if !ok {
		s.unknown(w, r)
		return
	}
	var m []string
	match := func(method string, re *regexp.Regexp) bool {
		if r.Method != method {
			return false
		}
		m = re.FindStringSubmatch(rest)
		return m != nil
	}
	switch {
	case match(http.MethodGet, reIssueComments):
		s.listComments(w, r, atoi(m[1]))
	case match(http.MethodPost, reIssueComments):
		text, ok := commentBody(w, body)
		if !ok {
			return
		}
		writeJSON(w, http.StatusCreated, s.commentJSON(s.addComment(atoi(m[1]), s.Login, text)))
	case match(http.MethodPatch, reComment):
		c, ok := s.ownComment(w, atoi64(m[1]))
		if !ok {
			return
		}
		text, ok := commentBody(w, body)
		if !ok {
			return
		}
		c.Body = text
		c.UpdatedAt = c.UpdatedAt.Add(time.Minute)
		writeJSON(w, http.StatusOK, s.commentJSON(c))
	case match(http.MethodDelete, reComment):
		c, ok := s.ownComment(w, atoi64(m[1]))
		if !ok {
			return
		}
		s.comments = slices.DeleteFunc(s.comments, func(x *Comment) bool { return x == c })
		w.WriteHeader(http.StatusNoContent)
	case match(http.MethodPost, reReactions):
		id := atoi64(m[1])
		if s.comment(id) == nil {
			writeJSON(w, http.StatusNotFound, apiError("Not Found"))
			return
		}
		var in struct {
			Content string `json:"content"`
		}
		_ = json.Unmarshal(body, &in)
		if !slices.Contains([]string{"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"}, in.Content) {
			writeJSON(w, http.StatusUnprocessableEntity, apiError("Validation Failed: content is not included in the list"))
			return
		}
		status := http.StatusCreated
		if slices.Contains(s.reactions, Reaction{id, s.Login, in.Content}) {
			status = http.StatusOK // GitHub answers 200 with the existing reaction
		} else {
			s.reactions = append(s.reactions, Reaction{id, s.Login, in.Content})
		}
		writeJSON(w, status, map[string]any{"id": len(s.reactions), "content": in.Content, "user": userJSON(s.Login)})
	case match(http.MethodGet, rePermission):
		s.permission(w, m[1])
	case match(http.MethodGet, rePull):
		p, ok := s.pulls[atoi(m[1])]
		if !ok {
			writeJSON(w, http.StatusNotFound, apiError("Not Found"))
			return
		}
		writeJSON(w, http.StatusOK, s.pullJSON(p))
	case match(http.MethodGet, reCommit):
		at, ok := s.commits[m[1]]
		if !ok {
			writeJSON(w, http.StatusUnprocessableEntity, apiError("No commit found for SHA: "+m[1]))
			return
		}
		who := map[string]any{"name": "Dev", "email": "dev@example.com", "date": at.Format(time.RFC3339)}
		writeJSON(w, http.StatusOK, map[string]any{"sha": m[1], "commit": map[string]any{"author": who, "committer": who, "message": "change"}})
	case match(http.MethodGet, reCommitPulls):
		// The pull requests the commit belongs to; the double knows only each pull request's head.
		out := []any{}
		for _, n := range slices.Sorted(maps.Keys(s.pulls)) {
			if p := s.pulls[n]; p.HeadSHA == m[1] {
				out = append(out, s.pullJSON(p))
			}
		}
		writeJSON(w, http.StatusOK, out)
	case match(http.MethodGet, reDeployments):
		s.listDeployments(w, r)
	case match(http.MethodPost, reDeployments):
		s.createDeployment(w, body)
	case match(http.MethodGet, reStatuses):
		s.listStatuses(w, r, atoi64(m[1]))
	case match(http.MethodPost, reStatuses):
		s.createStatus(w, atoi64(m[1]), body)
	default:
		s.unknown(w, r)
	}
}

func (s *Server) unknown(w http.ResponseWriter, r *http.Request) {
	s.unknownLog = append(s.unknownLog, Request{Method: r.Method, Path: r.URL.RequestURI()})
	if s.errorf != nil {
		s.errorf("ghtest: unexpected request %s %s (no such route in the GitHub double for %s)", r.Method, r.URL.RequestURI(), s.Repo)
	}
	writeJSON(w, http.StatusNotFound, apiError("Not Found"))
}

func (s *Server) comment(id int64) *Comment {
	for _, c := range s.comments {
		if c.ID == id {
			return c
		}
	}
	return nil
}

// listComments serves one page of an issue's comments, oldest first.
func (s *Server) listComments(w http.ResponseWriter, r *http.Request, issue int) {
	var all []any
	for _, c := range s.comments {
		if c.Issue == issue {
			all = append(all, s.commentJSON(c))
		}
	}
	s.page(w, r, all)
}

// permission answers like GET /repos/{o}/{r}/collaborators/{user}/permission: permission is admin, write,
// read or none (maintain reported as write, triage as read), role_name is the real role, and
// user.permissions has the five booleans.
func (s *Server) permission(w http.ResponseWriter, user string) {
	role, ok := s.roles[user]
	if !ok {
		role = "none"
	}
	perm := map[string]string{"admin": "admin", "maintain": "write", "write": "write", "triage": "read", "read": "read"}[role]
	if perm == "" {
		perm = "none"
	}
	rank := map[string]int{"read": 1, "triage": 2, "write": 3, "maintain": 4, "admin": 5}[role]
	u := userJSON(user)
	u["permissions"] = map[string]bool{"admin": rank >= 5, "maintain": rank >= 4, "push": rank >= 3, "triage": rank >= 2, "pull": rank >= 1}
	u["role_name"] = role
	writeJSON(w, http.StatusOK, map[string]any{"permission": perm, "role_name": role, "user": u})
}

func (s *Server) createDeployment(w http.ResponseWriter, body []byte) {
	var in struct {
		Ref                   string    `json:"ref"`
		Task                  *string   `json:"task"`
		AutoMerge             *bool     `json:"auto_merge"`
		RequiredContexts      *[]string `json:"required_contexts"`
		Environment           *string   `json:"environment"`
		Description           string    `json:"description"`
		TransientEnvironment  bool      `json:"transient_environment"`
		ProductionEnvironment *bool     `json:"production_environment"`
	}
	if err := json.Unmarshal(body, &in); err != nil || in.Ref == "" {
		writeJSON(w, http.StatusUnprocessableEntity, apiError("Validation Failed: ref is required"))
		return
	}
	d := &Deployment{Ref: in.Ref, Task: "deploy", AutoMerge: true, Environment: "production", Description: in.Description,
		TransientEnvironment: in.TransientEnvironment}
	if in.Task != nil {
		d.Task = *in.Task
	}
	if in.AutoMerge != nil {
		d.AutoMerge = *in.AutoMerge
	}
	if in.RequiredContexts != nil {
		d.RequiredContexts = append([]string{}, *in.RequiredContexts...)
	}
	if in.Environment != nil {
		d.Environment = *in.Environment
	}
	d.ProductionEnvironment = d.Environment == "production"
	if in.ProductionEnvironment != nil {
		d.ProductionEnvironment = *in.ProductionEnvironment
	}
	if d.AutoMerge {
		// The double has no branches to merge: auto_merge left on is GitHub's 202 "merged branch" path.
		writeJSON(w, http.StatusAccepted, map[string]any{"message": "Auto-merged main into " + in.Ref + " on deployment."})
		return
	}
	s.nextID++
	d.ID = s.nextID
	s.deployments = append(s.deployments, d)
	writeJSON(w, http.StatusCreated, s.deploymentJSON(d))
}

func (s *Server) createStatus(w http.ResponseWriter, id int64, body []byte) {
	d := s.deployment(id)
	if d == nil {
		writeJSON(w, http.StatusNotFound, apiError("Not Found"))
		return
	}
	var in struct {
		State          string `json:"state"`
		LogURL         string `json:"log_url"`
		EnvironmentURL string `json:"environment_url"`
		Description    string `json:"description"`
		Environment    string `json:"environment"`
		AutoInactive   *bool  `json:"auto_inactive"`
	}
	_ = json.Unmarshal(body, &in)
	if !slices.Contains([]string{"error", "failure", "inactive", "in_progress", "queued", "pending", "success"}, in.State) {
		writeJSON(w, http.StatusUnprocessableEntity, apiError("Validation Failed: state is not included in the list"))
		return
	}
	if len([]rune(in.Description)) > 140 {
		writeJSON(w, http.StatusUnprocessableEntity, apiError("Validation Failed: description is too long (maximum is 140 characters)"))
		return
	}
	s.nextID++
	st := DeploymentStatus{ID: s.nextID, State: in.State, LogURL: in.LogURL, EnvironmentURL: in.EnvironmentURL,
		Description: in.Description, Environment: in.Environment}
	if st.Environment == "" {
		st.Environment = d.Environment
	}
	if st.State == "success" && (in.AutoInactive == nil || *in.AutoInactive) {
		s.autoInactive(d)
	}
	d.Statuses = append(d.Statuses, st)
	writeJSON(w, http.StatusCreated, statusJSON(st, s.Login))
}

// autoInactive does what a success status does by default (auto_inactive): every earlier deployment to the
// same environment that is neither transient nor production, and whose latest status is success, gets an
// inactive status. Transient (preview) environments are left alone, so their owner deactivates them.
func (s *Server) autoInactive(d *Deployment) {
	for _, x := range s.deployments {
		if x == d || x.ID > d.ID || x.Environment != d.Environment || x.TransientEnvironment || x.ProductionEnvironment {
			continue
		}
		if n := len(x.Statuses); n > 0 && x.Statuses[n-1].State == "success" {
			s.nextID++
			x.Statuses = append(x.Statuses, DeploymentStatus{ID: s.nextID, State: "inactive", Environment: x.Environment,
				Description: "auto-inactivated", LogURL: x.Statuses[n-1].LogURL})
		}
	}
}

// listDeployments serves GET /deployments, newest first, filtered by sha, ref, task and environment.
func (s *Server) listDeployments(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var out []any
	for i := len(s.deployments) - 1; i >= 0; i-- {
		d := s.deployments[i]
		if v := q.Get("sha"); v != "" && v != d.Ref {
			continue
		}
		if v := q.Get("ref"); v != "" && v != d.Ref {
			continue
		}
		if v := q.Get("task"); v != "" && v != d.Task {
			continue
		}
		if v := q.Get("environment"); v != "" && v != d.Environment {
			continue
		}
		out = append(out, s.deploymentJSON(d))
	}
	s.page(w, r, out)
}

// listStatuses serves GET /deployments/{id}/statuses, newest first.
func (s *Server) listStatuses(w http.ResponseWriter, r *http.Request, id int64) {
	d := s.deployment(id)
	if d == nil {
		writeJSON(w, http.StatusNotFound, apiError("Not Found"))
		return
	}
	var out []any
	for i := len(d.Statuses) - 1; i >= 0; i-- {
		out = append(out, statusJSON(d.Statuses[i], s.Login))
	}
	s.page(w, r, out)
}

// page serves one page of items (per_page, default DefaultPerPage, at most 100; page from 1) with a Link
// header of next, last, first and prev that keeps the request's other query parameters, as GitHub does.
func (s *Server) page(w http.ResponseWriter, r *http.Request, items []any) {
	q := r.URL.Query()
	perPage, page := s.DefaultPerPage, 1
	if v := q.Get("per_page"); v != "" {
		perPage = min(max(atoi(v), 1), 100)
	}
	if v := q.Get("page"); v != "" {
		page = max(atoi(v), 1)
	}
	last := max((len(items)+perPage-1)/perPage, 1)
	out := []any{}
	for i := (page - 1) * perPage; i < min(page*perPage, len(items)); i++ {
		out = append(out, items[i])
	}
	q.Del("per_page")
	q.Del("page")
	filters := q.Encode()
	if filters != "" {
		filters += "&"
	}
	link := func(p int, rel string) string {
		return fmt.Sprintf(`<%s%s?%sper_page=%d&page=%d>; rel="%s"`, s.URL, r.URL.Path, filters, perPage, p, rel)
	}
	var links []string
	if page < last {
		links = append(links, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		links = append(links, link(1, "first"), link(page-1, "prev"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) deployment(id int64) *Deployment {
	for _, x := range s.deployments {
		if x.ID == id {
			return x
		}
	}
	return nil
}

func (s *Server) deploymentJSON(d *Deployment) map[string]any {
	return map[string]any{
		"id": d.ID, "sha": d.Ref, "ref": d.Ref, "task": d.Task, "environment": d.Environment, "description": d.Description,
		"transient_environment": d.TransientEnvironment, "production_environment": d.ProductionEnvironment,
		"creator": userJSON(s.Login), "url": fmt.Sprintf("%s/repos/%s/deployments/%d", s.URL, s.Repo, d.ID),
	}
}

func statusJSON(st DeploymentStatus, login string) map[string]any {
	return map[string]any{
		"id": st.ID, "state": st.State, "log_url": st.LogURL, "environment_url": st.EnvironmentURL,
		"description": st.Description, "environment": st.Environment, "creator": userJSON(login),
	}
}

func (s *Server) commentJSON(c *Comment) map[string]any {
	return map[string]any{
		"id": c.ID, "body": c.Body, "user": userJSON(c.User),
		"created_at": c.CreatedAt.Format(time.RFC3339), "updated_at": c.UpdatedAt.Format(time.RFC3339),
		"html_url":  fmt.Sprintf("https://github.com/%s/pull/%d#issuecomment-%d", s.Repo, c.Issue, c.ID),
		"issue_url": fmt.Sprintf("%s/repos/%s/issues/%d", s.URL, s.Repo, c.Issue),
	}
}

func (s *Server) pullJSON(p Pull) map[string]any {
	var headRepo any // null when the fork was deleted
	if p.HeadRepo != "" {
		headRepo = map[string]any{"full_name": p.HeadRepo, "fork": p.HeadRepo != s.Repo}
	}
	return map[string]any{
		"number": p.Number, "state": p.State, "user": userJSON(p.User),
		"head": map[string]any{"sha": p.HeadSHA, "ref": p.HeadRef, "repo": headRepo},
		"base": map[string]any{"ref": "main", "repo": map[string]any{"full_name": s.Repo, "fork": false}},
	}
}

func userJSON(login string) map[string]any {
	typ := "User"
	if strings.HasSuffix(login, "[bot]") {
		typ = "Bot"
	}
	return map[string]any{"login": login, "type": typ}
}

func apiError(msg string) map[string]any {
	return map[string]any{"message": msg, "documentation_url": "https://docs.github.com/rest"}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

func atoi64(s string) int64 { n, _ := strconv.ParseInt(s, 10, 64); return n }

// commentBody reads a comment create or update request's body, answering 422 as GitHub does when it is
// missing or longer than 65536 characters.
// ownComment finds comment id for a change by the token's user, answering 404 when it does not exist and
// 403 when another user wrote it; ok is false when it answered.
func (s *Server) ownComment(w http.ResponseWriter, id int64) (*Comment, bool) {
	c := s.comment(id)
	if c == nil {
		writeJSON(w, http.StatusNotFound, apiError("Not Found"))
		return nil, false
	}
	if c.User != s.Login {
		writeJSON(w, http.StatusForbidden, apiError("Resource not accessible by integration"))
		return nil, false
	}
	return c, true
}

func commentBody(w http.ResponseWriter, body []byte) (string, bool) {
	var in struct {
		Body *string `json:"body"`
	}
	if json.Unmarshal(body, &in) != nil || in.Body == nil {
		writeJSON(w, http.StatusUnprocessableEntity, apiError("Invalid request: body is required"))
		return "", false
	}
	if len([]rune(*in.Body)) > 65536 {
		writeJSON(w, http.StatusUnprocessableEntity, apiError("Body is too long (maximum is 65536 characters)"))
		return "", false
	}
	return *in.Body, true
}
