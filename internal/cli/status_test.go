package cli

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testAccount = "0123456789abcdef0123456789abcdef"

// fakeAPI answers the v4 calls status makes; exists says whether the Worker is there.
func fakeAPI(t *testing.T, exists bool) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/client/v4/accounts/" + testAccount + "/workers/scripts/lean/deployments":
			if !exists {
				w.WriteHeader(404)
				io.WriteString(w, `{"success":false,"errors":[{"code":10007,"message":"This Worker does not exist on your account."}],"messages":[],"result":null}`)
				return
			}
			io.WriteString(w, `{"success":true,"errors":[],"messages":[],"result":{"deployments":[{"id":"d1","created_on":"2026-11-29T00:00:00Z","source":"wrangler","strategy":"percentage","versions":[{"percentage":100,"version_id":"v-live"}]}]}}`)
		case "/client/v4/accounts/" + testAccount + "/tokens/verify": // status verifies the token first
			io.WriteString(w, `{"success":true,"errors":[],"messages":[],"result":{"id":"t1","status":"active"}}`)
		case "/client/v4/accounts/" + testAccount + "/containers/me":
			io.WriteString(w, `{"success":true,"errors":[],"messages":[],"result":{}}`)
		case "/client/v4/accounts/" + testAccount + "/containers/dash/applications":
			io.WriteString(w, `{"success":true,"errors":[],"messages":[],"result":[{"id":"app-1","name":"lean-leancontainer","instances":0,"image":"registry.cloudflare.com/`+testAccount+`/lean@sha256:00","version":2,"health":{"instances":{"active":0}}}]}`)
		case "/client/v4/accounts/" + testAccount + "/containers/applications/app-1":
			io.WriteString(w, `{"success":true,"errors":[],"messages":[],"result":{"id":"app-1","configuration":{"image":"x","vcpu":1,"memory_mib":4096,"disk":{"size_mb":12000}}}}`)
		case "/client/v4/accounts/" + testAccount + "/workers/subdomain":
			io.WriteString(w, `{"success":true,"errors":[],"messages":[],"result":{"subdomain":"acct"}}`)
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
			w.WriteHeader(404)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func fakeWranglerScript(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "wrangler")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// status reads everything through the API: the wrangler it is given fails if it is ever run.
func TestStatus(t *testing.T) {
	wr := fakeWranglerScript(t, `echo "status ran wrangler $*" >&2; exit 9`)
	srv := fakeAPI(t, true)
	env := map[string]string{"CLOUDFLARE_API_TOKEN": "s3cr3t", "CLOUDFLARE_ACCOUNT_ID": testAccount, "CLOUDFLARE_API_BASE_URL": srv.URL + "/client/v4", "LEAN4CF_WRANGLER": wr, "PATH": os.Getenv("PATH")}
	code, out, errOut := runCLI(t, env, "status", "--name", "lean", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep statusReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.Exists || rep.URL != "https://lean.acct.workers.dev" || rep.VersionID != "v-live" || rep.Application == nil || rep.Application.ID != "app-1" ||
		rep.Application.InstanceType != "custom:vcpu=1,memory=4096MiB,disk=12000MB" {
		t.Fatalf("report = %+v", rep)
	}
	code, out, _ = runCLI(t, env, "status", "--name", "lean")
	if code != 0 || !strings.Contains(out, "state:       ready, 0 live instances") || !strings.Contains(out, "\n  instance:    custom (1 vCPU, 4096 MiB, 12 GB)\n") {
		t.Fatalf("exit %d, text:\n%s", code, out)
	}
	if strings.Contains(out+errOut, "s3cr3t") {
		t.Fatal("the token was printed")
	}

	// No wrangler (and so no Node.js) is needed: status finds none and still answers.
	noWrangler := maps.Clone(env)
	noWrangler["LEAN4CF_WRANGLER"], noWrangler["PATH"] = filepath.Join(t.TempDir(), "no-wrangler"), t.TempDir()
	if code, _, errOut := runCLI(t, noWrangler, "status", "--name", "lean", "--wrangler", filepath.Join(t.TempDir(), "none")); code != 0 {
		t.Fatalf("without a wrangler: exit %d: %s", code, errOut)
	}

	missing := fakeAPI(t, false)
	env["CLOUDFLARE_API_BASE_URL"] = missing.URL + "/client/v4"
	code, _, errOut = runCLI(t, env, "status", "--name", "lean")
	if code != ExitFailure || !strings.Contains(errOut, `no Worker "lean" on this account`) {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func TestStatusUsageErrors(t *testing.T) {
	full := map[string]string{"CLOUDFLARE_API_TOKEN": "t", "CLOUDFLARE_ACCOUNT_ID": testAccount}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no token", map[string]string{"CLOUDFLARE_ACCOUNT_ID": testAccount}, nil, "CLOUDFLARE_API_TOKEN is not set"},
		{"no account", map[string]string{"CLOUDFLARE_API_TOKEN": "t"}, nil, "CLOUDFLARE_ACCOUNT_ID is not set"},
		{"bad account", map[string]string{"CLOUDFLARE_API_TOKEN": "t", "CLOUDFLARE_ACCOUNT_ID": "acct"}, nil, "is not an account id"},
		{"bad name", full, []string{"--name", "Bad_Name"}, "is not a Worker name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tt.env, append([]string{"status"}, tt.args...)...)
			if code != ExitUsage || !strings.Contains(errOut, tt.want) || out != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, out, errOut, tt.want)
			}
		})
	}
}
