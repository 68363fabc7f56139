// Command lean4-cf deploys the Lean 4 HTTP server to Cloudflare Containers and proves that it works.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/org/lean4-cf-action/internal/cli"
)

func main() { os.Exit(run()) }

// run runs lean4-cf on the process's arguments and streams and returns its exit code.
func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return cli.Main(ctx, os.Args[1:], cli.Env{
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		Getenv: os.Getenv,
	})
}
