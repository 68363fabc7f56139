// Command lean-double serves the Lean server test double (internal/sandbox/leandouble) until SIGINT or SIGTERM.
// It prints its base URL as the first line of stdout, so a test harness can read where it listens.
//
//	lean-double [--addr 127.0.0.1:0] [--fail crash|hang|wrong] [--timeout 30s] [--version "Lean (version ...)"]
//	            [--instance-type standard-1 [--run-work 250ms] [--cold-start 3s] [--scale 1]]
//
// --instance-type gives every instance (X-Lean4cf-Instance) that type's memory and vCPUs (leandouble.Budget).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/org/lean4-cf-action/internal/instance"
	"github.com/org/lean4-cf-action/internal/sandbox/leandouble"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	fail := flag.String("fail", "", "make POSTs fail: crash, hang or wrong")
	timeout := flag.Duration("timeout", 0, "default per-request timeout (LEAN_TIMEOUT; default 30s)")
	version := flag.String("version", "", "the Lean version GET /health reports")
	itype := flag.String("instance-type", "", "give each instance this type's memory and vCPUs (e.g. standard-1); default unlimited")
	runWork := flag.Duration("run-work", 0, "with --instance-type: one vCPU's time each evaluation needs alone")
	coldStart := flag.Duration("cold-start", 0, "with --instance-type: how long an instance that ran out of memory takes to answer again (default 3s)")
	scale := flag.Float64("scale", 1, "with --instance-type: run the model's time this many times faster")
	flag.Parse()
	var budget *leandouble.Budget
	if *itype != "" {
		t, _, err := instance.Lookup(*itype)
		if err != nil {
			fmt.Fprintf(os.Stderr, "lean-double: --instance-type: %v\n", err)
			os.Exit(2)
		}
		b := leandouble.BudgetFor(t)
		b.RunWork, b.ColdStart, b.Clock = *runWork, *coldStart, leandouble.Scaled(*scale)
		budget = &b
	}
	switch leandouble.Failure(*fail) {
	case leandouble.FailNone, leandouble.FailCrash, leandouble.FailHang, leandouble.FailWrong:
	default:
		fmt.Fprintf(os.Stderr, "lean-double: --fail %q: use crash, hang or wrong\n", *fail)
		os.Exit(2)
	}
	srv, err := leandouble.Start(leandouble.Options{Addr: *addr, Fail: leandouble.Failure(*fail), Timeout: *timeout, Version: *version, Budget: budget})
	if err != nil {
		fmt.Fprintf(os.Stderr, "lean-double: %v\n", err)
		os.Exit(1)
	}
	fmt.Println(srv.URL())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	<-ctx.Done()
	stop()
	srv.Close()
}
