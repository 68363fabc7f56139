package image

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// DeleteOptions configures DeleteRepository.
type DeleteOptions struct {
	// Auth signs registry requests. Required.
	Auth authn.Authenticator
	// Keep reports whether a manifest digest (sha256:...) must stay: something else still runs it.
	// Default: keep nothing.
	Keep func(digest string) bool
	// Transport carries registry requests. Default remote.DefaultTransport.
	Transport http.RoundTripper
}

// DeleteResult is what DeleteRepository found and did.
type DeleteResult struct {
	Deleted []string // tag@digest of every manifest deleted
	Kept    []string // tag@digest of every manifest kept because Keep asked for it
}

// DeleteRepository deletes every tagged manifest of repo that opts.Keep does not keep, the way `wrangler
// containers images delete` does (resolve the tag's digest, DELETE the tag), and the manifest by digest, then asks Cloudflare's
// registry to collect the layers no manifest references any more (PUT /v2/gc/layers). A repository that is
// not there is nothing to delete, not an error.
func DeleteRepository(ctx context.Context, repo name.Repository, opts DeleteOptions) (DeleteResult, error) {
	var res DeleteResult
	if opts.Auth == nil {
		return res, errors.New("deleting images: no credentials")
	}
	tr := opts.Transport
	if tr == nil {
		tr = remote.DefaultTransport
	}
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithAuth(opts.Auth), remote.WithTransport(tr)}
	tags, err := remote.List(repo, ropts...)
	if err != nil {
		if isNotFound(err) {
			return res, nil
		}
		return res, fmt.Errorf("listing tags of %s: %w", repo, err)
	}
	slices.Sort(tags)
	deleted := map[string]bool{}
	for _, tag := range tags {
		desc, err := remote.Head(repo.Tag(tag), ropts...)
		if err != nil {
			if isNotFound(err) {
				continue
			}
			return res, fmt.Errorf("reading %s:%s: %w", repo, tag, err)
		}
		d := desc.Digest.String()
		if opts.Keep != nil && opts.Keep(d) {
			res.Kept = append(res.Kept, tag+"@"+d)
			continue
		}
		// The tag first, as wrangler deletes; then the manifest itself, which some registries keep untagged.
		for _, ref := range []name.Reference{repo.Tag(tag), repo.Digest(d)} {
			if ref.Identifier() == d && deleted[d] {
				continue
			}
			if err := remote.Delete(ref, ropts...); err != nil && !isNotFound(err) {
				return res, fmt.Errorf("deleting %s: %w", ref, err)
			}
		}
		deleted[d] = true
		res.Deleted = append(res.Deleted, tag+"@"+d)
	}
	if len(res.Deleted) > 0 {
		if err := collectLayers(ctx, repo.Registry, opts.Auth, tr); err != nil {
			return res, err
		}
	}
	return res, nil
}

// collectLayers asks Cloudflare's registry to delete the layers no manifest references (PUT /v2/gc/layers,
// as wrangler does after an image delete).
func collectLayers(ctx context.Context, reg name.Registry, auth authn.Authenticator, tr http.RoundTripper) error {
	scheme := reg.Scheme()
	rt, err := transport.NewWithContext(ctx, reg, auth, tr, []string{reg.Scope(transport.PushScope)})
	if err != nil {
		return fmt.Errorf("authenticating to %s: %w", reg.RegistryStr(), err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, fmt.Sprintf("%s://%s/v2/gc/layers", scheme, reg.RegistryStr()), strings.NewReader("{}"))
	if err != nil {
		return fmt.Errorf("collecting layers in %s: %w", reg.RegistryStr(), err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return fmt.Errorf("collecting layers in %s: %w", reg.RegistryStr(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("collecting layers in %s: the registry answered %s", reg.RegistryStr(), resp.Status)
	}
	return nil
}

func isNotFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}
