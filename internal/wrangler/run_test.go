package wrangler

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeWrangler writes a shell script standing in for wrangler; body runs with $WRANGLER_OUTPUT_FILE_PATH set.
func fakeWrangler(t *testing.T, body string) Tool {
	t.Helper()
	p := filepath.Join(t.TempDir(), "wrangler")
	mustWrite(t, p, "#!/bin/sh\n"+body, 0o755)
	return Tool{Path: p, Source: SourceFlag}
}

func TestRunnerSuccessReadsOutputFileAndSetsEnv(t *testing.T) {
	tool := fakeWrangler(t, `
echo "CI=$CI METRICS=$WRANGLER_SEND_METRICS ACCOUNT=$CLOUDFLARE_ACCOUNT_ID TOKEN_SET=${CLOUDFLARE_API_TOKEN:+yes} ARGS=$*"
echo '{"type":"wrangler-session","version":1,"wrangler_version":"4.164.0","command_line_args":["deploy"],"timestamp":"t"}' >> "$WRANGLER_OUTPUT_FILE_PATH"
echo '{"type":"deploy","version":1,"worker_name":"lean4-server","worker_tag":null,"version_id":"v-123","targets":["https://lean4-server.acct.workers.dev"],"worker_name_overridden":false,"bundle_size":{"raw_bytes":54958,"gzip_bytes":13516},"timestamp":"t"}' >> "$WRANGLER_OUTPUT_FILE_PATH"
`)
	var console strings.Builder
	r := Runner{Tool: tool, Env: []string{"CI=false", "CLOUDFLARE_API_TOKEN=secret", "PATH=/usr/bin:/bin"}, AccountID: "acct", Stdout: &console}
	res, err := r.Run(context.Background(), "deploy", "--config", "wrangler.jsonc")
	if err != nil {
		t.Fatal(err)
	}
	want := "CI=true METRICS=false ACCOUNT=acct TOKEN_SET=yes ARGS=deploy --config wrangler.jsonc\n"
	if string(res.Stdout) != want || console.String() != want {
		t.Fatalf("stdout = %q, console = %q, want %q", res.Stdout, console.String(), want)
	}
	if len(res.Entries) != 2 || res.Deploy == nil {
		t.Fatalf("entries = %+v", res.Entries)
	}
	if res.Deploy.VersionID == nil || *res.Deploy.VersionID != "v-123" || res.Deploy.Targets[0] != "https://lean4-server.acct.workers.dev" || res.Deploy.BundleSize.GzipBytes != 13516 {
		t.Fatalf("deploy = %+v", res.Deploy)
	}
}

func TestRunnerFailures(t *testing.T) {
	tests := []struct {
		name, body, want string
		code             int
	}{
		{
			name: "command-failed entry wins",
			body: `echo 'some console noise' >&2
echo '{"type":"command-failed","version":1,"message":"A request to the Cloudflare API failed. Authentication error [code: 10000]","code":10000,"timestamp":"t"}' >> "$WRANGLER_OUTPUT_FILE_PATH"
exit 1`,
			want: "Authentication error [code: 10000]",
			code: 1,
		},
		{
			name: "stderr tail without an entry",
			body: "echo line1 >&2; echo 'X [ERROR] fetch failed' >&2; exit 3",
			want: "X [ERROR] fetch failed",
			code: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Runner{Tool: fakeWrangler(t, tt.body)}.Run(context.Background(), "deploy")
			var we *Error
			if !errors.As(err, &we) {
				t.Fatalf("error = %v, want *Error", err)
			}
			if we.ExitCode != tt.code || !strings.Contains(we.Error(), tt.want) || !strings.HasPrefix(we.Error(), "wrangler deploy failed") {
				t.Fatalf("error = %q (exit %d), want %q (exit %d)", we.Error(), we.ExitCode, tt.want, tt.code)
			}
		})
	}
}

func TestRunnerCancelStopsTheWholeGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	tool := fakeWrangler(t, "sleep 60 & echo $! > "+pidFile+"\nwait\n")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := Runner{Tool: tool, Env: os.Environ(), StopGrace: time.Second}.Run(ctx, "dev")
		done <- err
	}()
	var pid int
	for i := 0; i < 200 && pid == 0; i++ {
		time.Sleep(10 * time.Millisecond)
		b, _ := os.ReadFile(pidFile)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	if pid == 0 {
		t.Fatal("the fake wrangler did not start its child")
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error = %v, want context.Canceled", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	for i := 0; i < 100; i++ {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("child %d of wrangler still runs after cancel", pid)
}

func TestRunnerObserveHearsEachRun(t *testing.T) {
	tool := fakeWrangler(t, "sleep 0.2\nexit 3\n")
	var heard []string
	var took time.Duration
	r := Runner{Tool: tool, Env: []string{"PATH=/usr/bin:/bin"}, Observe: func(args []string, d time.Duration) {
		heard, took = args, d
	}}
	if _, err := r.Run(context.Background(), "containers", "list"); err == nil {
		t.Fatal("want the exit 3 error")
	}
	if strings.Join(heard, " ") != "containers list" || took < 200*time.Millisecond {
		t.Fatalf("observed %q in %s; want the failed run's args and at least its 200 ms", heard, took)
	}
}

// wrangler runs with Node's compile cache on, in the temporary directory, unless the caller chose a
// cache or turned it off.
func TestRunnerNodeCompileCache(t *testing.T) {
	tests := []struct {
		name string
		base []string
		want string // NODE_COMPILE_CACHE in wrangler's environment; "" for none
	}{
		{"default", []string{"PATH=/bin"}, "/tmp/lean4-cf-node-compile-cache"},
		{"TMPDIR", []string{"TMPDIR=/scratch"}, "/scratch/lean4-cf-node-compile-cache"},
		{"empty TMPDIR", []string{"TMPDIR="}, "/tmp/lean4-cf-node-compile-cache"},
		{"chosen", []string{"NODE_COMPILE_CACHE=/cache", "TMPDIR=/scratch"}, "/cache"},
		{"turned off", []string{"NODE_DISABLE_COMPILE_CACHE=1"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, kv := range (Runner{Env: tt.base}).environ("/out.json") {
				if v, ok := strings.CutPrefix(kv, compileCacheEnv+"="); ok {
					got = append(got, v)
				}
			}
			want := []string{tt.want}
			if tt.want == "" {
				want = nil
			}
			if !slices.Equal(got, want) {
				t.Fatalf("NODE_COMPILE_CACHE = %q, want %q", got, want)
			}
		})
	}
}
