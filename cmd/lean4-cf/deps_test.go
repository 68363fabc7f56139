package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The shipped binary links no test code: no testing package, no httptest servers, no GitHub double, no
// script runner (as go-containerregistry's depcheck keeps its registry package's dependencies in check).
// The local Cloudflare `lean4-cf sandbox` runs is product code and may be linked.
func TestBinaryLinksNoTestCode(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	for _, tc := range []struct {
		forbidden string
		prefix    bool // every package under it too
	}{
		{"testing", true},
		{"net/http/httptest", false},
		{"github.com/org/lean4-cf-action/internal/ghtest", true},
		{"github.com/google/go-containerregistry/internal/httptest", false},
		{"github.com/rogpeppe/go-internal/testscript", false},
	} {
		for _, d := range deps {
			if d == tc.forbidden || tc.prefix && strings.HasPrefix(d, tc.forbidden+"/") {
				t.Errorf("lean4-cf links %s: keep test code out of the binary (go list -deps ./cmd/lean4-cf shows what pulls it in)", d)
			}
		}
	}
	if len(deps) < 10 {
		t.Fatalf("go list -deps printed %d packages: %q", len(deps), deps)
	}
}
