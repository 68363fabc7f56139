package cftest_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/org/lean4-cf-action/internal/cftest"
)

// containerWorker uploads a Worker with a SQLite DO class and returns its namespace id.
func containerWorker(t *testing.T, srv *cftest.Server, name string, sqlite bool) string {
	t.Helper()
	step := map[string]any{"new_classes": []string{"LeanServer"}}
	if sqlite {
		step = map[string]any{"new_sqlite_classes": []string{"LeanServer"}}
	}
	meta := map[string]any{
		"main_module": "index.js", "compatibility_date": "2025-06-01",
		"bindings":   []any{map[string]any{"type": "durable_object_namespace", "name": "LEAN", "class_name": "LeanServer"}},
		"migrations": map[string]any{"new_tag": "v1", "steps": []any{step}},
	}
	code, env := upload(t, srv, http.MethodPut, "/accounts/"+srv.AccountID()+"/workers/scripts/"+name, meta, `export class LeanServer {}; export default {}`)
	if code != 200 {
		t.Fatalf("upload %s: %d %v", name, code, env)
	}
	w, _ := srv.Worker(name)
	if w.MigrationTag != "v1" || w.Active.Bindings[0].NamespaceID == "" {
		t.Fatalf("upload %s: tag %q, bindings %+v", name, w.MigrationTag, w.Active.Bindings)
	}
	return w.Active.Bindings[0].NamespaceID
}

func TestContainersAPI(t *testing.T) {
	clock := cftest.NewFakeClock(time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC))
	srv := newServer(t, cftest.Options{Clock: clock, ProvisionDelay: time.Minute, StartDelay: 5 * time.Second})
	base := "/accounts/" + srv.AccountID() + "/containers/applications"
	ns := containerWorker(t, srv, "lean", true)
	plainNS := containerWorker(t, srv, "plain", false)
	img1, img2 := pushImage(t, srv, "lean:v1"), pushImage(t, srv, "lean:v2")
	create := func(name, image, namespace string) map[string]any {
		return map[string]any{
			"name": name, "scheduling_policy": "default", "instances": 0, "max_instances": 2,
			"constraints":     map[string]any{"tiers": []int{1, 2}},
			"configuration":   map[string]any{"image": image, "instance_type": "standard-1"},
			"durable_objects": map[string]any{"namespace_id": namespace}, "rollout_active_grace_period": 0,
		}
	}
	for _, tc := range []struct {
		name string
		body map[string]any
	}{
		{"ghcr.io image", create("a", "ghcr.io/ldct/lean4-server:v4.24.0", ns)},
		{"another account's image", create("a", srv.RegistryHost()+"/0123456789abcdef0123456789abcdef/lean:v1", ns)},
		{"unknown namespace", create("a", img1, "ffffffffffffffffffffffffffffffff")},
		{"namespace not SQLite", create("a", img1, plainNS)},
		{"unknown instance type", map[string]any{"name": "a", "configuration": map[string]any{"image": img1, "instance_type": "huge"}}},
	} {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			if code, env := call(t, srv, srv.Token(), http.MethodPost, base, tc.body); code != 400 || env["success"] != false {
				t.Errorf("got %d %v", code, env)
			}
		})
	}
	code, env := call(t, srv, srv.Token(), http.MethodPost, base, create("lean-leanserver", img1, ns))
	if code != 201 {
		t.Fatalf("create: %d %v", code, env)
	}
	id := env["result"].(map[string]any)["id"].(string)
	if code, env := call(t, srv, srv.Token(), http.MethodPost, base, create("lean-leanserver", img1, ns)); code != 400 {
		t.Errorf("a second application with the same name: %d %v", code, env)
	}
	health := func() map[string]any {
		_, env := call(t, srv, srv.Token(), http.MethodGet, base+"/"+id, nil)
		return env["result"].(map[string]any)["health"].(map[string]any)["instances"].(map[string]any)
	}
	if h := health(); h["scheduling"] != 1.0 {
		t.Errorf("health while provisioning: %v", h)
	}
	clock.Advance(time.Minute)
	if h := health(); h["scheduling"] != 0.0 || h["active"] != 0.0 {
		t.Errorf("health once provisioned: %v", h)
	}
	for _, do := range []string{"a", "b"} {
		if _, err := srv.StartInstance(id, do); err != nil {
			t.Fatalf("StartInstance %s: %v", do, err)
		}
	}
	if _, err := srv.StartInstance(id, "c"); !errors.Is(err, cftest.ErrNoInstance) {
		t.Errorf("a third instance beyond max_instances=2: %v", err)
	}
	if h := health(); h["starting"] != 2.0 {
		t.Errorf("health during cold start: %v", h)
	}
	clock.Advance(5 * time.Second)
	if h := health(); h["active"] != 2.0 || h["healthy"] != 2.0 {
		t.Errorf("health when running: %v", h)
	}

	// PATCH then a stepped rollout: progressing until ProvisionDelay passes, then completed, and the
	// running instances restart on the new version.
	patch := map[string]any{"configuration": map[string]any{"image": img2, "instance_type": "standard-1"}, "max_instances": 2}
	if code, env := call(t, srv, srv.Token(), http.MethodPatch, base+"/"+id, patch); code != 200 || env["result"].(map[string]any)["version"] != 2.0 {
		t.Fatalf("patch: %d %v", code, env)
	}
	ro := map[string]any{
		"description": "Progressive update", "strategy": "rolling", "kind": "full_auto",
		"target_configuration": map[string]any{"image": img2, "instance_type": "standard-1"},
		"steps": []any{
			map[string]any{"step_size": map[string]any{"percentage": 10}, "description": "Step 1 of 2 - rollout at 10% of instances"},
			map[string]any{"step_size": map[string]any{"percentage": 100}, "description": "Step 2 of 2 - rollout at 100% of instances"},
		},
	}
	code, env = call(t, srv, srv.Token(), http.MethodPost, base+"/"+id+"/rollouts", ro)
	if code != 201 {
		t.Fatalf("rollout: %d %v", code, env)
	}
	rid := env["result"].(map[string]any)["id"].(string)
	rollout := func() map[string]any {
		_, env := call(t, srv, srv.Token(), http.MethodGet, base+"/"+id+"/rollouts/"+rid, nil)
		return env["result"].(map[string]any)
	}
	if r := rollout(); r["status"] != "progressing" || r["current_version"] != 1.0 || r["target_version"] != 2.0 || len(r["steps"].([]any)) != 2 {
		t.Errorf("rollout while progressing: %v", r)
	}
	if app, _ := srv.Application(id); app.Instances[0].Version != 1 || app.ServingImage != img1 {
		t.Errorf("instances moved before the rollout completed: %+v", app)
	}
	clock.Advance(time.Minute)
	if r := rollout(); r["status"] != "completed" {
		t.Errorf("rollout after the delay: %v", r)
	}
	app, _ := srv.Application(id)
	if !app.Provisioned || app.ServingImage != img2 || app.Instances[0].Image != img2 || app.Instances[0].State != "starting" {
		t.Errorf("application after the rollout: %+v", app)
	}
	// A rollout overtaken by a newer one before it completes reports "replaced".
	back := map[string]any{"description": "back", "strategy": "rolling", "kind": "full_auto", "step_percentage": 100,
		"target_configuration": map[string]any{"image": img1, "instance_type": "standard-1"}}
	_, env = call(t, srv, srv.Token(), http.MethodPost, base+"/"+id+"/rollouts", back)
	first := env["result"].(map[string]any)["id"].(string)
	back["target_configuration"] = map[string]any{"image": img2, "instance_type": "standard-1"}
	if code, env := call(t, srv, srv.Token(), http.MethodPost, base+"/"+id+"/rollouts", back); code != 201 {
		t.Fatalf("second rollout: %d %v", code, env)
	}
	if _, env := call(t, srv, srv.Token(), http.MethodGet, base+"/"+id+"/rollouts/"+first, nil); env["result"].(map[string]any)["status"] != "replaced" {
		t.Errorf("overtaken rollout: %v", env["result"])
	}
	if app, _ := srv.Application(id); app.Version != 4 || app.Image != img2 {
		t.Errorf("application after two rollouts: version %d image %s", app.Version, app.Image)
	}
	srv.StopInstance(id, "a")
	if app, _ := srv.Application(id); len(app.Instances) != 1 {
		t.Errorf("StopInstance left %d instances", len(app.Instances))
	}
	if code, _ := call(t, srv, srv.Token(), http.MethodDelete, base+"/"+id, nil); code != 200 {
		t.Errorf("delete: %d", code)
	}
	if _, ok := srv.Application(id); ok {
		t.Error("the application survived DELETE")
	}
	noUnknown(t, srv)
}

// Digest-pinned references, as lean4-cf deploys them, are pullable once pushed; unknown digests are not.
func TestDigestReferences(t *testing.T) {
	srv := newServer(t, cftest.Options{})
	ns := containerWorker(t, srv, "lean", true)
	ref := pushImage(t, srv, "lean:v1")
	r, _ := name.ParseReference(ref)
	c := credentials(t, srv, 5, "pull")
	desc, err := remote.Head(r, remote.WithAuth(&authn.Basic{Username: c.Username, Password: c.Password}))
	if err != nil {
		t.Fatal(err)
	}
	base := "/accounts/" + srv.AccountID() + "/containers/applications"
	for _, tc := range []struct{ app, image, state string }{
		{"pinned", srv.RegistryHost() + "/" + srv.AccountID() + "/lean@" + desc.Digest.String(), "ready"},
		{"unknown-digest", srv.RegistryHost() + "/" + srv.AccountID() + "/lean@sha256:" + strings.Repeat("0", 64), "degraded"},
	} {
		body := map[string]any{"name": tc.app, "max_instances": 1, "configuration": map[string]any{"image": tc.image, "instance_type": "basic"}}
		if tc.app == "pinned" {
			body["durable_objects"] = map[string]any{"namespace_id": ns}
		}
		if code, env := call(t, srv, srv.Token(), http.MethodPost, base, body); code != 201 {
			t.Fatalf("create %s: %d %v", tc.app, code, env)
		}
		if app, _ := srv.Application(tc.app); app.State != tc.state {
			t.Errorf("%s: state %q, want %q", tc.app, app.State, tc.state)
		}
	}
}
