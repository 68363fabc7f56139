package ghtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// recorder is a testing.TB that records Errorf instead of failing, to test that the double fails tests.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func do(t *testing.T, s *Server, method, path, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestUnknownRoutesFailTheTest(t *testing.T) {
	tests := []struct{ method, path string }{
		{"GET", "/repos/octo/lean/issues/7/timeline"},
		{"DELETE", "/repos/octo/lean/issues/7/comments"},
		{"GET", "/repos/other/repo/pulls/7"},
		{"PUT", "/repos/octo/lean/pulls/7"},
	}
	for _, tt := range tests {
		t.Run(tt.method+tt.path, func(t *testing.T) {
			rec := &recorder{TB: t}
			s := New(rec, "octo/lean")
			resp, _ := do(t, s, tt.method, tt.path, "")
			if resp.StatusCode != 404 || len(rec.errs) != 1 || !strings.Contains(rec.errs[0], "unexpected request "+tt.method) {
				t.Fatalf("status %d, errors %q", resp.StatusCode, rec.errs)
			}
		})
	}
}

func TestListCommentsLinkPagination(t *testing.T) {
	s := New(t, "octo/lean")
	for i := range 5 {
		s.AddComment(7, "alice", fmt.Sprint(i))
	}
	s.AddComment(9, "alice", "elsewhere")
	tests := []struct {
		query    string
		n        int
		wantRels []string
	}{
		{"?per_page=2", 2, []string{`page=2>; rel="next"`, `page=3>; rel="last"`}},
		{"?per_page=2&page=2", 2, []string{`rel="next"`, `rel="last"`, `page=1>; rel="first"`, `page=1>; rel="prev"`}},
		{"?per_page=2&page=3", 1, []string{`rel="first"`, `page=2>; rel="prev"`}},
		{"", 5, nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			resp, body := do(t, s, "GET", "/repos/octo/lean/issues/7/comments"+tt.query, "")
			var got []map[string]any
			if err := json.Unmarshal([]byte(body), &got); err != nil || len(got) != tt.n {
				t.Fatalf("got %d comments (%v): %s", len(got), err, body)
			}
			link := resp.Header.Get("Link")
			for _, r := range tt.wantRels {
				if !strings.Contains(link, r) {
					t.Errorf("Link %q lacks %q", link, r)
				}
			}
			if tt.wantRels == nil && link != "" {
				t.Errorf("Link on a single page: %q", link)
			}
		})
	}
}

func TestPermissionFields(t *testing.T) {
	s := New(t, "octo/lean")
	for _, role := range []string{"admin", "maintain", "write", "triage", "read"} {
		s.SetRole("u-"+role, role)
	}
	tests := []struct {
		user, perm, role string
		push             bool
	}{
		{"u-admin", "admin", "admin", true},
		{"u-maintain", "write", "maintain", true},
		{"u-write", "write", "write", true},
		{"u-triage", "read", "triage", false},
		{"u-read", "read", "read", false},
		{"stranger", "none", "none", false},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			_, body := do(t, s, "GET", "/repos/octo/lean/collaborators/"+tt.user+"/permission", "")
			var got struct {
				Permission string `json:"permission"`
				RoleName   string `json:"role_name"`
				User       struct {
					Login       string          `json:"login"`
					Permissions map[string]bool `json:"permissions"`
				} `json:"user"`
			}
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			if got.Permission != tt.perm || got.RoleName != tt.role || got.User.Login != tt.user || got.User.Permissions["push"] != tt.push {
				t.Errorf("got %+v", got)
			}
		})
	}
}

func TestValidation(t *testing.T) {
	s := New(t, "octo/lean")
	s.Token = "tok"
	id := s.AddComment(7, "alice", "hi")
	tests := []struct {
		name, method, path, body string
		status                   int
	}{
		{"bad reaction", "POST", fmt.Sprintf("/repos/octo/lean/issues/comments/%d/reactions", id), `{"content":"thumbsup"}`, 422},
		{"reaction on a missing comment", "POST", "/repos/octo/lean/issues/comments/1/reactions", `{"content":"eyes"}`, 404},
		{"edit someone else's comment", "PATCH", fmt.Sprintf("/repos/octo/lean/issues/comments/%d", id), `{"body":"x"}`, 403},
		{"comment too long", "POST", "/repos/octo/lean/issues/7/comments", `{"body":"` + strings.Repeat("a", 65537) + `"}`, 422},
		{"deployment without ref", "POST", "/repos/octo/lean/deployments", `{"environment":"x"}`, 422},
		{"deployment with auto_merge", "POST", "/repos/octo/lean/deployments", `{"ref":"abc"}`, 202},
		{"status of a missing deployment", "POST", "/repos/octo/lean/deployments/1/statuses", `{"state":"success"}`, 404},
		{"missing pull", "GET", "/repos/octo/lean/pulls/99", "", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if resp, body := do(t, s, tt.method, tt.path, tt.body); resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
		})
	}
	req, _ := http.NewRequest("GET", s.URL+"/repos/octo/lean/pulls/1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("no token: status %d, want 401", resp.StatusCode)
	}
}

// TestDeploymentLists checks the list routes: newest first, filters, Link pagination keeping the filters,
// statuses newest first, and auto_inactive touching only earlier successful, non-transient, non-production
// deployments of the same environment.
func TestDeploymentLists(t *testing.T) {
	s := New(t, "octo/lean")
	create := func(env string, transient bool) int64 {
		_, body := do(t, s, "POST", "/repos/octo/lean/deployments",
			fmt.Sprintf(`{"ref":"abc","auto_merge":false,"environment":%q,"transient_environment":%v}`, env, transient))
		var d struct {
			ID int64 `json:"id"`
		}
		if err := json.Unmarshal([]byte(body), &d); err != nil || d.ID == 0 {
			t.Fatalf("create: %s", body)
		}
		return d.ID
	}
	status := func(id int64, state string) {
		if resp, body := do(t, s, "POST", fmt.Sprintf("/repos/octo/lean/deployments/%d/statuses", id), `{"state":"`+state+`"}`); resp.StatusCode != 201 {
			t.Fatalf("status: %s", body)
		}
	}
	staging1, preview1 := create("staging", false), create("preview/pr-7", true)
	status(staging1, "success")
	status(preview1, "success")
	staging2, preview2 := create("staging", false), create("preview/pr-7", true)
	status(staging2, "success")
	status(preview2, "success")
	states := map[int64]string{}
	for _, d := range s.Deployments() {
		states[d.ID] = d.Statuses[len(d.Statuses)-1].State
	}
	if states[staging1] != "inactive" || states[staging2] != "success" || states[preview1] != "success" || states[preview2] != "success" {
		t.Errorf("latest states %v: want only the earlier staging deployment inactivated", states)
	}

	resp, body := do(t, s, "GET", "/repos/octo/lean/deployments?environment=preview%2Fpr-7&per_page=1", "")
	var got []struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil || len(got) != 1 || got[0].ID != preview2 {
		t.Fatalf("first page %s: want the newest preview deployment %d", body, preview2)
	}
	if link := resp.Header.Get("Link"); !strings.Contains(link, "environment=preview%2Fpr-7") || !strings.Contains(link, `per_page=1&page=2>; rel="next"`) {
		t.Errorf("Link %q does not keep the filter or point at page 2", link)
	}
	_, body = do(t, s, "GET", fmt.Sprintf("/repos/octo/lean/deployments/%d/statuses", staging1), "")
	var sts []struct {
		State string `json:"state"`
	}
	if err := json.Unmarshal([]byte(body), &sts); err != nil || len(sts) != 2 || sts[0].State != "inactive" || sts[1].State != "success" {
		t.Errorf("statuses %s: want inactive then success, newest first", body)
	}
	if resp, _ := do(t, s, "GET", "/repos/octo/lean/deployments/1/statuses", ""); resp.StatusCode != 404 {
		t.Errorf("statuses of a missing deployment: %d, want 404", resp.StatusCode)
	}
}
