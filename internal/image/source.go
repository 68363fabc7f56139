// Package image reads container images without Docker: from a registry, an OCI layout or a `docker save`
// tarball; it picks linux/amd64, measures the compressed, uncompressed and content sizes, and copies an
// image into another registry (push.go).
package image

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// The only platform Cloudflare Containers runs.
const (
	wantOS   = "linux"
	wantArch = "amd64"
)

// Kind says where an image comes from.
type Kind string

const (
	KindRegistry      Kind = "registry"       // a registry reference, tag or digest
	KindOCILayout     Kind = "oci"            // oci:DIR
	KindDockerArchive Kind = "docker-archive" // docker-archive:FILE (docker save)
)

// Ref is a parsed image reference.
type Ref struct {
	Kind Kind
	Name name.Reference // for KindRegistry
	Path string         // for the local kinds
	Raw  string
}

// ParseRef reads REF: a registry reference, oci:DIR or docker-archive:FILE. A malformed reference is an
// error naming the forms accepted.
func ParseRef(s string) (Ref, error) {
	raw := strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(raw, "oci:"):
		p := strings.TrimPrefix(raw, "oci:")
		if p == "" {
			return Ref{}, fmt.Errorf("image %q: oci: needs a directory, like oci:./build/layout", s)
		}
		return Ref{Kind: KindOCILayout, Path: p, Raw: raw}, nil
	case strings.HasPrefix(raw, "docker-archive:"):
		p := strings.TrimPrefix(raw, "docker-archive:")
		if p == "" {
			return Ref{}, fmt.Errorf("image %q: docker-archive: needs a file, like docker-archive:image.tar", s)
		}
		return Ref{Kind: KindDockerArchive, Path: p, Raw: raw}, nil
	}
	ref, err := name.ParseReference(raw)
	if err != nil {
		return Ref{}, fmt.Errorf("image %q is not a reference: %v; use REGISTRY/REPO:TAG, REPO@sha256:DIGEST, oci:DIR or docker-archive:FILE", s, err)
	}
	return Ref{Kind: KindRegistry, Name: ref, Raw: raw}, nil
}

// SourceOptions says how to reach a registry.
type SourceOptions struct {
	// Keychain resolves credentials; default authn.DefaultKeychain (the Docker config).
	Keychain authn.Keychain
	// GitHubToken, when set, is used for ghcr.io (GITHUB_TOKEN in Actions).
	GitHubToken string
	// Transport carries registry requests; default remote.DefaultTransport.
	Transport http.RoundTripper
}

func (o SourceOptions) keychain() authn.Keychain {
	kc := o.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	if o.GitHubToken != "" {
		kc = authn.NewMultiKeychain(ghcrKeychain{token: o.GitHubToken}, kc)
	}
	return kc
}

func (o SourceOptions) transport() http.RoundTripper {
	if o.Transport != nil {
		return o.Transport
	}
	return remote.DefaultTransport
}

// ghcrKeychain answers for ghcr.io with a GitHub token.
type ghcrKeychain struct{ token string }

func (k ghcrKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if r.RegistryStr() != "ghcr.io" {
		return authn.Anonymous, nil
	}
	return &authn.Basic{Username: "x-access-token", Password: k.token}, nil
}

// UnusableError says the image cannot run on Cloudflare (no linux/amd64).
type UnusableError struct {
	Ref       string
	Platforms []string
}

func (e *UnusableError) Error() string {
	return fmt.Sprintf("image %s has no linux/amd64 image (it has %s): Cloudflare Containers run linux/amd64 only; build for --platform linux/amd64",
		e.Ref, strings.Join(e.Platforms, ", "))
}

// Open returns the linux/amd64 image REF names.
func Open(ctx context.Context, ref Ref, opts SourceOptions) (v1.Image, error) {
	switch ref.Kind {
	case KindOCILayout:
		idx, err := layout.ImageIndexFromPath(ref.Path)
		if err != nil {
			return nil, fmt.Errorf("reading OCI layout %q: %w", ref.Path, err)
		}
		return fromIndex(ref.Raw, idx)
	case KindDockerArchive:
		img, err := tarball.ImageFromPath(ref.Path, nil)
		if err != nil {
			return nil, fmt.Errorf("reading docker archive %q: %w", ref.Path, err)
		}
		return checkConfig(ref.Raw, img)
	}
	desc, err := remote.Get(ref.Name, remote.WithContext(ctx), remote.WithAuthFromKeychain(opts.keychain()), remote.WithTransport(opts.transport()))
	if err != nil {
		return nil, fmt.Errorf("reading image %s: %w", ref.Raw, err)
	}
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, fmt.Errorf("reading image index %s: %w", ref.Raw, err)
		}
		return fromIndex(ref.Raw, idx)
	}
	img, err := desc.Image()
	if err != nil {
		return nil, fmt.Errorf("reading image %s: %w", ref.Raw, err)
	}
	return checkConfig(ref.Raw, img)
}

// fromIndex picks the first linux/amd64 child that is not an attestation, descending into nested indexes.
func fromIndex(raw string, idx v1.ImageIndex) (v1.Image, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading image index %s: %w", raw, err)
	}
	seen := map[string]bool{}
	for _, d := range im.Manifests {
		if d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
			continue
		}
		if d.MediaType.IsIndex() {
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("reading nested index %s in %s: %w", d.Digest, raw, err)
			}
			img, err := fromIndex(raw, child)
			var ue *UnusableError
			if errors.As(err, &ue) {
				for _, p := range ue.Platforms {
					seen[p] = true
				}
				continue
			}
			return img, err
		}
		p := d.Platform
		if p == nil {
			// An entry without a platform is what a single-image layout looks like: check its config.
			img, err := idx.Image(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("reading image %s in %s: %w", d.Digest, raw, err)
			}
			if _, err := checkConfig(raw, img); err == nil {
				return img, nil
			}
			seen["(an image without a platform)"] = true
			continue
		}
		if p.OS == "unknown" {
			continue
		}
		if p.OS == wantOS && p.Architecture == wantArch {
			img, err := idx.Image(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("reading linux/amd64 image %s in %s: %w", d.Digest, raw, err)
			}
			return img, nil
		}
		seen[platformString(p)] = true
	}
	return nil, &UnusableError{Ref: raw, Platforms: sortedKeys(seen)}
}

// checkConfig accepts a single image only when its config says linux/amd64.
func checkConfig(raw string, img v1.Image) (v1.Image, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading image config of %s: %w", raw, err)
	}
	if cf.OS != wantOS || cf.Architecture != wantArch {
		p := &v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
		return nil, &UnusableError{Ref: raw, Platforms: []string{platformString(p)}}
	}
	return img, nil
}

func platformString(p *v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	if s == "/" {
		return "(no platform)"
	}
	return s
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	if len(out) == 0 {
		out = []string{"no images"}
	}
	return out
}
