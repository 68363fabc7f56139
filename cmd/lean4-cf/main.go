// Command lean4-cf deploys the Lean 4 HTTP server to Cloudflare Containers and proves that it works.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/org/lean4-cf-action/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.Env{
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		Getenv: os.Getenv,
	})
	stop()
	os.Exit(code)
}
