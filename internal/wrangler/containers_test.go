package wrangler

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/lean4-cf-action/internal/retry"
)

func TestApplicationName(t *testing.T) {
	if got := ApplicationName("lean-worker", "LeanServer"); got != "lean-worker-leanserver" {
		t.Fatal(got)
	}
}

func TestTransient(t *testing.T) {
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
			if got := Transient(&Error{Message: tc.msg}); got != tc.want {
				t.Errorf("Transient(%q) = %v, want %v", tc.msg, got, tc.want)
			}
		})
	}
	for _, f := range []FailureEntry{{Code: 971}, {Code: 10013}, {RetryAfterMS: 1000}} {
		if !Transient(&Error{Message: "A request to the Cloudflare API (/x) failed.", Failure: &f}) {
			t.Errorf("failure %+v not transient", f)
		}
	}
	if Transient(&Error{Message: "A request to the Cloudflare API (/x) failed.", Failure: &FailureEntry{Code: 10000}}) {
		t.Error("an authentication error (10000) counted as transient")
	}
	if Transient(errors.New("503")) {
		t.Error("an error that is not wrangler's counted as transient")
	}
}

// failingWrangler fails its first `fails` runs with message (exit 1, a command-failed entry), then
// succeeds; every run's arguments are appended to the returned file.
func failingWrangler(t *testing.T, fails int, message string) (Tool, string) {
	dir := t.TempDir()
	args, count := filepath.Join(dir, "args"), filepath.Join(dir, "count")
	return fakeWrangler(t, fmt.Sprintf(`echo "$*" >> %s
n=$(cat %s 2>/dev/null || echo 0); n=$((n+1)); echo $n > %s
if [ $n -le %d ]; then
  echo '{"type":"command-failed","version":1,"message":"%s"}' >> "$WRANGLER_OUTPUT_FILE_PATH"
  exit 1
fi
`, args, count, count, fails, message)), args
}

func TestRunRetry(t *testing.T) {
	for _, tc := range []struct {
		name         string
		fails        int
		message      string
		wantAttempts int
		wantErr      bool
		wantHeard    []string
	}{
		{"first run succeeds", 0, "", 1, false, nil},
		{"a transient failure is repeated", 1, "Generic Error", 2, false, []string{"wrangler deploy failed (wrangler deploy --config x failed (exit 1): Generic Error); trying again in 2ms"}},
		{"three attempts, then the last error", 5, "503 Service Unavailable", 3, true, []string{"trying again in 2ms", "trying again in 4ms"}},
		{"a permanent failure is not repeated", 5, "Authentication error [code: 10000]", 1, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tool, argsFile := failingWrangler(t, tc.fails, tc.message)
			var heard []string
			// The fast clock keeps DefaultRetry's attempts and shortens its 2 s and 4 s pauses to 2 and 4 ms.
			r := Runner{Tool: tool, Env: os.Environ(), Clock: retry.Fast, Retrying: func(s string) { heard = append(heard, s) }}
			_, attempts, err := r.RunRetry(context.Background(), "deploy", "--config", "x")
			var we *Error
			if attempts != tc.wantAttempts || (err != nil) != tc.wantErr || (err != nil && !errors.As(err, &we)) {
				t.Fatalf("attempts %d, err %v; want %d attempts, error %v (a *wrangler.Error)", attempts, err, tc.wantAttempts, tc.wantErr)
			}
			if len(heard) != len(tc.wantHeard) {
				t.Fatalf("heard %q, want %q", heard, tc.wantHeard)
			}
			for i := range heard {
				if !strings.HasSuffix(heard[i], tc.wantHeard[i]) {
					t.Errorf("heard %q, want it to end with %q", heard[i], tc.wantHeard[i])
				}
			}
			b, _ := os.ReadFile(argsFile)
			if n := strings.Count(string(b), "deploy --config x\n"); n != tc.wantAttempts {
				t.Errorf("wrangler ran %d times, want %d", n, tc.wantAttempts)
			}
		})
	}
}

func TestRollbackArgsAndRetry(t *testing.T) {
	tool, argsFile := failingWrangler(t, 1, "fetch failed")
	r := Runner{Tool: tool, Env: os.Environ(), Clock: retry.Fast}
	if err := r.Rollback(context.Background(), "lean", "v-1", ""); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(argsFile)
	want := "rollback v-1 --name lean --message lean4-cf rollback --yes\n"
	if string(b) != want+want {
		t.Fatalf("args = %q, want %q twice (the transient failure repeated)", b, want)
	}
}
