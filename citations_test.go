package lean4cf_test

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// Comments and tests must point where a person who clones the repository can follow: public URLs or the
// project's own docs/. Not documents outside the repository (cited by section), issue numbers, or paths
// on one machine (a path rooted at /work/; a runner's /home/runner/work/ is a real path, not a citation).
var deadCitation = regexp.MustCompile(`shared/reference|\.md §|\bissue [0-9]|(?:^|[^\w.~-])/work/|\.\./shared`)

func TestCitationsPointSomewhere(t *testing.T) {
	out, err := exec.Command("git", "ls-files", "*.go", "*.ts", "*.sh", "*.txtar", "*.yml", "*.jsonc", "Makefile", "Dockerfile").Output()
	if err != nil {
		t.Skipf("git ls-files: %v (not a git checkout)", err)
	}
	for _, f := range strings.Fields(string(out)) {
		if f == "citations_test.go" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			if os.IsNotExist(err) {
				continue // deleted in the work tree, not yet in the index
			}
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			if m := deadCitation.FindString(line); m != "" {
				t.Errorf("%s:%d cites %q, which a clone of the repository does not have: cite a public URL or docs/", f, i+1, m)
			}
		}
	}
}
