package wrangler

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeInstall writes a wrangler package (package.json, bin/wrangler.js, .bin symlink) under dir/node_modules
// and returns the .bin path.
func fakeInstall(t *testing.T, dir, version string) string {
	t.Helper()
	pkg := filepath.Join(dir, "node_modules", "wrangler")
	mustWrite(t, filepath.Join(pkg, "package.json"), `{"name":"wrangler","version":"`+version+`"}`, 0o644)
	mustWrite(t, filepath.Join(pkg, "bin", "wrangler.js"), "#!/usr/bin/env node\nconsole.log('x')\n", 0o755)
	bin := filepath.Join(dir, "node_modules", ".bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(bin, "wrangler")
	if err := os.Symlink("../wrangler/bin/wrangler.js", link); err != nil {
		t.Fatal(err)
	}
	return link
}

// fakeNode writes an executable that prints version for --version.
func fakeNode(t *testing.T, path, version string) string {
	t.Helper()
	mustWrite(t, path, "#!/bin/sh\necho "+version+"\n", 0o755)
	return path
}

func mustWrite(t *testing.T, p, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLocateFourWays(t *testing.T) {
	tmp := t.TempDir()
	flagBin := fakeInstall(t, filepath.Join(tmp, "flag"), "4.1.0")
	envBin := fakeInstall(t, filepath.Join(tmp, "env"), "4.2.0")
	project := filepath.Join(tmp, "project")
	fakeInstall(t, filepath.Join(project, "worker"), PinnedVersion)
	projNode := fakeNode(t, filepath.Join(project, projectNode), "v22.23.5")
	nested := filepath.Join(project, "internal", "deep")
	if err := os.MkdirAll(nested, 0o755); err != nil {
		t.Fatal(err)
	}
	pathDir := filepath.Join(tmp, "pathbin")
	pathBin := fakeInstall(t, pathDir, "4.3.0")
	pathNode := fakeNode(t, filepath.Join(tmp, "sysbin", "node"), "v22.20.0")
	path := filepath.Dir(pathBin) + string(os.PathListSeparator) + filepath.Dir(pathNode)
	empty := filepath.Join(tmp, "empty")
	if err := os.MkdirAll(empty, 0o755); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name        string
		opts        LocateOptions
		wantSource  string
		wantVersion string
		wantNode    string
	}{
		{"flag wins", LocateOptions{Flag: flagBin, Getenv: envOf(map[string]string{"LEAN4CF_WRANGLER": envBin, "PATH": path}), Roots: []string{nested}}, SourceFlag, "4.1.0", projNode},
		{"env before project", LocateOptions{Getenv: envOf(map[string]string{"LEAN4CF_WRANGLER": envBin, "PATH": path}), Roots: []string{nested}}, SourceEnv, "4.2.0", projNode},
		{"project from a subfolder", LocateOptions{Getenv: envOf(map[string]string{"PATH": path}), Roots: []string{nested}}, SourceProject, PinnedVersion, projNode},
		{"PATH last, with PATH's node", LocateOptions{Getenv: envOf(map[string]string{"PATH": path}), Roots: []string{empty}}, SourcePath, "4.3.0", pathNode},
		{"LEAN4CF_NODE overrides", LocateOptions{Getenv: envOf(map[string]string{"PATH": path, "LEAN4CF_NODE": pathNode}), Roots: []string{nested}}, SourceProject, PinnedVersion, pathNode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Locate(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got.Source != tt.wantSource || got.Version != tt.wantVersion || got.Node != tt.wantNode {
				t.Fatalf("Locate = %+v, want source %s version %s node %s", got, tt.wantSource, tt.wantVersion, tt.wantNode)
			}
			if filepath.Base(got.Path) != "wrangler.js" {
				t.Errorf("Path = %s, want the resolved wrangler.js", got.Path)
			}
			prog, args := got.Command("deploy", "--dry-run")
			if prog != tt.wantNode || len(args) != 3 || args[0] != got.Path || args[1] != "deploy" {
				t.Errorf("Command = %s %v", prog, args)
			}
			if warn := got.Warning(); (warn == "") != (tt.wantVersion == PinnedVersion) {
				t.Errorf("Warning() = %q for version %s", warn, tt.wantVersion)
			} else if warn != "" && !strings.Contains(warn, PinnedVersion) {
				t.Errorf("Warning() = %q does not name the pinned version", warn)
			}
		})
	}
}

func TestLocateErrors(t *testing.T) {
	tmp := t.TempDir()
	install := fakeInstall(t, filepath.Join(tmp, "w"), PinnedVersion)
	notExec := filepath.Join(tmp, "plain")
	mustWrite(t, notExec, "hello", 0o644)
	tests := []struct {
		name, want string
		opts       LocateOptions
	}{
		{"missing flag path", "does not exist", LocateOptions{Flag: filepath.Join(tmp, "nope"), Getenv: envOf(nil), Roots: []string{tmp}}},
		{"missing env path", "LEAN4CF_WRANGLER", LocateOptions{Getenv: envOf(map[string]string{"LEAN4CF_WRANGLER": filepath.Join(tmp, "nope")}), Roots: []string{tmp}}},
		{"not found anywhere", "make toolchain", LocateOptions{Getenv: envOf(map[string]string{"PATH": tmp}), Roots: []string{tmp}}},
		{"no node for a js wrangler", "LEAN4CF_NODE", LocateOptions{Flag: install, Getenv: envOf(map[string]string{"PATH": tmp}), Roots: []string{tmp}}},
		{"LEAN4CF_NODE missing", `LEAN4CF_NODE "` + filepath.Join(tmp, "node") + `" is not an executable`, LocateOptions{Flag: install, Getenv: envOf(map[string]string{"LEAN4CF_NODE": filepath.Join(tmp, "node")}), Roots: []string{tmp}}},
		{"folder without wrangler.js", "give the wrangler package folder", LocateOptions{Flag: tmp, Getenv: envOf(nil), Roots: []string{tmp}}},
		{"neither js nor executable", "neither JavaScript nor executable", LocateOptions{Flag: notExec, Getenv: envOf(nil), Roots: []string{tmp}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Locate(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Locate error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestNodeVersion(t *testing.T) {
	tmp := t.TempDir()
	tests := []struct {
		version string
		ok      bool
	}{{"v22.23.5", true}, {"v22.12.0", true}, {"v23.0.0", true}, {"v22.11.9", false}, {"v20.20.2", false}, {"garbage", false}}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			node := fakeNode(t, filepath.Join(tmp, tt.version, "node"), tt.version)
			v, err := Tool{Path: "w.js", Node: node}.NodeVersion(context.Background())
			if (err == nil) != tt.ok {
				t.Fatalf("NodeVersion(%s) = %q, %v; want ok=%v", tt.version, v, err, tt.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "make toolchain") {
				t.Errorf("error %q does not say how to fix it", err)
			}
		})
	}
}

// TestPinnedVersionMatchesWorkerPackage keeps one wrangler version for the whole project.
func TestPinnedVersionMatchesWorkerPackage(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "worker", "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pkg struct {
		Dependencies, DevDependencies map[string]string
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		t.Fatal(err)
	}
	v := pkg.DevDependencies["wrangler"]
	if v == "" {
		v = pkg.Dependencies["wrangler"]
	}
	if v != PinnedVersion {
		t.Fatalf("worker/package.json pins wrangler %q, PinnedVersion is %q: keep one exact version everywhere", v, PinnedVersion)
	}
}
