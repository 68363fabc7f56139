package cli

import (
	"context"
	"errors"
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/org/lean4-cf-action/internal/action"
	"github.com/org/lean4-cf-action/internal/verify"
	"github.com/org/lean4-cf-action/internal/wrangler"
)

// parse runs cmd with args and returns its error; runF has captured the options by then.
func parse(t *testing.T, cmd *cobra.Command, args ...string) error {
	t.Helper()
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetFlagErrorFunc(flagError) // the root's, which a lone command does not inherit
	return cmd.ExecuteContext(context.Background())
}

// Flags become options, with their documented defaults, and nothing runs (cli/cli's runF pattern).
func TestDeployOptionsFromFlags(t *testing.T) {
	f := NewFactory(Env{Stdout: io.Discard, Stderr: io.Discard})
	for _, tt := range []struct {
		name    string
		args    []string
		want    DeployOptions
		wantErr string // the flag a *FlagError names; runF is not called
	}{
		{"defaults", nil, DeployOptions{stage: "all", image: defaultImage, name: wrangler.DefaultWorkerName, instanceType: "auto",
			maxInstances: wrangler.DefaultMaxInstances, instances: wrangler.DefaultInstances, sleepAfter: wrangler.DefaultSleepAfter, timeout: defaultTimeout}, ""},
		{"set", []string{"--stage", "stub", "--name", "lean", "--max-instances", "7", "--instances", "2", "--timeout", "1m", "--resolve", "a.example:443:127.0.0.1", "--json"},
			DeployOptions{stage: "stub", image: defaultImage, name: "lean", instanceType: "auto", maxInstances: 7, instances: 2,
				sleepAfter: wrangler.DefaultSleepAfter, timeout: time.Minute, resolve: []string{"a.example:443:127.0.0.1"}, json: true,
				rules: []verify.ResolveRule{{Host: "a.example", Port: 443, Addr: "127.0.0.1"}}}, ""},
		{"invalid", []string{"--instances", "0"}, DeployOptions{}, "instances"},
		{"unparsable", []string{"--max-instances", "five"}, DeployOptions{}, "max-instances"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got *DeployOptions
			err := parse(t, NewCmdDeploy(f, func(o *DeployOptions) error { got = o; return nil }), tt.args...)
			if tt.wantErr != "" {
				var fe *FlagError
				if !errors.As(err, &fe) || fe.Flag != tt.wantErr || exitCode(err) != ExitUsage || got != nil {
					t.Fatalf("err = %v (options %v), want a usage *FlagError for %s and no run", err, got, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.want.f = f
			got.images = nil
			if !reflect.DeepEqual(*got, tt.want) {
				t.Fatalf("options\n got %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

func TestStatusAndRollbackOptionsFromFlags(t *testing.T) {
	f := NewFactory(Env{Stdout: io.Discard, Stderr: io.Discard})
	var st *StatusOptions
	if err := parse(t, NewCmdStatus(f, func(o *StatusOptions) error { st = o; return nil }), "--name", "lean", "--json"); err != nil {
		t.Fatal(err)
	}
	if want := (StatusOptions{f: f, name: "lean", json: true}); *st != want {
		t.Errorf("status options %+v, want %+v", *st, want)
	}
	var rb *RollbackOptions
	if err := parse(t, NewCmdRollback(f, func(o *RollbackOptions) error { rb = o; return nil })); err != nil {
		t.Fatal(err)
	}
	if want := (RollbackOptions{f: f, name: wrangler.DefaultWorkerName, timeout: rollbackTimeout}); !reflect.DeepEqual(*rb, want) {
		t.Errorf("rollback defaults %+v, want %+v", *rb, want)
	}
	var pf *PreflightOptions
	if err := parse(t, NewCmdPreflight(f, func(o *PreflightOptions) error { pf = o; return nil }), "--instance-type", "lite", "--concurrency", "2"); err != nil {
		t.Fatal(err)
	}
	if pf.instanceType != "lite" || pf.concurrency != 2 || pf.image != defaultImage || pf.memRun != 256<<20 {
		t.Errorf("preflight options %+v", *pf)
	}
}

// Every flag input of the Action's table is a flag of each command it names, and its default is the
// flag's own (for the first command: rollback waits less by default, the Action passes its input).
func TestActionInputsAreFlags(t *testing.T) {
	f := NewFactory(Env{Stdout: io.Discard, Stderr: io.Discard})
	cmds := map[string]*cobra.Command{
		action.Deploy: NewCmdDeploy(f, nil), action.Preflight: NewCmdPreflight(f, nil),
		action.Status: NewCmdStatus(f, nil), action.Rollback: NewCmdRollback(f, nil), action.Preview: NewCmdPreviewDeploy(f, nil),
	}
	for _, in := range action.Inputs() {
		for i, c := range in.Commands {
			fl := cmds[c].Flags().Lookup(in.Flag)
			if fl == nil {
				t.Errorf("input %s: %s has no --%s", in.Name, c, in.Flag)
				continue
			}
			if i > 0 || in.Default == "" {
				continue
			}
			def := fl.DefValue
			if d, err := time.ParseDuration(in.Default); err == nil && fl.Value.Type() == "duration" {
				if fd, _ := time.ParseDuration(def); fd == d {
					def = in.Default
				}
			}
			if def != in.Default {
				t.Errorf("input %s: default %q, but %s --%s defaults to %q", in.Name, in.Default, c, in.Flag, fl.DefValue)
			}
		}
	}
}

// A flag error of the Action's command names the input; other errors pass unchanged.
func TestInputNamed(t *testing.T) {
	err := inputNamed(action.Deploy, flagErrorf("name", ` "Lean_Server" is not a Worker name`))
	var ie *action.InputError
	if !errors.As(err, &ie) || err.Error() != `input worker-name "Lean_Server" is not a Worker name` || exitCode(err) != ExitUsage {
		t.Fatalf("inputNamed = %v", err)
	}
	wrapped := &ExitError{Code: ExitFailure, Err: flagErrorf("config", ": gone")}
	if err := inputNamed(action.Deploy, wrapped); err.Error() != "input wrangler-config: gone" || exitCode(err) != ExitFailure {
		t.Fatalf("inputNamed kept code %d: %v", exitCode(err), err)
	}
	if err := inputNamed(action.Status, flagErrorf("to", " x")); err.Error() != "--to x" {
		t.Fatalf("a flag with no input was renamed: %v", err)
	}
}
