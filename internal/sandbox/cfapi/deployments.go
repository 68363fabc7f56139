package cfapi

import (
	"net/http"
	"slices"
	"strings"
)

// deploymentRoutes are the endpoints of Worker deployments.
func (s *Server) deploymentRoutes() []endpoint {
	const sc = scriptPath
	w := ScopeWorkers
	return []endpoint{
		{"GET " + sc + "/deployments", w, s.onScript(s.listDeployments)},
		{"POST " + sc + "/deployments", w, s.postDeployment},
		{"GET " + sc + "/deployments/{deployment}", w, s.onScript(s.getDeployment)},
	}
}

func (s *Server) deployLocked(sc *script, versions []DeploymentVersion, ann map[string]string) *Deployment {
	d := &Deployment{
		ID: uuid(), Script: sc.name, CreatedOn: s.opts.Clock.Now(), Source: "wrangler", Strategy: "percentage",
		Annotations: ann, Versions: versions,
	}
	sc.deployments = append(sc.deployments, d)
	sc.modifiedOn = d.CreatedOn
	return d
}

func renderDeployment(d *Deployment) map[string]any {
	ann := map[string]any{}
	for k, v := range d.Annotations {
		ann[k] = v
	}
	return map[string]any{
		"id": d.ID, "source": d.Source, "strategy": d.Strategy, "author_email": authorEmail,
		"annotations": ann, "created_on": iso(d.CreatedOn), "versions": d.Versions,
	}
}

func (s *Server) listDeployments(r *http.Request, sc *script) (*reply, *apiErr) {
	out := make([]any, 0, len(sc.deployments))
	for i := len(sc.deployments) - 1; i >= 0; i-- {
		out = append(out, renderDeployment(sc.deployments[i]))
	}
	return ok(map[string]any{"deployments": out})
}

func (s *Server) getDeployment(r *http.Request, sc *script) (*reply, *apiErr) {
	for _, d := range sc.deployments {
		if d.ID == r.PathValue("deployment") {
			return ok(renderDeployment(d))
		}
	}
	return nil, fail(http.StatusNotFound, codeNotFound, "Deployment %s not found.", r.PathValue("deployment"))
}

func (s *Server) postDeployment(r *http.Request) (*reply, *apiErr) {
	var body struct {
		Strategy    string              `json:"strategy"`
		Versions    []DeploymentVersion `json:"versions"`
		Annotations map[string]string   `json:"annotations"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return nil, err
	}
	return s.onScript(func(r *http.Request, sc *script) (*reply, *apiErr) {
		if body.Strategy != "percentage" {
			return nil, fail(http.StatusBadRequest, codeBadRequest, "Unsupported deployment strategy %q; use \"percentage\".", body.Strategy)
		}
		if len(body.Versions) == 0 || len(body.Versions) > 2 {
			return nil, fail(http.StatusBadRequest, codeBadRequest, "A deployment needs one or two versions.")
		}
		total := 0.0
		for _, dv := range body.Versions {
			if sc.version(dv.VersionID) == nil {
				return nil, fail(http.StatusNotFound, codeNotFound, "Version %s not found.", dv.VersionID)
			}
			total += dv.Percentage
		}
		if total < 99.99 || total > 100.01 {
			return nil, fail(http.StatusBadRequest, codeBadRequest, "Version percentages must add up to 100, not %g.", total)
		}
		if r.URL.Query().Get("force") != "true" {
			if _, cur := sc.current(); cur != nil {
				for _, dv := range body.Versions {
					if !sameSecrets(cur, sc.version(dv.VersionID)) {
						return nil, fail(http.StatusBadRequest, codeSecretsChanged, "Secrets have changed since version %s was created; deploy it with force=true to use its secrets.", dv.VersionID)
					}
				}
			}
		}
		ann := map[string]string{"workers/triggered_by": "deployment"}
		for k, v := range body.Annotations {
			ann[k] = v
		}
		d := s.deployLocked(sc, body.Versions, ann)
		return ok(renderDeployment(d))
	})(r)
}

func sameSecrets(a, b *Version) bool {
	key := func(v *Version) string {
		var parts []string
		for _, x := range v.Bindings {
			if x.Type == "secret_text" || x.Type == "secret_key" {
				parts = append(parts, x.Name+"="+x.Text)
			}
		}
		slices.Sort(parts)
		return strings.Join(parts, "\x00")
	}
	return key(a) == key(b)
}
