package cfapi_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/org/lean4-cf-action/internal/sandbox/cfapi"
)

func failedMessage(r wranglerResult) string {
	if e := r.entry("command-failed"); e != nil {
		m, _ := e["message"].(string)
		return m
	}
	return ""
}

func count(srv *cfapi.Server, endpoint string) (n int, faults []string) {
	for _, r := range srv.Control().Journal() {
		if r.Endpoint == endpoint {
			n++
			faults = append(faults, r.Fault)
		}
	}
	return n, faults
}

// Each fault kind as wrangler 4.164 sees it.
func TestWranglerFaults(t *testing.T) {
	t.Parallel()
	type check func(t *testing.T, srv *cfapi.Server, res wranglerResult)
	for _, tc := range []struct {
		name      string
		opts      cfapi.Options
		container bool
		image     string // container image; default docker.io/library/cftest:v1
		faults    []cfapi.Fault
		env       map[string]string
		wantCode  int
		check     check
	}{
		{
			name: "application create refused (400)", container: true, wantCode: 1,
			faults: []cfapi.Fault{{Endpoint: eCreateApp, Status: 400, Errors: []cfapi.APIError{{Code: 1000, Message: "instance type not allowed"}}}},
			check: func(t *testing.T, srv *cfapi.Server, res wranglerResult) {
				msg := failedMessage(res)
				if !strings.Contains(msg, "misconfiguration") || !strings.Contains(msg, `{"error":"instance type not allowed"}`) {
					t.Errorf("command-failed message %q", msg)
				}
				// The Worker is live, workers.dev untouched: not transactional.
				equal(t, "writes", writes(srv), []string{ePutScript, eCreateApp})
				if w, ok := srv.Worker("cftest-lean"); !ok || w.Active == nil {
					t.Error("the Worker upload did not stay")
				}
			},
		},
		{
			name: "connection reset once on upload, retried", wantCode: 0,
			faults: []cfapi.Fault{{Endpoint: ePutScript, Reset: true, Count: 1}},
			check: func(t *testing.T, srv *cfapi.Server, res wranglerResult) {
				if n, f := count(srv, ePutScript); n != 2 || f[0] != "reset" || f[1] != "" {
					t.Errorf("uploads %d %q, want a reset then a success", n, f)
				}
			},
		},
		{
			name: "upload fails with 500 every time", wantCode: 1,
			faults: []cfapi.Fault{{Endpoint: ePutScript, Status: 500, Header: map[string]string{"Retry-After": "0"}}},
			check: func(t *testing.T, srv *cfapi.Server, res wranglerResult) {
				if n, _ := count(srv, ePutScript); n != 3 {
					t.Errorf("wrangler tried the upload %d times, want 3", n)
				}
				if msg := failedMessage(res); !strings.Contains(msg, "A request to the Cloudflare API") || !strings.Contains(res.Stdout+res.Stderr, "An unknown error has occurred [code: 10013]") {
					t.Errorf("command-failed message %q\n%s", msg, res)
				}
				if w, ok := srv.Worker("cftest-stub"); ok {
					t.Errorf("a failed upload created the Worker: %+v", w)
				}
			},
		},
		{
			name: "latency on the upload", wantCode: 0,
			faults: []cfapi.Fault{{Endpoint: ePutScript, Latency: 1500 * time.Millisecond}},
			check: func(t *testing.T, srv *cfapi.Server, res wranglerResult) {
				if res.Took < 1500*time.Millisecond {
					t.Errorf("deploy took %v despite 1.5 s latency", res.Took)
				}
				if _, f := count(srv, ePutScript); !slices.Equal(f, []string{"latency"}) {
					t.Errorf("upload faults %q", f)
				}
			},
		},
		{
			name: "malformed (HTML) answer", wantCode: 1,
			faults: []cfapi.Fault{{Endpoint: eServices, Status: 502, Body: "<html><body>502 Bad Gateway</body></html>"}},
			check: func(t *testing.T, srv *cfapi.Server, res wranglerResult) {
				if msg := failedMessage(res); !strings.Contains(msg, "malformed response") {
					t.Errorf("command-failed message %q", msg)
				}
			},
		},
		{
			name: "just-uploaded version not yet readable (100146), retried", container: true, wantCode: 0,
			faults: []cfapi.Fault{{Endpoint: eGetVersion, Status: 404, Count: 2, Errors: []cfapi.APIError{{Code: 100146, Message: "This version is not yet available"}}}},
			check: func(t *testing.T, srv *cfapi.Server, res wranglerResult) {
				if n, _ := count(srv, eGetVersion); n != 3 {
					t.Errorf("version reads %d, want 3", n)
				}
				if _, ok := srv.Application("cftest-lean-leanserver"); !ok {
					t.Error("no application after the retried read")
				}
			},
		},
		{
			name: "image in an unsupported registry (ghcr.io)", container: true, image: "ghcr.io/ldct/lean4-server:v4.24.0", wantCode: 1,
			check: func(t *testing.T, srv *cfapi.Server, res wranglerResult) {
				if msg := failedMessage(res); !strings.Contains(msg, `registry \"ghcr.io\" is not supported`) {
					t.Errorf("command-failed message %q", msg)
				}
				equal(t, "writes", writes(srv), []string{ePutScript, eCreateApp})
			},
		},
		{
			name: "no workers.dev subdomain", opts: cfapi.Options{NoSubdomain: true}, wantCode: 1,
			check: func(t *testing.T, srv *cfapi.Server, res wranglerResult) {
				if w := writes(srv); len(w) != 0 {
					t.Errorf("4.164 wrote before failing: %q", w)
				}
				if msg := failedMessage(res); !strings.Contains(msg, "workers.dev") {
					t.Errorf("command-failed message %q", msg)
				}
			},
		},
		{
			name: "invalid token", env: map[string]string{"CLOUDFLARE_API_TOKEN": "not-a-token"}, wantCode: 1,
			check: func(t *testing.T, srv *cfapi.Server, res wranglerResult) {
				if w := writes(srv); len(w) != 0 {
					t.Errorf("writes with an invalid token: %q", w)
				}
				if msg := failedMessage(res); !strings.Contains(msg, "Authentication error [code: 10000]") && !strings.Contains(res.Stdout+res.Stderr, "Authentication error [code: 10000]") {
					t.Errorf("no authentication error shown: %q\n%s", msg, res)
				}
			},
		},
		{
			name: "token without containers scope", container: true, wantCode: 1,
			opts: cfapi.Options{Tokens: []cfapi.Token{{Value: "workers-only", Scopes: []string{cfapi.ScopeWorkers}}}},
			check: func(t *testing.T, srv *cfapi.Server, res wranglerResult) {
				equal(t, "writes", writes(srv), []string{ePutScript})
				if n, _ := count(srv, eListApps); n != 1 {
					t.Errorf("application list calls %d", n)
				}
				if _, ok := srv.Application("cftest-lean-leanserver"); ok {
					t.Error("an application was created without the containers scope")
				}
				if !strings.Contains(res.Stdout+res.Stderr, "Unauthorized") {
					t.Errorf("wrangler did not report Unauthorized:\n%s", res)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, tc.opts)
			dir := project(t, "stub", "", 0)
			if tc.container {
				img := tc.image
				if img == "" {
					img = "docker.io/library/cftest:v1"
				}
				dir = project(t, "container", img, 1)
			}
			for _, f := range tc.faults {
				must(t, srv.Control().Inject(f))
			}
			res := runWrangler(t, srv, dir, tc.env, "deploy")
			if res.Code != tc.wantCode {
				t.Fatalf("exit %d, want %d\n%s", res.Code, tc.wantCode, res)
			}
			tc.check(t, srv, res)
			noUnknown(t, srv)
		})
	}
}

// A rollback to a version whose secrets differ is refused with 10220; wrangler confirms and forces it.
func TestWranglerRollbackSecretsChanged(t *testing.T) {
	t.Parallel()
	srv := newServer(t, cfapi.Options{})
	path := "/accounts/" + srv.AccountID() + "/workers/scripts/secrets-worker"
	for _, v := range []string{"one", "two"} {
		meta := map[string]any{"main_module": "index.js", "compatibility_date": "2025-06-01",
			"bindings": []any{map[string]any{"type": "secret_text", "name": "TOKEN", "text": v}}}
		if code, env := upload(t, srv, "PUT", path, meta, stubJS); code != 200 {
			t.Fatalf("upload: %d %v", code, env)
		}
	}
	w, _ := srv.Worker("secrets-worker")
	srv.Control().ResetJournal()
	res := runWrangler(t, srv, project(t, "stub", "", 0), nil, "rollback", "--name", "secrets-worker", "-y")
	if res.Code != 0 {
		t.Fatalf("rollback: %s", res)
	}
	var deploys []string
	for _, r := range srv.Control().Journal() {
		if r.Endpoint == ePostDeploy {
			deploys = append(deploys, r.Query+" -> "+strconv.Itoa(r.Status))
		}
	}
	equal(t, "deployment POSTs", deploys, []string{" -> 400", "force=true -> 200"})
	if after, _ := srv.Worker("secrets-worker"); after.Active.ID != w.Versions[0].ID {
		t.Errorf("active version %s, want %s", after.Active.ID, w.Versions[0].ID)
	}
	noUnknown(t, srv)
}
