package lean4cf_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"

	"github.com/org/lean4-cf-action/internal/wrangler"
)

// dockerfileFacts is what the Dockerfile must agree with elsewhere in the repository.
type dockerfileFacts struct {
	nodeVersion string // scripts/toolchain.sh's node_version
	wrangler    string // the version worker/package.json pins
}

// checkDockerfile parses a Dockerfile with BuildKit's own parser and lint rules and returns every
// problem found, one line each; ignored is the .dockerignore matcher (nil: nothing is ignored).
func checkDockerfile(src []byte, facts dockerfileFacts, ignored *patternmatcher.PatternMatcher, exists func(string) bool) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		return []string{"parse: " + err.Error()}
	}
	for _, w := range res.Warnings {
		bad("parser warning: %s", w.Short)
	}
	lint := linter.New(&linter.Config{Warn: func(rule, _, _, msg string, _ []parser.Range) {
		bad("lint %s: %s", rule, msg)
	}})
	stages, metaArgs, err := instructions.Parse(res.AST, lint)
	if err != nil {
		return append(problems, "instructions: "+err.Error())
	}
	args := map[string]string{}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			args[kv.Key] = kv.ValueString()
		}
	}
	expand := func(s string) string { return os.Expand(s, func(k string) string { return args[k] }) }
	if len(stages) < 2 {
		return append(problems, fmt.Sprintf("%d stage(s): want a Go build stage and a final stage", len(stages)))
	}

	final := stages[len(stages)-1]
	built := false // a stage runs the static go build
	npmCI := ""    // the folder of the stage that runs npm ci
	wantNode := "node:" + facts.nodeVersion + "-bookworm-slim"
	if got := expand(final.BaseName); got != wantNode {
		bad("final stage FROM %s: want %s (scripts/toolchain.sh's Node)", got, wantNode)
	}
	env := map[string]string{}
	for i, st := range stages {
		base := expand(st.BaseName)
		workdir := ""
		copied := map[string]bool{}
		for _, c := range st.Commands {
			switch c := c.(type) {
			case *instructions.UserCommand:
				if i == len(stages)-1 {
					bad("final stage sets USER %s: GitHub needs the action to run as root", c.User)
				}
			case *instructions.WorkdirCommand:
				if i == len(stages)-1 {
					bad("final stage sets WORKDIR %s: the runner overrides it with the workspace", c.Path)
				}
				workdir = path.Join(workdir, c.Path)
			case *instructions.CopyCommand:
				for _, s := range c.SourcePaths {
					if c.From != "" {
						continue
					}
					copied[path.Base(s)] = true
					if !exists(s) {
						bad("COPY %s: not in the repository", s)
					} else if ignored != nil {
						if m, _ := ignored.MatchesOrParentMatches(s); m {
							bad("COPY %s: excluded by .dockerignore", s)
						}
					}
				}
			case *instructions.RunCommand:
				line := strings.Join(c.CmdLine, " ")
				if strings.Contains(line, "go build") {
					built = true
					for _, want := range []string{"CGO_ENABLED=0", "-trimpath", `-ldflags="-s -w"`, "./cmd/lean4-cf"} {
						if !strings.Contains(line, want) {
							bad("go build without %s: %s", want, line)
						}
					}
					if !strings.HasPrefix(base, "golang:1.26") {
						bad("go build runs on %s: want golang:1.26", base)
					}
				}
				if strings.Contains(line, "npm install") {
					bad("npm install resolves versions again: use npm ci from package-lock.json")
				}
				if strings.Contains(line, "npm ci") {
					npmCI = workdir
					for _, f := range []string{"package.json", "package-lock.json"} {
						if !copied[f] {
							bad("npm ci before %s is copied", f)
						}
					}
					if strings.Contains(line, "--omit=dev") || strings.Contains(line, "--production") {
						bad("npm ci omits devDependencies, where wrangler and @cloudflare/containers are")
					}
					if !strings.HasPrefix(base, "node:"+facts.nodeVersion) {
						bad("npm ci runs on %s: want node:%s", base, facts.nodeVersion)
					}
				}
			case *instructions.EnvCommand:
				if i == len(stages)-1 {
					for _, kv := range c.Env {
						env[kv.Key] = kv.Value
					}
				}
			case *instructions.EntrypointCommand:
				if i == len(stages)-1 && (c.PrependShell || !slices.Equal(c.CmdLine, []string{"/usr/local/bin/lean4-cf"})) {
					bad("ENTRYPOINT %q (shell form %v): want [\"/usr/local/bin/lean4-cf\"]", c.CmdLine, c.PrependShell)
				}
			case *instructions.CmdCommand:
				if i == len(stages)-1 && (c.PrependShell || !slices.Equal(c.CmdLine, []string{"action"})) {
					bad("CMD %q: want [\"action\"], the Actions entry", c.CmdLine)
				}
			}
		}
	}
	if !built {
		bad("no stage runs go build")
	}
	if npmCI == "" {
		bad("no stage runs npm ci: the Worker's packages would be downloaded at run time")
	}
	if want := path.Join(npmCI, "node_modules/wrangler/bin/wrangler.js"); npmCI != "" && env["LEAN4CF_WRANGLER"] != want {
		bad("LEAN4CF_WRANGLER=%q: want %q, where npm ci put wrangler %s", env["LEAN4CF_WRANGLER"], want, facts.wrangler)
	}
	if env["LEAN4CF_NODE"] != "/usr/local/bin/node" {
		bad("LEAN4CF_NODE=%q: want /usr/local/bin/node, the official node image's Node", env["LEAN4CF_NODE"])
	}
	return problems
}

// repoFacts reads the Node version from scripts/toolchain.sh and checks that wrangler is pinned the same
// way in worker/package.json, its lock file and internal/wrangler.
func repoFacts(t *testing.T) dockerfileFacts {
	t.Helper()
	sh, err := os.ReadFile("scripts/toolchain.sh")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^node_version=([0-9.]+)$`).FindSubmatch(sh)
	if m == nil {
		t.Fatal("scripts/toolchain.sh sets no node_version")
	}
	var pkg struct {
		DevDependencies map[string]string `json:"devDependencies"`
	}
	var lock struct {
		Packages map[string]struct {
			Version string            `json:"version"`
			Bin     map[string]string `json:"bin"`
		} `json:"packages"`
	}
	readJSON(t, "worker/package.json", &pkg)
	readJSON(t, "worker/package-lock.json", &lock)
	pinned := pkg.DevDependencies["wrangler"]
	locked := lock.Packages["node_modules/wrangler"]
	if pinned != wrangler.PinnedVersion || locked.Version != pinned {
		t.Fatalf("wrangler: package.json pins %q, the lock installs %q, internal/wrangler expects %q", pinned, locked.Version, wrangler.PinnedVersion)
	}
	if locked.Bin["wrangler"] != "bin/wrangler.js" {
		t.Fatalf("the locked wrangler's bin is %q, not bin/wrangler.js", locked.Bin["wrangler"])
	}
	if lock.Packages["node_modules/@cloudflare/containers"].Version == "" {
		t.Fatal("the lock installs no @cloudflare/containers, which lean4-cf links into every Worker it renders")
	}
	return dockerfileFacts{nodeVersion: string(m[1]), wrangler: pinned}
}

func readJSON(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func dockerIgnore(t *testing.T) *patternmatcher.PatternMatcher {
	t.Helper()
	f, err := os.Open(".dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f) // the reader docker build uses
	if err != nil {
		t.Fatal(err)
	}
	m, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func exists(p string) bool {
	_, err := os.Stat(filepath.FromSlash(p))
	return err == nil
}

func TestDockerfile(t *testing.T) {
	src, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range checkDockerfile(src, repoFacts(t), dockerIgnore(t), exists) {
		t.Error(p)
	}
}

// TestDockerfileCheckFindsMistakes runs the same check on a broken Dockerfile: each mistake is reported.
func TestDockerfileCheckFindsMistakes(t *testing.T) {
	src, err := os.ReadFile("testdata/Dockerfile.broken")
	if err != nil {
		t.Fatal(err)
	}
	problems := strings.Join(checkDockerfile(src, dockerfileFacts{nodeVersion: "22.23.5", wrangler: "4.164.0"}, dockerIgnore(t), exists), "\n")
	for _, want := range []string{
		"lint FromAsCasing",
		"final stage sets USER",
		"final stage sets WORKDIR",
		"COPY no-such-dir: not in the repository",
		"COPY README.md: excluded by .dockerignore",
		"go build without -trimpath",
		"npm install resolves versions again",
		"no stage runs npm ci",
		"final stage FROM node:20-bookworm-slim",
		"LEAN4CF_NODE=",
		"ENTRYPOINT",
	} {
		if !strings.Contains(problems, want) {
			t.Errorf("no problem mentions %q; problems:\n%s", want, problems)
		}
	}
}

// TestDockerContextHasTheBuild checks that every file the Go build of lean4-cf reads (sources and
// embedded files of the module's packages) is in the build context, which .dockerignore filters.
func TestDockerContextHasTheBuild(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go is not on PATH")
	}
	out, err := exec.Command("go", "list", "-deps", "-f",
		`{{if .Module}}{{if .Module.Main}}{{.Dir}}|{{join .GoFiles ","}},{{join .EmbedFiles ","}}{{end}}{{end}}`,
		"./cmd/lean4-cf").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	root, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	ignored := dockerIgnore(t)
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		dir, files, _ := strings.Cut(line, "|")
		for _, f := range strings.Split(files, ",") {
			if f == "" {
				continue
			}
			rel, err := filepath.Rel(root, filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			n++
			if m, _ := ignored.MatchesOrParentMatches(filepath.ToSlash(rel)); m {
				t.Errorf("%s is needed by the build but .dockerignore excludes it", rel)
			}
		}
	}
	for _, f := range []string{"go.mod", "go.sum", "worker/package.json", "worker/package-lock.json"} {
		if m, _ := ignored.MatchesOrParentMatches(f); m {
			t.Errorf("%s is needed by the build but .dockerignore excludes it", f)
		}
	}
	for _, f := range []string{".tools/node/.version", "worker/node_modules/wrangler/package.json", ".git/HEAD", "README.md"} {
		if m, _ := ignored.MatchesOrParentMatches(f); !m {
			t.Errorf("%s would be sent to docker build: .dockerignore should exclude it", f)
		}
	}
	if n < 20 {
		t.Fatalf("go list named only %d files: %s", n, out)
	}
}
