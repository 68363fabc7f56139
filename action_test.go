// Package lean4cf_test checks the GitHub Action's packaging: action.yml, the Dockerfile and every workflow.
package lean4cf_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rhysd/actionlint"
	"go.yaml.in/yaml/v3"

	"github.com/org/lean4-cf-action/internal/cli"
	"github.com/org/lean4-cf-action/internal/report"
)

// actionMetadata is action.yml, decoded strictly: an unknown or misspelt key is an error.
type actionMetadata struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Author      string `yaml:"author"`
	Inputs      map[string]struct {
		Description string  `yaml:"description"`
		Required    bool    `yaml:"required"`
		Default     *string `yaml:"default"`
	} `yaml:"inputs"`
	Outputs map[string]struct {
		Description string `yaml:"description"`
	} `yaml:"outputs"`
	Runs struct {
		Using string   `yaml:"using"`
		Image string   `yaml:"image"`
		Args  []string `yaml:"args"`
	} `yaml:"runs"`
	Branding struct {
		Icon  string `yaml:"icon"`
		Color string `yaml:"color"`
	} `yaml:"branding"`
}

// wantInputs are the inputs and their defaults ("" = no default).
var wantInputs = map[string]string{
	"cloudflare-api-token":  "",
	"cloudflare-account-id": "",
	"command":               "deploy",
	"image":                 "ghcr.io/ldct/lean4-server:v4.24.0",
	"worker-name":           "lean4-server",
	"instance-type":         "auto",
	"max-instances":         "5",
	"instances":             "1",
	"sleep-after":           "2m",
	"stage":                 "all",
	"wrangler-config":       "",
	"url":                   "",
	"resolve":               "",
	"wrangler":              "",
	"api-key":               "",
	"timeout":               "15m",
	"github-token":          "${{ github.token }}",
	"comment":               "auto",
	"environment":           "",
	"allow-forks":           "false",
	"max-previews":          "5",
}

func readAction(t *testing.T) actionMetadata {
	t.Helper()
	return readActionFile(t, "action.yml")
}

func readActionFile(t *testing.T, name string) actionMetadata {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var md actionMetadata
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&md); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return md
}

func TestActionMetadata(t *testing.T) {
	md := readAction(t)
	if md.Name == "" || md.Description == "" || md.Branding.Icon == "" || md.Branding.Color == "" {
		t.Errorf("name, description and branding are required by the Marketplace: %+v", md)
	}
	if md.Runs.Using != "docker" || md.Runs.Image != "Dockerfile" || !slices.Equal(md.Runs.Args, []string{"action"}) {
		t.Errorf("runs = %+v: want using docker, image Dockerfile, args [action]", md.Runs)
	}
	for name, def := range wantInputs {
		t.Run("input/"+name, func(t *testing.T) {
			in, ok := md.Inputs[name]
			if !ok {
				t.Fatal("missing")
			}
			if in.Required {
				t.Error("required: true is not enforced by GitHub; lean4-cf validates inputs itself")
			}
			got := ""
			if in.Default != nil {
				got = *in.Default
			}
			if got != def {
				t.Errorf("default %q, want %q", got, def)
			}
			doc := "Default: none"
			if def != "" {
				doc = "Default: `" + def + "`"
			}
			if !strings.Contains(in.Description, doc) {
				t.Errorf("description does not document its default (%s): %q", doc, in.Description)
			}
		})
	}
	for name := range md.Inputs {
		if _, ok := wantInputs[name]; !ok {
			t.Errorf("input %q is not documented here", name)
		}
	}
	// The outputs are exactly the ones lean4-cf writes (internal/report.Outputs), in any order.
	outs, err := report.Outputs(&report.Result{})
	if err != nil {
		t.Fatal(err)
	}
	var want, got []string
	for _, o := range outs {
		want = append(want, o.Name)
	}
	for name, o := range md.Outputs {
		got = append(got, name)
		if o.Description == "" {
			t.Errorf("output %q has no description", name)
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if len(want) != 9 || !slices.Equal(got, want) {
		t.Errorf("outputs %v, want the nine lean4-cf writes: %v", got, want)
	}
}

// TestActionDefaultsMatchCLI compares action.yml's defaults with the deploy command's own flag defaults,
// which are what lean4-cf uses when an input is empty (e.g. under `uses: docker://...`).
func TestActionDefaultsMatchCLI(t *testing.T) {
	md := readAction(t)
	var out bytes.Buffer
	code := cli.Main(context.Background(), []string{"deploy", "--help"}, cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: io.Discard, Getenv: func(string) string { return "" }})
	if code != 0 {
		t.Fatalf("deploy --help exited %d", code)
	}
	flags := map[string]string{} // flag -> default, as pflag prints it
	re := regexp.MustCompile(`--([a-z-]+) \S+\s+.*\(default "?([^")]*)"?\)`)
	for _, m := range re.FindAllStringSubmatch(out.String(), -1) {
		flags[m[1]] = m[2]
	}
	for input, flag := range map[string]string{
		"image": "image", "worker-name": "name", "instance-type": "instance-type", "max-instances": "max-instances",
		"instances": "instances", "sleep-after": "sleep-after", "stage": "stage", "timeout": "timeout",
	} {
		got, ok := flags[flag]
		if !ok {
			t.Errorf("deploy --help shows no default for --%s:\n%s", flag, out.String())
			continue
		}
		def := *md.Inputs[input].Default
		if d1, err1 := time.ParseDuration(def); err1 == nil {
			if d2, err2 := time.ParseDuration(got); err2 == nil && d1 == d2 {
				continue
			}
		}
		if got != def {
			t.Errorf("input %s defaults to %q in action.yml but --%s to %q", input, def, flag, got)
		}
	}
}

// lintWorkflow lints one workflow file with actionlint. With local set, `uses: org/lean4-cf-action@v1` is
// first replaced by `uses: ./`, so that actionlint checks its `with:` inputs and `outputs` against this
// repository's action.yml.
func lintWorkflow(t *testing.T, file string, local bool) []*actionlint.Error {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if local {
		src = bytes.ReplaceAll(src, []byte("org/lean4-cf-action@v1"), []byte("./"))
	}
	root, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	proj, err := actionlint.NewProject(root)
	if err != nil {
		t.Fatal(err)
	}
	l, err := actionlint.NewLinter(io.Discard, &actionlint.LinterOptions{WorkingDir: root, Shellcheck: "", Pyflakes: ""})
	if err != nil {
		t.Fatal(err)
	}
	errs, err := l.Lint(file, src, proj)
	if err != nil {
		t.Fatalf("actionlint %s: %v", file, err)
	}
	return errs
}

func workflowFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, g := range []string{".github/workflows/*.yml", "examples/workflows/*.yml"} {
		m, err := filepath.Glob(g)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) < 5 {
		t.Fatalf("found only %v: want ci, release and the examples", files)
	}
	return files
}

func TestWorkflowsLint(t *testing.T) {
	for _, f := range workflowFiles(t) {
		t.Run(f, func(t *testing.T) {
			for _, local := range []bool{false, true} {
				for _, e := range lintWorkflow(t, f, local) {
					t.Errorf("%s:%d:%d: %s [%s] (action resolved locally: %v)", f, e.Line, e.Column, e.Message, e.Kind, local)
				}
			}
		})
	}
}

// TestBrokenWorkflowIsReported proves the lint can fail: each mistake in the fixture is reported.
func TestBrokenWorkflowIsReported(t *testing.T) {
	errs := lintWorkflow(t, "testdata/workflows/broken.yml", true)
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Kind+": "+e.Message)
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{
		`"branchs"`,                       // a misspelt trigger filter
		`"cloudflare-api-tokn"`,           // an input action.yml does not declare
		`"no-such-output"`,                // an output action.yml does not declare
		`github.event.pull_request.title`, // untrusted input in a script
	} {
		if !strings.Contains(all, want) {
			t.Errorf("actionlint did not report %s; it reported:\n%s", want, all)
		}
	}
}

// TestExamples checks what users copy: the published action reference, a permissions block that asks only
// for what the workflow uses, and a concurrency group.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("examples/workflows/*.yml")
	if err != nil || len(files) != 4 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var wf struct {
				On          map[string]any    `yaml:"on"`
				Permissions map[string]string `yaml:"permissions"`
				Concurrency struct {
					Group            string `yaml:"group"`
					CancelInProgress bool   `yaml:"cancel-in-progress"`
				} `yaml:"concurrency"`
				Jobs map[string]struct {
					Concurrency struct {
						Group            string `yaml:"group"`
						CancelInProgress bool   `yaml:"cancel-in-progress"`
					} `yaml:"concurrency"`
					Steps []struct {
						Uses string            `yaml:"uses"`
						With map[string]string `yaml:"with"`
					} `yaml:"steps"`
				} `yaml:"jobs"`
			}
			if err := yaml.Unmarshal(b, &wf); err != nil {
				t.Fatal(err)
			}
			// A group for the workflow, or one on every job (after its `if`, so skipped runs never enter it).
			for name, j := range wf.Jobs {
				c := wf.Concurrency
				if c.Group == "" {
					c = j.Concurrency
				}
				if c.Group == "" || c.CancelInProgress {
					t.Errorf("job %s: concurrency %+v: want a group that queues deploys instead of cancelling them", name, c)
				}
			}
			uses, environment := false, false
			for _, j := range wf.Jobs {
				for _, s := range j.Steps {
					if s.Uses == "org/lean4-cf-action@v1" {
						uses = true
						// A preview records its own Deployment, as the environment input does.
						environment = environment || s.With["environment"] != "" || s.With["command"] == "preview"
					}
				}
			}
			if !uses {
				t.Error("no step uses org/lean4-cf-action@v1")
			}
			_, onComment := wf.On["issue_comment"]
			_, onPR := wf.On["pull_request"]
			want := map[string]string{"contents": "read"}
			if environment {
				want["deployments"] = "write"
			}
			if onComment || onPR {
				want["pull-requests"] = "write"
			}
			if len(wf.Permissions) != len(want) {
				t.Errorf("permissions %v, want exactly %v", wf.Permissions, want)
			}
			for k, v := range want {
				if wf.Permissions[k] != v {
					t.Errorf("permissions %v, want exactly %v", wf.Permissions, want)
				}
			}
		})
	}
}

// usesRE is a `uses:` line: the reference and an optional trailing comment.
var usesRE = regexp.MustCompile(`(?m)^\s*(?:-\s+)?uses:\s*(\S+)(?:\s+#\s*(\S.*))?$`)

// pinProblems lists each `uses:` of a workflow that is not pinned by a full commit SHA with its version
// in a trailing comment (`owner/repo@<40 hex> # vX.Y.Z`), as security scanners ask: a tag can be moved,
// a commit cannot. Local actions (`./`) and digest-pinned images are pinned already; self is this
// action's own published name, which the example workflows show as users write it.
func pinProblems(src, self string) []string {
	var bad []string
	sha := regexp.MustCompile(`^[^@\s]+@[0-9a-f]{40}$`)
	version := regexp.MustCompile(`^v\d+(\.\d+){0,2}$`)
	for _, m := range usesRE.FindAllStringSubmatch(src, -1) {
		ref, comment := m[1], m[2]
		switch {
		case strings.HasPrefix(ref, "./"), self != "" && ref == self:
		case strings.HasPrefix(ref, "docker://"):
			if !strings.Contains(ref, "@sha256:") {
				bad = append(bad, ref+": a docker image by tag, not by digest")
			}
		case !sha.MatchString(ref):
			bad = append(bad, ref+": not pinned by a full commit SHA")
		case !version.MatchString(comment):
			bad = append(bad, ref+": no `# vX.Y.Z` comment naming the version pinned")
		}
	}
	return bad
}

func TestWorkflowsPinActions(t *testing.T) {
	for _, f := range workflowFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(usesRE.FindAllString(string(b), -1)); n == 0 {
			t.Errorf("%s: no uses: found, the pattern is broken", f)
		}
		for _, p := range pinProblems(string(b), "org/lean4-cf-action@v1") {
			t.Errorf("%s: %s", f, p)
		}
	}
}

func TestPinProblemsFindsMistakes(t *testing.T) {
	for _, tc := range []struct {
		uses string
		bad  bool
	}{
		{"- uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1", false},
		{"  uses: ./", false},
		{"- uses: docker://ghcr.io/o/i@sha256:" + strings.Repeat("ab", 32), false},
		{"- uses: actions/checkout@v7", true},
		{"- uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1", true},
		{"- uses: actions/checkout@3d3c42e # v7.0.1", true},
		{"- uses: docker://ghcr.io/o/i:v1", true},
		{"- uses: org/lean4-cf-action@v2", true},
	} {
		if got := len(pinProblems(tc.uses+"\n", "org/lean4-cf-action@v1")) > 0; got != tc.bad {
			t.Errorf("%q: reported %v, want %v", tc.uses, got, tc.bad)
		}
	}
}

// TestReleaseActionYml performs release.yml's rewrite of action.yml on a copy: the release commit's
// action.yml runs the pushed image by digest and is otherwise the same file; a bad reference, or a file
// already rewritten, is refused with exit 2 and the file left as it was.
func TestReleaseActionYml(t *testing.T) {
	orig, err := os.ReadFile("action.yml")
	if err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs("scripts/release-action-yml.sh")
	if err != nil {
		t.Fatal(err)
	}
	rewrite := func(t *testing.T, file, ref string) (int, string) {
		cmd := exec.Command(script, ref, file)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), string(out)
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}
	digest := "sha256:" + strings.Repeat("0123456789abcdef", 4)
	ref := "ghcr.io/octo/lean4-cf-action@" + digest

	dir := t.TempDir()
	file := filepath.Join(dir, "action.yml")
	if err := os.WriteFile(file, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := rewrite(t, file, ref); code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	before, after := readActionFile(t, "action.yml"), readActionFile(t, file)
	if after.Runs.Image != "docker://"+ref {
		t.Errorf("runs.image %q, want docker://%s", after.Runs.Image, ref)
	}
	after.Runs.Image = before.Runs.Image
	if !reflect.DeepEqual(before, after) {
		t.Errorf("the rewrite changed more than runs.image:\nbefore %+v\nafter  %+v", before, after)
	}
	rewritten, _ := os.ReadFile(file)
	for _, tc := range []struct{ name, ref string }{
		{"already rewritten", ref},
		{"tag", "ghcr.io/octo/lean4-cf-action:v1"},
		{"short digest", "ghcr.io/octo/lean4-cf-action@sha256:0123"},
		{"upper case", "ghcr.io/Octo/lean4-cf-action@" + digest},
		{"no repository", digest},
		{"empty", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := rewrite(t, file, tc.ref)
			if code != 2 || strings.Count(strings.TrimSpace(out), "\n") != 0 || !strings.HasPrefix(out, "release-action-yml: ") {
				t.Errorf("exit %d, output %q: want exit 2 and one line", code, out)
			}
			if now, _ := os.ReadFile(file); !bytes.Equal(now, rewritten) {
				t.Error("the file changed")
			}
		})
	}

	// release.yml runs this script on the digest it pushed, then moves both tags to the commit.
	wf, err := os.ReadFile(".github/workflows/release.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`scripts/release-action-yml.sh "$IMAGE@$DIGEST" action.yml`, "DIGEST: ${{ steps.build.outputs.digest }}",
		`git tag -f -a "$TAG"`, `git tag -f "$MAJOR"`, `git push -f origin "refs/tags/$TAG" "refs/tags/$MAJOR"`,
		"build-args: VERSION=${{ env.TAG }}", "actions/attest-build-provenance@", "actions/attest-sbom@"} {
		if !bytes.Contains(wf, []byte(want)) {
			t.Errorf("release.yml does not contain %q", want)
		}
	}
}
