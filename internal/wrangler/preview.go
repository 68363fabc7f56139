package wrangler

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// PreviewInfix joins a deployment's name and a pull request's number in a preview's name:
// <name>-pr-<N>.
const PreviewInfix = "-pr-"

// previewHashLen is how many hex digits of a hash keep two shortened names apart.
const previewHashLen = 6

// PreviewName is the deployment name of pull request pr's preview of the deployment name:
// <name>-pr-<N> when it fits MaxDeploymentNameLen (so the preview's stub, <preview>StubSuffix, still fits
// a workers.dev label). A longer name is cut and followed by a short hash of the whole name, so two long
// names that share a prefix still give two previews: <cut>-<hash>-pr-<N>. The result is a valid
// deployment name for any valid name and pr >= 1.
func PreviewName(name string, pr int) string {
	suffix := fmt.Sprintf("%s%d", PreviewInfix, pr)
	if full := name + suffix; len(full) <= MaxDeploymentNameLen {
		return full
	}
	sum := sha256.Sum256([]byte(name))
	hash := hex.EncodeToString(sum[:])[:previewHashLen]
	keep := MaxDeploymentNameLen - len(suffix) - len(hash) - 1
	cut := strings.TrimRight(name[:min(keep, len(name))], "-")
	return cut + "-" + hash + suffix
}

// PreviewPR returns the pull request number of preview, a name PreviewName gave for name, and whether it
// is one: list and prune find the previews of one deployment among the account's Workers by it.
func PreviewPR(name, preview string) (int, bool) {
	i := strings.LastIndex(preview, PreviewInfix)
	if i < 0 {
		return 0, false
	}
	var pr int
	if _, err := fmt.Sscanf(preview[i+len(PreviewInfix):], "%d", &pr); err != nil || pr < 1 {
		return 0, false
	}
	if PreviewName(name, pr) != preview {
		return 0, false
	}
	return pr, true
}
