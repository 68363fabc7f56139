package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
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

// CatalogOptions configures Repositories.
type CatalogOptions struct {
	// Auth signs registry requests. Required.
	Auth authn.Authenticator
	// Transport carries registry requests. Default remote.DefaultTransport.
	Transport http.RoundTripper
}

// Repositories lists the repositories of Cloudflare's registry reg that the credentials see, sorted, as
// `wrangler containers images list` reads them: GET /v2/_catalog?tags=true answers a map from repository
// to tags (not the OCI spec's list of names, which go-containerregistry's remote.Catalog parses), and a
// Link header with rel="next" carries the next page's ?last= cursor.
func Repositories(ctx context.Context, reg name.Registry, opts CatalogOptions) ([]string, error) {
	if opts.Auth == nil {
		return nil, fmt.Errorf("listing the repositories of %s: no credentials", reg.RegistryStr())
	}
	tr := opts.Transport
	if tr == nil {
		tr = remote.DefaultTransport
	}
	rt, err := transport.NewWithContext(ctx, reg, opts.Auth, tr, []string{"registry:catalog:*"})
	if err != nil {
		return nil, fmt.Errorf("authenticating to %s: %w", reg.RegistryStr(), err)
	}
	client := &http.Client{Transport: rt}
	base := url.URL{Scheme: reg.Scheme(), Host: reg.RegistryStr(), Path: "/v2/_catalog", RawQuery: "tags=true"}
	var out []string
	seen := map[string]bool{} // cursors already followed: a registry that repeats one would loop forever
	next := base
	for {
		page, cursor, err := catalogPage(ctx, client, next.String())
		if err != nil {
			return nil, fmt.Errorf("listing the repositories of %s: %w", reg.RegistryStr(), err)
		}
		out = append(out, page...)
		if cursor == "" {
			break
		}
		if seen[cursor] {
			return nil, fmt.Errorf("listing the repositories of %s: the catalog repeated the page after %q", reg.RegistryStr(), cursor)
		}
		seen[cursor] = true
		q := base.Query()
		q.Set("last", cursor)
		next.RawQuery = q.Encode()
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// catalogPage reads one page of the catalog and the next page's cursor ("" on the last page).
func catalogPage(ctx context.Context, client *http.Client, u string) ([]string, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return nil, "", err
	}
	var body struct {
		Repositories map[string][]string `json:"repositories"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, "", fmt.Errorf("reading the catalog: %w", err)
	}
	names := make([]string, 0, len(body.Repositories))
	for r := range body.Repositories {
		names = append(names, r)
	}
	cursor, err := nextCursor(resp, u)
	return names, cursor, err
}

// nextCursor is the ?last= of the Link header's rel="next" target, "" when there is none.
func nextCursor(resp *http.Response, base string) (string, error) {
	for _, link := range parseLinks(resp.Header.Values("Link")) {
		if !slices.Contains(link.rels, "next") {
			continue
		}
		b, _ := url.Parse(base)
		target, err := b.Parse(link.target)
		if err != nil {
			return "", fmt.Errorf("the catalog's next-page link %q is not a URL: %w", link.target, err)
		}
		last := target.Query().Get("last")
		if last == "" {
			return "", fmt.Errorf("the catalog's next-page link %q has no ?last= cursor", link.target)
		}
		return last, nil
	}
	return "", nil
}

// link is one entry of a Link header (RFC 8288): its target and relation types.
type link struct {
	target string
	rels   []string
}

// parseLinks reads Link header values: `<target>; rel="next", <other>; rel=prev`. Entries without a
// <target> are skipped.
func parseLinks(values []string) []link {
	var out []link
	for _, v := range values {
		for _, entry := range strings.Split(v, ",") {
			parts := strings.Split(entry, ";")
			target := strings.TrimSpace(parts[0])
			if len(target) < 2 || target[0] != '<' || target[len(target)-1] != '>' {
				continue
			}
			l := link{target: target[1 : len(target)-1]}
			for _, p := range parts[1:] {
				k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "rel") {
					l.rels = append(l.rels, strings.Fields(strings.Trim(strings.TrimSpace(val), `"`))...)
				}
			}
			out = append(out, l)
		}
	}
	return out
}
