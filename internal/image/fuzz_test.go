package image

import (
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
)

// FuzzParseRef: a reference either fails with a one-line error, or parses into its kind; a registry
// reference's canonical name parses back to the same reference.
func FuzzParseRef(f *testing.F) {
	for _, s := range []string{
		"ghcr.io/ldct/lean4-server:v4.24.0", "lean4-server", "registry.cloudflare.com/0123456789abcdef0123456789abcdef/lean4-server@sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945",
		"oci:./layout", "docker-archive:image.tar", "oci:", "UPPER/case", "a:b:c", "localhost:5000/x:y", " ghcr.io/a/b ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRef(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		switch r.Kind {
		case KindOCILayout, KindDockerArchive:
			if r.Path == "" || r.Name != nil {
				t.Fatalf("ParseRef(%q) = %+v", s, r)
			}
		case KindRegistry:
			again, err := name.ParseReference(r.Name.Name())
			if err != nil || again.Name() != r.Name.Name() {
				t.Fatalf("ParseRef(%q): canonical %q reads back as %v, %v", s, r.Name.Name(), again, err)
			}
		default:
			t.Fatalf("ParseRef(%q): unknown kind %q", s, r.Kind)
		}
	})
}
