package cli

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/org/lean4-cf-action/internal/preview"
	"github.com/org/lean4-cf-action/internal/wrangler"
)

// preview deploy takes deploy's flags with the preview's container defaults; bad input is a usage error
// before anything runs.
func TestPreviewDeployOptionsFromFlags(t *testing.T) {
	f := NewFactory(Env{Stdout: io.Discard, Stderr: io.Discard})
	type want struct {
		name, instanceType, sleepAfter string
		pr, maxInstances, maxPreviews  int
		json                           bool
	}
	for _, tt := range []struct {
		name    string
		args    []string
		want    want
		wantErr string
	}{
		{"defaults", []string{"--pr", "7"}, want{wrangler.DefaultWorkerName, preview.DefaultInstanceType, preview.DefaultSleepAfter, 7, preview.DefaultMaxInstances, preview.DefaultMaxPreviews, false}, ""},
		{"set", []string{"--pr", "9", "--name", "lean", "--max-instances", "2", "--sleep-after", "5m", "--instance-type", "basic", "--max-previews", "3", "--json"},
			want{"lean", "basic", "5m", 9, 2, 3, true}, ""},
		{"no pr", nil, want{}, "pr"},
		{"negative pr", []string{"--pr", "-1"}, want{}, "pr"},
		{"no room", []string{"--pr", "1", "--max-previews", "0"}, want{}, "max-previews"},
		{"bad name", []string{"--pr", "1", "--name", "Lean"}, want{}, "name"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got *PreviewDeployOptions
			err := parse(t, NewCmdPreviewDeploy(f, func(o *PreviewDeployOptions) error { got = o; return nil }), tt.args...)
			if wantFlagError(t, err, tt.wantErr, got != nil) {
				return
			}
			g := want{got.name, got.deploy.instanceType, got.deploy.sleepAfter, got.pr, got.deploy.maxInstances, got.maxPreviews, got.json}
			if g != tt.want {
				t.Fatalf("options = %+v, want %+v", g, tt.want)
			}
		})
	}
}

func TestPreviewDeleteOptionsFromFlags(t *testing.T) {
	f := NewFactory(Env{Stdout: io.Discard, Stderr: io.Discard})
	var got *PreviewDeleteOptions
	if err := parse(t, NewCmdPreviewDelete(f, func(o *PreviewDeleteOptions) error { got = o; return nil }), "--pr", "12", "--name", "lean"); err != nil {
		t.Fatal(err)
	}
	if got.pr != 12 || got.name != "lean" {
		t.Fatalf("options = %+v", got)
	}
	got = nil
	err := parse(t, NewCmdPreviewDelete(f, func(o *PreviewDeleteOptions) error { got = o; return nil }))
	wantFlagError(t, err, "pr", got != nil)
}

func TestPreviewListOptionsFromFlags(t *testing.T) {
	f := NewFactory(Env{Stdout: io.Discard, Stderr: io.Discard})
	for _, tt := range []struct {
		name     string
		args     []string
		wantName string
		wantJSON bool
		wantErr  string // the flag runPreviewList's validation names
	}{
		{"defaults", nil, wrangler.DefaultWorkerName, false, ""},
		{"set", []string{"--name", "lean", "--json"}, "lean", true, ""},
		{"bad name", []string{"--name", "Lean"}, "Lean", false, "name"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got *PreviewListOptions
			if err := parse(t, NewCmdPreviewList(f, func(o *PreviewListOptions) error { got = o; return nil }), tt.args...); err != nil {
				t.Fatal(err)
			}
			if got.name != tt.wantName || got.json != tt.wantJSON {
				t.Fatalf("options = %+v", got)
			}
			wantFlagError(t, got.validate(), tt.wantErr, false)
		})
	}
}

// prune needs --older-than from the command line; the Action's closed pull requests select instead, and
// the same validation accepts them.
func TestPreviewPruneOptionsFromFlags(t *testing.T) {
	f := NewFactory(Env{Stdout: io.Discard, Stderr: io.Discard})
	for _, tt := range []struct {
		name      string
		args      []string
		closed    bool // the Action sets the closed pull requests after parsing
		olderThan time.Duration
		wantErr   string
	}{
		{"older than", []string{"--older-than", "72h", "--name", "lean"}, false, 72 * time.Hour, ""},
		{"closed without an age", nil, true, 0, ""},
		{"closed and an age", []string{"--older-than", "1h"}, true, time.Hour, ""},
		{"neither", nil, false, 0, "older-than"},
		{"zero", []string{"--older-than", "0s"}, false, 0, "older-than"},
		{"zero with closed", []string{"--older-than", "0s"}, true, 0, "older-than"},
		{"negative", []string{"--older-than", "-1h"}, false, -time.Hour, "older-than"},
		{"bad name", []string{"--older-than", "1h", "--name", "Lean"}, false, time.Hour, "name"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got *PreviewPruneOptions
			if err := parse(t, NewCmdPreviewPrune(f, func(o *PreviewPruneOptions) error { got = o; return nil }), tt.args...); err != nil {
				t.Fatal(err)
			}
			if got.olderThan != tt.olderThan {
				t.Fatalf("olderThan = %s, want %s", got.olderThan, tt.olderThan)
			}
			if tt.closed {
				got.closed = closedNone{}
			}
			wantFlagError(t, got.validate(), tt.wantErr, false)
		})
	}
}

type closedNone struct{}

func (closedNone) Closed(context.Context, []int) (map[int]bool, error) { return nil, nil }

// wantFlagError checks err against flag: a usage *FlagError naming flag and no run when flag is set,
// else no error. It reports whether an error was expected.
func wantFlagError(t *testing.T, err error, flag string, ran bool) bool {
	t.Helper()
	if flag == "" {
		if err != nil {
			t.Fatal(err)
		}
		return false
	}
	var fe *FlagError
	if !errors.As(err, &fe) || fe.Flag != flag || exitCode(err) != ExitUsage || ran {
		t.Fatalf("err = %v (ran %v), want a usage *FlagError for --%s and no run", err, ran, flag)
	}
	return true
}
