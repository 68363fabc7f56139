package cfapi

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/org/lean4-cf-action/internal/sandbox/ocireg"
)

// Worker is a snapshot of a script as the edge needs it.
type Worker struct {
	Name            string
	WorkersDev      bool   // the script's workers.dev route is enabled
	PreviewsEnabled bool   // preview URLs are enabled
	URL             string // https://<name>.<subdomain>.workers.dev ("" without an account subdomain)
	MigrationTag    string
	// Deployment is the latest deployment (nil before the first); Active is its primary version,
	// the one with the largest traffic share. Versions holds every deployed version of it.
	Deployment *Deployment
	Active     *Version
	Versions   []Version // every uploaded version, oldest first
}

// Subdomain is the account's workers.dev subdomain, "" when none is registered.
func (s *Server) Subdomain() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.subdomain
}

// Worker returns a snapshot of the named script.
func (s *Server) Worker(name string) (Worker, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := s.st.scripts[name]
	if sc == nil {
		return Worker{}, false
	}
	w := Worker{Name: sc.name, WorkersDev: sc.workersDev, PreviewsEnabled: sc.previews, MigrationTag: sc.migrationTag}
	if s.st.subdomain != "" {
		w.URL = "https://" + sc.name + "." + s.st.subdomain + ".workers.dev"
	}
	if d, v := sc.current(); d != nil {
		dc := *d
		dc.Versions = slices.Clone(d.Versions)
		dc.Annotations = maps.Clone(d.Annotations)
		w.Deployment = &dc
		if v != nil {
			vc := cloneVersion(v)
			w.Active = &vc
		}
	}
	for _, v := range sc.versions {
		w.Versions = append(w.Versions, cloneVersion(v))
	}
	return w, true
}

// Workers returns the names of every script, sorted.
func (s *Server) Workers() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.st.scripts))
}

// WorkerForHost resolves a request host <script>.<subdomain>.workers.dev to its script, when the
// script exists and its workers.dev route is enabled.
func (s *Server) WorkerForHost(host string) (Worker, bool) {
	sub := s.Subdomain()
	if sub == "" {
		return Worker{}, false
	}
	if h, _, ok := strings.Cut(host, ":"); ok {
		host = h
	}
	name, ok := strings.CutSuffix(strings.ToLower(host), "."+sub+".workers.dev")
	if !ok || strings.Contains(name, ".") {
		return Worker{}, false
	}
	w, found := s.Worker(name)
	if !found || !w.WorkersDev || w.Active == nil {
		return Worker{}, false
	}
	return w, true
}

// Namespaces returns every Durable Object namespace, sorted by name.
func (s *Server) Namespaces() []Namespace {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.namespacesLocked()
}

func (s *Server) namespacesLocked() []Namespace {
	var out []Namespace
	for _, ns := range s.st.namespaces {
		out = append(out, *ns)
	}
	slices.SortFunc(out, func(a, b Namespace) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func cloneVersion(v *Version) Version {
	c := *v
	c.Modules = slices.Clone(v.Modules)
	c.Bindings = slices.Clone(v.Bindings)
	c.Containers = slices.Clone(v.Containers)
	c.CompatibilityFlags = slices.Clone(v.CompatibilityFlags)
	c.Annotations = maps.Clone(v.Annotations)
	return c
}

// RegistryRepositories returns a snapshot of every registry repository holding a manifest, sorted by
// name (names start with the account id, e.g. "<account>/lean4-server").
func (s *Server) RegistryRepositories() []ocireg.Repository {
	var out []ocireg.Repository
	for _, name := range s.registry.inner.Repositories() {
		if r, ok := s.registry.inner.Repository(name); ok {
			out = append(out, r)
		}
	}
	return out
}

// RegistryBlobs returns the digest of every blob the registry stores, sorted.
func (s *Server) RegistryBlobs() []string { return s.registry.inner.Blobs() }

// Leftovers is what the local Cloudflare still holds that a teardown should have removed. Tests assert
// it is empty after deleting a set of resources named with a common prefix:
//
//	if l := srv.Leftovers("lean-worker-pr-7"); !l.Empty() { t.Errorf("left behind: %v", l) }
type Leftovers struct {
	Workers      []string // Worker names with the prefix
	Applications []string // container application names with the prefix
	// Images are the registry's "<repo>:<tag>" and "<repo>@<digest>" entries (repo without the
	// account) whose repository or tag has the prefix; in a matching repository every manifest counts.
	Images []string
	// Untagged are "<repo>@<digest>" manifests that no tag points at, in the other repositories: what
	// deleting a tag leaves until the manifest is deleted by digest. A prefix cannot attribute them.
	Untagged []string
	// Blobs are the blobs no manifest references, in any repository: what PUT /v2/gc/layers removes.
	Blobs []string
}

// Empty reports whether nothing is left.
func (l Leftovers) Empty() bool {
	return len(l.Workers)+len(l.Applications)+len(l.Images)+len(l.Untagged)+len(l.Blobs) == 0
}

func (l Leftovers) String() string {
	return fmt.Sprintf("workers %q, applications %q, images %q, untagged manifests %q, unreferenced blobs %q",
		l.Workers, l.Applications, l.Images, l.Untagged, l.Blobs)
}

// Leftovers returns what is left under prefix (see Leftovers for what each field matches).
func (s *Server) Leftovers(prefix string) Leftovers {
	var l Leftovers
	for _, w := range s.Workers() {
		if strings.HasPrefix(w, prefix) {
			l.Workers = append(l.Workers, w)
		}
	}
	for _, a := range s.Applications() {
		if strings.HasPrefix(a.Name, prefix) {
			l.Applications = append(l.Applications, a.Name)
		}
	}
	for _, r := range s.RegistryRepositories() {
		repo := strings.TrimPrefix(r.Name, s.opts.AccountID+"/")
		whole := strings.HasPrefix(repo, prefix)
		for _, tag := range slices.Sorted(maps.Keys(r.Tags)) {
			if whole || strings.HasPrefix(tag, prefix) {
				l.Images = append(l.Images, repo+":"+tag)
			}
		}
		for _, d := range r.Manifests {
			if whole {
				l.Images = append(l.Images, repo+"@"+d)
			}
		}
		for _, d := range r.Untagged() {
			if !whole { // a matching repository's manifests are all in Images already
				l.Untagged = append(l.Untagged, repo+"@"+d)
			}
		}
	}
	l.Blobs = s.registry.inner.Unreferenced()
	return l
}
