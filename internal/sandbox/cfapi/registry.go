package cfapi

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/org/lean4-cf-action/internal/sandbox/ocireg"
)

// RegistryFaultKind names a way the registry misbehaves.
type RegistryFaultKind string

const (
	// DropBlobUpload reads part of a blob upload's body (PATCH, or PUT with a body), then resets the
	// connection: the pusher sees a network error mid-blob.
	DropBlobUpload RegistryFaultKind = "drop-blob-upload"
	// DropBlobDownload writes part of a blob (GET), then resets the connection.
	DropBlobDownload RegistryFaultKind = "drop-blob-download"
	// FailBlobCommit answers the upload's final PUT ?digest= with 500 BLOB_UPLOAD_INVALID, as in
	// cloudflare/workers-sdk#11873 (a layer that repeatedly fails to commit).
	FailBlobCommit RegistryFaultKind = "fail-blob-commit"
	// ExpireCredentials expires every credential issued so far when a blob upload starts, and answers it
	// 401 "credentials expired": credentials running out in the middle of a long push.
	ExpireCredentials RegistryFaultKind = "expire-credentials"
)

// RegistryFault makes the registry misbehave on blob transfers.
type RegistryFault struct {
	Kind RegistryFaultKind
	// Count is how many matching requests are affected; 0 means every one.
	Count int
	// After is how many body bytes pass before a drop. Default: half of Content-Length (at least 1).
	After int64
}

// RegistryRequest is one journaled registry request.
type RegistryRequest struct {
	Method, Path string
	Status       int
	Fault        string
}

type registryFront struct {
	s     *Server
	inner *ocireg.Registry
}

type registryRule struct {
	RegistryFault
	left uses
}

func newRegistryFront(s *Server) *registryFront {
	return &registryFront{s: s, inner: ocireg.New()}
}

func (rf *registryFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w}
	fault := rf.serve(rec, r)
	rf.s.mu.Lock()
	rf.s.regJr = append(rf.s.regJr, RegistryRequest{Method: r.Method, Path: r.URL.Path, Status: rec.status, Fault: fault})
	rf.s.mu.Unlock()
}

func regError(w http.ResponseWriter, status int, code, msg string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="local Cloudflare registry"`)
	}
	ocireg.WriteError(w, status, code, msg)
}

func (rf *registryFront) serve(w http.ResponseWriter, r *http.Request) string {
	s := rf.s
	user, pass, hasAuth := r.BasicAuth()
	s.mu.Lock()
	c, known := s.st.creds[pass]
	s.mu.Unlock()
	switch {
	case !hasAuth || !known || (user != c.username && user != "v1"):
		regError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
		return ""
	case !s.opts.Clock.Now().Before(c.expires):
		regError(w, http.StatusUnauthorized, "UNAUTHORIZED", "credentials expired")
		return ""
	}
	p := strings.TrimPrefix(r.URL.Path, "/v2/")
	if p != "" && p != r.URL.Path && p != "_catalog" && p != gcPath && !strings.HasPrefix(p, s.opts.AccountID+"/") {
		regError(w, http.StatusForbidden, "DENIED", "repository is outside account "+s.opts.AccountID)
		return ""
	}
	write := r.Method != http.MethodGet && r.Method != http.MethodHead
	if (write && !c.push) || (!write && !c.pull && p != "") {
		regError(w, http.StatusForbidden, "DENIED", "credentials lack the permission for "+r.Method)
		return ""
	}
	isUpload := strings.Contains(p, "/blobs/uploads/")
	isBlobGet := r.Method == http.MethodGet && strings.Contains(p, "/blobs/sha256:")
	if isUpload && r.Method == http.MethodPost {
		if _, ok := s.takeRegistryFault(ExpireCredentials); ok {
			now := s.opts.Clock.Now()
			s.mu.Lock()
			for k, c := range s.st.creds {
				c.expires = now
				s.st.creds[k] = c
			}
			s.mu.Unlock()
			regError(w, http.StatusUnauthorized, "UNAUTHORIZED", "credentials expired")
			return string(ExpireCredentials)
		}
	}
	switch {
	case isUpload && r.Method == http.MethodPut && r.URL.Query().Get("digest") != "":
		if _, ok := s.takeRegistryFault(FailBlobCommit); ok {
			_, _ = io.Copy(io.Discard, r.Body)
			regError(w, http.StatusInternalServerError, "BLOB_UPLOAD_INVALID", "failed to commit blob upload")
			return string(FailBlobCommit)
		}
	}
	if isUpload && (r.Method == http.MethodPatch || r.Method == http.MethodPut) && r.ContentLength != 0 {
		if f, ok := s.takeRegistryFault(DropBlobUpload); ok {
			n := dropAfter(f.After, r.ContentLength)
			_, _ = io.CopyN(io.Discard, r.Body, n)
			resetConn(w)
			return string(DropBlobUpload)
		}
	}
	if isBlobGet {
		if f, ok := s.takeRegistryFault(DropBlobDownload); ok {
			rf.inner.ServeHTTP(&dropWriter{ResponseWriter: w, after: f.After}, r)
			return string(DropBlobDownload)
		}
	}
	switch {
	case p == gcPath && r.Method == http.MethodPut:
		rf.inner.GC()
		w.WriteHeader(http.StatusAccepted)
	case p == "_catalog" && r.Method == http.MethodGet && r.URL.Query().Get("tags") == "true":
		rf.catalogWithTags(w, r)
	default:
		rf.inner.ServeHTTP(w, r)
	}
	return ""
}

// gcPath is Cloudflare's garbage collection of layers no manifest references (PUT /v2/gc/layers), which
// wrangler calls after deleting an image.
const gcPath = "gc/layers"

// catalogWithTags serves Cloudflare's GET /v2/_catalog?tags=true: a map from repository to its tags
// ({"repositories":{"<account>/<repo>":["v1",...]}}) instead of the spec's list of names, paged with
// ?n= and ?last= and a Link header as the spec's catalog is (wrangler follows the Link).
func (rf *registryFront) catalogWithTags(w http.ResponseWriter, r *http.Request) {
	out := map[string][]string{}
	for _, repo := range ocireg.Paginate(w, r, rf.inner.Repositories()) {
		snap, _ := rf.inner.Repository(repo)
		out[repo] = slices.Sorted(maps.Keys(snap.Tags))
		if out[repo] == nil {
			out[repo] = []string{}
		}
	}
	b, _ := json.Marshal(map[string]any{"repositories": out})
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func dropAfter(after, length int64) int64 {
	if after > 0 {
		return after
	}
	return max(1, length/2)
}

// dropWriter passes part of the body through, then resets the connection.
type dropWriter struct {
	http.ResponseWriter
	after, written int64
	dropped        bool
}

func (d *dropWriter) Write(b []byte) (int, error) {
	if d.dropped {
		return 0, http.ErrAbortHandler
	}
	if d.after <= 0 {
		n, _ := strconv.ParseInt(d.Header().Get("Content-Length"), 10, 64)
		d.after = dropAfter(0, n)
	}
	if left := d.after - d.written; int64(len(b)) >= left {
		_, _ = d.ResponseWriter.Write(b[:left])
		http.NewResponseController(d.ResponseWriter).Flush()
		d.dropped = true
		resetConn(d.ResponseWriter)
		return 0, http.ErrAbortHandler
	}
	d.written += int64(len(b))
	return d.ResponseWriter.Write(b)
}

func (d *dropWriter) Unwrap() http.ResponseWriter { return d.ResponseWriter }

// imagePullable reports whether the platform could pull ref: images in this server's registry (under
// its host or registry.cloudflare.com) must exist there; other registries are assumed reachable.
func (s *Server) imagePullable(ref string) bool {
	host, rest, _ := strings.Cut(ref, "/")
	if host != s.RegistryHost() && host != "registry.cloudflare.com" {
		return true
	}
	r, err := name.ParseReference("registry.invalid/"+rest, name.Insecure)
	if err != nil {
		return false
	}
	_, ok := s.registry.inner.Resolve(r.Context().RepositoryStr(), r.Identifier())
	return ok
}
