package leandouble

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/org/lean4-cf-action/internal/instance"
	"github.com/org/lean4-cf-action/internal/retry"
)

// On a sped-up clock the double's pauses (IO.sleep, the request timeout, a Budget's cold start) pass
// that many times faster, with the same outcomes, and elapsed figures stay in the double's own time.
// raw gives up after 10 s, far below the 100 to 1000 s these would take in real time.
func TestSpedUpClock(t *testing.T) {
	fast := retry.Clock{Speedup: 10000}
	b := BudgetFor(instance.Type{MemoryMiB: 1024, VCPU: 1})
	b.RunWork = 100 * time.Second
	for _, tc := range []struct {
		name    string
		opts    Options
		req     string
		want    string  // in the answer
		minSecs float64 // least elapsed, in the double's time
	}{
		{"IO.sleep", Options{Clock: fast, Timeout: time.Hour}, post("#eval IO.sleep 200000\n#eval 1 + 1"), `"stdout": "2\n"`, 200},
		{"timeout", Options{Clock: fast}, post("#eval IO.sleep 1000000", "X-Lean-Timeout: 100"), "timed out after 100s", 0},
		{"budget work", Options{Clock: fast, Budget: &b, Timeout: time.Hour}, post("#eval 1 + 1"), `"stdout": "2\n"`, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, tc.opts)
			start := time.Now()
			got := raw(t, s, tc.req)
			if !strings.Contains(got, tc.want) {
				t.Fatalf("answer %q, want %q", got, tc.want)
			}
			m := regexp.MustCompile(`"elapsed": ([0-9.]+)`).FindStringSubmatch(got)
			if el, _ := strconv.ParseFloat(m[1], 64); el < tc.minSecs {
				t.Errorf("elapsed %v s, want at least %v s of the double's time", el, tc.minSecs)
			}
			t.Logf("took %v real", time.Since(start))
		})
	}
}
