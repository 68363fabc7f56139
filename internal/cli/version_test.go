package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, Env{
		Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return env[k] },
	})
	return code, out.String(), errb.String()
}

func TestVersionFindsWranglerAndNode(t *testing.T) {
	dir := t.TempDir()
	pkg := filepath.Join(dir, "wrangler")
	write := func(p, s string, mode os.FileMode) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), mode); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(pkg, "package.json"), `{"name":"wrangler","version":"4.100.0"}`, 0o644)
	write(filepath.Join(pkg, "bin", "wrangler.js"), "//\n", 0o644)
	node := filepath.Join(dir, "node")
	write(node, "#!/bin/sh\necho v22.23.5\n", 0o755)

	code, out, errOut := runCLI(t, map[string]string{"LEAN4CF_WRANGLER": pkg, "LEAN4CF_NODE": node}, "version", "--json")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	var info versionInfo
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	if info.Wrangler != "4.100.0" || info.WranglerSource != "LEAN4CF_WRANGLER" || info.Node != "v22.23.5" || info.NodePath != node {
		t.Fatalf("info = %+v", info)
	}
	if !strings.Contains(info.WranglerWarning, "is not the pinned") {
		t.Fatalf("no mismatch warning: %+v", info)
	}

	code, out, errOut = runCLI(t, map[string]string{"LEAN4CF_WRANGLER": pkg, "LEAN4CF_NODE": node}, "version")
	if code != 0 || !strings.Contains(out, "wrangler 4.100.0 (") || !strings.Contains(out, "node v22.23.5") || !strings.Contains(errOut, "not the pinned") {
		t.Fatalf("exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	for _, args := range [][]string{{"--bogus"}, {"version", "--nope"}, {"version", "extra"}, {"nosuchcommand"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, _, errOut := runCLI(t, nil, args...)
			if code != ExitUsage {
				t.Fatalf("exit %d, want %d; stderr %q", code, ExitUsage, errOut)
			}
			if strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.HasPrefix(errOut, "lean4-cf: ") {
				t.Fatalf("stderr is not one line: %q", errOut)
			}
		})
	}
}
