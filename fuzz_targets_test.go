package lean4cf_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestFuzzTargetsAreRun keeps `make fuzz` (scripts/fuzz.sh) and the README's fuzzing table in step with
// the fuzz targets in the code: a target added but not listed would never run for its bounded time.
func TestFuzzTargetsAreRun(t *testing.T) {
	inCode := map[string]string{} // target -> "./package"
	decl := regexp.MustCompile(`(?m)^func (Fuzz\w+)\(f \*testing\.F\)`)
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") && path != ".") {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range decl.FindAllStringSubmatch(string(b), -1) {
			inCode[m[1]] = "./" + filepath.Dir(path)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking the module: %v", err)
	}
	if len(inCode) == 0 {
		t.Fatal("found no fuzz targets; the search is broken")
	}

	script, err := os.ReadFile("scripts/fuzz.sh")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^\s+"(\./\S+) (Fuzz\w+)"$`).FindAllStringSubmatch(string(script), -1) {
		listed[m[2]] = m[1]
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	inReadme := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(Fuzz\\w+)` \\|").FindAllStringSubmatch(string(readme), -1) {
		inReadme[m[1]] = true
	}

	var names []string
	for n := range inCode {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		t.Run(n, func(t *testing.T) {
			if got, ok := listed[n]; !ok {
				t.Errorf("%s (%s) is not in scripts/fuzz.sh's targets; add %q", n, inCode[n], inCode[n]+" "+n)
			} else if got != inCode[n] {
				t.Errorf("scripts/fuzz.sh runs %s in %s; it is declared in %s", n, got, inCode[n])
			}
			if !inReadme[n] {
				t.Errorf("%s has no row in the README's fuzzing table", n)
			}
		})
	}
	for n := range listed {
		if _, ok := inCode[n]; !ok {
			t.Errorf("scripts/fuzz.sh lists %s, which no test file declares", n)
		}
	}
}
