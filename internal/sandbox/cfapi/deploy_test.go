package cfapi_test

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/org/lean4-cf-action/internal/cloudflare"
	"github.com/org/lean4-cf-action/internal/sandbox/cfapi"
)

// calls returns the journal as "METHOD endpoint" lines (unknown paths as "METHOD ?path").
func calls(srv *cfapi.Server) []string {
	var out []string
	for _, r := range srv.Journal() {
		e := r.Endpoint
		if e == "" {
			e = r.Method + " ?" + r.Path
		}
		out = append(out, e)
	}
	return out
}

func writes(srv *cfapi.Server) []string {
	var out []string
	for _, r := range srv.Journal() {
		if r.Write {
			out = append(out, r.Endpoint)
		}
	}
	return out
}

func equal(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got  %q\n want %q", what, got, want)
	}
}

const (
	eServices      = "GET /accounts/{account}/workers/services/{script}"
	eAcctSub       = "GET /accounts/{account}/workers/subdomain"
	eDeployments   = "GET /accounts/{account}/workers/scripts/{script}/deployments"
	eSettings      = "GET /accounts/{account}/workers/scripts/{script}/settings"
	ePutScript     = "PUT /accounts/{account}/workers/scripts/{script}"
	eWorker        = "GET /accounts/{account}/workers/workers/{script}"
	ePostSub       = "POST /accounts/{account}/workers/scripts/{script}/subdomain"
	eSecrets       = "GET /accounts/{account}/workers/scripts/{script}/secrets"
	eGetVersion    = "GET /accounts/{account}/workers/scripts/{script}/versions/{version}"
	ePostVersion   = "POST /accounts/{account}/workers/scripts/{script}/versions"
	ePostDeploy    = "POST /accounts/{account}/workers/scripts/{script}/deployments"
	ePatchSettings = "PATCH /accounts/{account}/workers/scripts/{script}/script-settings"
	eListApps      = "GET /accounts/{account}/containers/applications"
	eCreateApp     = "POST /accounts/{account}/containers/applications"
	ePatchApp      = "PATCH /accounts/{account}/containers/applications/{app}"
	eRollout       = "POST /accounts/{account}/containers/applications/{app}/rollouts"
	eDashApps      = "GET /accounts/{account}/containers/dash/applications"
)

func TestWranglerStubDeploy(t *testing.T) {
	t.Parallel()
	srv := newServer(t, cfapi.Options{})
	dir := project(t, "stub", "", 0)

	res := runWrangler(t, srv, dir, nil, "deploy")
	if res.Code != 0 {
		t.Fatalf("first deploy: %s", res)
	}
	t.Logf("wrangler deploy (new stub Worker) took %v, %v of it in %d API requests", res.Took, apiTime(srv), len(srv.Journal()))
	equal(t, "first stub deploy (4.164 sequence A)", calls(srv), []string{
		eServices, eAcctSub, eDeployments, eSettings, ePutScript, eWorker, eAcctSub, ePostSub,
	})
	w, ok := srv.Worker("cftest-stub")
	if !ok || w.Active == nil {
		t.Fatal("the Worker is not deployed in cftest")
	}
	dep := res.entry("deploy")
	if dep == nil {
		t.Fatalf("no deploy entry in the output file: %v", res.Output)
	}
	if dep["version_id"] != w.Active.ID || dep["worker_tag"] != nil {
		t.Errorf("deploy entry version_id=%v worker_tag=%v, want %s and null", dep["version_id"], dep["worker_tag"], w.Active.ID)
	}
	if got := dep["targets"]; !slices.Equal(toStrings(got), []string{"https://cftest-stub.cftest.workers.dev"}) {
		t.Errorf("targets = %v", got)
	}
	if !w.WorkersDev || w.URL != "https://cftest-stub.cftest.workers.dev" {
		t.Errorf("workers.dev: enabled=%v url=%q", w.WorkersDev, w.URL)
	}
	main, ok := w.Active.Module(w.Active.MainModule)
	if !ok || !strings.Contains(string(main.Content), "cftest-stub") || main.ContentType != "application/javascript+module" {
		t.Errorf("main module %q (%s) not kept: %.80q", w.Active.MainModule, main.ContentType, main.Content)
	}
	if w.Active.CompatibilityDate != "2025-06-01" {
		t.Errorf("compatibility date %q", w.Active.CompatibilityDate)
	}
	if got, ok := srv.WorkerForHost("cftest-stub.cftest.workers.dev:443"); !ok || got.Active.ID != w.Active.ID {
		t.Errorf("WorkerForHost did not resolve the stub")
	}

	// Redeploy: an existing non-container Worker goes through the versions API (sequence B).
	srv.ResetJournal()
	res = runWrangler(t, srv, dir, nil, "deploy")
	if res.Code != 0 {
		t.Fatalf("redeploy: %s", res)
	}
	equal(t, "stub redeploy (sequence B)", calls(srv), []string{
		eServices, eDeployments, eSettings, ePostVersion, ePostDeploy, ePatchSettings, eWorker, eAcctSub, ePostSub,
	})
	w2, _ := srv.Worker("cftest-stub")
	if dep := res.entry("deploy"); dep == nil || dep["version_id"] != w2.Active.ID || dep["worker_tag"] == nil {
		t.Errorf("redeploy entry %v, want version %s and a worker tag", dep, w2.Active.ID)
	}
	if w2.Active.ID == w.Active.ID || w2.Active.Number != 2 {
		t.Errorf("redeploy did not make version 2: %+v", w2.Active)
	}
	noUnknown(t, srv)
}

func apiTime(srv *cfapi.Server) time.Duration {
	var d time.Duration
	for _, r := range srv.Journal() {
		d += r.Took
	}
	return d
}

func toStrings(v any) []string {
	var out []string
	if a, ok := v.([]any); ok {
		for _, x := range a {
			s, _ := x.(string)
			out = append(out, s)
		}
	}
	return out
}

type listRow struct {
	ID, Name, State, Image string
	Version, Instances     int
}

func containersList(t *testing.T, srv *cfapi.Server, dir string) []listRow {
	t.Helper()
	res := runWrangler(t, srv, dir, nil, "containers", "list", "--json")
	if res.Code != 0 {
		t.Fatalf("containers list: %s", res)
	}
	var rows []listRow
	if err := json.Unmarshal([]byte(res.Stdout), &rows); err != nil {
		t.Fatalf("containers list --json printed %q: %v", res.Stdout, err)
	}
	return rows
}

// sameAsWrangler checks that lean4-cf's API client reads the application and its instances exactly as
// `wrangler containers list --json` and `wrangler containers instances --json` print them from the same
// endpoints.
func sameAsWrangler(t *testing.T, srv *cfapi.Server, dir, name, id string) {
	t.Helper()
	env := srv.Env()
	c, err := cloudflare.New(cloudflare.Options{Token: env["CLOUDFLARE_API_TOKEN"], AccountID: env["CLOUDFLARE_ACCOUNT_ID"], BaseURL: env["CLOUDFLARE_API_BASE_URL"]})
	if err != nil {
		t.Fatal(err)
	}
	res := runWrangler(t, srv, dir, nil, "containers", "list", "--json")
	var apps []cloudflare.Application
	if err := json.Unmarshal([]byte(res.Stdout), &apps); res.Code != 0 || err != nil || len(apps) != 1 {
		t.Fatalf("containers list --json: %v %s", err, res)
	}
	got, ok, err := c.Application(context.Background(), name)
	if err != nil || !ok || got != apps[0] {
		t.Errorf("the API client read %+v (found %v, %v); wrangler printed %+v", got, ok, err, apps[0])
	}
	res = runWrangler(t, srv, dir, nil, "containers", "instances", id, "--json")
	var rows []cloudflare.Instance
	if err := json.Unmarshal([]byte(res.Stdout), &rows); res.Code != 0 || err != nil {
		t.Fatalf("containers instances --json: %v %s", err, res)
	}
	gotRows, err := c.Instances(context.Background(), id)
	if err != nil || !reflect.DeepEqual(gotRows, rows) || len(rows) == 0 {
		t.Errorf("the API client read %+v (%v); wrangler printed %+v", gotRows, err, rows)
	}
}

func TestWranglerContainerLifecycle(t *testing.T) {
	t.Parallel()
	clock := cfapi.NewFakeClock(time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC))
	srv := newServer(t, cfapi.Options{Clock: clock, ProvisionDelay: 3 * time.Minute, StartDelay: 4 * time.Second})
	img1 := pushImage(t, srv, "lean:v1")
	img2 := pushImage(t, srv, "lean:v2")
	dir := project(t, "container", img1, 1)
	srv.ResetJournal()

	// First container deploy (sequence C): Worker uploaded with its DO namespace, application created.
	res := runWrangler(t, srv, dir, nil, "deploy")
	if res.Code != 0 {
		t.Fatalf("first container deploy: %s", res)
	}
	t.Logf("wrangler deploy (new container Worker) took %v, %v of it in %d API requests", res.Took, apiTime(srv), len(srv.Journal()))
	equal(t, "first container deploy (4.164 sequence C)", calls(srv), []string{
		eServices, eSecrets, eAcctSub, eDeployments, eServices, eSettings, ePutScript, eGetVersion,
		eListApps, eCreateApp, eWorker, eAcctSub, ePostSub,
	})
	app, ok := srv.Application("cftest-lean-leanserver")
	if !ok {
		t.Fatalf("no application cftest-lean-leanserver: %v", srv.Applications())
	}
	ns := srv.Namespaces()
	if len(ns) != 1 || ns[0].ID != app.NamespaceID || !ns[0].SQLite || ns[0].Class != "LeanServer" {
		t.Errorf("namespaces %+v, application bound to %s", ns, app.NamespaceID)
	}
	if app.Image != img1 || app.MaxInstances != 1 || app.InstanceType != "standard-1" || app.Provisioned {
		t.Errorf("application after create: %+v", app)
	}
	if _, err := srv.StartInstance(app.Name, "lean"); err == nil {
		t.Error("an instance started while the application was provisioning")
	}

	// containers list: provisioning until ProvisionDelay has passed, then ready (no instance running).
	if rows := containersList(t, srv, dir); len(rows) != 1 || rows[0].State != "provisioning" || rows[0].Image != img1 || rows[0].Version != 1 {
		t.Errorf("containers list during provisioning: %+v", rows)
	}
	clock.Advance(3 * time.Minute)
	if rows := containersList(t, srv, dir); len(rows) != 1 || rows[0].State != "ready" {
		t.Errorf("containers list after provisioning: %+v", rows)
	}
	// A request wakes an instance: starting (cold start), then active.
	in, err := srv.StartInstance(app.Name, "lean")
	if err != nil || in.State != "starting" || in.Image != img1 {
		t.Fatalf("StartInstance: %+v, %v", in, err)
	}
	if rows := containersList(t, srv, dir); rows[0].State != "provisioning" {
		t.Errorf("state while the instance starts: %+v", rows)
	}
	clock.Advance(4 * time.Second)
	if rows := containersList(t, srv, dir); rows[0].State != "active" || rows[0].Instances != 1 {
		t.Errorf("state with a running instance: %+v", rows)
	}
	if _, err := srv.StartInstance(app.Name, "other"); err == nil {
		t.Error("a second instance started beyond max_instances=1")
	}
	sameAsWrangler(t, srv, dir, app.Name, app.ID)
	res = runWrangler(t, srv, dir, nil, "containers", "instances", app.ID, "--json")
	var inst []map[string]any
	if err := json.Unmarshal([]byte(res.Stdout), &inst); res.Code != 0 || err != nil || len(inst) != 1 || inst[0]["state"] != "running" {
		t.Errorf("containers instances --json: %v %s", err, res)
	}

	// Redeploy with a new image (sequence D): PATCH, then a rollout; the instance moves when it completes.
	srv.ResetJournal()
	writeImage(t, dir, img1, img2)
	res = runWrangler(t, srv, dir, nil, "deploy")
	if res.Code != 0 {
		t.Fatalf("redeploy with a new image: %s", res)
	}
	equal(t, "writes of a redeploy with a new image", writes(srv), []string{ePutScript, ePatchApp, eRollout, ePostSub})
	app, _ = srv.Application(app.ID)
	if app.Version != 2 || app.Image != img2 || app.Provisioned || app.ServingImage != img1 {
		t.Errorf("application during the rollout: %+v", app)
	}
	clock.Advance(3 * time.Minute)
	app, _ = srv.Application(app.ID)
	if !app.Provisioned || len(app.Instances) != 1 || app.Instances[0].Image != img2 || app.Instances[0].Version != 2 {
		t.Errorf("application after the rollout: %+v", app)
	}
	res = runWrangler(t, srv, dir, nil, "containers", "info", app.ID, "--json")
	var info map[string]any
	if err := json.Unmarshal([]byte(res.Stdout), &info); res.Code != 0 || err != nil || info["version"] != 2.0 {
		t.Errorf("containers info --json: %v %s", err, res)
	}

	// The same image again: no PATCH, no rollout.
	srv.ResetJournal()
	if res = runWrangler(t, srv, dir, nil, "deploy"); res.Code != 0 {
		t.Fatalf("redeploy with the same image: %s", res)
	}
	equal(t, "writes of a redeploy with the same image", writes(srv), []string{ePutScript, ePostSub})

	// rollback: the Worker goes back one version; the application keeps its image. (wrangler orders
	// deployments by time, so let the fake clock move.)
	clock.Advance(time.Second)
	before, _ := srv.Worker("cftest-lean")
	srv.ResetJournal()
	res = runWrangler(t, srv, dir, nil, "rollback", "-y", "-m", "cftest rollback")
	if res.Code != 0 {
		t.Fatalf("rollback: %s", res)
	}
	equal(t, "rollback writes", writes(srv), []string{ePostDeploy})
	after, _ := srv.Worker("cftest-lean")
	prev := before.Versions[len(before.Versions)-2]
	if after.Active.ID != prev.ID || after.Deployment.Annotations["workers/message"] != "cftest rollback" {
		t.Errorf("after rollback active %s (%v), want %s", after.Active.ID, after.Deployment.Annotations, prev.ID)
	}
	if !strings.Contains(res.Stdout, "Current Version ID: "+prev.ID) {
		t.Errorf("rollback stdout lacks the version: %s", res.Stdout)
	}

	// versions and deployments list.
	res = runWrangler(t, srv, dir, nil, "versions", "list", "--json")
	var versions []map[string]any
	if err := json.Unmarshal([]byte(res.Stdout), &versions); res.Code != 0 || err != nil || len(versions) != 3 {
		t.Errorf("versions list --json: %d versions, %v %s", len(versions), err, res)
	}
	res = runWrangler(t, srv, dir, nil, "deployments", "list", "--json")
	var deps []map[string]any
	if err := json.Unmarshal([]byte(res.Stdout), &deps); res.Code != 0 || err != nil || len(deps) != 4 {
		t.Fatalf("deployments list --json: %d deployments, %v %s", len(deps), err, res)
	}
	if deps[3]["id"] != after.Deployment.ID {
		t.Errorf("deployments list is not oldest first: last %v, want %s", deps[3]["id"], after.Deployment.ID)
	}
	noUnknown(t, srv)
}

func TestWranglerRegistryCredentials(t *testing.T) {
	t.Parallel()
	srv := newServer(t, cfapi.Options{})
	dir := project(t, "stub", "", 0)
	res := runWrangler(t, srv, dir, nil, "containers", "registries", "credentials", srv.RegistryHost(), "--push", "--pull", "--expiration-minutes", "60", "--json")
	if res.Code != 0 {
		t.Fatalf("registries credentials: %s", res)
	}
	var c struct {
		AccountID    string `json:"account_id"`
		RegistryHost string `json:"registry_host"`
		Username     string `json:"username"`
		Password     string `json:"password"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &c); err != nil {
		t.Fatalf("credentials --json printed %q: %v", res.Stdout, err)
	}
	if c.AccountID != srv.AccountID() || c.RegistryHost != srv.RegistryHost() || c.Password == "" {
		t.Errorf("credentials %+v", c)
	}
	pushWith(t, srv, "lean:cred", c.Username, c.Password)
	noUnknown(t, srv)
}
