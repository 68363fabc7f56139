package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The secret scan must find a secret wherever it is, except in the one add-mask line the runner carries
// out: each case writes files into a fresh folder and lists the leaks it must report.
func TestScanSecrets(t *testing.T) {
	const tok = "cftest-token-0123456789abcdef"
	secrets := map[string]string{"token": tok, "short": "zzz"}
	cases := []struct {
		name  string
		files map[string]string
		extra map[string]string
		want  []string // leak.String()
	}{
		{"clean", map[string]string{".out/1.stdout": "::add-mask::" + tok + "\nhello\n", "output": "url<<x\nhttps://a\nx\n"}, nil, nil},
		{"in the outputs file", map[string]string{"output": "token<<d\n" + tok + "\nd\n"}, nil, []string{"output:2: token"}},
		{"in the summary", map[string]string{"summary": "## run\nAuthorization: Bearer " + tok}, nil, []string{"summary:2: token"}},
		{"in a rendered config left on disk", map[string]string{".tmp/lean4cf-deploy-1/stub/wrangler.jsonc": `{"vars": {"T": "` + tok + `"}}`}, nil,
			[]string{".tmp/lean4cf-deploy-1/stub/wrangler.jsonc:1: token"}},
		{"in a log line", map[string]string{".out/1.stderr": "  wrangler: using " + tok}, nil, []string{".out/1.stderr:1: token"}},
		{"add-mask with more on the line", map[string]string{".out/1.stdout": "::add-mask::" + tok + " \n"}, nil, []string{".out/1.stdout:1: token"}},
		{"add-mask indented", map[string]string{".out/1.stdout": "  ::add-mask::" + tok + "\n"}, nil, []string{".out/1.stdout:1: token"}},
		{"add-mask outside a log capture", map[string]string{"notes": "::add-mask::" + tok}, nil, []string{"notes:1: token"}},
		{"add-mask inside stop-commands is printed, not run", map[string]string{".out/1.stdout": "::stop-commands::t0k\n::add-mask::" + tok + "\n::t0k::\n"}, nil,
			[]string{".out/1.stdout:2: token"}},
		{"add-mask after the resume runs", map[string]string{".out/1.stdout": "::stop-commands::t0k\n::t0k::\n::add-mask::" + tok + "\n"}, nil, nil},
		{"in a comment body sent to GitHub", nil, map[string]string{"GitHub request 3": `{"body":"` + tok + `"}`}, []string{"GitHub request 3:1: token"}},
		{"short secrets are still exact", map[string]string{"x": "zzz"}, nil, []string{"x:1: short"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			for name, body := range c.files {
				p := filepath.Join(root, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			leaks, err := scanSecrets(root, c.extra, secrets)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, l := range leaks {
				got = append(got, l.String())
			}
			if strings.Join(got, "|") != strings.Join(c.want, "|") {
				t.Fatalf("leaks = %q, want %q", got, c.want)
			}
		})
	}
}

// The runner model: what the Actions runner would carry out, line by line.
func TestRunnerLog(t *testing.T) {
	log := strings.Join([]string{
		"::group::lean4-cf: stub",
		"::stop-commands::abc123",
		"  wrangler: ::set-output name=x::y",
		"::add-mask::hidden",
		"  wrangler: ##[add-mask]legacy",
		"::ABC123::",
		"::endgroup::",
		"  ::warning::indented still counts",
		"  wrangler: ##[set-output name=z;]legacy anywhere on a line counts",
		"text ::error::not at the start",
		"::unknown-command::x",
	}, "\n")
	var rl runnerLog
	var got []string
	for _, l := range strings.Split(log, "\n") {
		if name, data, ok := rl.process(l); ok {
			got = append(got, name+" "+data)
		}
	}
	want := []string{"group lean4-cf: stub", "stop-commands abc123", "ABC123 ", "endgroup ", "warning indented still counts",
		"set-output legacy anywhere on a line counts"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("commands = %q\nwant       %q", got, want)
	}
}
