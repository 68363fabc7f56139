package wrangler

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

func TestPreviewName(t *testing.T) {
	long := strings.Repeat("a", MaxDeploymentNameLen)
	tests := []struct {
		name string
		pr   int
		want string
	}{
		{"lean", 7, "lean-pr-7"},
		{"lean4-server", 12345, "lean4-server-pr-12345"},
		// exactly at the limit: kept whole
		{strings.Repeat("b", MaxDeploymentNameLen-len("-pr-1")), 1, strings.Repeat("b", MaxDeploymentNameLen-len("-pr-1")) + "-pr-1"},
		// one over: cut, hashed
		{strings.Repeat("b", MaxDeploymentNameLen-len("-pr-1")+1), 1, strings.Repeat("b", MaxDeploymentNameLen-len("-pr-1")-previewHashLen-1) + "-" + hashOf(strings.Repeat("b", MaxDeploymentNameLen-len("-pr-1")+1)) + "-pr-1"},
		{long, 42, long[:MaxDeploymentNameLen-len("-pr-42")-previewHashLen-1] + "-" + hashOf(long) + "-pr-42"},
	}
	for _, tt := range tests {
		got := PreviewName(tt.name, tt.pr)
		if got != tt.want {
			t.Errorf("PreviewName(%q, %d) = %q, want %q", tt.name, tt.pr, got, tt.want)
		}
		if err := CheckDeploymentName(got); err != nil {
			t.Errorf("PreviewName(%q, %d) = %q: %v", tt.name, tt.pr, got, err)
		}
		if pr, ok := PreviewPR(tt.name, got); !ok || pr != tt.pr {
			t.Errorf("PreviewPR(%q, %q) = %d, %v; want %d", tt.name, got, pr, ok, tt.pr)
		}
	}
}

// hashOf is the hash part of a shortened preview name, computed apart from PreviewName.
func hashOf(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])[:previewHashLen]
}

// Two long names sharing their first characters give two previews; a cut that ends at a dash never leaves
// a double dash; every result is a valid deployment name.
func TestPreviewNameDistinctAndValid(t *testing.T) {
	base := strings.Repeat("x", 50)
	a, b := PreviewName(base+"-alpha", 3), PreviewName(base+"-bravo", 3)
	if a == b {
		t.Fatalf("two names share preview %q", a)
	}
	for _, name := range []string{base + "-alpha", strings.Repeat("ab-", 19) + "c", "a", strings.Repeat("z", MaxDeploymentNameLen)} {
		for _, pr := range []int{1, 99, 999999} {
			got := PreviewName(name, pr)
			if err := CheckDeploymentName(got); err != nil || strings.Contains(got, "--") {
				t.Errorf("PreviewName(%q, %d) = %q: %v", name, pr, got, err)
			}
		}
	}
}

func TestPreviewPR(t *testing.T) {
	tests := []struct {
		name, worker string
		want         int
		ok           bool
	}{
		{"lean", "lean-pr-3", 3, true},
		{"lean", "lean", 0, false},
		{"lean", "lean-pr-0", 0, false},
		{"lean", "lean-pr-3x", 0, false},
		{"lean", "other-pr-3", 0, false}, // another deployment's preview
		{"lean", "lean-stub", 0, false},
	}
	for _, tt := range tests {
		got, ok := PreviewPR(tt.name, tt.worker)
		if got != tt.want || ok != tt.ok {
			t.Errorf("PreviewPR(%q, %q) = %d, %v; want %d, %v", tt.name, tt.worker, got, ok, tt.want, tt.ok)
		}
	}
}
