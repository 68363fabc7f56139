package cfapi

import "net/http"

// versionRoutes are the endpoints of Worker versions.
func (s *Server) versionRoutes() []endpoint {
	const sc = scriptPath
	w := ScopeWorkers
	return []endpoint{
		{"GET " + sc + "/versions", w, s.onScript(s.listVersions)},
		{"POST " + sc + "/versions", w, s.postVersion},
		{"GET " + sc + "/versions/{version}", w, s.onScript(s.getVersion)},
	}
}

func (s *Server) postVersion(r *http.Request) (*reply, *apiErr) {
	name := r.PathValue("script")
	meta, rawMeta, mods, aerr := readUpload(r)
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := s.st.scripts[name]
	if sc == nil {
		return nil, notFoundScript()
	}
	v, commit, aerr := s.stageUpload(name, sc, meta, rawMeta, mods)
	if aerr != nil {
		return nil, aerr
	}
	v.Annotations["workers/triggered_by"] = "version_upload"
	commit(sc)
	return ok(renderVersion(v))
}

func renderVersion(v *Version) map[string]any {
	ann := map[string]any{}
	for k, val := range v.Annotations {
		ann[k] = val
	}
	rt := map[string]any{"usage_model": "standard", "limits": map[string]any{"cpu_ms": 30000}}
	if v.CompatibilityDate != "" {
		rt["compatibility_date"] = v.CompatibilityDate
	}
	if len(v.CompatibilityFlags) > 0 {
		rt["compatibility_flags"] = v.CompatibilityFlags
	}
	return map[string]any{
		"id": v.ID, "number": v.Number,
		"metadata": map[string]any{
			"created_on": iso(v.CreatedOn), "modified_on": iso(v.CreatedOn), "source": v.Source,
			"author_id": tokenID(authorEmail), "author_email": authorEmail, "hasPreview": false,
		},
		"annotations": ann,
		"resources": map[string]any{
			"script":         map[string]any{"etag": v.Etag, "handlers": []string{"fetch"}, "last_deployed_from": "wrangler"},
			"script_runtime": rt,
			"bindings":       renderBindings(v.Bindings),
		},
		"startup_time_ms": 5,
	}
}

func (s *Server) listVersions(r *http.Request, sc *script) (*reply, *apiErr) {
	all := make([]any, 0, len(sc.versions))
	for i := len(sc.versions) - 1; i >= 0; i-- {
		all = append(all, renderVersion(sc.versions[i]))
	}
	q := r.URL.Query()
	if q.Get("deployable") == "true" {
		return &reply{result: map[string]any{"items": all}, info: pageInfo(1, len(all), len(all), len(all))}, nil
	}
	page, per := atoiOr(q.Get("page"), 1), atoiOr(q.Get("per_page"), 10)
	lo := min((page-1)*per, len(all))
	hi := min(lo+per, len(all))
	return &reply{result: map[string]any{"items": all[lo:hi]}, info: pageInfo(page, per, hi-lo, len(all))}, nil
}

func (s *Server) getVersion(r *http.Request, sc *script) (*reply, *apiErr) {
	v := sc.version(r.PathValue("version"))
	if v == nil {
		return nil, fail(http.StatusNotFound, codeNotFound, "Version %s not found.", r.PathValue("version"))
	}
	return ok(renderVersion(v))
}
