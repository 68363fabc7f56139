package cfapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
	"time"

	cloudflare "github.com/cloudflare/cloudflare-go/v6"
	"github.com/cloudflare/cloudflare-go/v6/accounts"
	"github.com/cloudflare/cloudflare-go/v6/option"
	"github.com/cloudflare/cloudflare-go/v6/workers"

	"github.com/org/lean4-cf-action/internal/sandbox/cfapi"
)

func client(srv *cfapi.Server, token string, retries int) *cloudflare.Client {
	return cloudflare.NewClient(option.WithAPIToken(token), option.WithBaseURL(srv.APIBase()), option.WithMaxRetries(retries))
}

// call makes a raw API request and decodes the v4 envelope.
func call(t *testing.T, srv *cfapi.Server, token, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, srv.APIBase()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var env map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatalf("%s %s: body is not JSON: %v", method, path, err)
	}
	for _, k := range []string{"success", "errors", "messages", "result"} {
		if _, ok := env[k]; !ok {
			t.Errorf("%s %s: envelope lacks %q: %v", method, path, k, env)
		}
	}
	return resp.StatusCode, env
}

func firstCode(env map[string]any) float64 {
	errs, _ := env["errors"].([]any)
	if len(errs) == 0 {
		return 0
	}
	return errs[0].(map[string]any)["code"].(float64)
}

// upload puts a module Worker through the API the way wrangler does (multipart, metadata first).
func upload(t *testing.T, srv *cfapi.Server, method, path string, meta map[string]any, js string) (int, map[string]any) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mb, _ := json.Marshal(meta)
	_ = mw.WriteField("metadata", string(mb))
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="index.js"; filename="index.js"`)
	h.Set("Content-Type", "application/javascript+module")
	pw, _ := mw.CreatePart(h)
	_, _ = pw.Write([]byte(js))
	_ = mw.Close()
	req, _ := http.NewRequest(method, srv.APIBase()+path, &buf)
	req.Header.Set("Authorization", "Bearer "+srv.Token())
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, env
}

const stubJS = `export default { fetch() { return new Response("ok") } }`

func TestEnvelopeAndUnknownPaths(t *testing.T) {
	srv := newServer(t, cfapi.Options{})
	code, env := call(t, srv, srv.Token(), http.MethodGet, "/accounts/"+srv.AccountID()+"/workers/no-such-thing", nil)
	if code != http.StatusNotFound || env["success"] != false || firstCode(env) != 7000 || env["result"] != nil {
		t.Errorf("unknown path answered %d %v", code, env)
	}
	u := srv.Control().Unknown()
	if len(u) != 1 || u[0].Path != "/accounts/"+srv.AccountID()+"/workers/no-such-thing" || u[0].Status != 404 {
		t.Errorf("Unknown() = %v", u)
	}
	code, env = call(t, srv, srv.Token(), http.MethodGet, "/accounts/"+srv.AccountID()+"/workers/subdomain", nil)
	if code != 200 || env["success"] != true || env["result"].(map[string]any)["subdomain"] != cfapi.DefaultSubdomain {
		t.Errorf("subdomain: %d %v", code, env)
	}
	if len(srv.Control().Writes()) != 0 {
		t.Errorf("GETs journaled as writes: %v", srv.Control().Writes())
	}
}

func TestAuth(t *testing.T) {
	clock := cfapi.NewFakeClock(time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC))
	srv := newServer(t, cfapi.Options{Clock: clock, Tokens: []cfapi.Token{
		{Value: "all-scopes"},
		{Value: "workers-only", Scopes: []string{cfapi.ScopeWorkers}},
		{Value: "short-lived", Expiry: clock.Now().Add(time.Hour)},
	}})
	acct := "/accounts/" + srv.AccountID()
	for _, tc := range []struct {
		name, token, path string
		status            int
		code              float64
	}{
		{"no token", "", acct + "/workers/scripts", 400, 6003},
		{"wrong token", "nope", acct + "/workers/scripts", 401, 10000},
		{"wrong token verify", "nope", "/user/tokens/verify", 401, 1000},
		{"another account", "all-scopes", "/accounts/0123456789abcdef0123456789abcdef/workers/scripts", 403, 10000},
		{"malformed account", "all-scopes", "/accounts/not-an-account/workers/scripts", 404, 7003},
		{"workers token on containers", "workers-only", acct + "/containers/applications", 401, 10000},
		{"workers token on dash", "workers-only", acct + "/containers/dash/applications", 401, 10000},
		{"workers token on workers", "workers-only", acct + "/workers/scripts", 200, 0},
		{"full token on containers", "all-scopes", acct + "/containers/applications", 200, 0},
		{"short-lived token in time", "short-lived", acct + "/workers/scripts", 200, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, env := call(t, srv, tc.token, http.MethodGet, tc.path, nil)
			if code != tc.status || firstCode(env) != tc.code {
				t.Errorf("got %d code %v (%v), want %d code %v", code, firstCode(env), env["errors"], tc.status, tc.code)
			}
		})
	}
	v, err := client(srv, "short-lived", 0).Accounts.Tokens.Verify(context.Background(), accounts.TokenVerifyParams{AccountID: cloudflare.F(srv.AccountID())})
	if err != nil || v.Status != "active" || !v.ExpiresOn.Equal(clock.Now().Add(time.Hour)) {
		t.Errorf("verify: %+v %v", v, err)
	}
	clock.Advance(time.Hour)
	if code, env := call(t, srv, "short-lived", http.MethodGet, acct+"/workers/scripts", nil); code != 401 || firstCode(env) != 10000 {
		t.Errorf("expired token: %d %v", code, env)
	}
	var apiErr *cloudflare.Error
	if _, err := client(srv, "nope", 0).User.Tokens.Verify(context.Background()); !errors.As(err, &apiErr) || apiErr.StatusCode != 401 {
		t.Errorf("verify with a wrong token: %v", err)
	}
}

func TestCloudflareGoWorkers(t *testing.T) {
	srv := newServer(t, cfapi.Options{})
	ctx := context.Background()
	cf := client(srv, srv.Token(), 0)
	acct := cloudflare.F(srv.AccountID())
	path := "/accounts/" + srv.AccountID() + "/workers/scripts/go-stub"

	sub, err := cf.Workers.Subdomains.Get(ctx, workers.SubdomainGetParams{AccountID: acct})
	if err != nil || sub.Subdomain != cfapi.DefaultSubdomain {
		t.Fatalf("subdomain: %+v %v", sub, err)
	}
	var apiErr *cloudflare.Error
	if _, err := cf.Workers.Scripts.Deployments.List(ctx, "go-stub", workers.ScriptDeploymentListParams{AccountID: acct}); !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Errors[0].Code != 10007 {
		t.Errorf("deployments of a missing script: %v", err)
	}
	meta := map[string]any{"main_module": "index.js", "compatibility_date": "2025-06-01", "bindings": []any{map[string]any{"type": "plain_text", "name": "GREETING", "text": "hi"}}}
	if code, env := upload(t, srv, http.MethodPut, path, meta, stubJS); code != 200 {
		t.Fatalf("upload: %d %v", code, env)
	}
	for i := 0; i < 11; i++ {
		if code, env := upload(t, srv, http.MethodPost, path+"/versions", meta, stubJS); code != 200 {
			t.Fatalf("version upload: %d %v", code, env)
		}
	}
	n := 0
	iter := cf.Workers.Scripts.Versions.ListAutoPaging(ctx, "go-stub", workers.ScriptVersionListParams{AccountID: acct})
	for iter.Next() {
		n++
	}
	if iter.Err() != nil || n != 12 {
		t.Errorf("auto-paged %d versions (want 12): %v", n, iter.Err())
	}
	deps, err := cf.Workers.Scripts.Deployments.List(ctx, "go-stub", workers.ScriptDeploymentListParams{AccountID: acct})
	if err != nil || len(deps.Deployments) != 1 {
		t.Fatalf("deployments: %+v %v", deps, err)
	}
	// Deploy the newest version through cloudflare-go, as a rollback by the pipeline would.
	w, _ := srv.Worker("go-stub")
	newest := w.Versions[len(w.Versions)-1].ID
	d, err := cf.Workers.Scripts.Deployments.New(ctx, "go-stub", workers.ScriptDeploymentNewParams{
		AccountID: acct,
		Deployment: workers.DeploymentParam{
			Strategy:    cloudflare.F(workers.DeploymentStrategyPercentage),
			Versions:    cloudflare.F([]workers.DeploymentVersionParam{{Percentage: cloudflare.F(100.0), VersionID: cloudflare.F(newest)}}),
			Annotations: cloudflare.F(workers.DeploymentAnnotationsParam{WorkersMessage: cloudflare.F("go rollback")}),
		},
	})
	if err != nil || d.Versions[0].VersionID != newest {
		t.Fatalf("deploy through cloudflare-go: %+v %v", d, err)
	}
	scripts, err := cf.Workers.Scripts.List(ctx, workers.ScriptListParams{AccountID: acct})
	if err != nil || len(scripts.Result) != 1 || scripts.Result[0].ID != "go-stub" {
		t.Errorf("scripts: %+v %v", scripts, err)
	}
	w, _ = srv.Worker("go-stub")
	if len(w.Versions) != 12 || w.Active.Number != 12 || w.Deployment.Annotations["workers/message"] != "go rollback" || w.Active.Bindings[0].Text != "hi" || w.WorkersDev {
		t.Errorf("worker state: %d versions, active %d, bindings %+v, workers.dev %v", len(w.Versions), w.Active.Number, w.Active.Bindings, w.WorkersDev)
	}
	want := fmt.Sprintf("[PUT %[1]s", path)
	if got := fmt.Sprint(srv.Control().Writes()); !strings.HasPrefix(got, want) || len(srv.Control().Writes()) != 13 {
		t.Errorf("writes %s", got)
	}
	// An upload whose main module is missing is refused with 10021 and changes nothing.
	meta["main_module"] = "missing.js"
	if code, env := upload(t, srv, http.MethodPost, path+"/versions", meta, stubJS); code != 400 || firstCode(env) != 10021 {
		t.Errorf("bad upload: %d %v", code, env)
	}
	if w2, _ := srv.Worker("go-stub"); len(w2.Versions) != 12 {
		t.Errorf("a refused upload stored a version")
	}
}

func TestFaults(t *testing.T) {
	srv := newServer(t, cfapi.Options{})
	ctx := context.Background()
	acct := cloudflare.F(srv.AccountID())
	const ep = "GET /accounts/{account}/workers/subdomain"
	get := func(retries int) error {
		_, err := client(srv, srv.Token(), retries).Workers.Subdomains.Get(ctx, workers.SubdomainGetParams{AccountID: acct})
		return err
	}
	if err := srv.Control().Inject(cfapi.Fault{Endpoint: "GET /nope", Status: 500}); err == nil {
		t.Error("Inject accepted an unknown endpoint")
	}

	t.Run("status with count, retried by the client", func(t *testing.T) {
		srv.Control().ResetJournal()
		must(t, srv.Control().Inject(cfapi.Fault{Endpoint: ep, Status: 503, Count: 1, Header: map[string]string{"Retry-After-Ms": "1"}}))
		if err := get(2); err != nil {
			t.Fatalf("one 503 then success: %v", err)
		}
		j := srv.Control().Journal()
		if len(j) != 2 || j[0].Status != 503 || j[0].Fault != "status 503" || j[1].Status != 200 {
			t.Errorf("journal %v", j)
		}
	})
	t.Run("status every time", func(t *testing.T) {
		must(t, srv.Control().Inject(cfapi.Fault{Endpoint: ep, Status: 400, Errors: []cfapi.APIError{{Code: 10031, Message: "unavailable"}}}))
		var apiErr *cloudflare.Error
		if err := get(0); !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Errors[0].Code != 10031 {
			t.Errorf("got %v", err)
		}
		if err := get(0); err == nil {
			t.Error("a fault with Count 0 stopped")
		}
		srv.Control().ClearFaults()
	})
	t.Run("connection reset", func(t *testing.T) {
		// Every attempt is reset: Go's transport silently retries an idempotent request once on a
		// reused connection, so a single reset may not surface.
		must(t, srv.Control().Inject(cfapi.Fault{Endpoint: ep, Reset: true}))
		err := get(0)
		var apiErr *cloudflare.Error
		if err == nil || errors.As(err, &apiErr) {
			t.Errorf("want a network error, got %v", err)
		}
		srv.Control().ClearFaults()
		if err := get(0); err != nil {
			t.Errorf("after the reset: %v", err)
		}
	})
	t.Run("latency", func(t *testing.T) {
		must(t, srv.Control().Inject(cfapi.Fault{Endpoint: ep, Latency: 300 * time.Millisecond, Count: 1}))
		c, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		_, err := client(srv, srv.Token(), 0).Workers.Subdomains.Get(c, workers.SubdomainGetParams{AccountID: acct})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("a slow answer beat a 100 ms deadline: %v", err)
		}
	})
	idle := func() {
		for deadline := time.Now().Add(5 * time.Second); len(srv.Control().InFlight()) > 0 && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
	}
	t.Run("a held request is in flight, journaled once answered", func(t *testing.T) {
		idle() // the latency case's request may still be held after its client gave up
		srv.Control().ResetJournal()
		must(t, srv.Control().Inject(cfapi.Fault{Endpoint: ep, Latency: 5 * time.Second, Count: 1}))
		c, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			_, err := client(srv, srv.Token(), 0).Workers.Subdomains.Get(c, workers.SubdomainGetParams{AccountID: acct})
			done <- err
		}()
		var held []cfapi.Request
		for deadline := time.Now().Add(5 * time.Second); len(held) == 0 && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			held = srv.Control().InFlight()
		}
		if len(held) != 1 || held[0].Method != "GET" || !strings.HasSuffix(held[0].Path, "/workers/subdomain") {
			t.Fatalf("in flight while held: %v", held)
		}
		if j := srv.Control().Journal(); len(j) != 0 {
			t.Errorf("journal has an unanswered request: %v", j)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled request: %v", err)
		}
		idle()
		if f, j := srv.Control().InFlight(), srv.Control().Journal(); len(f) != 0 || len(j) != 1 {
			t.Errorf("after the answer: in flight %v, journal %v", f, j)
		}
	})
	t.Run("malformed body", func(t *testing.T) {
		must(t, srv.Control().Inject(cfapi.Fault{Endpoint: ep, Status: 502, Body: "<html>Bad gateway</html>", Count: 1}))
		code, _, body := rawGet(t, srv, ep)
		if code != 502 || !strings.Contains(body, "Bad gateway") {
			t.Errorf("got %d %q", code, body)
		}
	})
}

func rawGet(t *testing.T, srv *cfapi.Server, _ string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.APIBase()+"/accounts/"+srv.AccountID()+"/workers/subdomain", nil)
	req.Header.Set("Authorization", "Bearer "+srv.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
