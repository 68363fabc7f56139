// Command capacity measures what the deployed service survives: the real Worker bundle in workerd in
// front of a Lean double with an instance type's memory and vCPUs (internal/sandbox/leandouble Budget), with
// admission control on (MAX_CONCURRENT from the instance type) and off (MAX_CONCURRENT never reached: a
// plain proxy, the peer), at standard-1 and a larger type, and with three standard-1 instances whose
// refused requests try other instances (against INSTANCE_TRIES=1, random placement, the peer).
//
// Each step runs N closed-loop clients (1 -> 200) for -step; each request is `#eval A + B` costing
// -run-work of one vCPU alone, and its answer must be the sum. A client waits Retry-After after a 429 or
// 503. Per step it prints goodput (right answers/s, each answer counted by the share of its life inside
// the window, so batches of answers landing just inside or outside it do not move the figure) and its
// share of the model's capacity (what the vCPUs finish per second), p50/p95 of the answered requests,
// 429/503/504 counts, other failures and instance deaths (OOM), the mean runs in flight on the double,
// the share of the vCPUs the double kept busy (below 100 %, the vCPUs idled between runs) and workerd's
// share of one core (whether the Worker itself was the bottleneck). It exits 1 when admission control let an instance die or goodput past
// saturation fell below 90 % of capacity. Run it with `make bench-capacity`.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/org/lean4-cf-action/bench/internal/benchcli"
)

func main() {
	o := Options{}
	types := flag.String("types", "standard-1,standard-3", "instance types, comma-separated")
	steps := flag.String("steps", "1,2,5,10,20,50,100,200", "client counts, comma-separated")
	flag.IntVar(&o.Spread, "spread", 3, "instances of standard-1 in the spread scenario (admission on); 1 skips it")
	flag.DurationVar(&o.StepDuration, "step", 5*time.Second, "how long each step sends")
	flag.DurationVar(&o.RunWork, "run-work", 100*time.Millisecond, "one evaluation's CPU time on one vCPU alone")
	flag.DurationVar(&o.ColdStart, "cold-start", 3*time.Second, "how long an instance that ran out of memory takes to answer again")
	asJSON := flag.Bool("json", false, "print one JSON object instead of the tables")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "capacity: unexpected argument %q: use flags only\n", flag.Arg(0))
		os.Exit(2)
	}
	o.Types = strings.Split(*types, ",")
	for _, s := range strings.Split(*steps, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "capacity: -steps has %q: give client counts of 1 or more, e.g. 1,10,100\n", s)
			os.Exit(2)
		}
		o.Steps = append(o.Steps, n)
	}
	if o.Spread < 1 || o.StepDuration <= 0 || o.RunWork <= 0 || o.ColdStart <= 0 {
		fmt.Fprintln(os.Stderr, "capacity: -spread must be 1 or more, -step, -run-work and -cold-start above 0")
		os.Exit(2)
	}
	if o.Spread == 1 {
		o.Spread = -1
	}
	o.Progress = os.Stderr
	benchcli.Finish("capacity", *asJSON, func(ctx context.Context) (Report, error) { return Run(ctx, o) }, printReport, func(r Report) bool { return r.Pass })
}

func printReport(w io.Writer, r Report) {
	fmt.Fprintf(w, "\nEach request: #eval A + B costing %.0f ms of one vCPU alone; %.0f s per step; clients wait Retry-After after 429/503.\n", r.RunWorkMs, r.StepSec)
	for _, s := range r.Scenarios {
		fmt.Fprintf(w, "\n%s: MAX_CONCURRENT=%d (%s), MAX_QUEUE=%d; capacity %.1f evaluations/s\n", s.Name, s.MaxConcurrent, s.Choice, s.MaxQueue, s.Capacity)
		fmt.Fprintf(w, "%7s %9s %6s %8s %8s %6s %6s %6s %6s %6s %7s %6s %8s\n", "clients", "goodput/s", "of cap", "p50 ms", "p95 ms", "429", "503", "504", "failed", "deaths", "running", "busy", "workerd")
		for _, st := range s.Steps {
			fmt.Fprintf(w, "%7d %9.1f %5.0f%% %8.0f %8.0f %6d %6d %6d %6d %6d %7.1f %5.0f%% %7.0f%%\n", st.Clients, st.Goodput, 100*st.Ratio, st.P50, st.P95, st.Limited, st.Waited, st.TimedOut, st.Failed+st.Wrong, st.Deaths, st.Running, 100*st.Busy, 100*st.WorkerdCPU)
		}
	}
	fmt.Fprintln(w)
	for _, s := range r.Scenarios {
		if s.Admission && !s.Peer {
			fmt.Fprintf(w, "target (%s): deaths %d (want 0); lowest goodput past saturation %.0f%% of capacity (want >= 90%%)\n", s.Name, s.Deaths, 100*s.MinSaturatedRatio)
		} else {
			fmt.Fprintf(w, "peer (%s): deaths %d, goodput at %d clients %.0f%% of capacity\n", s.Name, s.Deaths, s.Steps[len(s.Steps)-1].Clients, 100*s.Steps[len(s.Steps)-1].Ratio)
		}
	}
	fmt.Fprintf(w, "pass: %v\n", r.Pass)
}
