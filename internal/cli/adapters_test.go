package cli

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/org/lean4-cf-action/internal/pipeline"
	"github.com/org/lean4-cf-action/internal/wrangler"
)

func TestTransientWrangler(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		want bool
	}{
		{"Generic Error", true},
		{"A request to the Cloudflare API (/accounts/a/workers/scripts/x) failed. 503 Service Unavailable", true},
		{"This version is not yet available [code: 100146]", true},
		{"fetch failed", true},
		{`{"error":"There has been an unknown error listing containers.\n{\"error\":\"Please wait and consider throttling your request speed\"}"}`, true},
		{"Authentication error [code: 10000]", false},
		{"Error creating application due to a misconfiguration: {\"error\":\"instance type not allowed\"}", false},
	} {
		t.Run(tc.msg, func(t *testing.T) {
			if got := transientWrangler(&wrangler.Error{Message: tc.msg}); got != tc.want {
				t.Errorf("transientWrangler(%q) = %v, want %v", tc.msg, got, tc.want)
			}
		})
	}
	for _, f := range []wrangler.FailureEntry{{Code: 971}, {Code: 10013}, {RetryAfterMS: 1000}} {
		if !transientWrangler(&wrangler.Error{Message: "A request to the Cloudflare API (/x) failed.", Failure: &f}) {
			t.Errorf("failure %+v not transient", f)
		}
	}
	if transientWrangler(&wrangler.Error{Message: "A request to the Cloudflare API (/x) failed.", Failure: &wrangler.FailureEntry{Code: 10000}}) {
		t.Error("an authentication error (10000) counted as transient")
	}
	if transientWrangler(errors.New("503")) {
		t.Error("an error that is not wrangler's counted as transient")
	}
}

func TestRetryWranglerStopsOnPermanentErrors(t *testing.T) {
	calls := 0
	_, err := retryWrangler(context.Background(), nil, "x", func() (int, error) {
		calls++
		return 0, &wrangler.Error{Message: "Authentication error [code: 10000]"}
	})
	if err == nil || calls != 1 {
		t.Fatalf("calls %d err %v; want one call and its error", calls, err)
	}
	calls = 0
	v, err := retryWrangler(context.Background(), nil, "x", func() (int, error) {
		if calls++; calls < 2 {
			return 0, &wrangler.Error{Message: "429 Too Many Requests"}
		}
		return 7, nil
	})
	if err != nil || v != 7 || calls != 2 {
		t.Fatalf("calls %d v %d err %v; want the second attempt's 7", calls, v, err)
	}
}

func TestStageClockAttributesWranglerTime(t *testing.T) {
	c := &stageClock{spent: map[string]time.Duration{}}
	c.enter("stub")
	c.add(nil, 2*time.Second)
	c.enter("")
	c.add(nil, time.Second) // between stages: in the total only
	c.enter("promote")
	c.add(nil, 3*time.Second)
	c.add(nil, time.Second)
	if c.spentIn("stub") != 2*time.Second || c.spentIn("promote") != 4*time.Second || c.total() != 7*time.Second {
		t.Fatalf("stub %s promote %s total %s; want 2s, 4s, 7s", c.spentIn("stub"), c.spentIn("promote"), c.total())
	}
}

func TestRetryWranglerGivesUpAfterThreeAttempts(t *testing.T) {
	if testing.Short() {
		t.Skip("waits the real 2 s + 4 s pauses")
	}
	calls := 0
	var heard []string
	_, err := retryWrangler(context.Background(), func(s string) { heard = append(heard, s) }, "wrangler deploy", func() (int, error) {
		calls++
		return 0, &wrangler.Error{Message: "Generic Error"}
	})
	var we *wrangler.Error
	if calls != 3 || !errors.As(err, &we) || len(heard) != 2 || !strings.Contains(heard[1], "trying again in 4s") {
		t.Fatalf("calls %d, err %v, heard %q; want 3 calls, the last wrangler error, pauses of 2 s then 4 s", calls, err, heard)
	}
}

// With --url, workers.dev and the custom domain share the one wait bound: the custom domain gets what
// the workers.dev wait left, not a whole timeout of its own.
func TestProberCustomDomainSharesTheBound(t *testing.T) {
	lean := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(750 * time.Millisecond) // each answer is slow: the workers.dev wait uses 1.5 s of the bound
		if r.URL.Path == "/health" {
			io.WriteString(w, `{"version": "Lean (version 4.24.0)"}`)
			return
		}
		io.WriteString(w, `{"ok": true, "stdout": "2\n", "stderr": "", "exitCode": 0, "elapsed": 0.1}`)
	}))
	defer lean.Close()
	never := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer never.Close()
	p := &prober{client: lean.Client(), extra: never.URL}
	start := time.Now()
	_, err := p.WaitReady(context.Background(), lean.URL, pipeline.WaitPolicy{Timeout: 3 * time.Second, InitialInterval: 10 * time.Millisecond, MaxInterval: 50 * time.Millisecond})
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "verifying "+never.URL) {
		t.Fatalf("err = %v; want the custom domain named", err)
	}
	// Alone, the custom domain's wait would take the whole 3 s again (4.5 s in all); sharing, 3 s.
	if took > 4*time.Second {
		t.Fatalf("the wait took %s; want the 3s bound for workers.dev and the custom domain together", took.Round(time.Millisecond))
	}
}
