package leandouble

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"
)

var fixed = time.Date(2026, 11, 28, 19, 4, 24, 0, time.UTC)

func start(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return fixed }
	}
	s, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// raw sends a request and returns every byte the server sent before closing.
func raw(t *testing.T, s *Server, req string) string {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	return string(b)
}

func post(body string, headers ...string) string {
	h := ""
	for _, x := range headers {
		h += x + "\r\n"
	}
	return fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\n%sContent-Length: %d\r\n\r\n%s", h, len(body), body)
}

const head = "Server: LeanServer/0.1 Python/3.12.3\r\nDate: Sat, 28 Nov 2026 19:04:24 GMT\r\n"

var elapsedRE = regexp.MustCompile(`"elapsed": [0-9]+\.[0-9]+\}$`)

func TestFraming(t *testing.T) {
	s := start(t, Options{})
	got := raw(t, s, post("#eval 1 + 1"))
	body := elapsedRE.ReplaceAllString(got[strings.Index(got, "\r\n\r\n")+4:], `"elapsed": E}`)
	if body != `{"ok": true, "stdout": "2\n", "stderr": "", "exitCode": 0, "elapsed": E}` {
		t.Fatalf("body = %q", body)
	}
	wantHead := "HTTP/1.0 200 OK\r\n" + head + "Content-Type: application/json; charset=utf-8\r\nContent-Length: "
	if !strings.HasPrefix(got, wantHead) {
		t.Fatalf("answer = %q", got)
	}
	cl := got[len(wantHead):strings.Index(got, "\r\n\r\n")]
	if fmt.Sprint(len(got)-strings.Index(got, "\r\n\r\n")-4) != cl {
		t.Fatalf("Content-Length %s does not match the body in %q", cl, got)
	}

	tests := []struct{ name, req, want string }{
		{"health", "GET /health HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.0 200 OK\r\n" + head + "Content-Type: application/json; charset=utf-8\r\nContent-Length: 120\r\n\r\n" + `{"version": "Lean (version 4.24.0, x86_64-unknown-linux-gnu, commit 797c613eb9b6d4ec95db23e3e00af9ac6657f24b, Release)"}`},
		{"GET /", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.0 405 Method Not Allowed\r\n" + head + "Allow: POST\r\n\r\n"},
		{"health with a query", "GET /health?x=1 HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.0 405 Method Not Allowed\r\n" + head + "Allow: POST\r\n\r\n"},
		{"health with a slash", "GET /health/ HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.0 405 Method Not Allowed\r\n" + head + "Allow: POST\r\n\r\n"},
		{"non-integer Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n#eval 1", ""},
		{"non-UTF-8 body", post("#eval \xff\xfe"), ""},
		{"timeout too large", post("#eval 1", "X-Lean-Timeout: 2147484"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := raw(t, s, tt.req); got != tt.want {
				t.Fatalf("answer = %q\nwant     %q", got, tt.want)
			}
		})
	}
}

func TestUnsupportedMethods(t *testing.T) {
	s := start(t, Options{})
	for _, tt := range []struct {
		method string
		length int
	}{{"PUT", 356}, {"HEAD", 357}, {"DELETE", 359}} {
		t.Run(tt.method, func(t *testing.T) {
			got := raw(t, s, tt.method+" /health HTTP/1.1\r\nHost: x\r\n\r\n")
			wantHead := fmt.Sprintf("HTTP/1.0 501 Unsupported method ('%s')\r\n%sConnection: close\r\nContent-Type: text/html;charset=utf-8\r\nContent-Length: %d\r\n\r\n", tt.method, head, tt.length)
			if !strings.HasPrefix(got, wantHead) {
				t.Fatalf("answer = %q", got)
			}
			body := got[len(wantHead):]
			if tt.method == "HEAD" {
				if body != "" {
					t.Fatalf("HEAD got a body: %q", body)
				}
				return
			}
			if len(body) != tt.length || !strings.Contains(body, "<p>Message: Unsupported method ('"+tt.method+"').</p>") {
				t.Fatalf("page (%d bytes) = %q", len(body), body)
			}
		})
	}
}

// answer posts and parses status, stdout, stderr and exit code out of the JSON.
func answer(t *testing.T, s *Server, body string, headers ...string) (string, string) {
	t.Helper()
	got := raw(t, s, post(body, headers...))
	if got == "" {
		return "", ""
	}
	status := strings.SplitN(got, "\r\n", 2)[0]
	return status, got[strings.Index(got, "\r\n\r\n")+4:]
}

func TestPrograms(t *testing.T) {
	s := start(t, Options{Timeout: 2 * time.Second})
	tests := []struct {
		name, body   string
		headers      []string
		status, json string // json: a substring of the body
	}{
		{"arithmetic", "#eval (2 + 3) * 4 - 30 / 7\n#eval 2 - 5", nil, "HTTP/1.0 200 OK", `"stdout": "16\n0\n"`},
		{"check", "#check 1 + 1", nil, "HTTP/1.0 200 OK", `"stdout": "1 + 1 : Nat\n"`},
		{"unknown identifier", "#eval x + 1", nil, "HTTP/1.0 400 Bad Request", `"stdout": "<stdin>:1:6: error: unknown identifier 'x'\n", "stderr": "", "exitCode": 1`},
		{"mathlib", "import Mathlib", nil, "HTTP/1.0 400 Bad Request", `error: unknown module prefix 'Mathlib'`},
		{"killed", "#exit_by_signal 9", nil, "HTTP/1.0 400 Bad Request", `"exitCode": -9`},
		{"empty", "", nil, "HTTP/1.0 200 OK", `{"ok": true, "stdout": "", "stderr": "", "exitCode": 0`},
		{"timeout", "#eval IO.sleep 5000", []string{"X-Lean-Timeout: 1"}, "HTTP/1.0 408 Request Timeout", `{"ok": false, "stdout": "", "stderr": "Lean process timed out after 1s", "exitCode": -1`},
		{"zero timeout", "#eval 1", []string{"X-Lean-Timeout: 0"}, "HTTP/1.0 408 Request Timeout", `"stderr": "Lean process timed out after 0s", "exitCode": -1, "elapsed": 0.001}`},
		{"negative timeout", "#eval 1", []string{"X-Lean-Timeout:  -3 "}, "HTTP/1.0 408 Request Timeout", `after -3s"`},
		{"underscores", "#eval IO.sleep 3000", []string{"X-Lean-Timeout: 1_0"}, "HTTP/1.0 200 OK", `"exitCode": 0`},
		{"plus sign", "#eval IO.sleep 3000", []string{"X-Lean-Timeout: +1"}, "HTTP/1.0 408 Request Timeout", `after 1s"`},
		{"non-integer falls back to the default", "#eval IO.sleep 2500", []string{"X-Lean-Timeout: 1.5"}, "HTTP/1.0 408 Request Timeout", `after 2s"`},
		{"first header wins", "#eval 1", []string{"X-Lean-Timeout: 0", "X-Lean-Timeout: 5"}, "HTTP/1.0 408 Request Timeout", `after 0s"`},
		{"unicode output", "#check 7", nil, "HTTP/1.0 200 OK", `"stdout": "7 : Nat\n"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // the server runs requests at once, as the real one does
			status, body := answer(t, s, tt.body, tt.headers...)
			if status != tt.status || !strings.Contains(body, tt.json) {
				t.Fatalf("status %q body %q; want %q and %q", status, body, tt.status, tt.json)
			}
		})
	}
}

func TestChunkedBodyIsAnEmptyProgram(t *testing.T) {
	s := start(t, Options{})
	got := raw(t, s, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n#eval 1 + 1\r\n0\r\n\r\n")
	if !strings.HasPrefix(got, "HTTP/1.0 200 OK") || !strings.Contains(got, `"stdout": ""`) {
		t.Fatalf("answer = %q", got)
	}
}

func TestFailures(t *testing.T) {
	s := start(t, Options{})
	s.SetFailure(FailWrong)
	if _, body := answer(t, s, "#eval 1 + 1"); !strings.Contains(body, `"stdout": "3\n"`) {
		t.Fatalf("wrong: %q", body)
	}
	s.SetFailure(FailCrash)
	if got := raw(t, s, post("#eval 1 + 1")); got != "" {
		t.Fatalf("crash answered %q", got)
	}
	s.SetFailure(FailHang)
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, post("#eval 1 + 1"))
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := bufio.NewReader(c).ReadByte(); err == nil {
		t.Fatal("a hanging server answered")
	}
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return with a hanging request open")
	}
	if s.Posts() != 3 {
		t.Fatalf("posts = %d", s.Posts())
	}
}

func TestPythonJSON(t *testing.T) {
	got := string(encodeResult(Result{Stdout: "unié\n", Stderr: "warn ℕ 😀 <tag> & / \t ctl\x01\x7f\n", Elapsed: 0.003}))
	want := `{"ok": true, "stdout": "uni\u00e9\n", "stderr": "warn \u2115 \ud83d\ude00 <tag> & / \t ctl\u0001\u007f\n", "exitCode": 0, "elapsed": 0.003}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	for f, s := range map[float64]string{2: "2.0", 0: "0.0", 10.004: "10.004", 0.368: "0.368"} {
		if pyFloat(f) != s {
			t.Errorf("pyFloat(%v) = %s, want %s", f, pyFloat(f), s)
		}
	}
}

func TestEvaluateHonoursContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if r := Evaluate(ctx, "#eval IO.sleep 10000"); r.ExitCode != -1 {
		t.Fatalf("result = %+v", r)
	}
}
