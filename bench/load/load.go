package main

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	randv2 "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/org/lean4-cf-action/bench/internal/benchcli"
	"github.com/org/lean4-cf-action/internal/sandbox/cfapi"
	"github.com/org/lean4-cf-action/internal/sandbox/edge"
	"github.com/org/lean4-cf-action/internal/sandbox/leandouble"
)

// The Worker's limits during the load. Every load request is far within them: a body of at most 45 bytes
// (`#eval A + B` with A, B < 2^64) and X-Lean-Timeout 5.
const (
	maxBodyBytes   = 1024
	maxLeanTimeout = 10
	requestTimeout = 5 // X-Lean-Timeout of every load request
	maxConcurrent  = 1000
)

// Options configures a run. Zero values mean the documented defaults.
type Options struct {
	// Clients is how many clients send at once, each one request after another. Default 200.
	Clients int
	// Duration is how long the clients send through the Worker. Default 60 s.
	Duration time.Duration
	// DirectDuration is how long they send straight to the Lean double. Default 10 s.
	DirectDuration time.Duration
	// SerialDuration is how long one client alone sends, straight and then through the Worker, to show
	// the Worker's own cost without queueing. Default 3 s; negative skips it.
	SerialDuration time.Duration
	// HopDuration is how long each of four alternating slices runs (the no-hop peer, the Worker, the
	// Worker, the no-hop peer, all at Clients): the Durable Object hop's cost as a ratio measured under the
	// same load. Default 5 s; negative skips it.
	HopDuration time.Duration
	// RequestTimeout is how long a client waits for one answer before counting it lost. Default 30 s.
	RequestTimeout time.Duration
	// Lean configures the Lean double (e.g. a failure mode). Default: healthy.
	Lean leandouble.Options
	// Root is the lean4-cf checkout with `make toolchain` done. Default: found from the working directory up.
	Root string
	// Progress receives a line per step. Default: silent.
	Progress io.Writer

	// afterGuards, in tests, changes the double once the auth and limit checks have passed.
	afterGuards func(*leandouble.Server)
}

// Report is the outcome of a run; -json prints it.
type Report struct {
	Clients  int    `json:"clients"`
	Settings string `json:"settings"`
	Guards   string `json:"guards"`
	Direct   Phase  `json:"direct"`
	Worker   Phase  `json:"worker"`
	// AddedP50 and AddedP95 are the Worker's p50 and p95 minus the direct ones, in milliseconds.
	AddedP50 float64 `json:"addedP50Ms"`
	AddedP95 float64 `json:"addedP95Ms"`
	// Serial is the same with one client (no queueing), when it ran.
	Serial *Serial `json:"serial,omitempty"`
	// Hop is the Worker against its no-hop peer, when it ran.
	Hop *Hop `json:"hop,omitempty"`
	// Examples are a few failed requests, for a reader to see what went wrong.
	Examples []string `json:"examples,omitempty"`
	// Pass is true when no request of any phase was lost, mismatched or answered with an error.
	Pass bool `json:"pass"`
}

// Serial is the one-client pair of phases.
type Serial struct {
	Direct   Phase   `json:"direct"`
	Worker   Phase   `json:"worker"`
	AddedP50 float64 `json:"addedP50Ms"`
	AddedP95 float64 `json:"addedP95Ms"`
}

// Hop compares the Worker with its no-hop peer (nohop.ts: the same entry point with the instance's code,
// admission control included, run in the Worker instead of behind its Durable Object), in alternating
// slices (peer, Worker, Worker, peer) so drifting load from other work weighs on both alike.
type Hop struct {
	NoHop  Phase `json:"noHop"`
	Worker Phase `json:"worker"`
	// Ratio is the Worker's throughput over the peer's: what the Durable Object hop leaves.
	Ratio float64 `json:"ratio"`
	// AddedP50 and AddedP95 are the Worker's p50 and p95 minus the peer's, in milliseconds.
	AddedP50 float64 `json:"addedP50Ms"`
	AddedP95 float64 `json:"addedP95Ms"`
}

// Phase is what one phase's clients saw. Latencies are in milliseconds, over answered requests.
type Phase struct {
	Name       string  `json:"name"`
	Clients    int     `json:"clients"`
	Seconds    float64 `json:"seconds"`
	Sent       int64   `json:"sent"`
	Answered   int64   `json:"answered"`
	Lost       int64   `json:"lost"`
	Mismatched int64   `json:"mismatched"`
	Errors     int64   `json:"errors"`
	Limited    int64   `json:"limited"`
	Throughput float64 `json:"requestsPerSecond"`
	P50        float64 `json:"p50Ms"`
	P95        float64 `json:"p95Ms"`
	P99        float64 `json:"p99Ms"`
	examples   []string
}

func (p Phase) clean() bool { return p.Lost == 0 && p.Mismatched == 0 && p.Errors == 0 }

func (o Options) withDefaults() (Options, error) {
	if o.Clients <= 0 {
		o.Clients = 200
	}
	if o.Duration <= 0 {
		o.Duration = 60 * time.Second
	}
	if o.DirectDuration <= 0 {
		o.DirectDuration = 10 * time.Second
	}
	if o.SerialDuration == 0 {
		o.SerialDuration = 3 * time.Second
	}
	if o.HopDuration == 0 {
		o.HopDuration = 5 * time.Second
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 30 * time.Second
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Root == "" {
		wd, err := os.Getwd()
		if err != nil {
			return o, fmt.Errorf("finding the checkout: %w", err)
		}
		o.Root = findRoot(wd)
		if o.Root == "" {
			return o, fmt.Errorf("no worker/node_modules/workerd above %s: run `make toolchain` in the lean4-cf checkout", wd)
		}
	}
	return o, nil
}

func workerdPath(root string) string { return edge.WorkerdPath(root) }

func findRoot(dir string) string { return edge.FindRoot(dir) }

// Run bundles the Worker, starts the Lean double and workerd, and runs the direct and Worker phases.
func Run(ctx context.Context, o Options) (Report, error) {
	o, err := o.withDefaults()
	if err != nil {
		return Report{}, err
	}
	dir, remove, err := benchcli.WorkDir("lean4cf-load-")
	if err != nil {
		return Report{}, err
	}
	defer remove()
	key := rand.Text()
	fmt.Fprintln(o.Progress, "bundling the Worker (container entry point) with the pinned wrangler ...")
	v, err := bundle(ctx, o.Root, filepath.Join(dir, "bundle"), key, nil)
	if err != nil {
		return Report{}, err
	}
	var peer *cfapi.Version
	if o.HopDuration > 0 {
		fmt.Fprintln(o.Progress, "bundling the no-hop peer (the same sources, the instance's code in the Worker) ...")
		p, err := bundle(ctx, o.Root, filepath.Join(dir, "bundle-nohop"), key, &edge.Entry{Name: "nohop.ts", Source: noHopSource})
		if err != nil {
			return Report{}, err
		}
		peer = &p
	}
	return runBundle(ctx, o, v, peer, key, dir)
}

// runBundle runs the phases against a bundled Worker version and, when peer is set, the hop comparison
// against it; dir holds the workerd folders.
func runBundle(ctx context.Context, o Options, v cfapi.Version, peer *cfapi.Version, key, dir string) (Report, error) {
	lean, err := leandouble.Start(o.Lean)
	if err != nil {
		return Report{}, fmt.Errorf("starting the Lean double: %w", err)
	}
	defer lean.Close()
	proc, err := edge.RunVersion(workerdPath(o.Root), filepath.Join(dir, "workerd"), v, lean.URL())
	if err != nil {
		return Report{}, fmt.Errorf("starting the Worker in workerd: %w", err)
	}
	defer proc.Close()
	fmt.Fprintf(o.Progress, "workerd serves the Worker on %s, LEAN_ORIGIN=%s\n", proc.URL(), lean.URL())
	var peerProc *edge.Process
	if peer != nil {
		if peerProc, err = edge.RunVersion(workerdPath(o.Root), filepath.Join(dir, "workerd-nohop"), *peer, lean.URL()); err != nil {
			return Report{}, fmt.Errorf("starting the no-hop peer in workerd: %w", err)
		}
		defer peerProc.Close()
	}

	client := newClient(o.Clients, o.RequestTimeout)
	defer client.CloseIdleConnections()
	guards, err := checkGuards(ctx, client, proc.URL(), key)
	if err != nil {
		return Report{}, err
	}
	if peerProc != nil {
		if _, err := checkGuards(ctx, client, peerProc.URL(), key); err != nil {
			return Report{}, fmt.Errorf("the no-hop peer: %w", err)
		}
	}
	if o.afterGuards != nil {
		o.afterGuards(lean)
	}
	rep := Report{
		Clients:  o.Clients,
		Settings: fmt.Sprintf("LEAN_API_KEY set, MAX_BODY_BYTES=%d (load bodies <= 45 B), MAX_LEAN_TIMEOUT=%d (load sends X-Lean-Timeout: %d)", maxBodyBytes, maxLeanTimeout, requestTimeout),
		Guards:   guards,
	}
	var ids atomic.Uint64
	phases := []*Phase{&rep.Direct, &rep.Worker}
	if o.SerialDuration > 0 {
		fmt.Fprintf(o.Progress, "serial: 1 client for %v straight to the Lean double, then %v through the Worker ...\n", o.SerialDuration, o.SerialDuration)
		s := &Serial{
			Direct: runPhase(ctx, "direct", client, lean.URL(), key, 1, o.SerialDuration, &ids),
			Worker: runPhase(ctx, "worker", client, proc.URL(), key, 1, o.SerialDuration, &ids),
		}
		s.AddedP50, s.AddedP95 = round2(s.Worker.P50-s.Direct.P50), round2(s.Worker.P95-s.Direct.P95)
		rep.Serial = s
		phases = append(phases, &s.Direct, &s.Worker)
	}
	fmt.Fprintf(o.Progress, "direct: %d clients for %v straight to the Lean double ...\n", o.Clients, o.DirectDuration)
	rep.Direct = runPhase(ctx, "direct", client, lean.URL(), key, o.Clients, o.DirectDuration, &ids)
	fmt.Fprintf(o.Progress, "worker: %d clients for %v through the Worker ...\n", o.Clients, o.Duration)
	rep.Worker = runPhase(ctx, "worker", client, proc.URL(), key, o.Clients, o.Duration, &ids)
	if peerProc != nil {
		fmt.Fprintf(o.Progress, "hop: %d clients, %v each to the no-hop peer, the Worker, the Worker, the peer ...\n", o.Clients, o.HopDuration)
		var nohop, worker []sample
		for _, to := range []string{"nohop", "worker", "worker", "nohop"} {
			if to == "nohop" {
				nohop = append(nohop, runSlice(ctx, to, client, peerProc.URL(), key, o.Clients, o.HopDuration, &ids))
			} else {
				worker = append(worker, runSlice(ctx, to, client, proc.URL(), key, o.Clients, o.HopDuration, &ids))
			}
		}
		h := &Hop{NoHop: merge(nohop).phase(), Worker: merge(worker).phase()}
		if h.NoHop.Throughput > 0 {
			h.Ratio = round2(h.Worker.Throughput / h.NoHop.Throughput)
		}
		h.AddedP50, h.AddedP95 = round2(h.Worker.P50-h.NoHop.P50), round2(h.Worker.P95-h.NoHop.P95)
		rep.Hop = h
		phases = append(phases, &h.NoHop, &h.Worker)
	}
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("interrupted: %w", err)
	}
	if !proc.Alive() {
		return rep, fmt.Errorf("workerd exited during the load: %s", strings.TrimSpace(proc.Logs()))
	}
	if peerProc != nil && !peerProc.Alive() {
		return rep, fmt.Errorf("the no-hop peer's workerd exited during the load: %s", strings.TrimSpace(peerProc.Logs()))
	}
	rep.AddedP50 = round2(rep.Worker.P50 - rep.Direct.P50)
	rep.AddedP95 = round2(rep.Worker.P95 - rep.Direct.P95)
	rep.Pass = true
	for _, p := range phases {
		rep.Examples = append(rep.Examples, p.examples...)
		rep.Pass = rep.Pass && p.clean()
	}
	return rep, nil
}

// newClient keeps one connection per client open to workerd (the double closes each one, as the real
// server does), and never uses a proxy from the environment.
func newClient(clients int, timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        2 * clients,
		MaxIdleConnsPerHost: clients,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}}
}

// noHopSource is the no-hop peer's entry module (see Hop).
//
//go:embed nohop.ts
var noHopSource []byte

// bundle renders and bundles the Worker in container mode with the load's limits and the key, from entry
// when set (the no-hop peer) or else the container entry point. The double never runs out of anything, so
// admission control is set past the load (MAX_CONCURRENT above the clients): this benchmark measures the
// Worker's own cost; bench/capacity measures admission control.
func bundle(ctx context.Context, root, dir, key string, entry *edge.Entry) (cfapi.Version, error) {
	return edge.Bundle(ctx, root, dir, edge.BundleOptions{
		Name:  "lean4-load",
		Vars:  map[string]string{"MAX_BODY_BYTES": strconv.Itoa(maxBodyBytes), "MAX_LEAN_TIMEOUT": strconv.Itoa(maxLeanTimeout), "MAX_CONCURRENT": strconv.Itoa(maxConcurrent)},
		Key:   key,
		Entry: entry,
	})
}

// checkGuards shows that auth and limits are on: no key and a wrong key get 401, a body one byte over
// MAX_BODY_BYTES gets 413, and a good request gets its answer.
func checkGuards(ctx context.Context, c *http.Client, base, key string) (string, error) {
	checks := []struct {
		what, key, body string
		want            int
	}{
		{"no key", "", "#eval 1 + 1", http.StatusUnauthorized},
		{"wrong key", key + "x", "#eval 1 + 1", http.StatusUnauthorized},
		{fmt.Sprintf("%d-byte body", maxBodyBytes+1), key, "--" + strings.Repeat("x", maxBodyBytes-1), http.StatusRequestEntityTooLarge},
		{"the key", key, "#eval 1 + 1", http.StatusOK},
	}
	var seen []string
	for _, ch := range checks {
		code, body, err := post(ctx, c, base, ch.key, ch.body)
		if err != nil {
			return "", fmt.Errorf("checking auth and limits (%s): %w", ch.what, err)
		}
		if code != ch.want {
			return "", fmt.Errorf("checking auth and limits: %s got %d %q, want %d: the Worker's auth or limits are not on", ch.what, code, truncate(body), ch.want)
		}
		seen = append(seen, fmt.Sprintf("%s -> %d", ch.what, code))
	}
	return strings.Join(seen, ", "), nil
}

func post(ctx context.Context, c *http.Client, base, key, program string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/", strings.NewReader(program))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	req.Header.Set("X-Lean-Timeout", strconv.Itoa(requestTimeout))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", err
	}
	return resp.StatusCode, string(b), nil
}

// outcome classifies one request.
type outcome int

const (
	answeredOK outcome = iota
	lost
	mismatched
	errored
	limited
)

// classify checks an answer against the request's expected stdout.
func classify(code int, body, want string) outcome {
	switch code {
	case http.StatusOK:
		var a struct {
			OK     bool   `json:"ok"`
			Stdout string `json:"stdout"`
		}
		if json.Unmarshal([]byte(body), &a) != nil || !a.OK || a.Stdout != want {
			return mismatched
		}
		return answeredOK
	case http.StatusTooManyRequests:
		return limited
	default:
		return errored
	}
}

// runPhase runs clients for d, each sending `#eval A + B` with numbers of its own one after another;
// requests in flight when d ends are waited for.
func runPhase(ctx context.Context, name string, c *http.Client, base, key string, clients int, d time.Duration, ids *atomic.Uint64) Phase {
	return runSlice(ctx, name, c, base, key, clients, d, ids).phase()
}

// sample is what one run of clients saw, before it is summed up as a Phase.
type sample struct {
	name      string
	clients   int
	elapsed   time.Duration
	sent      int64
	counts    [5]int64
	latencies []time.Duration
	examples  []string
}

// merge adds up samples of the same clients (e.g. the slices of an alternating comparison).
func merge(parts []sample) sample {
	out := sample{name: parts[0].name, clients: parts[0].clients}
	for _, p := range parts {
		out.elapsed += p.elapsed
		out.sent += p.sent
		for i := range out.counts {
			out.counts[i] += p.counts[i]
		}
		out.latencies = append(out.latencies, p.latencies...)
		if len(out.examples) < 3 {
			out.examples = append(out.examples, p.examples[:min(len(p.examples), 3-len(out.examples))]...)
		}
	}
	return out
}

func (s sample) phase() Phase {
	p := Phase{Name: s.name, Clients: s.clients, examples: s.examples}
	p.Seconds = round2(s.elapsed.Seconds())
	p.Sent = s.sent
	p.Lost = s.counts[lost]
	p.Answered = p.Sent - p.Lost
	p.Mismatched = s.counts[mismatched]
	p.Errors = s.counts[errored]
	p.Limited = s.counts[limited]
	if s.elapsed > 0 {
		p.Throughput = round2(float64(p.Answered) / s.elapsed.Seconds())
	}
	sorted := slices.Sorted(slices.Values(s.latencies))
	p.P50, p.P95, p.P99 = pct(sorted, 50), pct(sorted, 95), pct(sorted, 99)
	return p
}

// runSlice runs clients for d, each sending `#eval A + B` with numbers of its own one after another;
// requests in flight when d ends are waited for.
func runSlice(ctx context.Context, name string, c *http.Client, base, key string, clients int, d time.Duration, ids *atomic.Uint64) sample {
	out := sample{name: name, clients: clients}
	var (
		mu     sync.Mutex
		wg     sync.WaitGroup
		counts [5]atomic.Int64
		sent   atomic.Int64
	)
	start := time.Now()
	stop := start.Add(d)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := randv2.New(randv2.NewPCG(uint64(i), uint64(start.UnixNano())))
			var own []time.Duration
			for time.Now().Before(stop) && ctx.Err() == nil {
				a := ids.Add(1) * 1000 // unique per request, so the sum is too
				b := rng.Uint64N(1000)
				want := strconv.FormatUint(a+b, 10) + "\n"
				sent.Add(1)
				t0 := time.Now()
				code, body, err := post(ctx, c, base, key, fmt.Sprintf("#eval %d + %d", a, b))
				lat := time.Since(t0)
				o := lost
				if err == nil {
					o = classify(code, body, want)
					own = append(own, lat)
				}
				counts[o].Add(1)
				if o != answeredOK {
					mu.Lock()
					if len(out.examples) < 3 {
						what := fmt.Sprintf("%s: #eval %d + %d: ", name, a, b)
						if err != nil {
							what += "no answer: " + err.Error()
						} else {
							what += fmt.Sprintf("%d %s, want stdout %q", code, truncate(body), want)
						}
						out.examples = append(out.examples, what)
					}
					mu.Unlock()
				}
			}
			mu.Lock()
			out.latencies = append(out.latencies, own...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	out.elapsed = time.Since(start)
	out.sent = sent.Load()
	for i := range counts {
		out.counts[i] = counts[i].Load()
	}
	return out
}

// pct is the nearest-rank percentile of sorted latencies, in milliseconds.
func pct(sorted []time.Duration, q int) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := (q*len(sorted)+99)/100 - 1
	return round2(float64(sorted[max(i, 0)]) / float64(time.Millisecond))
}

func round2(f float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'f', 2, 64), 64)
	return v
}

func truncate(s string) string {
	if len(s) > 160 {
		return s[:160] + "..."
	}
	return s
}
