// Package leandouble is a test double of the Lean 4 HTTP server in ghcr.io/ldct/lean4-server:v4.24.0,
// byte for byte where clients can tell (docs/platform-facts.md): HTTP/1.0 answers on a raw listener, the
// connection closed after each answer (or without one where the real server drops it), Python-style JSON
// with the five keys in order, {"version": ...} on GET /health, 405/501 for other methods, and
// X-Lean-Timeout parsed with Python int() rules.
//
// It evaluates a small, documented set of programs (see Evaluate) instead of running Lean, and can be told
// to fail: crash (drop every POST), hang (never answer a POST), or answer wrongly.
package leandouble

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"unicode/utf8"

	"github.com/org/lean4-cf-action/internal/retry"
)

// DefaultVersion is what `lean --version` prints in the image.
const DefaultVersion = "Lean (version 4.24.0, x86_64-unknown-linux-gnu, commit 797c613eb9b6d4ec95db23e3e00af9ac6657f24b, Release)"

// serverHeader is the image's Server header.
const serverHeader = "LeanServer/0.1 Python/3.12.3"

// Failure makes the double misbehave on POST.
type Failure string

const (
	FailNone  Failure = ""
	FailCrash Failure = "crash" // close every POST connection without an answer, as a dying server does
	FailHang  Failure = "hang"  // read the request and never answer
	FailWrong Failure = "wrong" // evaluate, then answer one more than the right number
	// FailNoPort is a container that starts but never listens on its port. The double itself cannot
	// act it out; the local edge (internal/sandbox/edge) does, by not starting a double for the image.
	FailNoPort Failure = "noport"
)

// Options configures a Server. Zero values mean the documented defaults.
type Options struct {
	// Addr to listen on. Default "127.0.0.1:0".
	Addr string
	// Version is the Lean version GET /health reports. Default DefaultVersion.
	Version string
	// Timeout is LEAN_TIMEOUT, the default per-request timeout. Default 30 s.
	Timeout time.Duration
	// Fail makes POSTs fail; SetFailure changes it while running.
	Fail Failure
	// Now is the clock for the Date header. Default time.Now.
	Now func() time.Time
	// Budget, when set, gives every instance (see InstanceHeader) this memory and these vCPUs: runs
	// share the CPU and hold memory, and an instance dies when its memory would run out. Default none:
	// the double never runs out of anything.
	Budget *Budget
	// Clock paces the double's pauses: IO.sleep, the request timeout and, when Budget.Clock is unset,
	// the Budget's model time (cold starts, CPU work), so tests sped up with it wait no real pauses.
	// Elapsed figures stay in the double's own time. Default: real time.
	Clock retry.Clock
}

// Server is a running double.
type Server struct {
	ln      net.Listener
	opts    Options
	fail    atomic.Value // Failure
	posts   atomic.Int64
	wg      sync.WaitGroup
	closing chan struct{}
	mu      sync.Mutex
	conns   map[net.Conn]bool
	budget  Budget
	insts   map[string]*budgeted // by instance name, with a Budget
}

// Start listens and serves until Close.
func Start(opts Options) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Version == "" {
		opts.Version = DefaultVersion
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", opts.Addr, err)
	}
	s := &Server{ln: ln, opts: opts, closing: make(chan struct{}), conns: map[net.Conn]bool{}, insts: map[string]*budgeted{}}
	if opts.Budget != nil {
		b := *opts.Budget
		if b.Clock == nil && opts.Clock.Speedup > 1 {
			b.Clock = Scaled(opts.Clock.Speedup)
		}
		s.budget = b.withDefaults()
	}
	s.fail.Store(opts.Fail)
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

// modelSince is the double's own time since start: real time times the clock's speedup.
func (s *Server) modelSince(start time.Time) time.Duration {
	d := time.Since(start)
	if k := s.opts.Clock.Speedup; k > 1 {
		d = time.Duration(float64(d) * k)
	}
	return d
}

// URL is the base URL, e.g. http://127.0.0.1:41234.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Addr is the listening address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// SetFailure changes how POSTs fail from now on.
func (s *Server) SetFailure(f Failure) { s.fail.Store(f) }

// Posts counts the POST requests read so far.
func (s *Server) Posts() int64 { return s.posts.Load() }

// instance is the budgeted state of the named instance, or nil without a Budget.
func (s *Server) instance(name string) *budgeted {
	if s.opts.Budget == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.insts[name]
	if !ok {
		b = newBudgeted(s.budget)
		s.insts[name] = b
	}
	return b
}

// Instances reports each instance seen so far (only with a Budget), by name.
func (s *Server) Instances() map[string]InstanceStats {
	s.mu.Lock()
	names := make(map[string]*budgeted, len(s.insts))
	for n, b := range s.insts {
		names[n] = b
	}
	s.mu.Unlock()
	out := make(map[string]InstanceStats, len(names))
	for n, b := range names {
		out[n] = b.snapshot()
	}
	return out
}

// Deaths counts the OOM deaths of every instance (only with a Budget).
func (s *Server) Deaths() int {
	n := 0
	for _, st := range s.Instances() {
		n += st.Deaths
	}
	return n
}

// Close stops listening, drops open connections and waits for every handler.
func (s *Server) Close() error {
	select {
	case <-s.closing:
		return nil
	default:
	}
	close(s.closing)
	err := s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handle(c)
			c.Close()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

// response is one HTTP/1.0 answer: the status line's code and reason, headers after Server and Date, a body.
type response struct {
	code    int
	reason  string
	headers [][2]string
	body    []byte
	omit    bool // HEAD: the body is not sent, its length still stated
}

func (s *Server) write(c net.Conn, r response) {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP/1.0 %d %s\r\nServer: %s\r\nDate: %s\r\n", r.code, r.reason, serverHeader, s.opts.Now().UTC().Format(http.TimeFormat))
	for _, h := range r.headers {
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
	}
	b.WriteString("\r\n")
	if !r.omit {
		b.Write(r.body)
	}
	_, _ = io.WriteString(c, b.String())
}

func jsonResponse(code int, body []byte) response {
	reason := map[int]string{200: "OK", 400: "Bad Request", 408: "Request Timeout"}[code]
	return response{code: code, reason: reason, body: body, headers: [][2]string{
		{"Content-Type", "application/json; charset=utf-8"}, {"Content-Length", strconv.Itoa(len(body))}}}
}

func (s *Server) handle(c net.Conn) {
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return // a malformed request line or Content-Length: the real server drops these without an answer
	}
	switch {
	case req.Method == http.MethodPost:
		s.post(c, req)
	case req.Method == http.MethodGet && req.RequestURI == "/health":
		if inst := s.instance(req.Header.Get(InstanceHeader)); inst != nil && !inst.waitWarm(s.closing) {
			return
		}
		s.write(c, jsonResponse(200, encodeHealth(s.opts.Version)))
	case req.Method == http.MethodGet:
		// No body, no Content-Length, no Content-Type.
		s.write(c, response{code: 405, reason: "Method Not Allowed", headers: [][2]string{{"Allow", "POST"}}})
	default:
		page := errorPage(req.Method)
		s.write(c, response{code: 501, reason: fmt.Sprintf("Unsupported method (%s)", pyRepr(req.Method)), omit: req.Method == http.MethodHead,
			headers: [][2]string{{"Connection", "close"}, {"Content-Type", "text/html;charset=utf-8"}, {"Content-Length", strconv.Itoa(len(page))}}, body: page})
	}
}

// pyRepr quotes a method name as Python's repr does for a plain ASCII string.
func pyRepr(s string) string { return "'" + s + "'" }

// errorPage is CPython's default error page for a 501.
func errorPage(method string) []byte {
	msg := html.EscapeString(fmt.Sprintf("Unsupported method (%s)", pyRepr(method)))
	msg = strings.ReplaceAll(strings.ReplaceAll(msg, "&#39;", "'"), "&#34;", `"`)
	return []byte(`<!DOCTYPE HTML>
<html lang="en">
    <head>
        <meta charset="utf-8">
        <title>Error response</title>
    </head>
    <body>
        <h1>Error response</h1>
        <p>Error code: 501</p>
        <p>Message: ` + msg + `.</p>
        <p>Error code explanation: 501 - Server does not support this operation.</p>
    </body>
</html>
`)
}

func (s *Server) post(c net.Conn, req *http.Request) {
	s.posts.Add(1)
	var body []byte
	if req.ContentLength > 0 {
		body = make([]byte, req.ContentLength)
		if _, err := io.ReadFull(req.Body, body); err != nil {
			return
		}
	}
	// Without Content-Length (a chunked body included) the program is empty.
	if !utf8.Valid(body) {
		return // the real handler raises on decode and closes the connection without an answer
	}
	timeout, ok := parseTimeout(req.Header.Values("X-Lean-Timeout"), int(s.opts.Timeout/time.Second))
	if !ok {
		return // too large for the timeout arithmetic: no answer
	}
	switch s.fail.Load().(Failure) {
	case FailCrash:
		return
	case FailHang:
		<-s.closing
		return
	}
	if timeout <= 0 {
		s.write(c, jsonResponse(408, encodeResult(Result{Stderr: fmt.Sprintf("Lean process timed out after %ds", timeout), ExitCode: -1, Elapsed: 0.001})))
		return
	}
	if inst := s.instance(req.Header.Get(InstanceHeader)); inst != nil {
		s.budgetedPost(c, inst, string(body), timeout)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.Clock.Pause(time.Duration(timeout)*time.Second))
	defer cancel()
	start := time.Now()
	res := evaluate(ctx, string(body), s.opts.Clock)
	res.Elapsed = roundMillis(s.modelSince(start).Seconds())
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		res = Result{Stderr: fmt.Sprintf("Lean process timed out after %ds", timeout), ExitCode: -1, Elapsed: res.Elapsed}
	}
	s.answer(c, res)
}

// budgetedPost runs a program on an instance with a Budget: it waits out a cold start, holds memory and
// a CPU share for the program's work, and answers unless the instance dies under it.
func (s *Server) budgetedPost(c net.Conn, inst *budgeted, program string, timeout int) {
	if !inst.waitWarm(s.closing) {
		return
	}
	clock := s.budget.Clock
	work := s.budget.RunWork + programWork(program)
	started := clock.Now()
	r := inst.start(work.Seconds(), c)
	if r == nil {
		return // the instance ran out of memory: this connection was reset with the others
	}
	stopTimeout := clock.AfterFunc(time.Duration(timeout)*time.Second, func() { inst.stop(r) })
	select {
	case <-r.done:
	case <-s.closing:
		stopTimeout()
		return
	}
	stopTimeout()
	if r.killed {
		return
	}
	elapsed := roundMillis(r.endedAt.Sub(started).Seconds())
	if r.timeout {
		s.answer(c, Result{Stderr: fmt.Sprintf("Lean process timed out after %ds", timeout), ExitCode: -1, Elapsed: elapsed})
		return
	}
	res := evaluate(context.Background(), program, s.opts.Clock)
	res.Elapsed = elapsed
	s.answer(c, res)
}

// answer writes a result with the server's status rules (and the wrong-answer failure mode).
func (s *Server) answer(c net.Conn, res Result) {
	if s.fail.Load().(Failure) == FailWrong {
		res.Stdout = wrong(res.Stdout)
	}
	res.OK = res.ExitCode == 0
	code := 200
	switch {
	case res.ExitCode == -1:
		code = 408
	case !res.OK:
		code = 400
	}
	select {
	case <-s.closing:
		return
	default:
	}
	s.write(c, jsonResponse(code, encodeResult(res)))
}

func roundMillis(sec float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(sec, 'f', 3, 64), 64)
	return v
}

// wrong adds one to every number printed on its own line.
func wrong(stdout string) string {
	lines := strings.SplitAfter(stdout, "\n")
	for i, l := range lines {
		if n, err := strconv.ParseInt(strings.TrimSuffix(l, "\n"), 10, 64); err == nil {
			lines[i] = strconv.FormatInt(n+1, 10) + strings.TrimPrefix(l, strings.TrimSuffix(l, "\n"))
		}
	}
	return strings.Join(lines, "")
}

// parseTimeout reads the first X-Lean-Timeout with Python int() rules: surrounding whitespace, a sign and
// single underscores between digits; anything else falls back to the default. ok is false for a value the
// real server cannot handle (it drops the connection).
func parseTimeout(values []string, def int) (int, bool) {
	if len(values) == 0 {
		return def, true
	}
	v := strings.TrimFunc(values[0], func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f' || r == 0x85 || r == 0xa0
	})
	if v == "" {
		return def, true
	}
	neg := false
	switch v[0] {
	case '+', '-':
		neg = v[0] == '-'
		v = v[1:]
	}
	if v == "" || v[0] == '_' || v[len(v)-1] == '_' || strings.Contains(v, "__") {
		return def, true
	}
	digits := strings.ReplaceAll(v, "_", "")
	for _, r := range digits {
		if r < '0' || r > '9' {
			return def, true
		}
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n >= 2147484 {
		return 0, false
	}
	if neg {
		n = -n
	}
	return int(n), true
}
