package cfapi

import (
	"net/http"
	"regexp"
)

// subdomainRoutes are the endpoints of the account's workers.dev subdomain and each Worker's workers.dev switch.
func (s *Server) subdomainRoutes() []endpoint {
	const a = acctPath
	const sc = scriptPath
	w := ScopeWorkers
	return []endpoint{
		{"GET " + a + "/workers/subdomain", w, s.getSubdomain},
		{"PUT " + a + "/workers/subdomain", w, s.putSubdomain},
		{"GET " + sc + "/subdomain", w, s.onScript(s.getScriptSubdomain)},
		{"POST " + sc + "/subdomain", w, s.postScriptSubdomain},
		{"DELETE " + sc + "/subdomain", w, s.onScript(s.deleteScriptSubdomain)},
	}
}

func (s *Server) getSubdomain(*http.Request) (*reply, *apiErr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.subdomain == "" {
		return nil, fail(http.StatusNotFound, codeNotFound, "This account does not have a workers.dev subdomain. Register one first.")
	}
	return ok(map[string]any{"subdomain": s.st.subdomain})
}

var subdomainRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

func (s *Server) putSubdomain(r *http.Request) (*reply, *apiErr) {
	var body struct {
		Subdomain string `json:"subdomain"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return nil, err
	}
	if !subdomainRe.MatchString(body.Subdomain) {
		return nil, fail(http.StatusBadRequest, 10032, "Subdomain %q is invalid.", body.Subdomain)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.subdomain = body.Subdomain
	return ok(map[string]any{"subdomain": body.Subdomain})
}

func (s *Server) getScriptSubdomain(r *http.Request, sc *script) (*reply, *apiErr) {
	return ok(map[string]any{"enabled": sc.workersDev, "previews_enabled": sc.previews})
}

func (s *Server) postScriptSubdomain(r *http.Request) (*reply, *apiErr) {
	var body struct {
		Enabled         bool  `json:"enabled"`
		PreviewsEnabled *bool `json:"previews_enabled"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return nil, err
	}
	return s.onScript(func(r *http.Request, sc *script) (*reply, *apiErr) {
		sc.workersDev = body.Enabled
		if body.PreviewsEnabled != nil {
			sc.previews = *body.PreviewsEnabled
		}
		return ok(map[string]any{"enabled": sc.workersDev, "previews_enabled": sc.previews})
	})(r)
}

func (s *Server) deleteScriptSubdomain(r *http.Request, sc *script) (*reply, *apiErr) {
	sc.workersDev, sc.previews = false, false
	return ok(map[string]any{"enabled": false, "previews_enabled": false})
}
