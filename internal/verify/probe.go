package verify

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/org/lean4-cf-action/internal/retry"
)

// EvalProgram is the program every verification runs, and EvalWant its expected stdout.
const (
	EvalProgram = "#eval 1 + 1"
	EvalWant    = "2\n"
)

// Prober checks a deployed Worker's contract over HTTP.
type Prober struct {
	Client  *http.Client // from NewClient (resolve rules, trusted roots)
	BaseURL string       // e.g. https://lean4-server.example.workers.dev, no trailing slash needed
	APIKey  string       // the Worker's optional LEAN_API_KEY, sent as a bearer token; never logged
}

// Answer is the Lean server's (or the stub's) JSON answer to POST /.
type Answer struct {
	OK       bool    `json:"ok"`
	Stdout   string  `json:"stdout"`
	Stderr   string  `json:"stderr"`
	ExitCode int     `json:"exitCode"`
	Elapsed  float64 `json:"elapsed"`
	Stub     bool    `json:"stub,omitempty"`
}

// Health is the JSON answer to GET /health: {"version": ...} from the Lean server,
// {"status": "ok", "stub": true} from the stub Worker.
type Health struct {
	Version string `json:"version,omitempty"`
	Status  string `json:"status,omitempty"`
	Stub    bool   `json:"stub,omitempty"`
}

// StatusError is an HTTP answer that was not the expected one; Retry says whether waiting may help.
type StatusError struct {
	Method, Path string
	Status       int
	RetryAfter   time.Duration // from Retry-After on 429/503
	Body         string        // the first bytes of the body
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s answered %d: %s", e.Method, e.Path, e.Status, e.Body)
}

// Retryable reports whether the platform may still be provisioning or starting the container.
func (e *StatusError) Retryable() bool {
	switch e.Status {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

func (p Prober) do(ctx context.Context, method, path string, body []byte) (*http.Response, []byte, time.Duration, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(p.BaseURL, "/")+path, rd)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("building %s %s: %w", method, path, err)
	}
	if p.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+p.APIKey)
	}
	if body != nil {
		req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	}
	start := time.Now()
	resp, err := p.Client.Do(req)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	took := time.Since(start)
	if err != nil {
		return resp, nil, took, fmt.Errorf("reading %s %s: %w", method, path, err)
	}
	return resp, b, took, nil
}

func statusError(method, path string, resp *http.Response, body []byte) *StatusError {
	e := &StatusError{Method: method, Path: path, Status: resp.StatusCode, Body: truncate(strings.TrimSpace(string(body)), 200)}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	return e
}

// Health fetches GET /health and decodes it. A non-200 answer is a *StatusError.
func (p Prober) Health(ctx context.Context) (Health, error) {
	var h Health
	resp, body, _, err := p.do(ctx, http.MethodGet, "/health", nil)
	if err != nil {
		return h, err
	}
	if resp.StatusCode != http.StatusOK {
		return h, statusError("GET", "/health", resp, body)
	}
	if err := json.Unmarshal(body, &h); err != nil {
		return h, fmt.Errorf("GET /health answered non-JSON %q: %w", truncate(string(body), 80), err)
	}
	return h, nil
}

// Eval posts program to / and decodes the answer. Lean's own 400/408 answers carry JSON and are returned
// as answers; any other non-200 status is a *StatusError.
func (p Prober) Eval(ctx context.Context, program string) (Answer, time.Duration, error) {
	var a Answer
	resp, body, took, err := p.do(ctx, http.MethodPost, "/", []byte(program))
	if err != nil {
		return a, took, err
	}
	switch resp.StatusCode {
	case http.StatusOK, http.StatusBadRequest, http.StatusRequestTimeout:
		if err := json.Unmarshal(body, &a); err == nil && (resp.StatusCode == http.StatusOK || !a.OK) {
			return a, took, nil
		}
	}
	return a, took, statusError("POST", "/", resp, body)
}

// CheckStub verifies the stub Worker's contract: GET /health, POST / with #eval 1 + 1, and a 404 elsewhere.
func (p Prober) CheckStub(ctx context.Context) error {
	h, err := p.Health(ctx)
	if err != nil {
		return fmt.Errorf("checking the stub's health: %w", err)
	}
	if h.Status != "ok" || !h.Stub {
		return fmt.Errorf("checking the stub's health: want {\"status\": \"ok\", \"stub\": true}, got %+v", h)
	}
	a, _, err := p.Eval(ctx, EvalProgram)
	if err != nil {
		return fmt.Errorf("checking the stub's POST /: %w", err)
	}
	if !a.OK || a.Stdout != EvalWant || !a.Stub {
		return fmt.Errorf("checking the stub's POST /: want ok, stdout %q and stub: true, got %+v", EvalWant, a)
	}
	path := "/lean4-cf-probe-" + randomHex(4)
	resp, body, _, err := p.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return fmt.Errorf("checking the stub's 404: %w", err)
	}
	if resp.StatusCode != http.StatusNotFound {
		return fmt.Errorf("checking the stub's 404: %w", statusError("GET", path, resp, body))
	}
	return nil
}

// LeanResult is what a successful check of the real Lean server found.
type LeanResult struct {
	Version string        // from GET /health, e.g. "Lean (version 4.24.0, ...)"
	Answer  Answer        // the answer to #eval 1 + 1
	Latency time.Duration // of the POST
}

// CheckLean verifies the real Lean server behind the Worker: GET /health has a "version" (a stub has none)
// that starts with wantVersion when that is set, and POST / with #eval 1 + 1 answers 200, ok, stdout "2\n".
func (p Prober) CheckLean(ctx context.Context, wantVersion string) (LeanResult, error) {
	var r LeanResult
	h, err := p.Health(ctx)
	if err != nil {
		return r, err
	}
	if h.Stub || h.Version == "" {
		return r, &NotLeanError{Stub: true, Why: fmt.Sprintf("GET /health has no Lean version (got %+v): the stub or another server answers", h)}
	}
	if wantVersion != "" && !strings.HasPrefix(h.Version, wantVersion) {
		return r, &NotLeanError{Why: fmt.Sprintf("GET /health reports %q, want a version starting with %q", h.Version, wantVersion)}
	}
	r.Version = h.Version
	a, took, err := p.Eval(ctx, EvalProgram)
	if err != nil {
		return r, err
	}
	r.Answer, r.Latency = a, took
	if !a.OK || a.Stdout != EvalWant || a.Stub {
		return r, &NotLeanError{Why: fmt.Sprintf("POST / %q answered ok=%v stdout=%q exitCode=%d stub=%v, want ok and stdout %q", EvalProgram, a.OK, a.Stdout, a.ExitCode, a.Stub, EvalWant)}
	}
	return r, nil
}

// NotLeanError says the endpoint answered, but not as the Lean server must. Waiting helps only when the
// stub still answers (Stub): the new version is not serving yet.
type NotLeanError struct {
	Why  string
	Stub bool
}

func (e *NotLeanError) Error() string { return e.Why }

// WaitOptions bounds WaitReady.
type WaitOptions struct {
	// Timeout is the whole wait, provisioning and cold start included. Default 10 minutes.
	Timeout time.Duration
	// InitialInterval is the first pause between attempts; it grows by 1.5x with ±50 % jitter up to
	// MaxInterval. Defaults 1 s and 15 s.
	InitialInterval, MaxInterval time.Duration
	// WantVersion is passed to CheckLean.
	WantVersion string
	// Progress, when set, hears about every failed attempt and the pause before the next one.
	Progress func(attempt int, err error, next time.Duration)
	// Clock paces the pauses (tests speed it up; the timeout stays the caller's). Default: real time.
	Clock retry.Clock
}

// Ready is what WaitReady measured.
type Ready struct {
	LeanResult
	Attempts  int
	ColdStart time.Duration // from the first attempt to the first good answer
}

// WaitReady polls CheckLean with backoff and jitter until it passes, a permanent failure shows, or the
// timeout ends. 5xx, 429, connection errors and a stub still answering are retried; a wrong answer from a
// server that reports a Lean version is not.
func (p Prober) WaitReady(ctx context.Context, opts WaitOptions) (Ready, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Minute
	}
	policy := retry.Policy{Initial: time.Second, Multiplier: 1.5, Max: 15 * time.Second, Jitter: 0.5, MaxElapsed: opts.Timeout}
	if opts.InitialInterval > 0 {
		policy.Initial = opts.InitialInterval
	}
	if opts.MaxInterval > 0 {
		policy.Max = opts.MaxInterval
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	var r Ready
	start := time.Now()
	var last error
	res, err := retry.Do(ctx, policy, opts.Clock, func(err error, next time.Duration) {
		if opts.Progress != nil {
			opts.Progress(r.Attempts, err, next)
		}
	}, func() (LeanResult, error) {
		r.Attempts++
		res, err := p.CheckLean(ctx, opts.WantVersion)
		if err == nil {
			return res, nil
		}
		if ctx.Err() == nil {
			last = err // an attempt cut short by the deadline says less than the one before it
		}
		var se *StatusError
		var nl *NotLeanError
		switch {
		case errors.As(err, &se) && se.RetryAfter > 0 && se.Retryable():
			return res, retry.After(err, min(se.RetryAfter, policy.Max))
		case errors.As(err, &se) && !se.Retryable():
			return res, retry.Permanent(err)
		case errors.As(err, &nl) && nl.Stub:
			return res, err // the new version is not serving yet
		case errors.As(err, &nl):
			return res, retry.Permanent(err)
		}
		return res, err
	})
	if err != nil {
		if last != nil {
			// What the last attempt saw, not backoff's wrappers ("retry after 2s") or the deadline.
			err = last
		}
		return r, fmt.Errorf("waiting for the Lean server (%d attempts over %s): %w", r.Attempts, time.Since(start).Round(time.Second), err)
	}
	r.LeanResult = res
	r.ColdStart = time.Since(start)
	return r, nil
}

// Latency is the spread of n warm requests.
type Latency struct {
	N        int
	P50, P95 time.Duration
	Max      time.Duration
}

// MeasureLatency posts #eval 1 + 1 n times one after another and reports p50, p95 and max.
// Any wrong answer fails the measurement.
func (p Prober) MeasureLatency(ctx context.Context, n int) (Latency, error) {
	if n <= 0 {
		n = 5
	}
	ds := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		a, took, err := p.Eval(ctx, EvalProgram)
		if err != nil {
			return Latency{}, fmt.Errorf("measuring latency, request %d of %d: %w", i+1, n, err)
		}
		if !a.OK || a.Stdout != EvalWant {
			return Latency{}, fmt.Errorf("measuring latency, request %d of %d: wrong answer %+v", i+1, n, a)
		}
		ds = append(ds, took)
	}
	slices.Sort(ds)
	return Latency{N: n, P50: percentile(ds, 50), P95: percentile(ds, 95), Max: ds[len(ds)-1]}, nil
}

// percentile returns the nearest-rank percentile of sorted durations.
func percentile(sorted []time.Duration, pct int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (pct*len(sorted) + 99) / 100 // ceil(pct/100 * n)
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
