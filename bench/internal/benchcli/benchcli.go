// Package benchcli is what the benchmark commands share: a context that SIGINT or SIGTERM ends, a work
// folder, the report printed as one JSON object or as text, and the exit status.
package benchcli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Finish runs the benchmark, prints its report (JSON with asJSON, else text) and exits: 1 when it failed
// to run or pass says it did not pass.
func Finish[R any](name string, asJSON bool, run func(ctx context.Context) (R, error), text func(io.Writer, R), pass func(R) bool) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	rep, err := run(ctx)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
	if asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		_ = enc.Encode(rep)
	} else {
		text(os.Stdout, rep)
	}
	if !pass(rep) {
		os.Exit(1)
	}
}

// WorkDir makes a temporary folder; remove it with the returned function.
func WorkDir(prefix string) (string, func(), error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", nil, fmt.Errorf("creating a work folder: %w", err)
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}
