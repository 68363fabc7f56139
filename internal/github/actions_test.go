package github

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/lean4-cf-action/internal/report"
)

// parseOutputs reads a $GITHUB_OUTPUT file the way the runner does: name<<DELIM ... DELIM, or name=value.
func parseOutputs(t *testing.T, data string) map[string]string {
	t.Helper()
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if name, delim, ok := strings.Cut(line, "<<"); ok {
			var val []string
			closed := false
			for sc.Scan() {
				if sc.Text() == delim {
					closed = true
					break
				}
				val = append(val, sc.Text())
			}
			if !closed {
				t.Fatalf("heredoc for %q never closed", name)
			}
			out[name] = strings.Join(val, "\n")
			continue
		}
		if name, val, ok := strings.Cut(line, "="); ok {
			out[name] = val
			continue
		}
		t.Fatalf("stray line in outputs file: %q", line)
	}
	return out
}

func setup(t *testing.T) (*Actions, *bytes.Buffer, map[string]string) {
	dir := t.TempDir()
	env := map[string]string{
		"GITHUB_ACTIONS":      "true",
		"GITHUB_OUTPUT":       filepath.Join(dir, "output"),
		"GITHUB_STEP_SUMMARY": filepath.Join(dir, "summary"),
	}
	var log bytes.Buffer
	return NewActions(&log, func(k string) string { return env[k] }), &log, env
}

func TestSetOutputsUsesRandomHeredocs(t *testing.T) {
	x, log, env := setup(t)
	evil := "line1\nghadelimiter_x\ninjected=1\nEOF"
	fixed := libraryDelimiter // a one-line value that is the library's delimiter would end its block early
	if err := x.SetOutputs([]report.Output{{Name: "url", Value: "https://a.workers.dev"}, {Name: "result-json", Value: evil}, {Name: "empty", Value: ""},
		{Name: "fixed", Value: fixed}, {Name: "two", Value: "a\nb"}}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(env["GITHUB_OUTPUT"])
	if err != nil {
		t.Fatal(err)
	}
	got := parseOutputs(t, string(data))
	if got["url"] != "https://a.workers.dev" || got["result-json"] != evil || got["empty"] != "" || got["fixed"] != fixed || got["two"] != "a\nb" || len(got) != 5 {
		t.Fatalf("outputs = %#v\nfile:\n%s", got, data)
	}
	if strings.Contains(log.String(), "set-output") {
		t.Fatalf("deprecated ::set-output printed: %q", log.String())
	}
	// Multi-line values get random delimiters, never the same twice.
	var random []string
	for _, l := range strings.Split(string(data), "\n") {
		if _, d, ok := strings.Cut(l, "<<"); ok && strings.HasPrefix(d, "ghadelimiter_") {
			random = append(random, d)
		}
	}
	if len(random) != 3 || random[0] == random[1] || random[1] == random[2] || random[0] == random[2] {
		t.Fatalf("random delimiters %q, want 3 distinct:\n%s", random, data)
	}
}

func TestMissingFileCommandsAreErrorsNotPanics(t *testing.T) {
	x := NewActions(&bytes.Buffer{}, func(string) string { return "" })
	if err := x.SetOutputs([]report.Output{{Name: "a", Value: "b"}}); err == nil || !strings.Contains(err.Error(), "GITHUB_OUTPUT") {
		t.Fatalf("err = %v", err)
	}
	if err := x.AddSummary("x"); err == nil {
		t.Fatal("no error without GITHUB_STEP_SUMMARY")
	}
	bad := NewActions(&bytes.Buffer{}, func(k string) string { return filepath.Join(t.TempDir(), "no", "such", "dir") })
	if err := bad.SetOutputs([]report.Output{{Name: "a", Value: "b"}}); err == nil {
		t.Fatal("no error for an unwritable outputs file")
	}
}

func TestSummaryMaskGroupsAnnotations(t *testing.T) {
	x, log, env := setup(t)
	x.Mask("tok-123", "", "multi\nline")
	x.Group("stage: push")
	x.EndGroup()
	x.Error("promote", "verification failed: 50% of\nrequests")
	resume := x.StopCommands()
	log.WriteString("::add-mask::from-a-tool\n")
	resume()
	if err := x.AddSummary("## hello\n"); err != nil {
		t.Fatal(err)
	}
	s := log.String()
	for _, want := range []string{"::add-mask::tok-123\n", "::add-mask::multi\n", "::add-mask::line\n", "::group::stage: push\n", "::endgroup::\n",
		"::error title=promote::verification failed: 50%25 of%0Arequests\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("log lacks %q:\n%s", want, s)
		}
	}
	if strings.Count(s, "::add-mask::") != 4 { // three secrets' lines plus the tool's own line
		t.Errorf("empty secrets must not be masked:\n%s", s)
	}
	i := strings.Index(s, "::stop-commands::")
	token := strings.TrimSpace(s[i+len("::stop-commands::"):])
	token = token[:strings.IndexByte(token, '\n')]
	if len(token) < 26 || !strings.Contains(s, "::"+token+"::\n") {
		t.Fatalf("stop-commands token %q not resumed:\n%s", token, s)
	}
	sum, _ := os.ReadFile(env["GITHUB_STEP_SUMMARY"])
	if string(sum) != "## hello\n\n" {
		t.Fatalf("summary = %q", sum)
	}
}

// Log keeps commands stopped except to issue its own: a mask while stopped resumes, masks and stops
// again under a new token; a group opens with commands live and its lines run stopped.
func TestLog(t *testing.T) {
	x, buf, _ := setup(t)
	l := x.NewLog()
	l.Group("lean4-cf: push")
	l.Mask("pw-1")
	l.EndGroup()
	l.EndGroup() // nothing open: nothing written
	l.Stop()
	l.Stop() // already stopped
	l.Resume()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	kinds := make([]string, len(lines))
	var tokens []string
	for i, ln := range lines {
		switch {
		case strings.HasPrefix(ln, "::stop-commands::"):
			kinds[i] = "stop"
			tokens = append(tokens, strings.TrimPrefix(ln, "::stop-commands::"))
		case len(tokens) > 0 && ln == "::"+tokens[len(tokens)-1]+"::":
			kinds[i] = "resume"
		default:
			kinds[i] = ln
		}
	}
	want := []string{"::group::lean4-cf: push", "stop", "resume", "::add-mask::pw-1", "stop", "resume", "::endgroup::", "stop", "resume"}
	if strings.Join(kinds, "|") != strings.Join(want, "|") {
		t.Fatalf("log:\n%s\nwant %q", buf.String(), want)
	}
	if tokens[0] == tokens[1] || tokens[1] == tokens[2] {
		t.Fatalf("stop-commands token reused: %q", tokens)
	}
}
