package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/org/lean4-cf-action/internal/wrangler"
)

const renderImage = "registry.cloudflare.com/0123456789abcdef0123456789abcdef/lean4-server@sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945"

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Main(context.Background(), args, Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut})
	return code, out.String(), errOut.String()
}

func TestRenderWritesProject(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "container")
	code, out, errOut := run(t, "render", "--mode", "container", "--out", dir, "--image", renderImage, "--instances", "2", "--var", "MAX_LEAN_TIMEOUT=120")
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	want := "rendered the container Worker into " + dir + " (wrangler.jsonc, src/container.ts)\ndeploy it with: cd " + dir + " && npm ci && npx wrangler deploy\n"
	if out != want {
		t.Errorf("stdout = %q\nwant %q", out, want)
	}
	cfg, err := os.ReadFile(filepath.Join(dir, "wrangler.jsonc"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{renderImage, `"INSTANCES": "2"`, `"MAX_LEAN_TIMEOUT": "120"`, `"main": "src/container.ts"`} {
		if !bytes.Contains(cfg, []byte(w)) {
			t.Errorf("wrangler.jsonc lacks %s", w)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "src", "container.ts")); err != nil {
		t.Error(err)
	}
}

func TestRenderJSON(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "stub")
	code, out, errOut := run(t, "render", "--mode", "stub", "--out", dir, "--json")
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	want := map[string]string{"mode": "stub", "dir": dir, "config": filepath.Join(dir, "wrangler.jsonc"), "main": "src/stub.ts"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestRenderPatchesUserConfig(t *testing.T) {
	tmp := t.TempDir()
	user := filepath.Join(tmp, "mine.jsonc")
	if err := os.WriteFile(user, []byte("{\n  // keep me\n  \"name\": \"mine\",\n  \"containers\": [{ \"class_name\": \"LeanContainer\", \"image\": \"old\" }]\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(tmp, "out")
	if code, _, errOut := run(t, "render", "--mode", "container", "--out", dir, "--image", renderImage, "--config", user); code != ExitOK {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	cfg, _ := os.ReadFile(filepath.Join(dir, "wrangler.jsonc"))
	if !bytes.Contains(cfg, []byte("// keep me")) || !bytes.Contains(cfg, []byte(renderImage)) || !bytes.Contains(cfg, []byte(`"name": "mine"`)) {
		t.Errorf("patched config:\n%s", cfg)
	}
}

func TestRenderUsageErrors(t *testing.T) {
	tmp := t.TempDir()
	notJSONC := filepath.Join(tmp, "bad.jsonc")
	if err := os.WriteFile(notJSONC, []byte("name = \"x\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(tmp, "foreign")
	if err := os.MkdirAll(foreign, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(foreign, "README.md"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "out")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no mode", []string{"render", "--out", out}, "lean4-cf: --mode is required: use --mode stub or --mode container\n"},
		{"no out", []string{"render", "--mode", "stub"}, "lean4-cf: --out is required: name the directory to write, e.g. --out build/worker\n"},
		{"bad mode", []string{"render", "--mode", "both", "--out", out}, "lean4-cf: --mode \"both\": use stub or container\n"},
		{"no image", []string{"render", "--mode", "container", "--out", out}, "lean4-cf: --image is not set: container mode needs a digest-pinned reference like registry.cloudflare.com/<account>/lean4-server@sha256:<digest>\n"},
		{"bad var", []string{"render", "--mode", "stub", "--out", out, "--var", "MAX_LEAN_TIMEOUT"}, "lean4-cf: --var \"MAX_LEAN_TIMEOUT\": use KEY=VALUE, e.g. --var MAX_LEAN_TIMEOUT=120\n"},
		{"secret var", []string{"render", "--mode", "stub", "--out", out, "--var", "LEAN_API_KEY=hunter2"}, "lean4-cf: --var LEAN_API_KEY: the API key is a secret; set it with `wrangler secret put LEAN_API_KEY`, never as a plain variable\n"},
		{"missing config", []string{"render", "--mode", "stub", "--out", out, "--config", filepath.Join(tmp, "nope.jsonc")}, "lean4-cf: --config \"" + filepath.Join(tmp, "nope.jsonc") + "\" is not a readable file: give the path of your wrangler.jsonc\n"},
		{"config not JSONC", []string{"render", "--mode", "stub", "--out", out, "--config", notJSONC}, "lean4-cf: --config " + notJSONC + " is not JSONC (JSON with comments): "},
		{"foreign out dir", []string{"render", "--mode", "stub", "--out", foreign}, "lean4-cf: --out " + foreign + " holds README.md, which lean4-cf did not render: use an empty or new directory\n"},
		{"bad node_modules", []string{"render", "--mode", "stub", "--out", out, "--node-modules", tmp}, "has no @cloudflare/containers: run `make toolchain` first"},
		{"bad flag value", []string{"render", "--mode", "stub", "--out", out, "--instances", "many"}, "lean4-cf: --instances \"many\" is not a whole number: use one like 1\n"},
		{"argument", []string{"render", "--mode", "stub", "--out", out, "extra"}, "lean4-cf: render takes no arguments, got \"extra\": pass options as flags (run lean4-cf render --help)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(t, tt.args...)
			if code != ExitUsage {
				t.Errorf("exit %d, want %d (stderr %q)", code, ExitUsage, stderr)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q\nwant it to contain %q", stderr, tt.want)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			if strings.Contains(stderr, "hunter2") {
				t.Errorf("stderr shows the secret: %q", stderr)
			}
		})
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failed render wrote %s", out)
	}
}

// render --instance-type custom measures the image it renders (read only) and writes the cheapest custom
// configuration in wrangler's object form; an explicit one is written as given.
func TestRenderCustomInstanceType(t *testing.T) {
	host := testRegistry(t)
	ref, err := name.ParseReference(host + "/lean:v1")
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(ref)
	if err != nil {
		t.Fatal(err)
	}
	img := host + "/lean@" + desc.Digest.String()
	env := map[string]string{"CLOUDFLARE_CONTAINER_REGISTRY": host} // the managed registry: pullable
	for _, tt := range []struct{ flag, want string }{
		{"custom", `"instance_type": {
        "vcpu": 1,
        "memory_mib": 3072,
        "disk_mb": 2000
      }`},
		{"custom:vcpu=2,memory=8GiB,disk=10GB", `"instance_type": {
        "vcpu": 2,
        "memory_mib": 8192,
        "disk_mb": 10000
      }`},
	} {
		dir := filepath.Join(t.TempDir(), "out")
		code, _, errOut := runCLI(t, env, "render", "--mode", "container", "--out", dir, "--image", img, "--instance-type", tt.flag)
		if code != ExitOK {
			t.Fatalf("%s: exit %d: %s", tt.flag, code, errOut)
		}
		cfg, err := os.ReadFile(filepath.Join(dir, "wrangler.jsonc"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(cfg), tt.want) {
			t.Errorf("%s: wrangler.jsonc lacks %s:\n%s", tt.flag, tt.want, cfg)
		}
	}
	// The image cannot be read: one line, nothing written.
	dir := filepath.Join(t.TempDir(), "out")
	code, _, errOut := runCLI(t, map[string]string{"CLOUDFLARE_CONTAINER_REGISTRY": "127.0.0.1:1"}, "render", "--mode", "container", "--out", dir,
		"--image", "127.0.0.1:1/lean@"+desc.Digest.String(), "--instance-type", "custom")
	if code != ExitFailure || !strings.Contains(errOut, "measuring 127.0.0.1:1/lean@") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Fatalf("unreadable image: exit %d: %q", code, errOut)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("render wrote %s before failing", dir)
	}
}

// A deprecated alias renders the type it now means, with deploy's warning.
func TestRenderDeprecatedAlias(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	code, _, stderr := run(t, "render", "--mode", "container", "--image", renderImage, "--out", dir, "--instance-type", "dev")
	if code != ExitOK || !strings.Contains(stderr, `warning: instance type "dev" is deprecated: it is now "lite"`) {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	cfg, err := os.ReadFile(filepath.Join(dir, "wrangler.jsonc"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(cfg, []byte(`"instance_type": "lite"`)) {
		t.Fatalf("wrangler.jsonc does not name lite:\n%s", cfg)
	}
}

// Render's input errors name the render flag through wrangler's typed field errors.
func TestRenderInputErrorNamesTheFlag(t *testing.T) {
	for _, tt := range []struct {
		opts       wrangler.Options
		flag, want string
	}{
		{wrangler.Options{Mode: "x"}, "mode", `--mode "x": use stub or container`},
		{wrangler.Options{Mode: wrangler.ModeStub, WorkerName: "Bad_Name"}, "name", "--name "},
		{wrangler.Options{Mode: wrangler.ModeStub, MaxInstances: -1}, "max-instances", "--max-instances "},
		{wrangler.Options{Mode: wrangler.ModeStub, Vars: map[string]string{"NOPE": "1"}}, "var", `--var "NOPE" is not a Worker setting`},
		{wrangler.Options{Mode: wrangler.ModeStub, UserConfig: []byte("{"), UserConfigName: "my.jsonc"}, "config", "--config my.jsonc is not JSONC"},
	} {
		_, err := wrangler.Render(t.TempDir(), tt.opts, "")
		err = renderInputError(err)
		var fe *FlagError
		if !errors.As(err, &fe) || fe.Flag != tt.flag || !strings.HasPrefix(err.Error(), tt.want) || exitCode(err) != ExitUsage {
			t.Errorf("%+v: %v, want a usage error for --%s starting %q", tt.opts, err, tt.flag, tt.want)
		}
	}
}
