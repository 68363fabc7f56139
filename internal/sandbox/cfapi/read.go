package cfapi

import (
	"maps"
	"slices"
	"strings"
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

// RegistryPasswords returns every registry password the server has issued (POST .../credentials), so a
// test can check that none of them leaked into logs or files.
func (s *Server) RegistryPasswords() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.st.creds))
}
