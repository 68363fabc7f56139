package image

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// DefaultImage is the Lean 4 server image lean4-cf deploys unless told otherwise.
const DefaultImage = "ghcr.io/ldct/lean4-server:v4.24.0"

// Source kinds, from the reference's prefix.
const (
	KindRegistry      = "registry"       // a registry reference, by tag or digest
	KindOCILayout     = "oci"            // oci:DIR, an OCI image layout
	KindDockerArchive = "docker-archive" // docker-archive:FILE, a `docker save` tarball
)

// ErrBadReference marks a reference that cannot be parsed: the user must fix it (exit 2).
var ErrBadReference = errors.New("malformed image reference")

// ErrUnusable marks an image that was read but cannot run on Cloudflare (no linux/amd64 image).
var ErrUnusable = errors.New("unusable image")

// Wanted is the only platform Cloudflare Containers run.
var Wanted = v1.Platform{OS: "linux", Architecture: "amd64"}

// SourceOptions says how to reach an image.
type SourceOptions struct {
	// Keychain finds registry credentials. Default authn.DefaultKeychain (the Docker config and its helpers).
	Keychain authn.Keychain
	// GitHubToken, when set, authenticates to ghcr.io if Keychain has no credentials for it.
	GitHubToken string
	// Transport carries registry requests. Default remote.DefaultTransport.
	Transport http.RoundTripper
}

// Source is an opened image reference narrowed to its linux/amd64 image.
type Source struct {
	Ref   string // as given
	Kind  string // KindRegistry, KindOCILayout or KindDockerArchive
	Image v1.Image
	// Digest is the chosen image manifest's digest. For a docker-archive, whose manifest is only made when it
	// is pushed, it is the image ID (the config digest).
	Digest   v1.Hash
	Platform string // e.g. linux/amd64

	blobs blobRanger // ranged reads of compressed blobs; nil for docker-archive
}

// Open reads ref's manifest (and its index, if it has one) and chooses the linux/amd64 image, skipping
// attestation entries. It reads no layer. A malformed ref wraps ErrBadReference; an image without
// linux/amd64 wraps ErrUnusable and lists the platforms it has.
func Open(ctx context.Context, ref string, opts SourceOptions) (*Source, error) {
	if opts.Keychain == nil {
		opts.Keychain = authn.DefaultKeychain
	}
	if opts.Transport == nil {
		opts.Transport = remote.DefaultTransport
	}
	switch {
	case strings.HasPrefix(ref, "oci:"):
		return openLayout(ref, strings.TrimPrefix(ref, "oci:"))
	case strings.HasPrefix(ref, "docker-archive:"):
		return openArchive(ref, strings.TrimPrefix(ref, "docker-archive:"))
	default:
		return openRemote(ctx, ref, opts)
	}
}

func openRemote(ctx context.Context, ref string, opts SourceOptions) (*Source, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v; write REGISTRY/REPOSITORY:TAG or REGISTRY/REPOSITORY@sha256:DIGEST, oci:DIR or docker-archive:FILE",
			ErrBadReference, ref, err)
	}
	kc := opts.Keychain
	if opts.GitHubToken != "" {
		kc = authn.NewMultiKeychain(kc, githubKeychain{token: opts.GitHubToken})
	}
	auth, err := authn.Resolve(ctx, kc, r.Context())
	if err != nil {
		return nil, fmt.Errorf("finding credentials for %s: %w", r.Context().RegistryStr(), err)
	}
	desc, err := remote.Get(r, remote.WithContext(ctx), remote.WithAuth(auth), remote.WithTransport(opts.Transport),
		remote.WithUserAgent("lean4-cf"), remote.WithPlatform(Wanted))
	if err != nil {
		return nil, fmt.Errorf("reading image %q: %w", ref, err)
	}
	src := &Source{Ref: ref, Kind: KindRegistry,
		blobs: &registryBlobs{repo: r.Context(), auth: auth, transport: opts.Transport}}
	switch {
	case desc.MediaType.IsIndex():
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, fmt.Errorf("reading image index %q: %w", ref, err)
		}
		err = src.chooseFromIndex(idx)
		if err != nil {
			return nil, err
		}
	case desc.MediaType.IsImage():
		img, err := desc.Image()
		if err != nil {
			return nil, fmt.Errorf("reading image %q: %w", ref, err)
		}
		if err := src.setImage(img, desc.Digest); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: %q is a %s, not an image or an image index", ErrUnusable, ref, desc.MediaType)
	}
	return src, nil
}

func openLayout(ref, dir string) (*Source, error) {
	if dir == "" {
		return nil, fmt.Errorf("%w %q: name the OCI layout directory, e.g. oci:./build/image", ErrBadReference, ref)
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("reading OCI layout %q: %w", dir, err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("reading OCI layout %q: %w", dir, err)
	}
	src := &Source{Ref: ref, Kind: KindOCILayout, blobs: layoutBlobs{dir: string(p)}}
	if err := src.chooseFromIndex(idx); err != nil {
		return nil, err
	}
	return src, nil
}

func openArchive(ref, file string) (*Source, error) {
	if file == "" {
		return nil, fmt.Errorf("%w %q: name the docker save tarball, e.g. docker-archive:image.tar", ErrBadReference, ref)
	}
	if _, err := os.Stat(file); err != nil {
		return nil, fmt.Errorf("reading docker archive %q: %w", file, err)
	}
	img, err := tarball.ImageFromPath(file, nil)
	if err != nil {
		return nil, fmt.Errorf("reading docker archive %q: %w", file, err)
	}
	// The archive's layers are usually uncompressed; its manifest digest only exists once ggcr compresses
	// them, so the image is named by its config digest (the image ID) instead.
	id, err := img.ConfigName()
	if err != nil {
		return nil, fmt.Errorf("reading docker archive %q: %w", file, err)
	}
	src := &Source{Ref: ref, Kind: KindDockerArchive}
	if err := src.setImage(img, id); err != nil {
		return nil, err
	}
	return src, nil
}

// setImage checks a plain image's config for linux/amd64 and keeps it.
func (s *Source) setImage(img v1.Image, digest v1.Hash) error {
	cf, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("reading image config of %q: %w", s.Ref, err)
	}
	p := platformOf(cf)
	if cf.OS != Wanted.OS || cf.Architecture != Wanted.Architecture {
		return fmt.Errorf("%w: %q is a %s image; Cloudflare Containers run linux/amd64 only", ErrUnusable, s.Ref, p)
	}
	s.Image, s.Digest, s.Platform = img, digest, p
	return nil
}

func platformOf(cf *v1.ConfigFile) string {
	p := v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
	if p.OS == "" && p.Architecture == "" {
		return "unknown platform"
	}
	return p.String()
}

// isAttestation reports buildx attestation entries (provenance, SBOM), which are not runnable images.
func isAttestation(d v1.Descriptor) bool {
	if d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
		return true
	}
	return d.Platform != nil && d.Platform.OS == "unknown" && d.Platform.Architecture == "unknown"
}

// chooseFromIndex picks the first linux/amd64 image of idx (nested indexes included), or fails listing the
// platforms that idx has.
func (s *Source) chooseFromIndex(idx v1.ImageIndex) error {
	var seen []string
	found, err := s.searchIndex(idx, &seen, 0)
	if err != nil {
		return err
	}
	if !found {
		have := "no images at all"
		if len(seen) > 0 {
			have = strings.Join(seen, ", ")
		}
		return fmt.Errorf("%w: %q has no linux/amd64 image (it has %s); Cloudflare Containers run linux/amd64 only",
			ErrUnusable, s.Ref, have)
	}
	return nil
}

func (s *Source) searchIndex(idx v1.ImageIndex, seen *[]string, depth int) (bool, error) {
	if depth > 4 {
		return false, fmt.Errorf("reading image index %q: indexes nested too deep", s.Ref)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return false, fmt.Errorf("reading image index %q: %w", s.Ref, err)
	}
	for _, d := range im.Manifests {
		switch {
		case isAttestation(d):
			continue
		case d.MediaType.IsIndex():
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return false, fmt.Errorf("reading image index %q: %w", s.Ref, err)
			}
			if ok, err := s.searchIndex(child, seen, depth+1); ok || err != nil {
				return ok, err
			}
		case d.MediaType.IsImage():
			if d.Platform != nil {
				p := d.Platform.String()
				if d.Platform.OS != Wanted.OS || d.Platform.Architecture != Wanted.Architecture {
					appendOnce(seen, p)
					continue
				}
			}
			img, err := idx.Image(d.Digest)
			if err != nil {
				return false, fmt.Errorf("reading image %s of %q: %w", d.Digest, s.Ref, err)
			}
			// The config has the last word: an entry without a platform, or a mislabelled one.
			if err := s.setImage(img, d.Digest); err != nil {
				if errors.Is(err, ErrUnusable) {
					if cf, cerr := img.ConfigFile(); cerr == nil {
						appendOnce(seen, platformOf(cf))
					}
					continue
				}
				return false, err
			}
			return true, nil
		}
	}
	return false, nil
}

func appendOnce(list *[]string, s string) {
	for _, x := range *list {
		if x == s {
			return
		}
	}
	*list = append(*list, s)
}

// githubKeychain answers for ghcr.io with a GitHub token.
type githubKeychain struct{ token string }

func (k githubKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if r.RegistryStr() != "ghcr.io" {
		return authn.Anonymous, nil
	}
	return &authn.Basic{Username: "x-access-token", Password: k.token}, nil
}

// layerMediaType is a layer's media type, or "" when it cannot be read.
func layerMediaType(l v1.Layer) types.MediaType {
	mt, err := l.MediaType()
	if err != nil {
		return ""
	}
	return mt
}

// layoutBlobs reads blobs of an OCI layout straight from its files.
type layoutBlobs struct{ dir string }

func (b layoutBlobs) path(h v1.Hash) string { return filepath.Join(b.dir, "blobs", h.Algorithm, h.Hex) }
