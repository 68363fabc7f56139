package cfapi_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/org/lean4-cf-action/internal/sandbox/cfapi"
)

// containerWorker uploads a Worker with a SQLite DO class and returns its namespace id.
func containerWorker(t *testing.T, srv *cfapi.Server, name string, sqlite bool) string {
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
	clock := cfapi.NewFakeClock(time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC))
	srv := newServer(t, cfapi.Options{Clock: clock, ProvisionDelay: time.Minute, StartDelay: 5 * time.Second})
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
	if _, err := srv.StartInstance(id, "c"); !errors.Is(err, cfapi.ErrNoInstance) {
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
	srv := newServer(t, cfapi.Options{})
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

// TestCustomInstanceTypes: a custom type arrives as configuration.vcpu, memory_mib and disk.size_mb (what
// wrangler sends for the object form of instance_type); it is stored, checked against the limits, and
// replaces a named type on a rollout (and back), each change a new version.
func TestCustomInstanceTypes(t *testing.T) {
	clock := cfapi.NewFakeClock(time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC))
	srv := newServer(t, cfapi.Options{Clock: clock, ProvisionDelay: time.Minute})
	base := "/accounts/" + srv.AccountID() + "/containers/applications"
	ns := containerWorker(t, srv, "lean", true)
	img := pushImage(t, srv, "lean:v1")
	custom := func(vcpu, mem, disk any) map[string]any {
		return map[string]any{"image": img, "vcpu": vcpu, "memory_mib": mem, "disk": map[string]any{"size_mb": disk}}
	}
	for _, tc := range []struct {
		name string
		cfg  map[string]any
		want string
	}{
		{"vcpu under 1", custom(0.5, 3072, 4000), "vcpu 0.5 is outside the minimum of 1 vCPU"},
		{"memory under 3 GiB per vCPU", custom(2, 4096, 4000), "minimum of 3 GiB per vCPU"},
		{"disk over 20 GB", custom(1, 3072, 20001), "disk 20001 MB is outside the maximum"},
		{"both ways", map[string]any{"image": img, "instance_type": "basic", "vcpu": 1}, "sets both instance_type and custom resources"},
		{"vcpu not a number", custom("1", 3072, 4000), "configuration.vcpu must be a number"},
		{"wrangler's defaults", map[string]any{"image": img, "memory_mib": 4096}, "vcpu 0.0625 is outside the minimum"},
	} {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			code, env := call(t, srv, srv.Token(), http.MethodPost, base, map[string]any{"name": "a", "configuration": tc.cfg, "durable_objects": map[string]any{"namespace_id": ns}})
			if code != 400 || !strings.Contains(fmt.Sprint(env["errors"]), tc.want) {
				t.Errorf("got %d %v, want 400 %q", code, env, tc.want)
			}
		})
	}
	code, env := call(t, srv, srv.Token(), http.MethodPost, base, map[string]any{"name": "lean-leanserver", "configuration": custom(1, 3072, 15000), "durable_objects": map[string]any{"namespace_id": ns}})
	if code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, env)
	}
	id := env["result"].(map[string]any)["id"].(string)
	cfg := env["result"].(map[string]any)["configuration"].(map[string]any)
	if cfg["vcpu"] != 1.0 || cfg["memory_mib"] != 3072.0 || cfg["instance_type"] != nil {
		t.Fatalf("stored configuration = %v", cfg)
	}
	app, _ := srv.Application(id)
	if app.InstanceType != "custom:vcpu=1,memory=3072MiB,disk=15000MB" || app.Version != 1 {
		t.Fatalf("application: type %q version %d", app.InstanceType, app.Version)
	}
	rollout := func(target map[string]any) {
		t.Helper()
		code, env := call(t, srv, srv.Token(), http.MethodPost, base+"/"+id+"/rollouts", map[string]any{"strategy": "rolling", "kind": "full_auto", "step_percentage": 100, "target_configuration": target})
		if code != http.StatusCreated {
			t.Fatalf("rollout: %d %v", code, env)
		}
	}
	for i, step := range []struct {
		target  map[string]any
		typ     string
		version int
	}{
		{map[string]any{"image": img, "instance_type": "standard-1"}, "standard-1", 2},
		{custom(2, 6144, 12000), "custom:vcpu=2,memory=6144MiB,disk=12000MB", 3},
		{custom(2, 6144, 12000), "custom:vcpu=2,memory=6144MiB,disk=12000MB", 3}, // unchanged: no new version
	} {
		rollout(step.target)
		app, _ := srv.Application(id)
		if app.InstanceType != step.typ || app.Version != step.version {
			t.Fatalf("step %d: type %q version %d, want %q %d", i, app.InstanceType, app.Version, step.typ, step.version)
		}
	}
}
