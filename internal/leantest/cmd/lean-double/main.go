// Command lean-double serves the Lean server test double (internal/leantest) until SIGINT or SIGTERM.
// It prints its base URL as the first line of stdout, so a test harness can read where it listens.
//
//	lean-double [--addr 127.0.0.1:0] [--fail crash|hang|wrong] [--timeout 30s] [--version "Lean (version ...)"]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/org/lean4-cf-action/internal/leantest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	fail := flag.String("fail", "", "make POSTs fail: crash, hang or wrong")
	timeout := flag.Duration("timeout", 0, "default per-request timeout (LEAN_TIMEOUT; default 30s)")
	version := flag.String("version", "", "the Lean version GET /health reports")
	flag.Parse()
	switch leantest.Failure(*fail) {
	case leantest.FailNone, leantest.FailCrash, leantest.FailHang, leantest.FailWrong:
	default:
		fmt.Fprintf(os.Stderr, "lean-double: --fail %q: use crash, hang or wrong\n", *fail)
		os.Exit(2)
	}
	srv, err := leantest.Start(leantest.Options{Addr: *addr, Fail: leantest.Failure(*fail), Timeout: *timeout, Version: *version})
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
