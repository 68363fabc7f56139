package lean4cf_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
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
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"

	"github.com/org/lean4-cf-action/internal/wrangler"
)

// dockerfileFacts is what the Dockerfile must agree with elsewhere in the repository.
type dockerfileFacts struct {
	nodeVersion string // scripts/toolchain.sh's node_version
	wrangler    string // the version worker/package.json pins
}

// versionSymbol is the string variable the Dockerfile's VERSION build argument is linked into.
const versionSymbol = "github.com/org/lean4-cf-action/internal/cli.stampedVersion"

// platformRE is what a FROM --platform value must expand to (os/arch[/variant]): the classic builder
// fails on anything else, an empty value included.
var platformRE = regexp.MustCompile(`^[A-Za-z0-9_-]+/[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)?$`)

// expandMetaArgs gives the global ARGs' values as a builder computes them: builtin holds what the builder
// itself sets (BuildKit: BUILDPLATFORM and the like; the classic builder: nothing), and each default is
// expanded against what is set so far, so a default can defer to the builder's value.
func expandMetaArgs(metaArgs []instructions.ArgCommand, builtin map[string]string) (map[string]string, error) {
	lex := shell.NewLex('\\')
	vals := map[string]string{}
	maps.Copy(vals, builtin)
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			if kv.Value == nil {
				continue
			}
			env := make([]string, 0, len(vals))
			for k, v := range vals {
				env = append(env, k+"="+v)
			}
			v, _, err := lex.ProcessWord(*kv.Value, shell.EnvsFromSlice(env))
			if err != nil {
				return nil, fmt.Errorf("ARG %s: %w", kv.Key, err)
			}
			vals[kv.Key] = v
		}
	}
	return vals, nil
}

// checkDockerfile parses a Dockerfile with BuildKit's own parser and lint rules and returns every
// problem found, one line each; ignored is the .dockerignore matcher (nil: nothing is ignored).
func checkDockerfile(src []byte, facts dockerfileFacts, ignored *patternmatcher.PatternMatcher, exists func(string) bool) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	// A syntax directive makes every cold BuildKit build pull the docker/dockerfile frontend image first.
	if syntax, _, _, ok := parser.DetectSyntax(src); ok {
		bad("syntax directive %s: the builder's own frontend reads this file; a cold build would pull the frontend image", syntax)
	}
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		return append(problems, "parse: "+err.Error())
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
	args, err := expandMetaArgs(metaArgs, nil)
	if err != nil {
		return append(problems, err.Error())
	}
	expand := func(s string) string { return os.Expand(s, func(k string) string { return args[k] }) }
	if len(stages) < 2 {
		return append(problems, fmt.Sprintf("%d stage(s): want a Go build stage and a final stage", len(stages)))
	}
	// FROM --platform as the classic builder (no platform arguments) and BuildKit (its own) see it.
	const builderPlatform = "linux/s390x" // not a default anyone would write, so an override shows
	bkArgs, err := expandMetaArgs(metaArgs, map[string]string{"BUILDPLATFORM": builderPlatform, "TARGETPLATFORM": builderPlatform})
	if err != nil {
		return append(problems, err.Error())
	}
	for _, st := range stages {
		if st.Platform == "" {
			continue
		}
		lex := shell.NewLex('\\')
		for _, b := range []struct {
			name string
			args map[string]string
		}{{"classic builder", args}, {"BuildKit", bkArgs}} {
			env := []string{}
			for k, v := range b.args {
				env = append(env, k+"="+v)
			}
			got, _, err := lex.ProcessWord(st.Platform, shell.EnvsFromSlice(env))
			switch {
			case err != nil:
				bad("FROM --platform=%s: %v", st.Platform, err)
			case !platformRE.MatchString(got):
				bad("FROM --platform=%s is %q with the %s, which fails to parse it", st.Platform, got, b.name)
			case b.name == "BuildKit" && strings.Contains(st.Platform, "BUILDPLATFORM") && got != builderPlatform:
				bad("FROM --platform=%s is %q with BuildKit, not the builder's platform: an ARG default overrides it", st.Platform, got)
			}
		}
	}
	stageBase := map[string]string{} // stage name -> its expanded base image
	for _, st := range stages {
		if st.Name != "" {
			stageBase[st.Name] = expand(st.BaseName)
		}
	}

	final := stages[len(stages)-1]
	built := false // a stage runs the static go build
	npmCI := ""    // the folder of the stage that runs npm ci
	nodeImage := "node:" + facts.nodeVersion + "-bookworm-slim"
	if got := expand(final.BaseName); got != "debian:bookworm-slim" {
		bad("final stage FROM %s: want debian:bookworm-slim (Node's binary alone is copied in, no package manager)", got)
	}
	env := map[string]string{}
	nodeCopied := false
	globalArgs := map[string]bool{}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			globalArgs[kv.Key] = true
		}
	}
	for i, st := range stages {
		base := expand(st.BaseName)
		isFinal := i == len(stages)-1
		workdir := ""
		copied := map[string]bool{}
		stageArgs := map[string]bool{}
		for _, c := range st.Commands {
			switch c := c.(type) {
			case *instructions.ArgCommand:
				for _, kv := range c.Args {
					stageArgs[kv.Key] = true
					if isFinal && kv.Key == "BUILD_CA_CERTS" {
						bad("final stage declares ARG BUILD_CA_CERTS: the build's proxy certificates belong to build stages only")
					}
				}
			case *instructions.UserCommand:
				if isFinal {
					bad("final stage sets USER %s: GitHub needs the action to run as root", c.User)
				}
			case *instructions.WorkdirCommand:
				if isFinal {
					bad("final stage sets WORKDIR %s: the runner overrides it with the workspace", c.Path)
				}
				workdir = path.Join(workdir, c.Path)
			case *instructions.CopyCommand:
				for _, s := range c.SourcePaths {
					if c.From != "" {
						if isFinal && s == "/usr/local/bin/node" && stageBase[c.From] == nodeImage {
							nodeCopied = true
						}
						if isFinal && strings.Contains(s, "node_modules/npm") {
							bad("COPY --from=%s %s: npm is not run in the action image", c.From, s)
						}
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
				if strings.Contains(line, "go build") && !strings.Contains(line, "./cmd/") {
					// The dependency layer: its compiles are reused only under the binary's own settings.
					for _, want := range []string{"CGO_ENABLED=0", "GOOS=${TARGETOS}", "GOARCH=${TARGETARCH}", "-trimpath"} {
						if !strings.Contains(line, want) {
							bad("go build of the dependencies without %s: %s", want, line)
						}
					}
				} else if strings.Contains(line, "go build") {
					built = true
					for _, want := range []string{"CGO_ENABLED=0", "-trimpath", `-ldflags="-s -w`, "./cmd/lean4-cf", "-X " + versionSymbol + "=${VERSION}"} {
						if !strings.Contains(line, want) {
							bad("go build without %s: %s", want, line)
						}
					}
					if !stageArgs["VERSION"] || !globalArgs["VERSION"] {
						bad("go build stamps ${VERSION}, but VERSION is not an ARG both globally and in its stage")
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
					if !strings.Contains(line, "--omit=dev") {
						bad("npm ci without --omit=dev: the Worker's tests and type checks would ship in the image")
					}
					if base != nodeImage {
						bad("npm ci runs on %s: want %s (scripts/toolchain.sh's Node)", base, nodeImage)
					}
				}
				if isFinal && (strings.Contains(line, "npm ") || strings.Contains(line, "apt-get")) {
					bad("final stage runs %q: install in a build stage and copy the result", line)
				}
			case *instructions.EnvCommand:
				if isFinal {
					for _, kv := range c.Env {
						env[kv.Key] = kv.Value
					}
				}
			case *instructions.EntrypointCommand:
				if isFinal && (c.PrependShell || !slices.Equal(c.CmdLine, []string{"/usr/local/bin/lean4-cf"})) {
					bad("ENTRYPOINT %q (shell form %v): want [\"/usr/local/bin/lean4-cf\"]", c.CmdLine, c.PrependShell)
				}
			case *instructions.CmdCommand:
				if isFinal && (c.PrependShell || !slices.Equal(c.CmdLine, []string{"action"})) {
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
	if !nodeCopied {
		bad("the final stage copies no /usr/local/bin/node from a %s stage", nodeImage)
	}
	if want := path.Join(npmCI, "node_modules/wrangler/bin/wrangler.js"); npmCI != "" && env["LEAN4CF_WRANGLER"] != want {
		bad("LEAN4CF_WRANGLER=%q: want %q, where npm ci put wrangler %s", env["LEAN4CF_WRANGLER"], want, facts.wrangler)
	}
	if env["LEAN4CF_NODE"] != "/usr/local/bin/node" {
		bad("LEAN4CF_NODE=%q: want /usr/local/bin/node, the Node copied from the node image", env["LEAN4CF_NODE"])
	}
	// wrangler writes its configuration and logs under $XDG_CONFIG_HOME (else $HOME, the runner's mounted
	// _github_home): they must stay inside the container, which the runner removes.
	for _, k := range []string{"XDG_CONFIG_HOME", "WRANGLER_LOG_PATH"} {
		if v := env[k]; !strings.HasPrefix(v, "/tmp/") {
			bad("%s=%q: want a folder under /tmp, so that wrangler writes nothing as root into the runner's mounts", k, v)
		}
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
		Dependencies map[string]string `json:"dependencies"`
	}
	var lock struct {
		Packages map[string]struct {
			Version string            `json:"version"`
			Bin     map[string]string `json:"bin"`
		} `json:"packages"`
	}
	readJSON(t, "worker/package.json", &pkg)
	readJSON(t, "worker/package-lock.json", &lock)
	// The image installs production dependencies only: what lean4-cf runs and links must be among them.
	for _, dep := range []string{"wrangler", "@cloudflare/containers"} {
		if pkg.Dependencies[dep] == "" {
			t.Fatalf("worker/package.json: %s is not in dependencies, so npm ci --omit=dev would leave it out of the image", dep)
		}
	}
	pinned := pkg.Dependencies["wrangler"]
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
		"syntax directive docker/dockerfile:1",
		`FROM --platform=$BUILDPLATFORM is "linux/amd64" with BuildKit`, // a default overriding the builder's
		`FROM --platform=$TARGETPLATFORM is "" with the classic builder`,
		"final stage sets USER",
		"final stage sets WORKDIR",
		"final stage declares ARG BUILD_CA_CERTS",
		"COPY no-such-dir: not in the repository",
		"COPY README.md: excluded by .dockerignore",
		"COPY --from=worker /usr/local/lib/node_modules/npm",
		"go build without -trimpath",
		"go build without -X " + versionSymbol,
		"npm install resolves versions again",
		"npm ci without --omit=dev",
		`final stage runs "npm install wrangler"`,
		"final stage FROM node:20-bookworm-slim",
		"copies no /usr/local/bin/node",
		"LEAN4CF_NODE=",
		"XDG_CONFIG_HOME=",
		"WRANGLER_LOG_PATH=",
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

// TestDockerfileStampsVersion links lean4-cf with the Dockerfile's own -ldflags, VERSION set as release.yml
// sets it, and runs `lean4-cf version`: a misspelt -X symbol is silently ignored by the linker, so only
// running the binary shows that the stamp arrives.
func TestDockerfileStampsVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("links lean4-cf")
	}
	stages := dockerfileStages(t)
	ldflags := ""
	for _, st := range stages {
		for _, c := range st.Commands {
			if r, ok := c.(*instructions.RunCommand); ok {
				if m := regexp.MustCompile(`-ldflags="([^"]*)"`).FindStringSubmatch(strings.Join(r.CmdLine, " ")); m != nil && strings.Contains(r.CmdLine[0], "go build") {
					ldflags = m[1]
				}
			}
		}
	}
	if ldflags == "" {
		t.Fatal("the Dockerfile has no go build with -ldflags")
	}
	const want = "v9.8.7-stamp"
	bin := filepath.Join(t.TempDir(), "lean4-cf")
	build := exec.Command("go", "build", "-trimpath", "-ldflags="+strings.ReplaceAll(ldflags, "${VERSION}", want), "-o", bin, "./cmd/lean4-cf")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -ldflags=%q: %v\n%s", ldflags, err, out)
	}
	out, err := exec.Command(bin, "version", "--json").Output()
	if err != nil {
		t.Fatalf("lean4-cf version: %v", err)
	}
	var info struct {
		Lean4CF string `json:"lean4cf"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		t.Fatalf("version --json: %v: %s", err, out)
	}
	if info.Lean4CF != want {
		t.Errorf("lean4-cf built with the Dockerfile's -ldflags reports %q, want %q", info.Lean4CF, want)
	}
}

// TestDockerfileCompilesTheDependencies checks the Dockerfile's dependency layer: the packages it compiles
// ahead of lean4-cf's own code are exactly those the binary imports from other modules. A missing one
// would be compiled again on every change of lean4-cf's code; a stale one would fail the build.
func TestDockerfileCompilesTheDependencies(t *testing.T) {
	stages := dockerfileStages(t)
	var listed []string
	for _, st := range stages {
		for _, c := range st.Commands {
			r, ok := c.(*instructions.RunCommand)
			if !ok {
				continue
			}
			line := strings.Join(r.CmdLine, " ")
			if !strings.Contains(line, "go build") || strings.Contains(line, "./cmd/") {
				continue
			}
			for f := range strings.FieldsSeq(line) {
				if first, _, ok := strings.Cut(f, "/"); ok && strings.Contains(first, ".") {
					listed = append(listed, f)
				}
			}
		}
	}
	if len(listed) == 0 {
		t.Fatal("the Dockerfile compiles no dependencies ahead of lean4-cf's own code")
	}
	// The packages of this module that the binary links, and what each imports.
	out, err := exec.Command("go", "list", "-deps", "-f", `{{if .Module}}{{if .Module.Main}}{{join .Imports "\n"}}{{end}}{{end}}`, "./cmd/lean4-cf").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var want []string
	for p := range strings.FieldsSeq(string(out)) {
		first, _, _ := strings.Cut(p, "/")
		if strings.Contains(first, ".") && !strings.HasPrefix(p, "github.com/org/lean4-cf-action") && !slices.Contains(want, p) {
			want = append(want, p)
		}
	}
	slices.Sort(want)
	if !slices.IsSorted(listed) || !slices.Equal(listed, want) {
		t.Errorf("the Dockerfile's dependency layer compiles (sorted, one a line):\n%s\nwant what lean4-cf imports from other modules:\n%s", strings.Join(listed, "\n"), strings.Join(want, "\n"))
	}
}

// dockerfileStages parses the repository's Dockerfile into its stages.
func dockerfileStages(t *testing.T) []instructions.Stage {
	t.Helper()
	src, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	stages, _, err := instructions.Parse(res.AST, nil)
	if err != nil {
		t.Fatal(err)
	}
	return stages
}
