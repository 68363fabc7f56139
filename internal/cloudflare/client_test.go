package cloudflare

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

const acct = "0123456789abcdef0123456789abcdef"

// api is a minimal v4 endpoint table; any other route fails the test.
func api(t *testing.T, routes map[string]func(w http.ResponseWriter, r *http.Request)) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cr3t-value" {
			t.Errorf("%s %s without the bearer token", r.Method, r.URL.Path)
		}
		h, ok := routes[r.Method+" "+r.URL.Path]
		if !ok {
			t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	c, err := New(Options{Token: "s3cr3t-value", AccountID: acct, BaseURL: srv.URL + "/client/v4", MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ok(result string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, `{"success":true,"errors":[],"messages":[],"result":`+result+`}`)
	}
}

func fail(status int, code int, msg string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		b, _ := json.Marshal(map[string]any{"success": false, "errors": []any{map[string]any{"code": code, "message": msg}}, "messages": []any{}, "result": nil})
		w.Write(b)
	}
}

var (
	acctVerify = "GET /client/v4/accounts/" + acct + "/tokens/verify"
	userVerify = "GET /client/v4/user/tokens/verify"
	deploys    = "GET /client/v4/accounts/" + acct + "/workers/scripts/lean/deployments"
)

func TestVerifyToken(t *testing.T) {
	active := ok(`{"id":"t1","status":"active"}`)
	me := "GET /client/v4/accounts/" + acct + "/containers/me"
	limits := ok(`{"limits":{"vcpu_per_deployment":4}}`)
	subdomain := "GET /client/v4/accounts/" + acct + "/workers/subdomain"
	tests := []struct {
		name    string
		routes  map[string]func(http.ResponseWriter, *http.Request)
		wantErr string
	}{
		{"account token", map[string]func(http.ResponseWriter, *http.Request){acctVerify: active, me: limits}, ""},
		{"user token", map[string]func(http.ResponseWriter, *http.Request){acctVerify: fail(401, 1000, "Invalid API Token"), userVerify: active, me: limits}, ""},
		{"no containers scope", map[string]func(http.ResponseWriter, *http.Request){acctVerify: active, me: fail(401, 10000, "Unauthorized"), subdomain: ok(`{"subdomain":"x"}`)}, "add the Containers write permission"},
		{"no containers scope, no subdomain", map[string]func(http.ResponseWriter, *http.Request){acctVerify: active, me: fail(401, 10000, "Unauthorized"), subdomain: fail(404, 10007, "no subdomain")}, "add the Containers write permission"},
		{"wrong account", map[string]func(http.ResponseWriter, *http.Request){acctVerify: fail(403, 10000, "Authentication error"), userVerify: active, me: fail(403, 10000, "Authentication error"), subdomain: fail(403, 10000, "Authentication error")}, "check CLOUDFLARE_ACCOUNT_ID"},
		{"invalid", map[string]func(http.ResponseWriter, *http.Request){acctVerify: fail(401, 1000, "Invalid API Token"), userVerify: fail(401, 1000, "Invalid API Token")}, "Invalid API Token [code 1000]: check CLOUDFLARE_API_TOKEN"},
		{"disabled", map[string]func(http.ResponseWriter, *http.Request){acctVerify: ok(`{"id":"t1","status":"disabled"}`), userVerify: fail(401, 1000, "Invalid API Token")}, "disabled, not active"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := api(t, tt.routes).VerifyToken(context.Background())
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("VerifyToken = %v, want %q", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "s3cr3t-value") {
				t.Fatalf("the error shows the token: %v", err)
			}
		})
	}
}

func TestVerifyTokenUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://lean:pw0rd@" + ln.Addr().String() + "/client/v4"
	ln.Close() // nothing answers there now
	c, err := New(Options{Token: "s3cr3t-value", AccountID: acct, BaseURL: base, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	err = c.VerifyToken(context.Background())
	shown := strings.Replace(base, "pw0rd", "xxxxx", 1)
	if err == nil || !strings.Contains(err.Error(), "connection refused: check the network, and CLOUDFLARE_API_BASE_URL (the API is "+shown+")") ||
		strings.Contains(err.Error(), "CLOUDFLARE_API_TOKEN") || strings.Contains(err.Error(), "pw0rd") {
		t.Fatalf("VerifyToken against a closed port = %v", err)
	}
}

func TestWorker(t *testing.T) {
	c := api(t, map[string]func(http.ResponseWriter, *http.Request){deploys: ok(`{"deployments":[
		{"id":"d2","created_on":"2026-11-29T00:00:00Z","source":"wrangler","strategy":"percentage","versions":[{"percentage":10,"version_id":"v-canary"},{"percentage":90,"version_id":"v-main"}]},
		{"id":"d1","created_on":"2026-11-28T00:00:00Z","source":"wrangler","strategy":"percentage","versions":[{"percentage":100,"version_id":"v-old"}]}]}`)})
	v, exists, err := c.Worker(context.Background(), "lean")
	if err != nil || !exists || v != "v-main" {
		t.Fatalf("Worker = %q, %v, %v", v, exists, err)
	}
	missing := api(t, map[string]func(http.ResponseWriter, *http.Request){deploys: fail(404, 10007, "This Worker does not exist on your account.")})
	v, exists, err = missing.Worker(context.Background(), "lean")
	if err != nil || exists || v != "" {
		t.Fatalf("missing Worker = %q, %v, %v", v, exists, err)
	}
	denied := api(t, map[string]func(http.ResponseWriter, *http.Request){deploys: fail(403, 10000, "Authentication error")})
	if _, _, err := denied.Worker(context.Background(), "lean"); err == nil || !strings.Contains(err.Error(), "Authentication error [code 10000]: check CLOUDFLARE_API_TOKEN") {
		t.Fatalf("denied = %v", err)
	}
}

func TestDeleteWorkerAndCredentials(t *testing.T) {
	var body map[string]any
	c := api(t, map[string]func(http.ResponseWriter, *http.Request){
		"DELETE /client/v4/accounts/" + acct + "/workers/scripts/lean-stub": func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("force") != "true" {
				t.Errorf("delete without force: %s", r.URL.RawQuery)
			}
			ok(`{"id":"lean-stub"}`)(w, r)
		},
		"DELETE /client/v4/accounts/" + acct + "/workers/scripts/gone": fail(404, 10007, "This Worker does not exist on your account."),
		"POST /client/v4/accounts/" + acct + "/containers/registries/registry.local:5000/credentials": func(w http.ResponseWriter, r *http.Request) {
			json.NewDecoder(r.Body).Decode(&body)
			ok(`{"account_id":"`+acct+`","registry_host":"registry.local:5000","username":"v1","password":"p4ss"}`)(w, r)
		},
	})
	ctx := context.Background()
	if err := c.DeleteWorker(ctx, "lean-stub"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteWorker(ctx, "gone"); err != nil {
		t.Fatalf("deleting a missing Worker: %v", err)
	}
	before := time.Now()
	cr, err := c.RegistryCredentials(ctx, "registry.local:5000", 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if cr.Username != "v1" || cr.Password != "p4ss" || cr.Registry != "registry.local:5000" || cr.Expires.Before(before.Add(29*time.Minute)) {
		t.Fatalf("credentials = %+v", cr)
	}
	if body["expiration_minutes"] != float64(30) || len(body["permissions"].([]any)) != 2 {
		t.Fatalf("request body = %v", body)
	}
}

func TestNewNeedsCredentials(t *testing.T) {
	if _, err := New(Options{AccountID: acct}); err == nil || !strings.Contains(err.Error(), "CLOUDFLARE_API_TOKEN") {
		t.Fatalf("err = %v", err)
	}
	if _, err := New(Options{Token: "x"}); err == nil || !strings.Contains(err.Error(), "CLOUDFLARE_ACCOUNT_ID") {
		t.Fatalf("err = %v", err)
	}
}

func TestEnsureRollout(t *testing.T) {
	app := "GET /client/v4/accounts/" + acct + "/containers/applications/a1"
	ros := app + "/rollouts"
	post := "POST /client/v4/accounts/" + acct + "/containers/applications/a1/rollouts"
	cfg := `"configuration":{"image":"registry.cloudflare.com/` + acct + `/lean@sha256:2","instance_type":"standard-1","observability":{"logs":{"enabled":true}}}`
	for _, tc := range []struct {
		name     string
		version  int
		rollouts string
		want     bool
	}{
		{"as created, no rollout needed", 1, `[]`, false},
		{"latest version rolled out", 3, `[{"target_version":3},{"target_version":2}]`, false},
		{"a PATCH whose rollout failed", 3, `[{"target_version":2}]`, true},
		{"a second version never rolled out", 2, `[]`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body map[string]any
			routes := map[string]func(http.ResponseWriter, *http.Request){
				app: ok(`{"id":"a1","version":` + strconv.Itoa(tc.version) + `,` + cfg + `}`),
				ros: ok(tc.rollouts),
			}
			if tc.want {
				routes[post] = func(w http.ResponseWriter, r *http.Request) {
					_ = json.NewDecoder(r.Body).Decode(&body)
					ok(`{"id":"r9"}`)(w, r)
				}
			}
			did, err := api(t, routes).EnsureRollout(context.Background(), "a1")
			if err != nil || did != tc.want {
				t.Fatalf("EnsureRollout = %v, %v; want %v", did, err, tc.want)
			}
			if tc.want {
				target, _ := body["target_configuration"].(map[string]any)
				if body["kind"] != "full_auto" || body["step_percentage"] != 100.0 || target["image"] != "registry.cloudflare.com/"+acct+"/lean@sha256:2" || target["instance_type"] != "standard-1" || target["observability"] != nil {
					t.Fatalf("rollout body %v", body)
				}
			}
		})
	}
}

func TestHasVersion(t *testing.T) {
	path := "GET /client/v4/accounts/" + acct + "/workers/scripts/lean/versions/"
	c := api(t, map[string]func(http.ResponseWriter, *http.Request){
		path + "v1": ok(`{"id":"v1","number":1,"metadata":{},"resources":{}}`),
		path + "v9": fail(404, 10007, "This version does not exist."),
		path + "vx": fail(403, 10000, "Authentication error"),
	})
	if ok, err := c.HasVersion(context.Background(), "lean", "v1"); !ok || err != nil {
		t.Errorf("HasVersion(v1) = %v, %v; want true", ok, err)
	}
	if ok, err := c.HasVersion(context.Background(), "lean", "v9"); ok || err != nil {
		t.Errorf("HasVersion(v9) = %v, %v; want false, nil", ok, err)
	}
	if _, err := c.HasVersion(context.Background(), "lean", "vx"); err == nil || !strings.Contains(err.Error(), "check CLOUDFLARE_API_TOKEN") {
		t.Errorf("HasVersion(vx) = %v; want a refusal naming the credentials", err)
	}
}

func TestVersionBindsClass(t *testing.T) {
	path := "GET /client/v4/accounts/" + acct + "/workers/scripts/lean/versions/"
	c := api(t, map[string]func(http.ResponseWriter, *http.Request){
		path + "container": ok(`{"id":"container","number":2,"metadata":{},"resources":{"bindings":[
			{"type":"plain_text","name":"INSTANCES","text":"1"},
			{"type":"durable_object_namespace","name":"LEAN_CONTAINER","class_name":"LeanContainer","namespace_id":"ns1"}]}}`),
		path + "stub":  ok(`{"id":"stub","number":1,"metadata":{},"resources":{"bindings":[]}}`),
		path + "other": ok(`{"id":"other","number":3,"metadata":{},"resources":{"bindings":[{"type":"durable_object_namespace","name":"X","class_name":"Other"}]}}`),
		path + "gone":  fail(404, 10007, "This version does not exist."),
	})
	for _, tt := range []struct {
		version string
		want    bool
	}{{"container", true}, {"stub", false}, {"other", false}} {
		if got, err := c.VersionBindsClass(context.Background(), "lean", tt.version, "LeanContainer"); got != tt.want || err != nil {
			t.Errorf("VersionBindsClass(%s) = %v, %v; want %v", tt.version, got, err, tt.want)
		}
	}
	if _, err := c.VersionBindsClass(context.Background(), "lean", "gone", "LeanContainer"); err == nil || !strings.Contains(err.Error(), "reading version gone") {
		t.Errorf("VersionBindsClass(gone) = %v; want an error naming the version", err)
	}
}
