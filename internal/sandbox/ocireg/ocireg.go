// Package ocireg is an in-memory OCI distribution registry for the local Cloudflare: blob uploads
// (monolithic, chunked, cross-repository mounts), blob reads with Range, manifests by tag or digest,
// tags/list, _catalog, and the deletes a registry that cleans up needs (a tag, a manifest by digest and
// every tag on it, a blob) plus a garbage collection of blobs no manifest references.
//
// It replaces go-containerregistry's pkg/registry in the shipped binary because that package links
// net/http/httptest (its TLS helper), and because the local Cloudflare must list and delete what it
// stores. The protocol is the distribution spec's:
// https://github.com/opencontainers/distribution-spec/blob/main/spec.md
package ocireg

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Registry is an in-memory registry. The zero value is not usable; call New. Safe for concurrent use.
type Registry struct {
	mu      sync.Mutex
	blobs   map[string][]byte // by digest, shared by every repository (content-addressed)
	uploads map[string]*upload
	repos   map[string]*repository
}

type upload struct {
	repo string
	buf  bytes.Buffer
}

type repository struct {
	tags      map[string]string   // tag -> manifest digest
	manifests map[string]manifest // digest -> manifest
	blobs     map[string]bool     // blobs uploaded to or mounted into this repository
}

type manifest struct {
	body      []byte
	mediaType string
}

// New returns an empty registry.
func New() *Registry {
	return &Registry{blobs: map[string][]byte{}, uploads: map[string]*upload{}, repos: map[string]*repository{}}
}

// regError is a distribution-spec error answer.
type regError struct {
	status        int
	code, message string
}

func errf(status int, code, format string, args ...any) *regError {
	return &regError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

// WriteError writes a distribution-spec error body: {"errors":[{"code","message"}]}.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	b, _ := json.Marshal(map[string]any{"errors": []map[string]string{{"code": code, "message": message}}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

var (
	// repoRe is the distribution spec's repository name grammar.
	repoRe   = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$`)
	tagRe    = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
	digestRe = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
)

// Digest returns the sha256 digest of b, as "sha256:<hex>".
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// IsDigest reports whether ref is a sha256 digest rather than a tag.
func IsDigest(ref string) bool { return digestRe.MatchString(ref) }

func (g *Registry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := g.serve(w, r); err != nil {
		WriteError(w, err.status, err.code, err.message)
	}
}

func (g *Registry) serve(w http.ResponseWriter, r *http.Request) *regError {
	p, ok := strings.CutPrefix(r.URL.Path, "/v2/")
	switch {
	case r.URL.Path == "/v2" || r.URL.Path == "/v2/":
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("{}"))
		return nil
	case !ok:
		return errf(http.StatusNotFound, "NOT_FOUND", "no route for %s", r.URL.Path)
	case p == "_catalog":
		return g.catalog(w, r)
	}
	for _, route := range []struct {
		sep string
		h   func(http.ResponseWriter, *http.Request, string, string) *regError
	}{
		{"/blobs/uploads", g.uploadRoute},
		{"/manifests/", g.manifestRoute},
		{"/blobs/", g.blobRoute},
		{"/tags/list", g.tagsRoute},
	} {
		if i := strings.LastIndex(p, route.sep); i > 0 {
			repo, rest := p[:i], strings.TrimPrefix(p[i+len(route.sep):], "/")
			if !repoRe.MatchString(repo) {
				return errf(http.StatusBadRequest, "NAME_INVALID", "invalid repository name %q", repo)
			}
			return route.h(w, r, repo, rest)
		}
	}
	return errf(http.StatusNotFound, "NOT_FOUND", "no route for %s", r.URL.Path)
}

// repoLocked returns the named repository, creating it when create is set. Called with g.mu held.
func (g *Registry) repoLocked(name string, create bool) *repository {
	rp := g.repos[name]
	if rp == nil && create {
		rp = &repository{tags: map[string]string{}, manifests: map[string]manifest{}, blobs: map[string]bool{}}
		g.repos[name] = rp
	}
	return rp
}

// dropIfEmptyLocked forgets a repository with no manifest left, so the catalog no longer lists it.
func (g *Registry) dropIfEmptyLocked(name string) {
	if rp := g.repos[name]; rp != nil && len(rp.manifests) == 0 && len(rp.tags) == 0 {
		delete(g.repos, name)
	}
}

// --- manifests ---

func (g *Registry) manifestRoute(w http.ResponseWriter, r *http.Request, repo, ref string) *regError {
	if !IsDigest(ref) && !tagRe.MatchString(ref) {
		return errf(http.StatusBadRequest, "MANIFEST_INVALID", "invalid reference %q", ref)
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		g.mu.Lock()
		m, digest, err := g.lookupLocked(repo, ref)
		g.mu.Unlock()
		if err != nil {
			return err
		}
		w.Header().Set("Docker-Content-Digest", digest)
		w.Header().Set("Content-Type", m.mediaType)
		w.Header().Set("Content-Length", strconv.Itoa(len(m.body)))
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(m.body)
		}
		return nil
	case http.MethodPut:
		return g.putManifest(w, r, repo, ref)
	case http.MethodDelete:
		return g.deleteManifest(w, repo, ref)
	}
	return errf(http.StatusMethodNotAllowed, "UNSUPPORTED", "%s is not supported on manifests", r.Method)
}

func (g *Registry) lookupLocked(repo, ref string) (manifest, string, *regError) {
	rp := g.repos[repo]
	if rp == nil {
		return manifest{}, "", errf(http.StatusNotFound, "NAME_UNKNOWN", "repository %q is not known", repo)
	}
	digest := ref
	if !IsDigest(ref) {
		d, ok := rp.tags[ref]
		if !ok {
			return manifest{}, "", errf(http.StatusNotFound, "MANIFEST_UNKNOWN", "manifest %q is not known in %q", ref, repo)
		}
		digest = d
	}
	m, ok := rp.manifests[digest]
	if !ok {
		return manifest{}, "", errf(http.StatusNotFound, "MANIFEST_UNKNOWN", "manifest %q is not known in %q", ref, repo)
	}
	return m, digest, nil
}

// references are the digests a manifest points at: an image's config and layers (blobs), an index's
// manifests (manifests of the same repository).
type references struct {
	Config *struct {
		Digest string `json:"digest"`
	} `json:"config"`
	Layers []struct {
		Digest string `json:"digest"`
	} `json:"layers"`
	Manifests []struct {
		Digest string `json:"digest"`
	} `json:"manifests"`
	MediaType string `json:"mediaType"`
}

func (m manifest) refs() references {
	var rf references
	_ = json.Unmarshal(m.body, &rf)
	return rf
}

func (g *Registry) putManifest(w http.ResponseWriter, r *http.Request, repo, ref string) *regError {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return errf(http.StatusBadRequest, "MANIFEST_INVALID", "reading the manifest: %v", err)
	}
	digest := Digest(body)
	if IsDigest(ref) && ref != digest {
		return errf(http.StatusBadRequest, "DIGEST_INVALID", "manifest digest is %s, not %s", digest, ref)
	}
	m := manifest{body: body, mediaType: r.Header.Get("Content-Type")}
	rf := m.refs()
	if err := json.Unmarshal(body, &map[string]any{}); err != nil {
		return errf(http.StatusBadRequest, "MANIFEST_INVALID", "the manifest is not JSON: %v", err)
	}
	if m.mediaType == "" {
		m.mediaType = rf.MediaType
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	// An index must name manifests the repository has, as most registries require.
	for _, c := range rf.Manifests {
		if rp := g.repos[repo]; rp == nil || rp.manifests[c.Digest].body == nil {
			return errf(http.StatusNotFound, "MANIFEST_UNKNOWN", "sub-manifest %s is not in %q", c.Digest, repo)
		}
	}
	rp := g.repoLocked(repo, true)
	rp.manifests[digest] = m
	if !IsDigest(ref) {
		rp.tags[ref] = digest
	}
	w.Header().Set("Docker-Content-Digest", digest)
	w.Header().Set("Location", "/v2/"+repo+"/manifests/"+digest)
	w.WriteHeader(http.StatusCreated)
	return nil
}

// deleteManifest deletes a tag (the manifest stays, reachable by digest), or a manifest by digest with
// every tag that points at it, as the distribution spec describes.
func (g *Registry) deleteManifest(w http.ResponseWriter, repo, ref string) *regError {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, _, err := g.lookupLocked(repo, ref); err != nil {
		return err
	}
	rp := g.repos[repo]
	if IsDigest(ref) {
		delete(rp.manifests, ref)
		maps.DeleteFunc(rp.tags, func(_, d string) bool { return d == ref })
	} else {
		delete(rp.tags, ref)
	}
	g.dropIfEmptyLocked(repo)
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// --- tags and catalog ---

func (g *Registry) tagsRoute(w http.ResponseWriter, r *http.Request, repo, rest string) *regError {
	if rest != "" || r.Method != http.MethodGet {
		return errf(http.StatusNotFound, "NOT_FOUND", "no route for %s %s", r.Method, r.URL.Path)
	}
	g.mu.Lock()
	rp := g.repos[repo]
	var tags []string
	if rp != nil {
		tags = slices.Sorted(maps.Keys(rp.tags))
	}
	g.mu.Unlock()
	if rp == nil {
		return errf(http.StatusNotFound, "NAME_UNKNOWN", "repository %q is not known", repo)
	}
	tags, next := paginate(r, tags)
	linkNext(w, r, next)
	return writeJSON(w, map[string]any{"name": repo, "tags": nonNil(tags)})
}

func (g *Registry) catalog(w http.ResponseWriter, r *http.Request) *regError {
	if r.Method != http.MethodGet {
		return errf(http.StatusMethodNotAllowed, "UNSUPPORTED", "%s is not supported on the catalog", r.Method)
	}
	names, next := paginate(r, g.Repositories())
	linkNext(w, r, next)
	return writeJSON(w, map[string]any{"repositories": nonNil(names)})
}

// paginate applies the spec's ?n= and ?last= to a sorted list and returns the page and, when more
// follow, the last entry of the page (the next page's ?last=).
func paginate(r *http.Request, all []string) ([]string, string) {
	q := r.URL.Query()
	if last := q.Get("last"); last != "" {
		i, _ := slices.BinarySearch(all, last)
		for i < len(all) && all[i] <= last {
			i++
		}
		all = all[i:]
	}
	if n, err := strconv.Atoi(q.Get("n")); err == nil && n >= 0 && n < len(all) {
		return all[:n], all[n-1]
	}
	return all, ""
}

// linkNext sets the spec's Link header to the next page when there is one.
func linkNext(w http.ResponseWriter, r *http.Request, last string) {
	if last == "" {
		return
	}
	q := r.URL.Query()
	q.Set("last", last)
	w.Header().Set("Link", fmt.Sprintf(`<%s?%s>; rel="next"`, r.URL.Path, q.Encode()))
}

// Paginate is paginate for wrappers that serve their own listing shape (e.g. Cloudflare's catalog).
func Paginate(w http.ResponseWriter, r *http.Request, all []string) []string {
	page, next := paginate(r, all)
	linkNext(w, r, next)
	return page
}

func writeJSON(w http.ResponseWriter, v any) *regError {
	b, err := json.Marshal(v)
	if err != nil {
		return errf(http.StatusInternalServerError, "UNKNOWN", "encoding the answer: %v", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
	return nil
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

// --- blobs ---

func (g *Registry) blobRoute(w http.ResponseWriter, r *http.Request, repo, digest string) *regError {
	if !IsDigest(digest) {
		return errf(http.StatusBadRequest, "DIGEST_INVALID", "invalid digest %q", digest)
	}
	g.mu.Lock()
	b, ok := g.blobs[digest]
	g.mu.Unlock()
	if !ok {
		return errf(http.StatusNotFound, "BLOB_UNKNOWN", "blob %s is not known", digest)
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		w.Header().Set("Docker-Content-Digest", digest)
		w.Header().Set("Content-Type", "application/octet-stream")
		// ServeContent answers Range requests with 206 and HEAD without a body.
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
		return nil
	case http.MethodDelete:
		g.mu.Lock()
		g.deleteBlobLocked(digest)
		g.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
	return errf(http.StatusMethodNotAllowed, "UNSUPPORTED", "%s is not supported on blobs", r.Method)
}

func (g *Registry) deleteBlobLocked(digest string) {
	delete(g.blobs, digest)
	for _, rp := range g.repos {
		delete(rp.blobs, digest)
	}
}

func (g *Registry) uploadRoute(w http.ResponseWriter, r *http.Request, repo, id string) *regError {
	if id == "" {
		if r.Method != http.MethodPost {
			return errf(http.StatusMethodNotAllowed, "UNSUPPORTED", "%s is not supported on uploads", r.Method)
		}
		return g.startUpload(w, r, repo)
	}
	g.mu.Lock()
	up := g.uploads[id]
	g.mu.Unlock()
	if up == nil || up.repo != repo {
		return errf(http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN", "upload %q is not known", id)
	}
	switch r.Method {
	case http.MethodPatch:
		if cr := r.Header.Get("Content-Range"); cr != "" {
			start, _, _ := strings.Cut(cr, "-")
			if n, err := strconv.Atoi(start); err != nil || n != up.buf.Len() {
				return errf(http.StatusRequestedRangeNotSatisfiable, "BLOB_UPLOAD_INVALID", "Content-Range %q does not continue at %d", cr, up.buf.Len())
			}
		}
		if _, err := up.buf.ReadFrom(r.Body); err != nil {
			return errf(http.StatusBadRequest, "BLOB_UPLOAD_INVALID", "reading the chunk: %v", err)
		}
		uploadAccepted(w, repo, id, up.buf.Len())
		return nil
	case http.MethodPut:
		if _, err := up.buf.ReadFrom(r.Body); err != nil {
			return errf(http.StatusBadRequest, "BLOB_UPLOAD_INVALID", "reading the chunk: %v", err)
		}
		if err := g.commit(w, repo, r.URL.Query().Get("digest"), up.buf.Bytes()); err != nil {
			return err
		}
		g.mu.Lock()
		delete(g.uploads, id)
		g.mu.Unlock()
		return nil
	case http.MethodGet:
		uploadAccepted(w, repo, id, up.buf.Len())
		return nil
	case http.MethodDelete:
		g.mu.Lock()
		delete(g.uploads, id)
		g.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return errf(http.StatusMethodNotAllowed, "UNSUPPORTED", "%s is not supported on uploads", r.Method)
}

// startUpload serves POST .../blobs/uploads/: a cross-repository mount (?mount=&from=), a monolithic
// upload (?digest=), or a new upload session.
func (g *Registry) startUpload(w http.ResponseWriter, r *http.Request, repo string) *regError {
	q := r.URL.Query()
	if d := q.Get("mount"); d != "" {
		g.mu.Lock()
		_, ok := g.blobs[d]
		if ok {
			g.repoLocked(repo, true).blobs[d] = true
		}
		g.mu.Unlock()
		if ok {
			w.Header().Set("Docker-Content-Digest", d)
			w.Header().Set("Location", "/v2/"+repo+"/blobs/"+d)
			w.WriteHeader(http.StatusCreated)
			return nil
		}
	}
	if d := q.Get("digest"); d != "" {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return errf(http.StatusBadRequest, "BLOB_UPLOAD_INVALID", "reading the blob: %v", err)
		}
		return g.commit(w, repo, d, b)
	}
	id := randomID()
	g.mu.Lock()
	g.uploads[id] = &upload{repo: repo}
	g.mu.Unlock()
	uploadAccepted(w, repo, id, 0)
	return nil
}

func uploadAccepted(w http.ResponseWriter, repo, id string, n int) {
	w.Header().Set("Location", "/v2/"+repo+"/blobs/uploads/"+id)
	w.Header().Set("Docker-Upload-UUID", id)
	w.Header().Set("Range", fmt.Sprintf("0-%d", max(n-1, 0)))
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
}

// commit stores a finished upload after checking its digest.
func (g *Registry) commit(w http.ResponseWriter, repo, digest string, b []byte) *regError {
	if !IsDigest(digest) {
		return errf(http.StatusBadRequest, "DIGEST_INVALID", "invalid digest %q", digest)
	}
	if got := Digest(b); got != digest {
		return errf(http.StatusBadRequest, "DIGEST_INVALID", "the upload's digest is %s, not %s", got, digest)
	}
	g.mu.Lock()
	g.blobs[digest] = bytes.Clone(b)
	g.repoLocked(repo, true).blobs[digest] = true
	g.mu.Unlock()
	w.Header().Set("Docker-Content-Digest", digest)
	w.Header().Set("Location", "/v2/"+repo+"/blobs/"+digest)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

// --- state, for the local Cloudflare and its tests ---

// Repository is a snapshot of one repository: its tags (tag -> manifest digest) and manifests.
type Repository struct {
	Name      string
	Tags      map[string]string
	Manifests []string // digests, sorted
}

// Untagged returns the manifests no tag points at, sorted.
func (r Repository) Untagged() []string {
	tagged := map[string]bool{}
	for _, d := range r.Tags {
		tagged[d] = true
	}
	return slices.DeleteFunc(slices.Clone(r.Manifests), func(d string) bool { return tagged[d] })
}

// Repositories returns the names of the repositories holding a manifest, sorted.
func (g *Registry) Repositories() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for name, rp := range g.repos {
		if len(rp.manifests) > 0 {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Repository returns a snapshot of the named repository, or false.
func (g *Registry) Repository(name string) (Repository, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	rp := g.repos[name]
	if rp == nil {
		return Repository{}, false
	}
	return Repository{Name: name, Tags: maps.Clone(rp.tags), Manifests: slices.Sorted(maps.Keys(rp.manifests))}, true
}

// Resolve returns the digest of repo's manifest ref (a tag or a digest), or false.
func (g *Registry) Resolve(repo, ref string) (string, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, d, err := g.lookupLocked(repo, ref)
	return d, err == nil
}

// Blobs returns the digests of every stored blob, sorted.
func (g *Registry) Blobs() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Sorted(maps.Keys(g.blobs))
}

// Unreferenced returns the blobs no manifest of any repository references, sorted: what GC removes.
func (g *Registry) Unreferenced() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.unreferencedLocked()
}

func (g *Registry) unreferencedLocked() []string {
	used := map[string]bool{}
	for _, rp := range g.repos {
		for _, m := range rp.manifests {
			rf := m.refs()
			if rf.Config != nil {
				used[rf.Config.Digest] = true
			}
			for _, l := range rf.Layers {
				used[l.Digest] = true
			}
		}
	}
	var out []string
	for d := range g.blobs {
		if !used[d] {
			out = append(out, d)
		}
	}
	slices.Sort(out)
	return out
}

// GC deletes the blobs no manifest references and returns their digests. Manifests are never removed
// by it: an untagged manifest stays until it is deleted by digest.
func (g *Registry) GC() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	gone := g.unreferencedLocked()
	for _, d := range gone {
		g.deleteBlobLocked(d)
	}
	return gone
}
