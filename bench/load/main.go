// Command load puts the Worker's container entry point under load in workerd and checks every answer.
//
// It bundles the real Worker (worker/src/container.ts, rendered in container mode and bundled by the pinned
// wrangler with `deploy --dry-run`), starts a Lean server double (internal/sandbox/leandouble) and serves the bundle
// in the real workerd with LEAN_ORIGIN pointing at the double, the API key set and the limits on
// (MAX_BODY_BYTES, MAX_LEAN_TIMEOUT; the load stays within them). Then, in one run:
//
//   - direct: -clients clients send requests straight to the double for -direct-duration (the named peer)
//   - worker: the same clients send the same kind of requests through the Worker for -duration
//   - hop: the same clients alternate, -hop-duration each, between the no-hop peer (nohop.ts: the same
//     entry point with the instance's code run in the Worker instead of behind its Durable Object), the
//     Worker, the Worker and the peer; the throughput ratio is the Durable Object hop's cost
//
// Each request is `#eval A + B` with numbers of its own, so each answer must be 200, ok:true and exactly
// that request's sum: an answer meant for another request counts as mismatched. A 429 counts as limited,
// a request with no answer as lost, any other status as an error. It prints requests sent, answered,
// mismatched, errors, limited and lost, the throughput, p50/p95/p99 through the Worker, p50/p95 direct, and
// the latency the Worker adds (Worker minus direct); -json prints one object instead. It exits 1 when a
// request was lost, mismatched or answered with an error. Run it with `make load`.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/org/lean4-cf-action/bench/internal/benchcli"
)

func main() {
	o := Options{}
	flag.IntVar(&o.Clients, "clients", 200, "concurrent clients, each sending one request after another")
	flag.DurationVar(&o.Duration, "duration", 60*time.Second, "how long the clients send through the Worker")
	flag.DurationVar(&o.DirectDuration, "direct-duration", 10*time.Second, "how long the clients send straight to the Lean double (the peer)")
	flag.DurationVar(&o.HopDuration, "hop-duration", 5*time.Second, "how long each of four alternating slices (no-hop peer, Worker, Worker, peer) runs, for the Durable Object hop's cost (0 skips)")
	flag.DurationVar(&o.SerialDuration, "serial-duration", 3*time.Second, "how long one client alone sends straight and then through the Worker (the Worker's cost without queueing; 0 skips)")
	asJSON := flag.Bool("json", false, "print one JSON object with the figures instead of the report")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "load: unexpected argument %q: use flags only (-clients, -duration, -direct-duration, -serial-duration, -hop-duration, -json)\n", flag.Arg(0))
		os.Exit(2)
	}
	if o.Clients < 1 || o.Duration <= 0 || o.DirectDuration <= 0 || o.SerialDuration < 0 || o.HopDuration < 0 {
		fmt.Fprintln(os.Stderr, "load: -clients must be at least 1, -duration and -direct-duration above 0, -serial-duration and -hop-duration 0 or more")
		os.Exit(2)
	}
	if o.SerialDuration == 0 {
		o.SerialDuration = -1 // Options: negative skips the serial phases
	}
	if o.HopDuration == 0 {
		o.HopDuration = -1 // Options: negative skips the hop comparison
	}
	o.Progress = os.Stderr
	benchcli.Finish("load", *asJSON, func(ctx context.Context) (Report, error) { return Run(ctx, o) }, printReport, func(r Report) bool { return r.Pass })
}

func printReport(w io.Writer, r Report) {
	fmt.Fprintf(w, "\nWorker: container entry point in workerd, LEAN_ORIGIN -> Lean double; %s\n", r.Settings)
	fmt.Fprintf(w, "guards: %s\n\n", r.Guards)
	fmt.Fprintf(w, "%-7s %7s %9s %9s %9s %6s %7s %5s %9s %8s %8s %8s\n",
		"phase", "clients", "duration", "sent", "answered", "lost", "mismatch", "error", "limited", "req/s", "p50", "p95")
	phases := []Phase{r.Direct, r.Worker}
	if r.Serial != nil {
		phases = append(phases, r.Serial.Direct, r.Serial.Worker)
	}
	if r.Hop != nil {
		phases = append(phases, r.Hop.NoHop, r.Hop.Worker)
	}
	for _, p := range phases {
		fmt.Fprintf(w, "%-7s %7d %8.1fs %9d %9d %6d %7d %5d %9d %9.0f %7.2fms %7.2fms\n",
			p.Name, p.Clients, p.Seconds, p.Sent, p.Answered, p.Lost, p.Mismatched, p.Errors, p.Limited, p.Throughput, p.P50, p.P95)
	}
	fmt.Fprintf(w, "\nthrough the Worker: p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, %.0f req/s\n", r.Worker.P50, r.Worker.P95, r.Worker.P99, r.Worker.Throughput)
	fmt.Fprintf(w, "added by the Worker (Worker minus direct, %d clients): p50 %+.2f ms, p95 %+.2f ms\n", r.Clients, r.AddedP50, r.AddedP95)
	if r.Serial != nil {
		fmt.Fprintf(w, "added by the Worker (1 client, no queueing):   p50 %+.2f ms, p95 %+.2f ms\n", r.Serial.AddedP50, r.Serial.AddedP95)
	}
	if h := r.Hop; h != nil {
		fmt.Fprintf(w, "Durable Object hop (Worker vs no-hop peer, alternating, %d clients): %.2fx the peer's req/s (%.0f vs %.0f), p50 %+.2f ms, p95 %+.2f ms\n",
			r.Clients, h.Ratio, h.Worker.Throughput, h.NoHop.Throughput, h.AddedP50, h.AddedP95)
	}
	for _, e := range r.Examples {
		fmt.Fprintf(w, "  example: %s\n", e)
	}
	mark := "PASS"
	if !r.Pass {
		mark = "FAIL"
	}
	fmt.Fprintf(w, "%s  every request answered with its own result (%d through the Worker at %d clients, %d direct)\n", mark, r.Worker.Sent, r.Clients, r.Direct.Sent)
}
