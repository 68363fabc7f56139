package cfapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/org/lean4-cf-action/internal/sandbox/cfapi"
)

// A Worker delete removes the Worker with its versions, deployments, workers.dev route and Durable Object
// namespaces; one another Worker binds to needs force=true; container applications stay.
func TestDeleteWorker(t *testing.T) {
	for _, tc := range []struct {
		name     string
		path     string // under /accounts/{a}/workers/
		target   string
		bound    bool // another Worker binds to target's Durable Object namespace
		wantCode int
		gone     bool
	}{
		{"scripts endpoint", "scripts/", "lean", false, http.StatusOK, true},
		{"services endpoint (wrangler delete)", "services/", "lean", false, http.StatusOK, true},
		{"unknown Worker", "scripts/", "missing", false, http.StatusNotFound, false},
		{"bound by another Worker, no force", "scripts/", "lean", true, http.StatusBadRequest, false},
		{"bound by another Worker, force=false", "services/", "lean?force=false", true, http.StatusBadRequest, false},
		{"bound by another Worker, force=true", "scripts/", "lean?force=true", true, http.StatusOK, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, cfapi.Options{})
			acct := "/accounts/" + srv.AccountID()
			ns := containerWorker(t, srv, "lean", true)
			img := pushImage(t, srv, "lean:v1")
			code, env := call(t, srv, srv.Token(), http.MethodPost, acct+"/containers/applications", map[string]any{
				"name": "lean-leanserver", "configuration": map[string]any{"image": img, "instance_type": "lite"},
				"durable_objects": map[string]any{"namespace_id": ns},
			})
			if code != http.StatusCreated {
				t.Fatalf("create application: %d %v", code, env)
			}
			if tc.bound {
				meta := map[string]any{"main_module": "index.js", "compatibility_date": "2025-06-01", "bindings": []any{
					map[string]any{"type": "durable_object_namespace", "name": "OTHER", "class_name": "LeanServer", "script_name": "lean"},
				}}
				if code, env := upload(t, srv, http.MethodPut, acct+"/workers/scripts/user", meta, stubJS); code != http.StatusOK {
					t.Fatalf("upload the dependent Worker: %d %v", code, env)
				}
				code, env := call(t, srv, srv.Token(), http.MethodGet, acct+"/workers/scripts/lean/references", nil)
				dos, _ := env["result"].(map[string]any)["durable_objects"].([]any)
				if code != http.StatusOK || len(dos) != 2 {
					t.Errorf("references: %d %v; want the namespace's own entry and the dependent Worker's", code, env)
				}
			}
			code, env = call(t, srv, srv.Token(), http.MethodDelete, acct+"/workers/"+tc.path+tc.target, nil)
			if code != tc.wantCode {
				t.Fatalf("DELETE: %d %v; want %d", code, env, tc.wantCode)
			}
			_, exists := srv.Worker("lean")
			if exists == tc.gone {
				t.Errorf("after DELETE the Worker exists = %v, want %v", exists, !tc.gone)
			}
			if tc.gone {
				if _, ok := srv.WorkerForHost("lean." + cfapi.DefaultSubdomain + ".workers.dev"); ok {
					t.Error("the deleted Worker still answers on workers.dev")
				}
				if slices.ContainsFunc(srv.Namespaces(), func(n cfapi.Namespace) bool { return n.Script == "lean" }) {
					t.Errorf("the deleted Worker's namespaces remain: %v", srv.Namespaces())
				}
				if code, _ := call(t, srv, srv.Token(), http.MethodGet, acct+"/workers/scripts/lean/versions", nil); code != http.StatusNotFound {
					t.Errorf("versions of the deleted Worker: %d, want 404", code)
				}
			}
			// The application outlives its Worker, as on Cloudflare: it is deleted by its own call.
			if l := srv.Leftovers("lean"); !slices.Equal(l.Applications, []string{"lean-leanserver"}) {
				t.Errorf("leftover applications %v, want the application", l.Applications)
			}
		})
	}
}

// Deleting a container application answers {} and takes its instances and rollouts with it.
func TestDeleteApplication(t *testing.T) {
	srv := newServer(t, cfapi.Options{})
	acct := "/accounts/" + srv.AccountID()
	ns := containerWorker(t, srv, "lean", true)
	img := pushImage(t, srv, "lean:v1")
	base := acct + "/containers/applications"
	_, env := call(t, srv, srv.Token(), http.MethodPost, base, map[string]any{
		"name": "lean-leanserver", "max_instances": 2, "configuration": map[string]any{"image": img, "instance_type": "lite"},
		"durable_objects": map[string]any{"namespace_id": ns},
	})
	id := env["result"].(map[string]any)["id"].(string)
	code, env := call(t, srv, srv.Token(), http.MethodPost, base+"/"+id+"/rollouts", map[string]any{
		"description": "v1", "strategy": "rolling", "target_configuration": map[string]any{"image": img},
	})
	if code != http.StatusCreated {
		t.Fatalf("rollout: %d %v", code, env)
	}
	if _, err := srv.StartInstance("lean-leanserver", "a"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		id       string
		wantCode int
	}{
		{"existing application", id, http.StatusOK},
		{"deleted twice", id, http.StatusNotFound},
		{"unknown id", "00000000-0000-4000-a000-000000000000", http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, env := call(t, srv, srv.Token(), http.MethodDelete, base+"/"+tc.id, nil)
			if code != tc.wantCode {
				t.Fatalf("DELETE: %d %v, want %d", code, env, tc.wantCode)
			}
			if res, _ := env["result"].(map[string]any); code == http.StatusOK && len(res) != 0 {
				t.Errorf("DELETE result %v, want {}", res)
			}
		})
	}
	if _, ok := srv.Application(id); ok {
		t.Error("the application remains")
	}
	for _, p := range []string{"/rollouts", "/status"} {
		if code, _ := call(t, srv, srv.Token(), http.MethodGet, base+"/"+id+p, nil); code != http.StatusNotFound && p == "/rollouts" {
			t.Errorf("GET %s of the deleted application: %d, want 404", p, code)
		}
	}
	if _, err := srv.StartInstance("lean-leanserver", "a"); err == nil {
		t.Error("an instance of the deleted application still starts")
	}
	if l := srv.Leftovers("lean-"); len(l.Applications) != 0 {
		t.Errorf("leftovers %v", l)
	}
}

// regDo makes one registry request with Basic credentials and returns its status, headers and body.
func regDo(t *testing.T, srv *cfapi.Server, c creds, method, path string, hdr map[string]string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+srv.RegistryHost()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("v1", c.Password)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// The registry deletes tags and manifests as the distribution spec says, lists Cloudflare's catalog map,
// and PUT /v2/gc/layers removes the blobs no manifest references.
func TestRegistryDeletes(t *testing.T) {
	srv := newServer(t, cfapi.Options{})
	c := credentials(t, srv, 15, "push", "pull")
	acct := srv.AccountID()
	// Two tags of one image, and a second image in another repository.
	ref1 := pushWith(t, srv, "lean:v1", c.Username, c.Password)
	r1, _ := name.ParseReference(ref1)
	img, err := remote.Image(r1, remote.WithAuth(&authn.Basic{Username: c.Username, Password: c.Password}))
	if err != nil {
		t.Fatal(err)
	}
	alias, _ := name.ParseReference(srv.RegistryHost() + "/" + acct + "/lean:alias")
	if err := remote.Write(alias, img, remote.WithAuth(&authn.Basic{Username: c.Username, Password: c.Password})); err != nil {
		t.Fatal(err)
	}
	pushWith(t, srv, "lean-pr-7:lean4cf-abc", c.Username, c.Password)
	d1, _ := img.Digest()

	catalog := func() map[string][]string {
		t.Helper()
		code, _, body := regDo(t, srv, c, http.MethodGet, "/v2/_catalog?tags=true", nil)
		var got struct {
			Repositories map[string][]string `json:"repositories"`
		}
		if err := json.Unmarshal([]byte(body), &got); code != http.StatusOK || err != nil {
			t.Fatalf("catalog: %d %s %v", code, body, err)
		}
		return got.Repositories
	}
	if got := catalog(); !slices.Equal(got[acct+"/lean"], []string{"alias", "v1"}) || !slices.Equal(got[acct+"/lean-pr-7"], []string{"lean4cf-abc"}) {
		t.Errorf("catalog?tags=true = %v", got)
	}
	if l := srv.Leftovers("lean-pr-7"); len(l.Images) != 2 || len(l.Untagged)+len(l.Blobs) != 0 {
		t.Errorf("leftovers of lean-pr-7 before the deletes: %v", l)
	}

	for _, tc := range []struct {
		name     string
		method   string
		path     string
		wantCode int
		tags     []string // tags/list of lean afterwards
	}{
		{"delete a tag", http.MethodDelete, "/v2/" + acct + "/lean/manifests/alias", http.StatusAccepted, []string{"v1"}},
		{"the tag is gone", http.MethodHead, "/v2/" + acct + "/lean/manifests/alias", http.StatusNotFound, []string{"v1"}},
		{"the manifest stays by digest", http.MethodHead, "/v2/" + acct + "/lean/manifests/" + d1.String(), http.StatusOK, []string{"v1"}},
		{"delete the manifest by digest takes its tags", http.MethodDelete, "/v2/" + acct + "/lean/manifests/" + d1.String(), http.StatusAccepted, nil},
		{"delete it again", http.MethodDelete, "/v2/" + acct + "/lean/manifests/" + d1.String(), http.StatusNotFound, nil},
		{"delete in another account", http.MethodDelete, "/v2/0123456789abcdef0123456789abcdef/lean/manifests/v1", http.StatusForbidden, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, body := regDo(t, srv, c, tc.method, tc.path, map[string]string{"Accept": "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"})
			if code != tc.wantCode {
				t.Fatalf("%s %s: %d %s, want %d", tc.method, tc.path, code, body, tc.wantCode)
			}
			code, _, body = regDo(t, srv, c, http.MethodGet, "/v2/"+acct+"/lean/tags/list", nil)
			var tl struct {
				Tags []string `json:"tags"`
			}
			_ = json.Unmarshal([]byte(body), &tl)
			if tc.tags == nil && code != http.StatusNotFound || tc.tags != nil && !slices.Equal(tl.Tags, tc.tags) {
				t.Errorf("tags/list afterwards: %d %s, want %v", code, body, tc.tags)
			}
		})
	}
	if _, ok := catalog()[acct+"/lean"]; ok {
		t.Error("the emptied repository is still in the catalog")
	}
	// The deleted image's blobs stay until garbage collection; the other image's are referenced.
	if l := srv.Leftovers("lean-pr-7"); len(l.Blobs) != 3 {
		t.Errorf("unreferenced blobs before gc: %v, want the deleted image's config and 2 layers", l.Blobs)
	}
	if code, _, body := regDo(t, srv, c, http.MethodPut, "/v2/gc/layers", map[string]string{"Content-Type": "application/json"}); code/100 != 2 {
		t.Fatalf("PUT /v2/gc/layers: %d %s", code, body)
	}
	if l := srv.Leftovers("lean-pr-7"); len(l.Blobs) != 0 || len(l.Images) != 2 {
		t.Errorf("after gc: %v; want no unreferenced blob and lean-pr-7 intact", l)
	}
	if n := len(srv.RegistryBlobs()); n != 3 {
		t.Errorf("%d blobs after gc, want lean-pr-7's 3", n)
	}
	// Pull-only credentials cannot delete or collect.
	pull := credentials(t, srv, 15, "pull")
	if code, _, _ := regDo(t, srv, pull, http.MethodPut, "/v2/gc/layers", nil); code != http.StatusForbidden {
		t.Errorf("gc with pull-only credentials: %d, want 403", code)
	}
	if code, _, _ := regDo(t, srv, pull, http.MethodDelete, "/v2/"+acct+"/lean-pr-7/manifests/lean4cf-abc", nil); code != http.StatusForbidden {
		t.Errorf("delete with pull-only credentials: %d, want 403", code)
	}
	// A tag deleted without its manifest shows as untagged.
	regDo(t, srv, c, http.MethodDelete, "/v2/"+acct+"/lean-pr-7/manifests/lean4cf-abc", nil)
	if l := srv.Leftovers("nothing-matches"); len(l.Untagged) != 1 || !strings.HasPrefix(l.Untagged[0], "lean-pr-7@sha256:") || l.Empty() {
		t.Errorf("leftovers after deleting only the tag: %v", l)
	}
	noUnknown(t, srv)
}
