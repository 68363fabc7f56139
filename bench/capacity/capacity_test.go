package main

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/org/lean4-cf-action/internal/instance"
	"github.com/org/lean4-cf-action/internal/sandbox/edge"
)

// TestReducedCapacity is the capacity benchmark in a few seconds (it runs in `make test`): 20 clients
// against one standard-1 instance, whose memory holds 15 runs. With admission control no instance may
// die and answers must flow; the plain proxy in the same conditions must kill it, which shows the
// scenario is hard enough to catch a regression.
func TestReducedCapacity(t *testing.T) {
	wd, _ := os.Getwd()
	o, err := Options{Root: edge.FindRoot(wd), Steps: []int{20}, StepDuration: 2 * time.Second, Warmup: 500 * time.Millisecond, Types: []string{"standard-1"}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	v, err := edge.Bundle(ctx, o.Root, filepath.Join(t.TempDir(), "bundle"), edge.BundleOptions{Name: "lean4-capacity", Vars: map[string]string{"MAX_LEAN_TIMEOUT": "60"}})
	if err != nil {
		t.Fatal(err)
	}
	s1, _, _ := instance.Lookup("standard-1")

	on, err := runScenario(ctx, o, v, plan{s1, 1, true, 0}, filepath.Join(t.TempDir(), "on"))
	if err != nil {
		t.Fatal(err)
	}
	st := on.Steps[0]
	t.Logf("admission on: %+v", st)
	if on.Deaths != 0 {
		t.Fatalf("with admission control an instance died %d times: %+v", on.Deaths, st)
	}
	if st.Answered == 0 || st.Limited == 0 || st.Failed+st.Wrong+st.TimedOut != 0 {
		t.Fatalf("with admission control: want answers, 429s past the queue and nothing else, got %+v", st)
	}

	off, err := runScenario(ctx, o, v, plan{s1, 1, false, 0}, filepath.Join(t.TempDir(), "off"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("admission off: %+v", off.Steps[0])
	if off.Deaths == 0 {
		t.Fatalf("the plain proxy survived 20 clients on standard-1 (memory for 15 runs): the scenario no longer tests anything: %+v", off.Steps[0])
	}
}

func TestClassify(t *testing.T) {
	ok := []byte(`{"ok": true, "stdout": "5\n", "stderr": "", "exitCode": 0, "elapsed": 0.1}`)
	cases := []struct {
		code     int
		body     []byte
		err      error
		want     outcome
		minPause time.Duration
		maxPause time.Duration
	}{
		{200, ok, nil, answered, 0, 0},
		{200, []byte(`{"ok": true, "stdout": "6\n"}`), nil, wrong, 0, 0},
		{429, nil, nil, limited, time.Second, 3 * time.Second},
		{503, nil, nil, waited, time.Second, 3 * time.Second},
		{504, nil, nil, timedOut, 0, 0},
		{502, nil, nil, failed, 100 * time.Millisecond, 100 * time.Millisecond},
		{0, nil, context.Canceled, failed, 100 * time.Millisecond, 100 * time.Millisecond},
	}
	for _, tc := range cases {
		kind, pause := classify(tc.code, tc.body, 2*time.Second, tc.err, 5)
		if kind != tc.want || pause < tc.minPause || pause > tc.maxPause {
			t.Errorf("classify(%d, %q) = %v, %v; want %v with a pause in [%v, %v]", tc.code, tc.body, kind, pause, tc.want, tc.minPause, tc.maxPause)
		}
	}
}

// TestCredit: an answer counts by the share of its life inside the window, so a batch answered just
// past the window's end still counts for the work done inside it.
func TestCredit(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	from, to := at(0), at(5000)
	cases := []struct {
		name      string
		sent, got int
		want      float64
	}{
		{"inside", 100, 500, 1},
		{"before", -900, -100, 0},
		{"after", 5100, 5400, 0},
		{"across the start", -300, 100, 0.25},
		{"across the end", 4800, 5200, 0.5},
		{"longer than the window", -1000, 6000, 5.0 / 7},
		{"no life", 200, 200, 0},
	}
	for _, tc := range cases {
		if got := credit(at(tc.sent), at(tc.got), from, to); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s: credit = %v, want %v", tc.name, got, tc.want)
		}
	}
}
