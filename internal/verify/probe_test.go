package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/org/lean4-cf-action/internal/retry"
)

const leanVersion = "Lean (version 4.24.0, x86_64-unknown-linux-gnu, Release)"

// worker returns a handler that answers like the deployed Worker does in a given phase.
type phase int

const (
	provisioning phase = iota // 503 with Retry-After
	stubServing               // the stub's contract
	leanServing               // the real Lean server through the Worker
	wrongAnswer               // a Lean server that evaluates wrongly
	restarting                // 503 with a Retry-After longer than the wait: the container crashed
	rateLimited               // 429 with Retry-After: 7
)

func worker(t *testing.T, phaseOf func(n int64) phase, apiKey string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if apiKey != "" && r.Header.Get("Authorization") != "Bearer "+apiKey {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"unauthorized"}`)
			return
		}
		ph := phaseOf(n.Add(1))
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case ph == rateLimited:
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"error":"slow down"}`)
		case ph == provisioning:
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"error":"container is provisioning"}`)
		case ph == restarting:
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"error":"instance_busy","message":"The container's Durable Object is busy or restarting"}`)
		case r.Method == http.MethodGet && r.URL.Path == "/health" && ph == stubServing:
			io.WriteString(w, `{"status": "ok", "stub": true}`)
		case r.Method == http.MethodGet && r.URL.Path == "/health":
			fmt.Fprintf(w, `{"version": %q}`, leanVersion)
		case r.Method == http.MethodPost && r.URL.Path == "/" && string(body) == EvalProgram:
			out := `2\n`
			if ph == wrongAnswer {
				out = `3\n`
			}
			stub := ""
			if ph == stubServing {
				stub = `, "stub": true`
			}
			fmt.Fprintf(w, `{"ok": true, "stdout": "%s", "stderr": "", "exitCode": 0, "elapsed": 0.3%s}`, out, stub)
		default:
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":"not found"}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func always(ph phase) func(int64) phase { return func(int64) phase { return ph } }

func TestCheckStub(t *testing.T) {
	srv, _ := worker(t, always(stubServing), "")
	if err := (Prober{Client: srv.Client(), BaseURL: srv.URL}).CheckStub(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		ph   phase
		want string
	}{
		{"the real server is no stub", leanServing, "checking the stub's health"},
		{"provisioning", provisioning, "503"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := worker(t, always(tt.ph), "")
			err := (Prober{Client: srv.Client(), BaseURL: srv.URL}).CheckStub(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("CheckStub error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestCheckStubNeeds404(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			io.WriteString(w, `{"ok": true, "stdout": "2\n", "stderr": "", "exitCode": 0, "elapsed": 0.0, "stub": true}`)
			return
		}
		io.WriteString(w, `{"status": "ok", "stub": true}`) // every GET answers 200
	}))
	defer srv.Close()
	err := (Prober{Client: srv.Client(), BaseURL: srv.URL}).CheckStub(context.Background())
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("CheckStub error = %v, want a 404 complaint", err)
	}
}

func fast(timeout time.Duration) WaitOptions {
	return WaitOptions{Timeout: timeout, InitialInterval: 2 * time.Millisecond, MaxInterval: 10 * time.Millisecond, WantVersion: "Lean (version 4.24.0"}
}

func TestWaitReady(t *testing.T) {
	tests := []struct {
		name         string
		phaseOf      func(n int64) phase
		apiKey, send string
		timeout      time.Duration
		wantErr      string
		maxAttempts  int
		minAttempts  int
		maxInterval  time.Duration // default fast's
	}{
		{
			name: "provisioning, then the stub, then Lean",
			phaseOf: func(n int64) phase {
				switch {
				case n <= 3:
					return provisioning
				case n <= 6:
					return stubServing
				}
				return leanServing
			},
			timeout: 5 * time.Second, minAttempts: 5,
		},
		{name: "ready at once", phaseOf: always(leanServing), timeout: time.Second, minAttempts: 1, maxAttempts: 1},
		{name: "wrong answer is permanent", phaseOf: always(wrongAnswer), timeout: 5 * time.Second, wantErr: "want ok and stdout", maxAttempts: 1},
		{name: "never ready is bounded", phaseOf: always(provisioning), timeout: 150 * time.Millisecond, wantErr: "503", minAttempts: 2},
		// The wait ends on a Retry-After longer than what is left: the error is what was seen, not
		// the backoff's "retry after 2s".
		{name: "a restarting container is named", phaseOf: always(restarting), timeout: 300 * time.Millisecond, maxInterval: 5 * time.Second, wantErr: "answered 503: {\"error\":\"instance_busy\"", minAttempts: 1},
		{name: "API key missing is permanent", phaseOf: always(leanServing), apiKey: "k", timeout: 5 * time.Second, wantErr: "401", maxAttempts: 1},
		{name: "API key sent", phaseOf: always(leanServing), apiKey: "k", send: "k", timeout: time.Second, maxAttempts: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := worker(t, tt.phaseOf, tt.apiKey)
			var notified int
			opts := fast(tt.timeout)
			if tt.maxInterval > 0 {
				opts.MaxInterval = tt.maxInterval
			}
			opts.Progress = func(int, error, time.Duration) { notified++ }
			start := time.Now()
			r, err := Prober{Client: srv.Client(), BaseURL: srv.URL, APIKey: tt.send}.WaitReady(context.Background(), opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("WaitReady error = %v, want %q", err, tt.wantErr)
				}
				if time.Since(start) > tt.timeout+2*time.Second {
					t.Fatalf("WaitReady took %s, past its timeout %s", time.Since(start), tt.timeout)
				}
			} else if err != nil {
				t.Fatal(err)
			} else if r.Version != leanVersion || r.Answer.Stdout != EvalWant || r.ColdStart <= 0 {
				t.Fatalf("Ready = %+v", r)
			}
			if r.Attempts < tt.minAttempts || (tt.maxAttempts > 0 && r.Attempts > tt.maxAttempts) {
				t.Fatalf("attempts = %d, want %d..%d", r.Attempts, tt.minAttempts, tt.maxAttempts)
			}
			if notified != r.Attempts-1 && tt.wantErr == "" {
				t.Fatalf("progress heard %d retries for %d attempts", notified, r.Attempts)
			}
		})
	}
}

func TestWaitReadyHonoursCancel(t *testing.T) {
	srv, _ := worker(t, always(provisioning), "")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err := Prober{Client: srv.Client(), BaseURL: srv.URL}.WaitReady(ctx, fast(time.Minute))
	if err == nil {
		t.Fatal("WaitReady succeeded against a server that never became ready")
	}
	if ctx.Err() == nil {
		t.Fatal("WaitReady returned before the cancel")
	}
}

func TestMeasureLatency(t *testing.T) {
	srv, n := worker(t, always(leanServing), "")
	l, err := Prober{Client: srv.Client(), BaseURL: srv.URL}.MeasureLatency(context.Background(), 7)
	if err != nil {
		t.Fatal(err)
	}
	if n.Load() != 7 || l.N != 7 || l.P50 <= 0 || l.P50 > l.P95 || l.P95 > l.Max {
		t.Fatalf("latency = %+v after %d requests", l, n.Load())
	}
	srv2, _ := worker(t, always(wrongAnswer), "")
	if _, err := (Prober{Client: srv2.Client(), BaseURL: srv2.URL}).MeasureLatency(context.Background(), 3); err == nil {
		t.Fatal("a wrong answer passed the latency measurement")
	}
}

func TestPercentile(t *testing.T) {
	ds := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, tt := range []struct {
		pct  int
		want time.Duration
	}{{50, 5}, {95, 10}, {90, 9}, {1, 1}, {100, 10}} {
		t.Run(fmt.Sprint(tt.pct), func(t *testing.T) {
			if got := percentile(ds, tt.pct); got != tt.want {
				t.Fatalf("p%d = %d, want %d", tt.pct, got, tt.want)
			}
		})
	}
	if percentile(nil, 50) != 0 {
		t.Fatal("percentile of nothing")
	}
}

func TestStatusErrorRetryable(t *testing.T) {
	for code, want := range map[int]bool{429: true, 500: true, 502: true, 503: true, 504: true, 400: false, 401: false, 404: false} {
		if got := (&StatusError{Status: code}).Retryable(); got != want {
			t.Errorf("Retryable(%d) = %v", code, got)
		}
	}
	var se *StatusError
	if errors.As(fmt.Errorf("x: %w", &StatusError{Status: 503}), &se); se == nil {
		t.Fatal("StatusError does not unwrap")
	}
}

// WaitReady paces its pauses, a server's Retry-After included, on the clock it is given: the fast clock
// keeps the attempts and turns Retry-After: 7 into a 7 ms pause.
func TestWaitReadyPacesRetryAfterOnItsClock(t *testing.T) {
	srv, _ := worker(t, func(n int64) phase {
		if n <= 2 {
			return rateLimited
		}
		return leanServing
	}, "")
	var pauses []time.Duration
	opts := WaitOptions{Timeout: time.Minute, Clock: retry.Fast, Progress: func(_ int, err error, next time.Duration) {
		if !strings.Contains(err.Error(), "429") {
			t.Errorf("progress heard %v, want the 429", err)
		}
		pauses = append(pauses, next)
	}}
	r, err := Prober{Client: srv.Client(), BaseURL: srv.URL}.WaitReady(context.Background(), opts)
	if err != nil || r.Attempts != 3 {
		t.Fatalf("attempts %d, err %v; want success at the third", r.Attempts, err)
	}
	if fmt.Sprint(pauses) != "[7ms 7ms]" {
		t.Fatalf("pauses %v, want Retry-After's 7 s on the fast clock: [7ms 7ms]", pauses)
	}
}
