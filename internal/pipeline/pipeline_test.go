package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/org/lean4-cf-action/internal/report"
)

// world is a fake of everything the pipeline touches; it records calls in order.
type world struct {
	calls []string

	exists      bool   // the Worker exists before the run
	liveVersion string // its version
	liveImage   string // its container application's image ("" for a stub-only Worker)
	liveIsStub  bool   // the live version is a stub although the application exists (a rollback to the stub)

	tokenErr    error
	fits        bool
	pushFits    bool
	stubErr     error
	readyErrs   []error // WaitReady answers, in order; nil entries succeed
	rollbackErr error
	oldServing  int // how many Serving checks still see an old instance

	deployErr  error                     // DeployContainer's answer
	onWait     func()                    // called by WaitReady before it answers
	onWaitFor  func(WaitPolicy)          // called by WaitReady with the policy it was given
	onRollback func(ctx context.Context) // called by Rollback
}

func newWorld() *world { return &world{fits: true, pushFits: true} }

func (w *world) log(f string, a ...any) { w.calls = append(w.calls, fmt.Sprintf(f, a...)) }

func (w *world) VerifyToken(context.Context) error { w.log("verify-token"); return w.tokenErr }
func (w *world) Worker(_ context.Context, name string) (string, bool, error) {
	w.log("worker %s", name)
	return w.liveVersion, w.exists, nil
}
func (w *world) WorkersDevURL(_ context.Context, name string) (string, error) {
	w.log("url %s", name)
	return "https://" + name + ".acct.workers.dev", nil
}
func (w *world) DeleteWorker(_ context.Context, name string) error {
	w.log("delete %s", name)
	return nil
}
func (w *world) HasContainers(_ context.Context, _, version string) (bool, error) {
	return version == w.liveVersion && w.liveImage != "" && !w.liveIsStub, nil
}
func (w *world) Preflight(context.Context) (Preflight, error) {
	w.log("preflight")
	pf := Preflight{Image: "src", Digest: "sha256:abc", InstanceType: "standard-1", Fits: w.fits}
	if !w.fits {
		pf.Reason = "needs 9 GB, has 8 GB"
	}
	return pf, nil
}
func (w *world) DeployStub(_ context.Context, name string) (Deployed, error) {
	w.log("deploy-stub %s", name)
	return Deployed{URL: "https://" + name + ".acct.workers.dev", VersionID: "stub-v"}, nil
}
func (w *world) DeployContainer(_ context.Context, s ContainerSpec) (Deployed, error) {
	w.log("deploy-container %s %s %s max=%d", s.Name, s.Image, s.InstanceType, s.MaxInstances)
	if w.deployErr != nil {
		return Deployed{}, w.deployErr
	}
	return Deployed{URL: "https://" + s.Name + ".acct.workers.dev", VersionID: "new-v"}, nil
}
func (w *world) Rollback(ctx context.Context, name, version, image string) error {
	w.log("rollback %s %s %s", name, version, image)
	if w.onRollback != nil {
		w.onRollback(ctx)
	}
	return w.rollbackErr
}
func (w *world) Application(_ context.Context, name string) (Status, bool, error) {
	w.log("application %s", name)
	return Status{ApplicationID: "app-1", State: "ready", Instances: 1, Image: w.liveImage, Version: 2}, true, nil
}
func (w *world) Instances(_ context.Context, appID string) ([]Instance, error) {
	w.log("instances %s", appID)
	if w.oldServing > 0 {
		w.oldServing--
		return []Instance{{ID: "i1", State: "running", Version: 1}, {ID: "i2", State: "running", Version: 2}}, nil
	}
	return []Instance{{ID: "i2", State: "running", Version: 2}}, nil
}
func (w *world) Push(_ context.Context, name string) (Pushed, error) {
	w.log("push %s", name)
	p := Pushed{Image: "registry.local/acct/" + name + "@sha256:abc", BlobsPushed: 3, BytesPushed: 100, Fits: w.pushFits}
	if !w.pushFits {
		p.Reason = "too big"
	}
	return p, nil
}
func (w *world) CheckStub(_ context.Context, url string) error {
	w.log("check-stub %s", url)
	return w.stubErr
}
func (w *world) WaitReady(_ context.Context, url string, policy WaitPolicy) (Ready, error) {
	w.log("wait-ready %s", url)
	if w.onWait != nil {
		w.onWait()
	}
	if w.onWaitFor != nil {
		w.onWaitFor(policy)
	}
	var err error
	if len(w.readyErrs) > 0 {
		err, w.readyErrs = w.readyErrs[0], w.readyErrs[1:]
	}
	if err != nil {
		return Ready{}, err
	}
	return Ready{LeanVersion: "Lean (version 4.24.0)", Attempts: 3, ColdStart: report.Ms(4 * time.Second)}, nil
}
func (w *world) MeasureLatency(_ context.Context, url string, n int) (Latency, error) {
	w.log("latency %s %d", url, n)
	return Latency{N: n, P50: report.Ms(time.Millisecond), P95: report.Ms(2 * time.Millisecond)}, nil
}

func (w *world) pipeline() *Pipeline {
	return &Pipeline{Preflighter: w, Account: w, Deployer: w, Pusher: w, Verifier: w, Containers: w}
}

func opts(stage string) Options {
	return Options{Stage: stage, Name: "lean", Container: ContainerSpec{InstanceType: "standard-1", MaxInstances: 5, Instances: 1, SleepAfter: "2m"}, LatencyRequests: 3,
		Wait: WaitPolicy{InitialInterval: time.Millisecond}}
}

func TestRun(t *testing.T) {
	u := "https://lean.acct.workers.dev"
	tests := []struct {
		name        string
		setup       func(w *world)
		stage       string
		wantCalls   []string
		wantOutcome string
		wantErr     string // substring; "" = success
		wantFailed  string // stage that failed
	}{
		{
			name:  "first deploy",
			setup: func(*world) {},
			wantCalls: []string{"verify-token", "preflight", "worker lean", "deploy-stub lean", "check-stub " + u, "push lean",
				"deploy-container lean registry.local/acct/lean@sha256:abc standard-1 max=5", "wait-ready " + u, "application lean", "instances app-1", "wait-ready " + u, "latency " + u + " 3", "application lean"},
			wantOutcome: "deployed",
		},
		{
			name: "redeploy keeps the stub off the production name",
			setup: func(w *world) {
				w.exists, w.liveVersion, w.liveImage = true, "old-v", "registry.local/acct/lean@sha256:old"
			},
			wantCalls: []string{"verify-token", "preflight", "worker lean", "application lean", "deploy-stub lean-stub", "check-stub https://lean-stub.acct.workers.dev",
				"delete lean-stub", "push lean", "deploy-container lean registry.local/acct/lean@sha256:abc standard-1 max=5", "wait-ready " + u,
				"application lean", "instances app-1", "wait-ready " + u, "latency " + u + " 3", "application lean"},
			wantOutcome: "deployed",
		},
		{
			name:  "an old instance still answering is not the new version",
			setup: func(w *world) { w.oldServing = 2 },
			wantCalls: []string{"verify-token", "preflight", "worker lean", "deploy-stub lean", "check-stub " + u, "push lean",
				"deploy-container lean registry.local/acct/lean@sha256:abc standard-1 max=5", "wait-ready " + u, "application lean", "instances app-1", "wait-ready " + u, "application lean", "instances app-1",
				"wait-ready " + u, "application lean", "instances app-1", "wait-ready " + u, "latency " + u + " 3", "application lean"},
			wantOutcome: "deployed",
		},
		{
			name: "invalid token writes nothing",
			setup: func(w *world) {
				w.tokenErr = errors.New("verifying the API token: Invalid API Token: check CLOUDFLARE_API_TOKEN")
			},
			wantCalls:   []string{"verify-token"},
			wantOutcome: "failed", wantErr: "preflight stage: verifying the API token: Invalid API Token: check CLOUDFLARE_API_TOKEN", wantFailed: StagePreflight,
		},
		{
			name:        "image that does not fit writes nothing",
			setup:       func(w *world) { w.fits = false },
			wantCalls:   []string{"verify-token", "preflight"},
			wantOutcome: "failed", wantErr: "needs 9 GB", wantFailed: StagePreflight,
		},
		{
			name:        "stage preflight stops there",
			setup:       func(*world) {},
			stage:       StagePreflight,
			wantCalls:   []string{"verify-token", "preflight"},
			wantOutcome: "stopped-after-preflight",
		},
		{
			name:        "stage stub stops there",
			setup:       func(*world) {},
			stage:       StageStub,
			wantCalls:   []string{"verify-token", "preflight", "worker lean", "deploy-stub lean", "check-stub " + u},
			wantOutcome: "stopped-after-stub",
		},
		{
			name: "a side stub that fails its check is still deleted",
			setup: func(w *world) {
				w.exists, w.liveVersion, w.stubErr = true, "old-v", errors.New("GET /health answered 500")
			},
			wantCalls: []string{"verify-token", "preflight", "worker lean", "application lean", "deploy-stub lean-stub",
				"check-stub https://lean-stub.acct.workers.dev", "delete lean-stub"},
			wantOutcome: "failed", wantErr: "answered 500", wantFailed: StageStub,
		},
		{
			name:        "measured too big while pushing: no promotion",
			setup:       func(w *world) { w.pushFits = false },
			wantCalls:   []string{"verify-token", "preflight", "worker lean", "deploy-stub lean", "check-stub " + u, "push lean"},
			wantOutcome: "failed", wantErr: "too big", wantFailed: StagePush,
		},
		{
			name: "redeploy that fails verification rolls back and proves the old version answers",
			setup: func(w *world) {
				w.exists, w.liveVersion, w.liveImage = true, "old-v", "registry.local/acct/lean@sha256:old"
				w.readyErrs = []error{errors.New("POST / answered 3\\n"), nil}
			},
			wantCalls: []string{"verify-token", "preflight", "worker lean", "application lean", "deploy-stub lean-stub", "check-stub https://lean-stub.acct.workers.dev",
				"delete lean-stub", "push lean", "deploy-container lean registry.local/acct/lean@sha256:abc standard-1 max=5", "wait-ready " + u,
				"rollback lean old-v registry.local/acct/lean@sha256:old", "wait-ready " + u},
			wantOutcome: "rolled-back", wantErr: "answered 3", wantFailed: StagePromote,
		},
		{
			// The application outlives a Worker rollback to the stub: what must answer after this
			// rollback is decided by the version returned to, which has no containers.
			name: "a redeploy over a stub version with an application rolls back to the stub and checks the stub",
			setup: func(w *world) {
				w.exists, w.liveVersion, w.liveImage, w.liveIsStub = true, "stub-old", "registry.local/acct/lean@sha256:old", true
				w.readyErrs = []error{errors.New("POST / answered 3\\n"), errors.New("GET /health has no Lean version: the stub answers")}
			},
			wantCalls: []string{"verify-token", "preflight", "worker lean", "application lean", "deploy-stub lean-stub", "check-stub https://lean-stub.acct.workers.dev",
				"delete lean-stub", "push lean", "deploy-container lean registry.local/acct/lean@sha256:abc standard-1 max=5", "wait-ready " + u,
				"rollback lean stub-old registry.local/acct/lean@sha256:old", "check-stub " + u},
			wantOutcome: "rolled-back", wantErr: "answered 3", wantFailed: StagePromote,
		},
		{
			name:  "a container that answers once and then crashes is reported as such",
			setup: func(w *world) { w.readyErrs = []error{nil, errors.New("POST / answered 502: container_disconnected")} },
			wantCalls: []string{"verify-token", "preflight", "worker lean", "deploy-stub lean", "check-stub " + u, "push lean",
				"deploy-container lean registry.local/acct/lean@sha256:abc standard-1 max=5", "wait-ready " + u, "application lean", "instances app-1", "wait-ready " + u,
				"rollback lean stub-v ", "check-stub " + u},
			wantOutcome: "rolled-back", wantFailed: StagePromote,
			wantErr: "the Lean server answered, then stopped answering (the new image's container crashed or was stopped): POST / answered 502: container_disconnected",
		},
		{
			name:  "first deploy that fails verification leaves the verified stub serving",
			setup: func(w *world) { w.readyErrs = []error{errors.New("timed out")} },
			wantCalls: []string{"verify-token", "preflight", "worker lean", "deploy-stub lean", "check-stub " + u, "push lean",
				"deploy-container lean registry.local/acct/lean@sha256:abc standard-1 max=5", "wait-ready " + u, "rollback lean stub-v ", "check-stub " + u},
			wantOutcome: "rolled-back", wantErr: "timed out", wantFailed: StagePromote,
		},
		{
			name: "a failed rollback is reported as failed",
			setup: func(w *world) {
				w.exists, w.liveVersion = true, "old-v"
				w.readyErrs = []error{errors.New("timed out")}
				w.rollbackErr = errors.New("API 500")
			},
			wantCalls: []string{"verify-token", "preflight", "worker lean", "application lean", "deploy-stub lean-stub", "check-stub https://lean-stub.acct.workers.dev",
				"delete lean-stub", "push lean", "deploy-container lean registry.local/acct/lean@sha256:abc standard-1 max=5", "wait-ready " + u,
				"rollback lean old-v "},
			wantOutcome: "failed", wantErr: "timed out", wantFailed: StagePromote,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld()
			tt.setup(w)
			var events []Event
			o := opts(tt.stage)
			o.Progress = func(e Event) { events = append(events, e) }
			res, err := w.pipeline().Run(context.Background(), o)
			if got, want := strings.Join(w.calls, "\n"), strings.Join(tt.wantCalls, "\n"); got != want {
				t.Fatalf("calls:\n%s\nwant:\n%s", got, want)
			}
			if res.Outcome != tt.wantOutcome {
				t.Errorf("outcome = %q, want %q", res.Outcome, tt.wantOutcome)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				return
			}
			var se *StageError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), tt.wantErr) || se.Stage != tt.wantFailed {
				t.Fatalf("error = %v, want a StageError of stage %s containing %q", err, tt.wantFailed, tt.wantErr)
			}
			if res.Error == "" {
				t.Error("the result does not carry the error")
			}
			if len(events) == 0 {
				t.Error("no progress events")
			}
		})
	}
}

// AfterStub runs once the stub answers (on a first deploy, the Worker exists under its name), before the
// push writes anything; its error fails the stub stage and stops the run with nothing removed.
func TestAfterStub(t *testing.T) {
	u := "https://lean.acct.workers.dev"
	refused := errors.New("no room")
	for _, tc := range []struct {
		name        string
		exists      bool
		err         error
		stage       string
		wantCalls   []string
		wantOutcome string
	}{
		{"first deploy", false, nil, "all", []string{"verify-token", "preflight", "worker lean", "deploy-stub lean", "check-stub " + u, "after-stub", "push lean"}, "deployed"},
		{"stopped after the stub", false, nil, "stub", []string{"verify-token", "preflight", "worker lean", "deploy-stub lean", "check-stub " + u, "after-stub"}, "stopped-after-stub"},
		{"refused", false, refused, "all", []string{"verify-token", "preflight", "worker lean", "deploy-stub lean", "check-stub " + u, "after-stub"}, "failed"},
		{"refused on a redeploy: the side stub still goes", true, refused, "all",
			[]string{"verify-token", "preflight", "worker lean", "application lean", "deploy-stub lean-stub", "check-stub https://lean-stub.acct.workers.dev", "after-stub", "delete lean-stub"}, "failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld()
			w.exists, w.liveVersion, w.liveImage = tc.exists, "old-v", "registry.local/acct/lean@sha256:old"
			o := opts(tc.stage)
			o.AfterStub = func(context.Context) error { w.log("after-stub"); return tc.err }
			res, err := w.pipeline().Run(context.Background(), o)
			if !errors.Is(err, tc.err) || res.Outcome != tc.wantOutcome {
				t.Fatalf("err = %v, outcome %q; want %v, %q", err, res.Outcome, tc.err, tc.wantOutcome)
			}
			if n := len(tc.wantCalls); len(w.calls) < n || !slices.Equal(w.calls[:n], tc.wantCalls) || (tc.err != nil && len(w.calls) != n) {
				t.Fatalf("calls = %v, want them to start with %v", w.calls, tc.wantCalls)
			}
			var se *StageError
			if tc.err != nil && (!errors.As(err, &se) || se.Stage != StageStub) {
				t.Fatalf("err = %v, want a stub-stage failure", err)
			}
		})
	}
}

func TestAutoInstanceTypeIsPreflightsChoice(t *testing.T) {
	w := newWorld()
	o := opts("all")
	o.Container.InstanceType = "auto"
	if _, err := w.pipeline().Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	want := "deploy-container lean registry.local/acct/lean@sha256:abc standard-1 max=5"
	if !strings.Contains(strings.Join(w.calls, "\n"), want) {
		t.Fatalf("calls = %v, want %q", w.calls, want)
	}
}

func TestRunRecordsStageTimings(t *testing.T) {
	w := newWorld()
	p := w.pipeline()
	tick := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	p.Now = func() time.Time { tick = tick.Add(time.Second); return tick }
	res, err := p.Run(context.Background(), opts("all"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range res.Stages {
		names = append(names, s.Name)
		if s.Duration.D() < time.Second || s.Status != "ok" {
			t.Errorf("stage %s: %+v", s.Name, s)
		}
	}
	if got := strings.Join(names, ","); got != "preflight,stub,push,promote,status" {
		t.Fatalf("stages = %s", got)
	}
	if res.Ready == nil || res.Ready.ColdStart.D() <= 0 || res.Latency == nil || res.Latency.N != 3 || res.Status == nil {
		t.Fatalf("result = %+v", res)
	}
}

// A run cancelled during promotion (SIGTERM) still puts the previous version back, on a context that is
// not cancelled but bounded by CancelGrace, and reports the cancelled stage.
func TestCancelledPromotionRollsBackWithinGrace(t *testing.T) {
	w := newWorld()
	w.exists, w.liveVersion, w.liveImage = true, "old-v", "registry.local/acct/lean@sha256:old"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	waits := 0
	w.onWait = func() {
		if waits++; waits == 1 {
			cancel()
			w.readyErrs = []error{context.Canceled}
		}
	}
	var rbErr error
	var rbDeadline time.Time
	w.onRollback = func(ctx context.Context) { rbErr, rbDeadline = ctx.Err(), deadlineOf(ctx) }
	o := opts("all")
	o.CancelGrace = 5 * time.Second
	start := time.Now()
	res, err := w.pipeline().Run(ctx, o)
	var se *StageError
	if !errors.As(err, &se) || se.Stage != StagePromote || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v; want the promote stage cancelled", err)
	}
	if rbErr != nil {
		t.Fatalf("the rollback ran on a cancelled context: %v", rbErr)
	}
	if rbDeadline.IsZero() || rbDeadline.After(start.Add(6*time.Second)) {
		t.Fatalf("rollback deadline %v; want within the 5 s grace", rbDeadline)
	}
	if res.Outcome != "rolled-back" || !res.RolledBack {
		t.Fatalf("outcome %q rolledBack %v", res.Outcome, res.RolledBack)
	}
	if st := res.Stages[len(res.Stages)-2]; st.Name != StagePromote || !strings.HasPrefix(st.Detail, "cancelled") {
		t.Fatalf("promote stage = %+v; want its detail to say it was cancelled", st)
	}
}

func deadlineOf(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

// A promotion whose deploy fails before wrangler reports a URL still probes the Worker after the
// rollback: at its workers.dev URL, not at "".
func TestFailedPromoteDeployRollsBackAndProbesTheWorkerURL(t *testing.T) {
	w := newWorld()
	w.exists, w.liveVersion, w.liveImage = true, "old-v", "registry.local/acct/lean@sha256:old"
	w.deployErr = errors.New("wrangler deploy failed: Error modifying application")
	res, err := w.pipeline().Run(context.Background(), opts("all"))
	if err == nil || !res.RolledBack {
		t.Fatalf("err %v, rolledBack %v; want a failed promotion, rolled back", err, res.RolledBack)
	}
	tail := strings.Join(w.calls[len(w.calls)-3:], " | ")
	want := "url lean | rollback lean old-v registry.local/acct/lean@sha256:old | wait-ready https://lean.acct.workers.dev"
	if tail != want {
		t.Fatalf("last calls %q; want %q", tail, want)
	}
}

// --timeout bounds the whole promote wait: each WaitReady gets what is left of one deadline, not the
// whole timeout again, and the run ends when it is used up. In a synctest bubble every wait uses half of
// what it is given, at no real cost.
func TestPromoteWaitHasOneDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		w.oldServing = 1000 // an old instance keeps answering
		var given []time.Duration
		w.onWaitFor = func(policy WaitPolicy) {
			given = append(given, policy.Timeout)
			time.Sleep(policy.Timeout / 2) // it answers halfway through what it was given
		}
		o := opts("all")
		o.Wait.Timeout = 4 * time.Minute
		res, err := w.pipeline().Run(t.Context(), o)
		if err == nil || !strings.Contains(err.Error(), "never served within 4m0s") {
			t.Fatalf("err = %v; want the wait to end at its 4m deadline", err)
		}
		if !res.RolledBack {
			t.Errorf("not rolled back: %+v", res)
		}
		var total time.Duration
		for _, g := range given { // the rollback (to the first deploy's stub) waits for no Lean answer
			total += g / 2
		}
		if len(given) < 3 || given[1] >= given[0] {
			t.Fatalf("WaitReady was given %v; want each pass only what is left of the 4m", given)
		}
		if total > o.Wait.Timeout {
			t.Fatalf("the promote waits took %s in all (given %v); want at most the 4m timeout", total, given)
		}
	})
}

// The serving decision: every running instance runs the application's version, and one at least runs.
func TestServesVersion(t *testing.T) {
	for _, tc := range []struct {
		name       string
		rows       []Instance
		want       bool
		wantDetail string
	}{
		{"one running at the version", []Instance{{ID: "a", State: "running", Version: 3}}, true, ""},
		{"others not running are ignored", []Instance{{ID: "a", State: "running", Version: 3}, {ID: "b", State: "stopped", Version: 2}, {ID: "c", State: "inactive"}}, true, ""},
		{"an old instance still runs", []Instance{{ID: "a", State: "running", Version: 3}, {ID: "b", State: "running", Version: 2}}, false, "instance b runs application version 2, the application is at 3"},
		{"none running", []Instance{{ID: "a", State: "provisioning", Version: 3}}, false, "no instance of application version 3 runs yet"},
		{"no instances", nil, false, "no instance of application version 3 runs yet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, detail := servesVersion(3, tc.rows)
			if ok != tc.want || detail != tc.wantDetail {
				t.Fatalf("servesVersion = %v %q, want %v %q", ok, detail, tc.want, tc.wantDetail)
			}
		})
	}
}

// The wait for the new version pauses 1 s, 2 s, 4 s ... (at most 10 s) between checks, on the clock the
// pipeline is given: in a synctest bubble the pauses are exact and cost no real time.
func TestWaitNewImagePauses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		w.oldServing = 5
		var checks []time.Duration
		start := time.Now()
		w.onWait = func() { checks = append(checks, time.Since(start)) }
		o := opts("all")
		o.Wait.InitialInterval = time.Second
		if _, err := w.pipeline().Run(t.Context(), o); err != nil {
			t.Fatal(err)
		}
		// WaitReady before each check, then once more after the new version serves.
		want := []time.Duration{0, time.Second, 3 * time.Second, 7 * time.Second, 15 * time.Second, 25 * time.Second, 25 * time.Second}
		if fmt.Sprint(checks) != fmt.Sprint(want) {
			t.Fatalf("WaitReady at %v, want %v", checks, want)
		}
	})
}

// An old instance that never leaves ends the wait at the timeout, with what was still missing.
func TestWaitNewImageTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		w.oldServing = 1 << 30
		o := opts("all")
		o.Wait.InitialInterval, o.Wait.Timeout = time.Second, time.Minute
		start := time.Now()
		_, err := w.pipeline().Run(t.Context(), o)
		if err == nil || !strings.Contains(err.Error(), "the new version never served within 1m0s: instance i1 runs application version 1, the application is at 2") {
			t.Fatalf("err = %v", err)
		}
		if took := time.Since(start); took > time.Minute {
			t.Fatalf("gave up after %v, past the 1m timeout", took)
		}
	})
}
