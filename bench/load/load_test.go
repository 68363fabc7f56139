package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/org/lean4-cf-action/internal/sandbox/cfapi"
	"github.com/org/lean4-cf-action/internal/sandbox/edge"
	"github.com/org/lean4-cf-action/internal/sandbox/leandouble"
)

// TestHarness runs the real Worker in workerd at a small scale against a healthy Lean double, one that
// answers wrongly and one that drops every request: the harness passes the first, and counts every
// request of the others as mismatched, or as an error (through the Worker) and lost (direct).
func TestHarness(t *testing.T) {
	wd, _ := os.Getwd()
	root := findRoot(wd)
	if root == "" {
		t.Fatal("worker/node_modules/workerd is missing: run `make toolchain`")
	}
	key := rand.Text()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	var peer cfapi.Version
	var peerErr error
	bundled := make(chan struct{})
	go func() {
		defer close(bundled)
		peer, peerErr = bundle(ctx, root, filepath.Join(t.TempDir(), "bundle-nohop"), key, &edge.Entry{Name: "nohop.ts", Source: noHopSource})
	}()
	v, err := bundle(ctx, root, filepath.Join(t.TempDir(), "bundle"), key, nil)
	<-bundled
	if err != nil {
		t.Fatal(err)
	}
	if peerErr != nil {
		t.Fatal(peerErr)
	}
	t.Logf("bundled both in %v", time.Since(start).Round(time.Millisecond))

	// The hop comparison runs where it can tell a working peer (healthy) from a broken one (dropped).
	tests := []struct {
		name  string
		fail  leandouble.Failure
		hop   bool
		check func(t *testing.T, r Report)
	}{
		{"healthy", leandouble.FailNone, true, func(t *testing.T, r Report) {
			if h := r.Hop; h == nil || h.NoHop.Sent == 0 || h.Worker.Sent == 0 || h.NoHop.Answered != h.NoHop.Sent || h.Ratio <= 0 {
				t.Fatalf("the hop comparison did not run cleanly: %+v", r.Hop)
			}
			if !r.Pass || r.Worker.Sent == 0 || r.Worker.Answered != r.Worker.Sent || r.Direct.Answered != r.Direct.Sent || r.Worker.Mismatched+r.Worker.Errors+r.Worker.Limited != 0 {
				t.Fatalf("a healthy run did not pass cleanly: %+v", r)
			}
			if r.Worker.P50 <= 0 || r.Worker.P95 < r.Worker.P50 || r.Worker.P99 < r.Worker.P95 || r.Direct.P50 <= 0 {
				t.Fatalf("percentiles out of order: %+v", r)
			}
			if !strings.Contains(r.Guards, "no key -> 401") || !strings.Contains(r.Guards, "1025-byte body -> 413") {
				t.Fatalf("guards = %q", r.Guards)
			}
		}},
		{"wrong answers", leandouble.FailWrong, false, func(t *testing.T, r Report) {
			if r.Pass || r.Worker.Sent == 0 || r.Worker.Mismatched != r.Worker.Sent || r.Direct.Mismatched != r.Direct.Sent || len(r.Examples) == 0 {
				t.Fatalf("wrong answers were not all counted as mismatched: %+v", r)
			}
		}},
		{"dropped requests", leandouble.FailCrash, true, func(t *testing.T, r Report) {
			if r.Pass || r.Worker.Sent == 0 || r.Worker.Errors != r.Worker.Sent || r.Direct.Lost != r.Direct.Sent || r.Direct.Answered != 0 {
				t.Fatalf("dropped requests were not counted as errors (Worker) and lost (direct): %+v", r)
			}
			if h := r.Hop; h == nil || h.NoHop.Sent == 0 || h.NoHop.Errors != h.NoHop.Sent {
				t.Fatalf("dropped requests were not counted as errors through the no-hop peer: %+v", r.Hop)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The guards' good request must pass, so the failure starts once they have run.
			o, err := Options{Clients: 10, Duration: time.Second, DirectDuration: 300 * time.Millisecond, SerialDuration: -1, HopDuration: 100 * time.Millisecond, Root: root, Lean: leandouble.Options{}}.withDefaults()
			if err != nil {
				t.Fatal(err)
			}
			o.afterGuards = func(l *leandouble.Server) { l.SetFailure(tt.fail) }
			p := &peer
			if !tt.hop {
				p = nil
			}
			r, err := runBundle(ctx, o, v, p, key, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, r)
			if b, _ := json.Marshal(r); strings.Contains(string(b), key) {
				t.Fatal("the report holds the API key")
			}
		})
	}
}

func TestClassify(t *testing.T) {
	const want = "5042\n"
	tests := []struct {
		name string
		code int
		body string
		out  outcome
	}{
		{"its own answer", 200, `{"ok": true, "stdout": "5042\n", "stderr": "", "exitCode": 0, "elapsed": 0.0}`, answeredOK},
		{"another request's answer", 200, `{"ok": true, "stdout": "6017\n", "stderr": "", "exitCode": 0, "elapsed": 0.0}`, mismatched},
		{"two answers run together", 200, `{"ok": true, "stdout": "5042\n6017\n"}`, mismatched},
		{"ok false", 200, `{"ok": false, "stdout": "5042\n"}`, mismatched},
		{"not JSON", 200, `5042`, mismatched},
		{"rate limited", 429, `{"ok": false, "error": "limited"}`, limited},
		{"origin unreachable", 502, `{"ok": false, "error": "origin_unreachable"}`, errored},
		{"unauthorized", 401, `{"ok": false}`, errored},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classify(tt.code, tt.body, want); got != tt.out {
				t.Fatalf("classify = %d, want %d", got, tt.out)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 200; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for q, want := range map[int]float64{50: 100, 95: 190, 99: 198} {
		if got := pct(ds, q); got != want {
			t.Errorf("p%d = %v, want %v", q, got, want)
		}
	}
	if pct(nil, 50) != 0 || pct(ds[:1], 99) != 1 {
		t.Error("edge cases")
	}
}
