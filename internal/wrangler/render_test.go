package wrangler

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tailscale/hujson"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

const testImage = "registry.cloudflare.com/0123456789abcdef0123456789abcdef/lean4-server@sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945"

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test ./internal/wrangler -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./internal/wrangler -update rewrites it)\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func readUser(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "user", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// standard parses JSONC output into a generic value to assert on fields.
func standard(t *testing.T, b []byte) map[string]any {
	t.Helper()
	v, err := hujson.Parse(bytes.Clone(b)) // Standardize would blank the comments of b itself
	if err != nil {
		t.Fatalf("output is not JSONC: %v\n%s", err, b)
	}
	v.Standardize()
	var m map[string]any
	if err := json.Unmarshal(v.Pack(), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestConfigGolden(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"stub.jsonc", Options{Mode: ModeStub}},
		{"container.jsonc", Options{Mode: ModeContainer, Image: testImage}},
		{"container-custom.jsonc", Options{
			Mode: ModeContainer, WorkerName: "lean-prod", Image: testImage, InstanceType: "standard-2",
			MaxInstances: 8, Instances: 3, SleepAfter: "30s", CompatibilityDate: "2026-06-01",
			Vars: map[string]string{"MAX_LEAN_TIMEOUT": "120", "CORS_ORIGINS": "https://app.example", "IDLE_STOP_SIGNAL": "SIGTERM"},
		}},
		{"stub-vars.jsonc", Options{Mode: ModeStub, WorkerName: "lean-prod", Instances: 3, Vars: map[string]string{"MAX_BODY_BYTES": "2048", "HEALTH_REQUIRES_KEY": "true"}}},
		{"patched-full.jsonc", Options{Mode: ModeContainer, Image: testImage, UserConfig: readUser(t, "full.jsonc")}},
		{"patched-full-options.jsonc", Options{Mode: ModeContainer, Image: testImage, InstanceType: "standard-1", MaxInstances: 4, Instances: 2, SleepAfter: "5m", UserConfig: readUser(t, "full.jsonc")}},
		{"container-custom-type.jsonc", Options{Mode: ModeContainer, Image: testImage, InstanceType: "custom:vcpu=1,memory=3072MiB,disk=4000MB"}},
		{"patched-custom-type-kept.jsonc", Options{Mode: ModeContainer, Image: testImage, UserConfig: readUser(t, "custom-type.jsonc")}},
		{"patched-custom-type-set.jsonc", Options{Mode: ModeContainer, Image: testImage, InstanceType: "custom:vcpu=2,memory=6GiB,disk=12GB", UserConfig: readUser(t, "full.jsonc")}},
		{"patched-full-stub.jsonc", Options{Mode: ModeStub, UserConfig: readUser(t, "full.jsonc")}},
		{"patched-minimal.jsonc", Options{Mode: ModeContainer, Image: testImage, UserConfig: readUser(t, "minimal.jsonc")}},
		{"patched-other-durable-objects.jsonc", Options{Mode: ModeContainer, Image: testImage, Vars: map[string]string{"MAX_LEAN_TIMEOUT": "10"}, UserConfig: readUser(t, "other-durable-objects.jsonc")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Config(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			standard(t, got) // must parse
			golden(t, tt.name, got)
			again, err := Config(tt.opts)
			if err != nil || !bytes.Equal(got, again) {
				t.Errorf("rendering twice gave different output (err %v)", err)
			}
		})
	}
}

func TestConfigFields(t *testing.T) {
	got, err := Config(Options{Mode: ModeContainer, Image: testImage, Instances: 2, MaxInstances: 3})
	if err != nil {
		t.Fatal(err)
	}
	m := standard(t, got)
	c := m["containers"].([]any)[0].(map[string]any)
	if c["image"] != testImage || c["instance_type"] != "standard-1" || c["max_instances"] != 3.0 || c["class_name"] != "LeanContainer" {
		t.Errorf("containers[0] = %v", c)
	}
	vars := m["vars"].(map[string]any)
	if vars["INSTANCES"] != "2" || vars["SLEEP_AFTER"] != "2m" {
		t.Errorf("vars = %v", vars)
	}
	if m["main"] != "src/container.ts" || m["name"] != "lean4-server" {
		t.Errorf("main, name = %v, %v", m["main"], m["name"])
	}

	stub, err := Config(Options{Mode: ModeStub})
	if err != nil {
		t.Fatal(err)
	}
	s := standard(t, stub)
	for _, k := range []string{"containers", "durable_objects", "migrations"} {
		if _, ok := s[k]; ok {
			t.Errorf("stub configuration has %q", k)
		}
	}
	if s["main"] != "src/stub.ts" {
		t.Errorf("stub main = %v", s["main"])
	}
}

func TestPatchKeepsComments(t *testing.T) {
	got, err := Config(Options{Mode: ModeContainer, Image: testImage, UserConfig: readUser(t, "full.jsonc")})
	if err != nil {
		t.Fatal(err)
	}
	for _, comment := range []string{
		"// My Lean deployment: custom domain and a bigger fleet.",
		"// the Worker name our clients know",
		"/* The container: lean4-cf replaces the image on every deploy. */",
		"// more memory for big proofs",
		"// Long proofs are fine here.",
	} {
		if !strings.Contains(string(got), comment) {
			t.Errorf("comment %q was lost", comment)
		}
	}
	m := standard(t, got)
	c := m["containers"].([]any)[0].(map[string]any)
	if c["image"] != testImage {
		t.Errorf("image = %v", c["image"])
	}
	if c["instance_type"] != "standard-2" || c["max_instances"] != 10.0 {
		t.Errorf("the user's instance_type and max_instances were not kept: %v", c)
	}
	if m["vars"].(map[string]any)["MAX_LEAN_TIMEOUT"] != "300" {
		t.Errorf("the user's variable was not kept: %v", m["vars"])
	}
	if len(m["routes"].([]any)) != 1 {
		t.Errorf("routes = %v", m["routes"])
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no mode", Options{}, "mode is not set: use stub or container"},
		{"bad mode", Options{Mode: "both"}, `mode "both": use stub or container`},
		{"no image", Options{Mode: ModeContainer}, "image is not set: container mode needs a digest-pinned reference"},
		{"tag image", Options{Mode: ModeContainer, Image: "registry.cloudflare.com/0123456789abcdef0123456789abcdef/lean4-server:v4.24.0"}, `image "registry.cloudflare.com/0123456789abcdef0123456789abcdef/lean4-server:v4.24.0": pin it by digest`},
		{"ghcr image", Options{Mode: ModeContainer, Image: "ghcr.io/ldct/lean4-server@sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945"}, "Cloudflare cannot pull from ghcr.io; copy the image to registry.cloudflare.com first"},
		{"worker name", Options{Mode: ModeStub, WorkerName: "Lean_Server"}, `worker name "Lean_Server" is not a Worker name: use 1 to 63 lowercase letters, digits and dashes`},
		{"instance type", Options{Mode: ModeContainer, Image: testImage, InstanceType: "huge"}, `instance type "huge": use one of lite, basic, standard-1, standard-2, standard-3, standard-4, or custom:vcpu=V,memory=M,disk=D`},
		{"instance type custom unfitted", Options{Mode: ModeContainer, Image: testImage, InstanceType: "custom"}, `instance type "custom" must be fitted to an image first: give custom:vcpu=V,memory=M,disk=D`},
		{"instance type custom out of bounds", Options{Mode: ModeContainer, Image: testImage, InstanceType: "custom:vcpu=1,memory=2GiB,disk=8GB"}, `instance type "custom:vcpu=1,memory=2GiB,disk=8GB": custom instance type: memory 2048 MiB is outside the minimum of 3 GiB per vCPU (3072 MiB for 1 vCPU)`},
		{"instance type custom malformed", Options{Mode: ModeContainer, Image: testImage, InstanceType: "custom:vcpu=1"}, `instance type "custom:vcpu=1": use one of lite, basic, standard-1, standard-2, standard-3, standard-4, or custom:vcpu=V,memory=M,disk=D`},
		{"user config custom type out of bounds", Options{Mode: ModeContainer, Image: testImage, UserConfig: []byte(`{"containers": [{"class_name": "LeanContainer", "instance_type": {"vcpu": 1, "memory_mib": 3072, "disk_mb": 25000}}]}`)}, "wrangler.jsonc: custom instance type: disk 25000 MB is outside the maximum of 20000 MB"},
		{"user config custom type wrangler defaults", Options{Mode: ModeContainer, Image: testImage, UserConfig: []byte(`{"containers": [{"class_name": "LeanContainer", "instance_type": {"memory_mib": 4096}}]}`)}, "wrangler.jsonc: custom instance type: vcpu 0.0625 is outside the minimum of 1 vCPU"},
		{"user config custom type unknown field", Options{Mode: ModeContainer, Image: testImage, UserConfig: []byte(`{"containers": [{"class_name": "LeanContainer", "instance_type": {"vcpu": 1, "gpu": 1}}]}`)}, `wrangler.jsonc: instance_type has "gpu"; the object form takes vcpu, memory_mib and disk_mb`},
		{"user config unknown type", Options{Mode: ModeContainer, Image: testImage, UserConfig: []byte(`{"containers": [{"class_name": "LeanContainer", "instance_type": "huge"}]}`)}, `wrangler.jsonc: instance type "huge": use one of lite`},
		{"deprecated instance type", Options{Mode: ModeContainer, Image: testImage, InstanceType: "standard"}, `instance type "standard" is a deprecated alias: use "standard-1"`},
		{"instances over max", Options{Mode: ModeContainer, Image: testImage, Instances: 6, MaxInstances: 5}, "instances 6 is out of range: use 1 to max instances (5)"},
		{"max instances over the limit", Options{Mode: ModeContainer, Image: testImage, MaxInstances: 1001}, "max instances 1001 is out of range: use 1 to 1000"},
		{"negative max instances", Options{Mode: ModeContainer, Image: testImage, MaxInstances: -3}, "max instances -3 is out of range: use 1 to 1000"},
		{"instances over default max", Options{Mode: ModeContainer, Image: testImage, Instances: 6}, "instances 6 is out of range: use 1 to max instances (5)"},
		{"sleep after", Options{Mode: ModeContainer, Image: testImage, SleepAfter: "2 minutes"}, `sleep after "2 minutes" is not an idle time: use a whole number of s, m or h`},
		{"compat date", Options{Mode: ModeStub, CompatibilityDate: "yesterday"}, `compatibility date "yesterday": use YYYY-MM-DD`},
		{"api key var", Options{Mode: ModeStub, Vars: map[string]string{"LEAN_API_KEY": "k"}}, "variable LEAN_API_KEY: the API key is a secret"},
		{"origin var", Options{Mode: ModeContainer, Image: testImage, Vars: map[string]string{"LEAN_ORIGIN": "http://127.0.0.1:8000"}}, "variable LEAN_ORIGIN: it is a development setting"},
		{"unknown var", Options{Mode: ModeStub, Vars: map[string]string{"MAX_TIMEOUT": "5"}}, `variable "MAX_TIMEOUT" is not a Worker setting: use one of CONTAINER_START_TIMEOUT, CORS_ORIGINS, HEALTH_REQUIRES_KEY, IDLE_STOP_SIGNAL, INSTANCE_TRIES, MAX_BODY_BYTES, MAX_CONCURRENT, MAX_LEAN_TIMEOUT, MAX_QUEUE, QUEUE_TIMEOUT, UPSTREAM_GRACE`},
		{"bad concurrency var", Options{Mode: ModeStub, Vars: map[string]string{"MAX_CONCURRENT": "0"}}, `variable MAX_CONCURRENT="0": use a whole number of evaluations from 1 to 1000`},
		{"bad timeout var", Options{Mode: ModeStub, Vars: map[string]string{"MAX_LEAN_TIMEOUT": "0"}}, `variable MAX_LEAN_TIMEOUT="0": use a whole number of seconds from 1 to 3600`},
		{"bad signal var", Options{Mode: ModeStub, Vars: map[string]string{"IDLE_STOP_SIGNAL": "SIGHUP"}}, `variable IDLE_STOP_SIGNAL="SIGHUP": use SIGKILL, SIGTERM or SIGINT`},
		{"bad cors var", Options{Mode: ModeStub, Vars: map[string]string{"CORS_ORIGINS": "https://a.example/x"}}, `variable CORS_ORIGINS="https://a.example/x": "https://a.example/x" is not an origin`},
		{"user config not JSONC", Options{Mode: ModeStub, UserConfig: []byte(`{"name": "x",, }`), UserConfigName: "mine.jsonc"}, "mine.jsonc is not JSONC (JSON with comments): "},
		{"user config YAML", Options{Mode: ModeStub, UserConfig: []byte("name: x\n")}, "wrangler.jsonc is not JSONC (JSON with comments): "},
		{"user config array", Options{Mode: ModeStub, UserConfig: []byte(`[]`)}, "wrangler.jsonc is not a JSON object"},
		{"user config no containers", Options{Mode: ModeContainer, Image: testImage, UserConfig: []byte(`{"name": "x"}`)}, `wrangler.jsonc has no containers: add a "containers" entry with "class_name": "LeanContainer"`},
		{"user config empty containers", Options{Mode: ModeContainer, Image: testImage, UserConfig: []byte(`{"containers": []}`)}, "wrangler.jsonc has no containers"},
		{"user config other class", Options{Mode: ModeContainer, Image: testImage, UserConfig: []byte(`{"containers": [{"class_name": "MyContainer", "image": "x"}]}`)}, `wrangler.jsonc: containers name class "MyContainer", but lean4-cf's Worker exports "LeanContainer": set "class_name": "LeanContainer"`},
		{"user config second class", Options{Mode: ModeContainer, Image: testImage, UserConfig: []byte(`{"containers": [{"class_name": "LeanContainer"}, {"class_name": "Helper", "image": "ghcr.io/me/helper:1"}]}`)}, `wrangler.jsonc: containers also name class "Helper" (image "ghcr.io/me/helper:1"), but lean4-cf's Worker exports only "LeanContainer": remove that entry`},
		{"user config binding name", Options{Mode: ModeContainer, Image: testImage, UserConfig: []byte(`{"containers": [{"class_name": "LeanContainer"}], "durable_objects": {"bindings": [{"name": "LEAN", "class_name": "LeanContainer"}]}}`)}, `wrangler.jsonc binds LeanContainer as "LEAN", but lean4-cf's Worker reads env.LEAN_CONTAINER`},
		{"user config not sqlite", Options{Mode: ModeContainer, Image: testImage, UserConfig: []byte(`{"containers": [{"class_name": "LeanContainer"}], "migrations": [{"tag": "v1", "new_classes": ["LeanContainer"]}]}`)}, `wrangler.jsonc migration "v1" declares LeanContainer in new_classes: a container class must be SQLite-backed`},
		{"user config instances over its max", Options{Mode: ModeContainer, Image: testImage, Instances: 3, UserConfig: []byte(`{"containers": [{"class_name": "LeanContainer", "max_instances": 2}]}`)}, "instances 3 is more than max_instances 2 in wrangler.jsonc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Config(tt.opts)
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q\nwant it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func TestConfigAcceptsPullableRegistries(t *testing.T) {
	for _, ref := range []string{
		testImage,
		"docker.io/library/lean4@sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945",
		"123456789012.dkr.ecr.us-east-1.amazonaws.com/lean@sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945",
		"europe-docker.pkg.dev/proj/repo/lean@sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945",
	} {
		if _, err := Config(Options{Mode: ModeContainer, Image: ref}); err != nil {
			t.Errorf("%s: %v", ref, err)
		}
	}
	local := "127.0.0.1:5000/acct/lean@sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945"
	if _, err := Config(Options{Mode: ModeContainer, Image: local}); err == nil {
		t.Errorf("%s accepted without ManagedRegistry", local)
	}
	if _, err := Config(Options{Mode: ModeContainer, Image: local, ManagedRegistry: "127.0.0.1:5000"}); err != nil {
		t.Errorf("%s with ManagedRegistry: %v", local, err)
	}
}

func TestRenderDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	r, err := Render(dir, Options{Mode: ModeContainer, Image: testImage}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"wrangler.jsonc", "src/container.ts", "src/stub.ts", "src/routing.ts", "package.json", "package-lock.json"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("rendered directory lacks %s: %v", p, err)
		}
	}
	if r.Main != "src/container.ts" || r.Config != filepath.Join(dir, "wrangler.jsonc") {
		t.Errorf("Rendered = %+v", r)
	}
	// Rendering again into the same directory is allowed (it only holds our files) ...
	if _, err := Render(dir, Options{Mode: ModeStub}, ""); err != nil {
		t.Errorf("re-rendering: %v", err)
	}
	// ... but not into a directory with someone else's files.
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Render(dir, Options{Mode: ModeStub}, ""); err == nil || !strings.Contains(err.Error(), "holds notes.txt, which lean4-cf did not render") {
		t.Errorf("rendering over foreign files: err = %v", err)
	}
	if _, err := Render(t.TempDir(), Options{Mode: ModeStub}, t.TempDir()); err == nil || !strings.Contains(err.Error(), "has no @cloudflare/containers: run `make toolchain` first") {
		t.Errorf("linking an empty node_modules: err = %v", err)
	}
}

func TestUserInstanceType(t *testing.T) {
	tests := []struct {
		name, cfg, want string
		ok              bool
		wantErr         string
	}{
		{"named", `{"containers": [{"class_name": "LeanContainer", "instance_type": "standard-2"}]}`, "standard-2", true, ""},
		{"alias", `{"containers": [{"class_name": "LeanContainer", "instance_type": "standard"}]}`, "standard-1", true, ""},
		{"custom", string(readUser(t, "custom-type.jsonc")), "custom:vcpu=1,memory=3072MiB,disk=15000MB", true, ""},
		{"none", `{"containers": [{"class_name": "LeanContainer"}]}`, "", false, ""},
		{"other class only", `{"containers": [{"class_name": "Other", "instance_type": "lite"}]}`, "", false, ""},
		{"out of bounds", `{"containers": [{"class_name": "LeanContainer", "instance_type": {"vcpu": 5, "memory_mib": 12288, "disk_mb": 4000}}]}`, "", false, "mine.jsonc: custom instance type: vcpu 5 is outside the maximum of 4 vCPU"},
		{"fractional memory", `{"containers": [{"class_name": "LeanContainer", "instance_type": {"vcpu": 1, "memory_mib": 3072.5, "disk_mb": 4000}}]}`, "", false, "must be whole numbers"},
		{"not JSONC", `{"containers": [`, "", false, "mine.jsonc is not JSONC"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := UserInstanceType([]byte(tt.cfg), "mine.jsonc")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want || ok != tt.ok {
				t.Fatalf("UserInstanceType = %q, %v, %v; want %q, %v", got, ok, err, tt.want, tt.ok)
			}
		})
	}
}
