// Package cli holds lean4-cf's commands and flags, one file per command in the shape of cli/cli's
// pkg/cmd/<cmd>/<cmd>.go: XOptions (the flags, with their defaults), NewCmdX(f, runF) building the cobra
// command from a Factory, and runX(ctx, opts) doing the work; tests pass runF to see the parsed options.
// It is the only place where errors become exit codes.
package cli

import (
	"github.com/org/lean4-cf-action/internal/retry"

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes shared by every command.
const (
	ExitOK      = 0 // the command did what it was asked
	ExitFailure = 1 // a runtime failure: unusable image, failed stage, unreachable service
	ExitUsage   = 2 // bad flags, inputs or arguments; nothing was contacted or written
)

// Env is what a command may touch of the process: its streams and environment.
// Tests inject their own; main passes the real ones.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// Environ lists the environment child processes start from (wrangler); Getenv overrides its values.
	// Default: os.Environ.
	Environ func() []string
	// Clock paces every retry and poll (wrangler, push, verification, the wait for the new version). The
	// shipped binary leaves it zero (real time); only the test binary's entry point speeds it up, so
	// that the end-to-end drills keep their attempt counts without waiting real pauses.
	Clock retry.Clock
}

// UsageError marks an error caused by the user's input. It maps to exit code 2.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// usagef returns a UsageError with a formatted message.
func usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// ExitError carries an exit code for an error whose message was already shown
// (for example a preflight that printed its report and found the image does not fit).
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// Main runs lean4-cf with args and returns the process exit code.
func Main(ctx context.Context, args []string, env Env) int {
	f := NewFactory(env)
	env = f.Env
	root := newRootCmd(f)
	root.SetArgs(args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	code := exitCode(err)
	msg := describeError(oneLine(err.Error()))
	fmt.Fprintf(env.Stderr, "lean4-cf: %s\n", msg)
	return code
}

// oneLine keeps an error on one line: tools such as wrangler report errors over several.
func oneLine(s string) string {
	var parts []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, " ")
}

func exitCode(err error) int {
	var ue *UsageError
	var ee *ExitError
	switch {
	case errors.As(err, &ee):
		return ee.Code
	case errors.As(err, &ue):
		return ExitUsage
	case isFlagError(err):
		return ExitUsage
	default:
		return ExitFailure
	}
}

// isFlagError recognises cobra's unknown-command error, the one usage error that is not typed: pflag's
// reach flagError and the commands' arguments noArgs, and both return a *UsageError.
func isFlagError(err error) bool {
	return strings.HasPrefix(err.Error(), "unknown command ")
}

func newRootCmd(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "lean4-cf",
		Short: "Deploy the Lean 4 HTTP server to Cloudflare Containers and prove that it works",
		Long: `lean4-cf deploys the Lean 4 HTTP server (ghcr.io/ldct/lean4-server) to Cloudflare Containers:
it measures the image and fits it to an instance type, deploys a stub Worker, pushes the image to
Cloudflare's registry, promotes the container Worker, verifies it answers, and reports status.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(flagError)
	root.AddCommand(NewCmdPreflight(f, nil))
	root.AddCommand(NewCmdDeploy(f, nil))
	root.AddCommand(NewCmdVersion(f, nil))
	root.AddCommand(NewCmdStatus(f, nil))
	root.AddCommand(NewCmdRollback(f, nil))
	root.AddCommand(NewCmdSandbox(f, nil))
	root.AddCommand(NewCmdAction(f, nil))
	root.AddCommand(NewCmdRender(f, nil))
	root.AddCommand(NewCmdPreview(f))
	return root
}

// printJSON writes v as the indented JSON object a command's --json prints.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
