package cfapi_test

import (
	"net/http"
	"testing"

	"github.com/org/lean4-cf-action/internal/sandbox/cfapi"
)

// The local Cloudflare answers with the statuses and shapes Cloudflare's published API description gives
// (https://github.com/cloudflare/api-schemas; docs/platform-facts.md), so a client check written for the
// wrong status or a null list fails here and not against the real API.
func TestAnswersFollowTheAPIDescription(t *testing.T) {
	srv := newServer(t, cfapi.Options{})
	acct := "/accounts/" + srv.AccountID()

	// Script upload and settings: tags and tail_consumers are lists, [] when empty.
	meta := map[string]any{"main_module": "index.js", "compatibility_date": "2025-06-01"}
	code, env := upload(t, srv, http.MethodPut, acct+"/workers/scripts/lists", meta, stubJS)
	if code != http.StatusOK {
		t.Fatalf("upload: %d %v", code, env)
	}
	answers := map[string]map[string]any{"upload": env["result"].(map[string]any)}
	for _, p := range []string{"/settings", "/script-settings"} {
		code, env := call(t, srv, srv.Token(), http.MethodGet, acct+"/workers/scripts/lists"+p, nil)
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %v", p, code, env)
		}
		answers["GET "+p] = env["result"].(map[string]any)
	}
	code, env = call(t, srv, srv.Token(), http.MethodPatch, acct+"/workers/scripts/lists/script-settings", map[string]any{"observability": map[string]any{"enabled": false}, "tags": nil})
	if code != http.StatusOK {
		t.Fatalf("PATCH script-settings: %d %v", code, env)
	}
	answers["PATCH /script-settings"] = env["result"].(map[string]any)
	for what, res := range answers {
		for _, k := range []string{"tags", "tail_consumers"} {
			if l, ok := res[k].([]any); !ok || len(l) != 0 {
				t.Errorf("%s: %s = %#v, want [] (a list, not null)", what, k, res[k])
			}
		}
	}

	// Creating an application, a rollout and registry credentials answers 201 Created.
	ns := containerWorker(t, srv, "lean", true)
	img := pushImage(t, srv, "lean:v1")
	base := acct + "/containers/applications"
	code, env = call(t, srv, srv.Token(), http.MethodPost, base, map[string]any{
		"name": "lean-leanserver", "scheduling_policy": "default", "instances": 0, "max_instances": 2,
		"configuration":   map[string]any{"image": img, "instance_type": "standard-1"},
		"durable_objects": map[string]any{"namespace_id": ns},
	})
	if code != http.StatusCreated {
		t.Fatalf("create application: %d %v; want 201", code, env)
	}
	app := env["result"].(map[string]any)
	id := app["id"].(string)
	if app["durable_object_namespace_id"] != ns || app["account_id"] != srv.AccountID() {
		t.Errorf("application %v: want durable_object_namespace_id %s and account_id %s", app, ns, srv.AccountID())
	}
	code, env = call(t, srv, srv.Token(), http.MethodPost, base+"/"+id+"/rollouts", map[string]any{
		"description": "v1", "strategy": "rolling", "kind": "full_auto", "step_percentage": 100,
		"target_configuration": map[string]any{"image": img, "instance_type": "standard-1"},
	})
	if code != http.StatusCreated {
		t.Errorf("create rollout: %d %v; want 201", code, env)
	}
	code, env = call(t, srv, srv.Token(), http.MethodPost, acct+"/containers/registries/"+srv.RegistryHost()+"/credentials",
		map[string]any{"expiration_minutes": 15, "permissions": []string{"push", "pull"}})
	if code != http.StatusCreated {
		t.Errorf("registry credentials: %d %v; want 201", code, env)
	}
	// The account's Containers identity names the account and lists its capabilities.
	if code, env := call(t, srv, srv.Token(), http.MethodGet, acct+"/containers/me", nil); code != http.StatusOK {
		t.Errorf("GET containers/me: %d %v", code, env)
	} else if me := env["result"].(map[string]any); me["account_id"] != srv.AccountID() || me["capabilities"] == nil {
		t.Errorf("containers/me = %v: want account_id and capabilities", me)
	}
	// Reads and other changes answer 200.
	if code, env := call(t, srv, srv.Token(), http.MethodGet, base+"/"+id, nil); code != http.StatusOK {
		t.Errorf("GET application: %d %v", code, env)
	}
	if code, env := call(t, srv, srv.Token(), http.MethodDelete, base+"/"+id, nil); code != http.StatusOK {
		t.Errorf("DELETE application: %d %v", code, env)
	}
}
