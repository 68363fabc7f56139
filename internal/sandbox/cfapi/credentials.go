package cfapi

import (
	"net/http"
	"slices"
	"time"
)

// credentialRoutes are the endpoints of the Containers registries and registry credentials.
func (s *Server) credentialRoutes() []endpoint {
	const c = containersPath
	k := ScopeContainers
	return []endpoint{
		{"GET " + c + "/registries", k, s.listRegistries},
		{"POST " + c + "/registries/{domain}/credentials", k, s.registryCredentials},
	}
}

type credential struct {
	username, password string
	expires            time.Time
	push, pull         bool
}

func (s *Server) listRegistries(*http.Request) (*reply, *apiErr) {
	return ok([]any{})
}

func (s *Server) registryCredentials(r *http.Request) (*reply, *apiErr) {
	var body struct {
		Expiration  int      `json:"expiration_minutes"`
		Permissions []string `json:"permissions"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return nil, err
	}
	domain := r.PathValue("domain")
	if domain != s.RegistryHost() && domain != "registry.cloudflare.com" {
		return nil, fail(http.StatusNotFound, 1000, "Registry %s is not configured for this account", domain)
	}
	if body.Expiration <= 0 {
		return nil, fail(http.StatusBadRequest, codeBadRequest, "expiration_minutes must be a positive number of minutes")
	}
	if len(body.Permissions) == 0 {
		return nil, fail(http.StatusBadRequest, codeBadRequest, "permissions must name at least one of pull, push, library_push")
	}
	for _, p := range body.Permissions {
		if p != "pull" && p != "push" && p != "library_push" {
			return nil, fail(http.StatusBadRequest, codeBadRequest, "unknown permission %q (pull, push, library_push)", p)
		}
	}
	c := credential{
		username: "cftest-" + randHex(4), password: randHex(24),
		expires: s.opts.Clock.Now().Add(time.Duration(body.Expiration) * time.Minute),
		push:    slices.Contains(body.Permissions, "push") || slices.Contains(body.Permissions, "library_push"),
		pull:    slices.Contains(body.Permissions, "pull"),
	}
	s.mu.Lock()
	s.st.creds[c.password] = c
	s.mu.Unlock()
	return created(map[string]any{"account_id": s.opts.AccountID, "registry_host": s.RegistryHost(), "username": c.username, "password": c.password})
}
