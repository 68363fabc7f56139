package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/org/lean4-cf-action/bench/internal/benchcli"
	"github.com/org/lean4-cf-action/internal/instance"
	"github.com/org/lean4-cf-action/internal/sandbox/cfapi"
	"github.com/org/lean4-cf-action/internal/sandbox/edge"
	"github.com/org/lean4-cf-action/internal/sandbox/leandouble"
)

// unlimited is MAX_CONCURRENT for the peer without admission control: never reached, so the Worker
// forwards every request at once, as a plain proxy does.
const unlimited = 1000

// requestTimeout is the X-Lean-Timeout of every request; MAX_LEAN_TIMEOUT lets it through.
const requestTimeout = 30

// Options configures a run. Zero values mean the documented defaults.
type Options struct {
	// Types are the instance types measured, each with admission control on and off. Default
	// standard-1 and standard-3.
	Types []string
	// Spread, when above 1, adds a scenario of that many standard-1 instances (INSTANCES) with admission
	// control on, whose refused requests try other instances. Default 3; -1 skips it.
	Spread int
	// Steps are the client counts, each run for StepDuration. Default 1, 2, 5, 10, 20, 50, 100, 200.
	Steps []int
	// StepDuration is how long each step is measured. Default 5 s.
	StepDuration time.Duration
	// Warmup is how long each step sends before its measurement starts (answers in it are not
	// counted), so each window sees the steady state. Default 1 s.
	Warmup time.Duration
	// RunWork is one evaluation's CPU time on one vCPU alone (model time). Default 100 ms.
	RunWork time.Duration
	// ColdStart is how long an instance that ran out of memory takes to answer again. Default 3 s.
	ColdStart time.Duration
	// Root is the lean4-cf checkout with `make toolchain` done. Default: found from the working directory up.
	Root string
	// Progress receives a line per step. Default: silent.
	Progress io.Writer
}

// Report is the outcome of a run; -json prints it.
type Report struct {
	RunWorkMs float64    `json:"runWorkMs"`
	StepSec   float64    `json:"stepSeconds"`
	Scenarios []Scenario `json:"scenarios"`
	// Pass: with admission control, no instance died at any step and goodput past saturation stayed at
	// or above 90 % of the model's capacity.
	Pass bool `json:"pass"`
}

// Scenario is one instance type (and instance count) with admission control on or off.
type Scenario struct {
	Name          string  `json:"name"`
	Type          string  `json:"type"`
	Instances     int     `json:"instances"`
	Admission     bool    `json:"admission"`
	Peer          bool    `json:"peer"` // a comparison, not held to the targets
	MaxConcurrent int     `json:"maxConcurrent"`
	MaxQueue      int     `json:"maxQueue"`
	Choice        string  `json:"choice"`   // why MAX_CONCURRENT is what it is
	Capacity      float64 `json:"capacity"` // evaluations per second the vCPUs finish at full use
	Steps         []Step  `json:"steps"`
	Deaths        int     `json:"deaths"`
	// MinSaturatedRatio is the lowest goodput / capacity over the steps past saturation.
	MinSaturatedRatio float64 `json:"minSaturatedRatio"`
}

// Step is one client count.
type Step struct {
	Clients  int `json:"clients"`
	Answered int `json:"answered"` // 200 with the right sum
	Wrong    int `json:"wrong"`    // 200 with another answer
	Limited  int `json:"429"`
	Waited   int `json:"503"`
	TimedOut int `json:"504"`
	Failed   int `json:"failed"` // any other status, or no answer (a reset connection)
	// Goodput is right answers per second in the window, each answer counted by the share of its life
	// inside it (credit); Answered / the window is the same without that, rounded to whole answers.
	Goodput   float64 `json:"goodput"`
	Ratio     float64 `json:"ratio"` // goodput / capacity
	P50       float64 `json:"p50Ms"`
	P95       float64 `json:"p95Ms"`
	Deaths    int     `json:"deaths"`
	Saturated bool    `json:"saturated"` // clients at or past what the instances run at once
	// Running is the mean number of runs in flight on all instances, sampled every 20 ms.
	Running float64 `json:"running"`
	// Finished is how many runs the instances finished in the window (answers sent by the Lean server).
	Finished int64 `json:"finished"`
	// Busy is the share of the instances' vCPUs the double kept busy in the window (its model time): near
	// 1 with goodput lower, answers were lost between the double and the clients; lower, the vCPUs idled.
	Busy float64 `json:"busy"`
	busy float64 // vCPU-seconds the double delivered in the window
	// WorkerdCPU is the share of one core workerd used in the step (it runs the Worker and the
	// instances' Durable Objects on one thread): near 1, the Worker itself is the bottleneck.
	WorkerdCPU float64 `json:"workerdCPU"`
}

func (o Options) withDefaults() (Options, error) {
	if len(o.Types) == 0 {
		o.Types = []string{"standard-1", "standard-3"}
	}
	if o.Spread == 0 {
		o.Spread = 3
	}
	if len(o.Steps) == 0 {
		o.Steps = []int{1, 2, 5, 10, 20, 50, 100, 200}
	}
	if o.StepDuration <= 0 {
		o.StepDuration = 5 * time.Second
	}
	if o.Warmup <= 0 {
		o.Warmup = time.Second
	}
	if o.RunWork <= 0 {
		o.RunWork = 100 * time.Millisecond
	}
	if o.ColdStart <= 0 {
		o.ColdStart = 3 * time.Second
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	for _, name := range o.Types {
		if _, _, err := instance.Lookup(name); err != nil {
			return o, fmt.Errorf("-types: %w", err)
		}
	}
	if o.Root == "" {
		wd, err := os.Getwd()
		if err != nil {
			return o, fmt.Errorf("finding the checkout: %w", err)
		}
		if o.Root = edge.FindRoot(wd); o.Root == "" {
			return o, fmt.Errorf("no worker/node_modules/workerd above %s: run `make toolchain` in the lean4-cf checkout", wd)
		}
	}
	return o, nil
}

// plan is a scenario before it runs.
type plan struct {
	typ       instance.Type
	instances int
	admission bool
	tries     int // INSTANCE_TRIES; 0: the Worker's default (3)
}

func (o Options) plans() []plan {
	var out []plan
	for _, name := range o.Types {
		t, _, _ := instance.Lookup(name)
		out = append(out, plan{t, 1, true, 0}, plan{t, 1, false, 0})
	}
	if o.Spread > 1 {
		t, _, _ := instance.Lookup("standard-1")
		// Refused requests tried on up to three instances, and the peer: one random pick only.
		out = append(out, plan{t, o.Spread, true, 0}, plan{t, o.Spread, true, 1})
	}
	return out
}

// Run bundles the Worker once and measures every scenario.
func Run(ctx context.Context, o Options) (Report, error) {
	o, err := o.withDefaults()
	if err != nil {
		return Report{}, err
	}
	dir, remove, err := benchcli.WorkDir("lean4cf-capacity-")
	if err != nil {
		return Report{}, err
	}
	defer remove()
	fmt.Fprintln(o.Progress, "bundling the Worker (container entry point) with the pinned wrangler ...")
	v, err := edge.Bundle(ctx, o.Root, filepath.Join(dir, "bundle"), edge.BundleOptions{Name: "lean4-capacity", Vars: map[string]string{"MAX_LEAN_TIMEOUT": "60"}})
	if err != nil {
		return Report{}, err
	}
	rep := Report{RunWorkMs: ms(o.RunWork), StepSec: o.StepDuration.Seconds(), Pass: true}
	for i, p := range o.plans() {
		sc, err := runScenario(ctx, o, v, p, filepath.Join(dir, fmt.Sprintf("workerd-%d", i)))
		if err != nil {
			return rep, err
		}
		rep.Scenarios = append(rep.Scenarios, sc)
		if sc.Admission && !sc.Peer && (sc.Deaths > 0 || sc.MinSaturatedRatio < 0.9) {
			rep.Pass = false
		}
	}
	return rep, nil
}

func runScenario(ctx context.Context, o Options, v cfapi.Version, p plan, dir string) (Scenario, error) {
	c := instance.CapacityOf(p.typ, 0)
	sc := Scenario{Type: p.typ.Name, Instances: p.instances, Admission: p.admission, MaxConcurrent: unlimited, MaxQueue: 0,
		Capacity: float64(p.instances) * p.typ.VCPU / o.RunWork.Seconds(), MinSaturatedRatio: math.Inf(1)}
	if p.admission {
		sc.MaxConcurrent, sc.MaxQueue = c.MaxConcurrent, c.MaxQueue
		sc.Choice = fmt.Sprintf("min(memory ceiling %d, %d runs/vCPU x %g vCPU = %d)", c.MemoryRuns, instance.RunsPerVCPU, p.typ.VCPU, c.CPURuns)
	} else {
		sc.Choice = fmt.Sprintf("never reached: a plain proxy (memory ceiling %d)", c.MemoryRuns)
	}
	sc.Name = fmt.Sprintf("%s x%d, admission %s", p.typ.Name, p.instances, map[bool]string{true: "on", false: "off"}[p.admission])
	if p.tries > 0 {
		sc.Name += fmt.Sprintf(", INSTANCE_TRIES=%d (random placement)", p.tries)
		sc.Peer = true
	}
	b := leandouble.BudgetFor(p.typ)
	b.RunWork, b.ColdStart = o.RunWork, o.ColdStart
	lean, err := leandouble.Start(leandouble.Options{Budget: &b, Timeout: requestTimeout * time.Second})
	if err != nil {
		return sc, fmt.Errorf("starting the Lean double: %w", err)
	}
	defer lean.Close()
	vars := map[string]string{"INSTANCES": strconv.Itoa(p.instances), "MAX_CONCURRENT": strconv.Itoa(sc.MaxConcurrent)}
	if p.admission {
		vars["MAX_QUEUE"] = strconv.Itoa(sc.MaxQueue)
	}
	if p.tries > 0 {
		vars["INSTANCE_TRIES"] = strconv.Itoa(p.tries)
	}
	proc, err := edge.RunVersion(edge.WorkerdPath(o.Root), dir, edge.WithVars(v, vars), lean.URL())
	if err != nil {
		return sc, fmt.Errorf("starting the Worker in workerd: %w", err)
	}
	defer proc.Close()
	fmt.Fprintf(o.Progress, "%s: MAX_CONCURRENT=%d (%s), capacity %.1f/s\n", sc.Name, sc.MaxConcurrent, sc.Choice, sc.Capacity)
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 256, DisableCompression: true}}
	defer client.CloseIdleConnections()
	for _, n := range o.Steps {
		before, cpuBefore, at := lean.Deaths(), cpuSeconds(proc.Pid()), time.Now()
		st := runStep(ctx, client, proc.URL(), n, o.Warmup, o.StepDuration, func() (int, int64, float64) {
			running, finished, busy := 0, int64(0), 0.0
			for _, is := range lean.Instances() {
				running += is.Running
				finished += is.Runs
				busy += is.Busy
			}
			return running, finished, busy
		})
		st.Busy = round2(st.busy / (float64(p.instances) * p.typ.VCPU * o.StepDuration.Seconds()))
		st.Deaths = lean.Deaths() - before
		if cpuBefore >= 0 {
			st.WorkerdCPU = round2((cpuSeconds(proc.Pid()) - cpuBefore) / time.Since(at).Seconds())
		}
		st.Ratio = round2(st.Goodput / sc.Capacity)
		// Past saturation: the clients can keep every vCPU busy and every slot taken.
		st.Saturated = n >= p.instances*min(sc.MaxConcurrent, int(math.Ceil(p.typ.VCPU))+1)
		if st.Saturated && p.admission && !sc.Peer {
			sc.MinSaturatedRatio = math.Min(sc.MinSaturatedRatio, st.Ratio)
		}
		sc.Deaths += st.Deaths
		sc.Steps = append(sc.Steps, st)
		fmt.Fprintf(o.Progress, "  %3d clients: goodput %.1f/s (%.0f%%), p50 %.0f ms, p95 %.0f ms, 429 %d, 503 %d, 504 %d, failed %d, wrong %d, deaths %d, running %.1f, finished %d (answered %d), vCPU busy %.0f%%, workerd CPU %.0f%%\n",
			n, st.Goodput, 100*st.Ratio, st.P50, st.P95, st.Limited, st.Waited, st.TimedOut, st.Failed, st.Wrong, st.Deaths, st.Running, st.Finished, st.Answered, 100*st.Busy, 100*st.WorkerdCPU)
		if err := ctx.Err(); err != nil {
			return sc, fmt.Errorf("interrupted: %w", err)
		}
	}
	if math.IsInf(sc.MinSaturatedRatio, 1) {
		sc.MinSaturatedRatio = 0
	}
	if !proc.Alive() {
		return sc, fmt.Errorf("workerd exited during the run: %s", strings.TrimSpace(proc.Logs()))
	}
	return sc, nil
}

// drainLimit bounds how long a step waits, after its window, for the answers still on their way: longer
// than QUEUE_TIMEOUT (10 s) plus a run, so every admitted request gets its answer.
const drainLimit = 15 * time.Second

// credit is the share of an answered request's life [sent, got] that fell inside the window [from, to].
// Summed over the answers it is the work the clients received in the window, with no rounding to whole
// answers: runs admitted together finish together (processor sharing of equal work), so a step's answers
// arrive in batches of MAX_CONCURRENT, and counting only the answers that land inside the window moves
// goodput by a whole batch (8 % of standard-1's capacity in a 5 s window) depending on where the window
// edges fall. Requests in flight at the window's end are waited for, so their share inside counts.
func credit(sent, got, from, to time.Time) float64 {
	life := got.Sub(sent)
	if life <= 0 {
		return 0
	}
	if got.After(to) {
		got = to
	}
	if sent.Before(from) {
		sent = from
	}
	in := got.Sub(sent)
	if in <= 0 {
		return 0
	}
	return float64(in) / float64(life)
}

// runStep runs n closed-loop clients for warmup + d and measures the last d: each client sends
// `#eval A + B`, checks the sum, and after a 429 or 503 waits its Retry-After with jitter (between half
// and one and a half times it, as well-behaved clients do, so refused clients do not all come back at
// once) before the next request. Counts and latencies are of the answers that arrive in the window;
// goodput is the answered requests' credit in it (see credit), the requests in flight at its end being
// waited for up to drainLimit.
func runStep(ctx context.Context, c *http.Client, base string, n int, warmup, d time.Duration, sample func() (running int, finished int64, busy float64)) Step {
	from := time.Now().Add(warmup)
	to := from.Add(d)
	reqCtx, cancelReqs := context.WithDeadline(ctx, to.Add(drainLimit))
	defer cancelReqs()
	ctx, cancel := context.WithDeadline(ctx, to)
	defer cancel()
	var mu sync.Mutex
	st := Step{Clients: n}
	var latencies []time.Duration
	var credits float64
	var wg, clients sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		samples, sum := 0, 0
		var first int64 = -1
		var firstBusy float64
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				_, last, lastBusy := sample()
				mu.Lock()
				if samples > 0 {
					st.Running = round2(float64(sum) / float64(samples))
					st.Finished = last - first
					st.busy = lastBusy - firstBusy
				}
				mu.Unlock()
				return
			case now := <-tick.C:
				if !now.Before(from) {
					r, f, b := sample()
					if first < 0 {
						first, firstBusy = f, b
					}
					samples++
					sum += r
				}
			}
		}
	}()
	for range n {
		clients.Add(1)
		go func() {
			defer clients.Done()
			for ctx.Err() == nil {
				a, b := rand.Uint32N(1<<20), rand.Uint32N(1<<20)
				started := time.Now()
				code, body, retry, err := post(reqCtx, c, base, fmt.Sprintf("#eval %d + %d", a, b))
				got := time.Now()
				if reqCtx.Err() != nil {
					return // cut off past the drain limit: not counted
				}
				kind, pause := classify(code, body, retry, err, uint64(a)+uint64(b))
				mu.Lock()
				if kind == answered {
					credits += credit(started, got, from, to)
				}
				if !got.Before(from) && !got.After(to) { // answers in the warm-up set the pace but are not counted
					st.count(kind)
					if kind == answered {
						latencies = append(latencies, got.Sub(started))
					}
				}
				mu.Unlock()
				if pause > 0 {
					select {
					case <-ctx.Done():
					case <-time.After(pause):
					}
				}
			}
		}()
	}
	clients.Wait()
	wg.Wait()
	st.Goodput = round2(credits / d.Seconds())
	slices.Sort(latencies)
	st.P50, st.P95 = quantileMs(latencies, 0.50), quantileMs(latencies, 0.95)
	return st
}

// outcome is what one request got.
type outcome int

const (
	answered outcome = iota
	wrong
	limited
	waited
	timedOut
	failed
)

// classify names an answer and how long the client pauses after it: Retry-After with jitter after a
// 429 or 503, a moment after a failure (so a dead instance is not hammered), nothing otherwise.
func classify(code int, body []byte, retry time.Duration, err error, want uint64) (outcome, time.Duration) {
	jittered := time.Duration(float64(retry) * (0.5 + rand.Float64()))
	switch {
	case err != nil:
		return failed, 100 * time.Millisecond
	case code == http.StatusOK && sumOf(body) == want:
		return answered, 0
	case code == http.StatusOK:
		return wrong, 0
	case code == http.StatusTooManyRequests:
		return limited, jittered
	case code == http.StatusServiceUnavailable:
		return waited, jittered
	case code == http.StatusGatewayTimeout:
		return timedOut, 0
	default:
		return failed, 100 * time.Millisecond
	}
}

func (st *Step) count(k outcome) {
	switch k {
	case answered:
		st.Answered++
	case wrong:
		st.Wrong++
	case limited:
		st.Limited++
	case waited:
		st.Waited++
	case timedOut:
		st.TimedOut++
	default:
		st.Failed++
	}
}

func post(ctx context.Context, c *http.Client, base, program string) (code int, body []byte, retry time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/", strings.NewReader(program))
	if err != nil {
		return 0, nil, 0, err
	}
	req.Header.Set("X-Lean-Timeout", strconv.Itoa(requestTimeout))
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, 0, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	if s, e := strconv.Atoi(resp.Header.Get("Retry-After")); e == nil && s > 0 {
		retry = time.Duration(s) * time.Second
	} else {
		retry = time.Second
	}
	return resp.StatusCode, body, retry, err
}

// sumOf reads the number an `#eval A + B` answer printed, or MaxUint64 when it is not one.
func sumOf(body []byte) uint64 {
	var a struct {
		OK     bool   `json:"ok"`
		Stdout string `json:"stdout"`
	}
	if json.Unmarshal(body, &a) != nil || !a.OK {
		return math.MaxUint64
	}
	n, err := strconv.ParseUint(strings.TrimSuffix(a.Stdout, "\n"), 10, 64)
	if err != nil {
		return math.MaxUint64
	}
	return n
}

// quantileMs is the q-quantile of sorted latencies in milliseconds (nearest rank).
func quantileMs(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(q*float64(len(sorted)))) - 1
	return round2(ms(sorted[max(rank, 0)]))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// cpuSeconds is the user and system CPU time of a process (Linux /proc), or -1 when it cannot be read.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// The fields after the command name (which may hold spaces) start after the last ')'.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return -1
	}
	utime, err1 := strconv.ParseFloat(f[11], 64)
	stime, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	const ticksPerSecond = 100 // USER_HZ on Linux
	return (utime + stime) / ticksPerSecond
}
