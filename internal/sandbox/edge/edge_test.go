package edge

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/org/lean4-cf-action/internal/cloudflare"
	"github.com/org/lean4-cf-action/internal/retry"
	"github.com/org/lean4-cf-action/internal/sandbox/cfapi"
	"github.com/org/lean4-cf-action/internal/sandbox/leandouble"
	"github.com/org/lean4-cf-action/internal/wrangler"
)

// project finds the pinned toolchain; `make toolchain` installs it.
func project(t *testing.T) (root string, tool wrangler.Tool) {
	t.Helper()
	root, _ = filepath.Abs(filepath.Join("..", "..", ".."))
	tool, err := wrangler.Locate(wrangler.LocateOptions{Getenv: func(string) string { return "" }, Roots: []string{root}})
	if err != nil || tool.Source != wrangler.SourceProject {
		t.Fatalf("the project's wrangler is missing (%v): run `make toolchain`", err)
	}
	return root, tool
}

type rig struct {
	api  *cfapi.Server
	edge *Edge
	root string
	tool wrangler.Tool
}

func newRig(t *testing.T, api cfapi.Options, lean func(string) leandouble.Options, tweak ...func(*Options)) *rig {
	t.Helper()
	root, tool := project(t)
	srv, err := cfapi.New(api)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{API: srv, Workerd: filepath.Join(root, "worker", "node_modules", "workerd", "bin", "workerd"), Lean: lean, StartTimeout: 20 * time.Second}
	for _, f := range tweak {
		f(&opts)
	}
	e, err := Start(opts)
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.Close()
		srv.Close()
	})
	return &rig{api: srv, edge: e, root: root, tool: tool}
}

// deploy renders the real Worker in mode and deploys it with the pinned wrangler.
func (r *rig) deploy(t *testing.T, o wrangler.Options) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), string(o.Mode))
	o.ManagedRegistry = r.api.RegistryHost()
	rendered, err := wrangler.Render(dir, o, filepath.Join(r.root, "worker", "node_modules"))
	if err != nil {
		t.Fatal(err)
	}
	env := os.Environ()
	for k, v := range r.api.Env() {
		env = append(env, k+"="+v)
	}
	env = append(env, "HOME="+t.TempDir())
	run := wrangler.Runner{Tool: r.tool, Dir: rendered.Dir, Env: env, AccountID: r.api.AccountID()}
	if _, err := run.Run(context.Background(), "deploy", "--config", rendered.Config, "--containers-rollout", "immediate"); err != nil {
		t.Fatal(err)
	}
}

// push puts a small image into the local registry, with credentials from the local API, and returns its
// digest-pinned reference.
func (r *rig) push(t *testing.T, repo string) string {
	t.Helper()
	api, err := cloudflare.New(cloudflare.Options{Token: r.api.Token(), AccountID: r.api.AccountID(), BaseURL: r.api.APIBase()})
	if err != nil {
		t.Fatal(err)
	}
	cr, err := api.RegistryCredentials(context.Background(), r.api.RegistryHost(), 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(r.api.RegistryHost() + "/" + r.api.AccountID() + "/" + repo + ":v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img, remote.WithAuth(&authn.Basic{Username: cr.Username, Password: cr.Password})); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return tag.Context().Digest(d.String()).String()
}

func (r *rig) do(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	resp, err := r.edge.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestEdgeServesTheStubFromWorkerd(t *testing.T) {
	r := newRig(t, cfapi.Options{}, nil)
	base := "https://lean.acct.workers.dev"
	if code, body := r.do(t, "GET", "https://lean."+r.api.Subdomain()+".workers.dev/health", ""); code != http.StatusNotFound || !strings.Contains(body, "nothing here") {
		t.Fatalf("before deploy: %d %q", code, body)
	}
	r.deploy(t, wrangler.Options{Mode: wrangler.ModeStub, WorkerName: "lean"})
	base = "https://lean." + r.api.Subdomain() + ".workers.dev"
	code, body := r.do(t, "GET", base+"/health", "")
	if code != 200 || !strings.Contains(body, `"stub":true`) && !strings.Contains(body, `"stub": true`) {
		t.Fatalf("GET /health = %d %q", code, body)
	}
	code, body = r.do(t, "POST", base+"/", "#eval 1 + 1")
	if code != 200 || !strings.Contains(body, `2\n`) {
		t.Fatalf("POST / = %d %q", code, body)
	}
	if code, _ := r.do(t, "GET", base+"/nope", ""); code != http.StatusNotFound {
		t.Fatalf("GET /nope = %d", code)
	}
	if n := r.edge.Processes(); n != 1 {
		t.Fatalf("%d workerd processes", n)
	}
}

func TestEdgeContainerWaitsForProvisioningThenAnswers(t *testing.T) {
	r := newRig(t, cfapi.Options{ProvisionDelay: 2 * time.Second, StartDelay: 300 * time.Millisecond}, nil)
	image := r.push(t, "lean")
	r.deploy(t, wrangler.Options{Mode: wrangler.ModeContainer, WorkerName: "lean", Image: image})
	base := "https://lean." + r.api.Subdomain() + ".workers.dev"
	code, body := r.do(t, "POST", base+"/", "#eval 1 + 1")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "no_instance") {
		t.Fatalf("while provisioning: %d %q", code, body)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, body = r.do(t, "POST", base+"/", "#eval 1 + 1")
		if code == 200 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code != 200 || !strings.Contains(body, `"stdout": "2\n"`) {
		t.Fatalf("after provisioning: %d %q", code, body)
	}
	if code, body = r.do(t, "GET", base+"/health", ""); code != 200 || !strings.Contains(body, `"version": "Lean (version 4.24.0`) {
		t.Fatalf("GET /health = %d %q", code, body)
	}
}

// A container that never listens: the request waits out the port timeout and gets the class's 500. On
// a sped-up Clock the wait passes that many times faster (2 minutes in 12 ms).
func TestEdgeContainerThatNeverListens(t *testing.T) {
	for _, tc := range []struct {
		name        string
		portTimeout time.Duration
		clock       retry.Clock
	}{
		{"real time", 500 * time.Millisecond, retry.Clock{}},
		{"sped-up clock", 2 * time.Minute, retry.Clock{Speedup: 10000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, cfapi.Options{}, func(string) leandouble.Options { return leandouble.Options{Fail: leandouble.FailNoPort} },
				func(o *Options) { o.PortTimeout, o.Clock = tc.portTimeout, tc.clock })
			image := r.push(t, "lean")
			r.deploy(t, wrangler.Options{Mode: wrangler.ModeContainer, WorkerName: "lean", Image: image})
			start := time.Now()
			code, body := r.do(t, "POST", "https://lean."+r.api.Subdomain()+".workers.dev/", "#eval 1 + 1")
			if code != http.StatusInternalServerError && code != http.StatusBadGateway || !strings.Contains(body, "not listening") {
				t.Fatalf("POST / = %d %q; want the platform's 500 'Failed to start container ... not listening'", code, body)
			}
			if took := time.Since(start); tc.clock.Speedup > 1 && took >= tc.portTimeout {
				t.Errorf("the request took %v: the port wait of %v was not sped up", took, tc.portTimeout)
			}
		})
	}
}

// A container that dies under a request: the client gets the Worker's JSON 502 that says so, not an
// empty body.
func TestEdgeContainerThatCrashes(t *testing.T) {
	r := newRig(t, cfapi.Options{}, func(string) leandouble.Options { return leandouble.Options{Fail: leandouble.FailCrash} })
	image := r.push(t, "lean")
	r.deploy(t, wrangler.Options{Mode: wrangler.ModeContainer, WorkerName: "lean", Image: image})
	code, body := r.do(t, "POST", "https://lean."+r.api.Subdomain()+".workers.dev/", "#eval 1 + 1")
	if code != http.StatusBadGateway || !strings.Contains(body, `"error":"container_disconnected"`) {
		t.Fatalf("POST / = %d %q; want 502 with error container_disconnected", code, body)
	}
}

func TestEdgeCloseLeavesNoProcess(t *testing.T) {
	r := newRig(t, cfapi.Options{}, nil)
	r.deploy(t, wrangler.Options{Mode: wrangler.ModeStub, WorkerName: "lean"})
	base := "https://lean." + r.api.Subdomain() + ".workers.dev"
	if code, _ := r.do(t, "GET", base+"/health", ""); code != 200 {
		t.Fatalf("GET /health = %d", code)
	}
	r.edge.mu.Lock()
	var pids []int
	for _, p := range r.edge.procs {
		pids = append(pids, p.cmd.Process.Pid)
	}
	r.edge.mu.Unlock()
	r.edge.Close()
	for _, pid := range pids {
		if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid))); err == nil {
			t.Fatalf("workerd %d outlived Close", pid)
		}
	}
}
