// Command lean4-cf deploys the Lean 4 HTTP server to Cloudflare Containers and proves that it works.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/org/lean4-cf-action/internal/cli"
	"github.com/org/lean4-cf-action/internal/retry"
)

func main() { os.Exit(run(retry.Clock{})) }

// run runs lean4-cf on the process's arguments and streams and returns its exit code. The shipped binary
// always runs on the real clock; only the test binary's entry point (teeMain) passes a faster one.
func run(clock retry.Clock) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return cli.Main(ctx, os.Args[1:], cli.Env{
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		Getenv: os.Getenv,
		Clock:  clock,
	})
}
