package cli

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/org/lean4-cf-action/internal/pipeline"
)

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
