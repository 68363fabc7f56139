package cfapi

import (
	"encoding/json"
	"io"
	"maps"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

const authorEmail = "cftest@example.com"

func (s *Server) endpoints() []endpoint {
	const a = "/accounts/{account}"
	const sc = a + "/workers/scripts/{script}"
	const c = a + "/containers"
	w, k := ScopeWorkers, ScopeContainers
	return []endpoint{
		{"GET /user/tokens/verify", "", s.verifyToken},
		{"GET " + a + "/tokens/verify", "", s.verifyToken},
		{"GET /memberships", "", s.memberships},
		{"GET /user", "", s.user},
		{"GET " + a + "/workers/subdomain", w, s.getSubdomain},
		{"PUT " + a + "/workers/subdomain", w, s.putSubdomain},
		{"GET " + a + "/workers/services/{script}", w, s.getService},
		{"DELETE " + a + "/workers/services/{script}", w, s.onScript(s.deleteScript)},
		{"GET " + a + "/workers/tails/by-consumer/{script}", w, s.tailProducers},
		{"GET " + a + "/storage/kv/namespaces", w, s.listKVNamespaces},
		{"GET " + a + "/workers/workers/{script}", w, s.onScript(s.getWorker)},
		{"GET " + a + "/workers/scripts", w, s.listScripts},
		{"GET " + a + "/workers/durable_objects/namespaces", w, s.listNamespaces},
		{"PUT " + sc, w, s.putScript},
		{"GET " + sc, w, s.onScript(s.getScriptContent)},
		{"DELETE " + sc, w, s.onScript(s.deleteScript)},
		{"GET " + sc + "/references", w, s.onScript(s.getReferences)},
		{"GET " + sc + "/settings", w, s.onScript(s.getSettings)},
		{"GET " + sc + "/script-settings", w, s.onScript(s.getScriptSettings)},
		{"PATCH " + sc + "/script-settings", w, s.patchScriptSettings},
		{"GET " + sc + "/secrets", w, s.onScript(s.listSecrets)},
		{"GET " + sc + "/subdomain", w, s.onScript(s.getScriptSubdomain)},
		{"POST " + sc + "/subdomain", w, s.postScriptSubdomain},
		{"DELETE " + sc + "/subdomain", w, s.onScript(s.deleteScriptSubdomain)},
		{"GET " + sc + "/versions", w, s.onScript(s.listVersions)},
		{"POST " + sc + "/versions", w, s.postVersion},
		{"GET " + sc + "/versions/{version}", w, s.onScript(s.getVersion)},
		{"GET " + sc + "/deployments", w, s.onScript(s.listDeployments)},
		{"POST " + sc + "/deployments", w, s.postDeployment},
		{"GET " + sc + "/deployments/{deployment}", w, s.onScript(s.getDeployment)},
		{"GET " + c + "/me", k, s.containersMe},
		{"GET " + c + "/applications", k, s.listApplications},
		{"POST " + c + "/applications", k, s.createApplication},
		{"GET " + c + "/applications/{app}", k, s.onApp(s.getApplication)},
		{"PATCH " + c + "/applications/{app}", k, s.patchApplication},
		{"DELETE " + c + "/applications/{app}", k, s.onApp(s.deleteApplication)},
		{"POST " + c + "/applications/{app}/rollouts", k, s.createRollout},
		{"GET " + c + "/applications/{app}/rollouts", k, s.onApp(s.listRollouts)},
		{"GET " + c + "/applications/{app}/rollouts/{rollout}", k, s.onApp(s.getRollout)},
		{"GET " + c + "/dash/applications", k, s.dashApplications},
		{"GET " + c + "/dash/applications/{app}/instances", k, s.onApp(s.dashInstances)},
		{"GET " + c + "/registries", k, s.listRegistries},
		{"POST " + c + "/registries/{domain}/credentials", k, s.registryCredentials},
	}
}

func ok(result any) (*reply, *apiErr) { return &reply{result: result}, nil }

// created answers 201 Created, as Cloudflare's API description has it for creating a container
// application, a rollout or registry credentials.
func created(result any) (*reply, *apiErr) {
	return &reply{status: http.StatusCreated, result: result}, nil
}

func notFoundScript() *apiErr {
	return fail(http.StatusNotFound, codeNotFound, "This Worker does not exist on your account.")
}

// --- tokens and account ---

func (s *Server) verifyToken(r *http.Request) (*reply, *apiErr) {
	value, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	tok, _ := s.token(value)
	res := map[string]any{"id": tokenID(value), "status": "active"}
	if !tok.Expiry.IsZero() {
		res["expires_on"] = tok.Expiry.UTC().Format("2006-01-02T15:04:05Z")
	}
	return &reply{result: res, msgs: []APIError{{Code: 10000, Message: "This API Token is valid and active"}}}, nil
}

func tokenID(value string) string {
	var sum uint64 = 14695981039346656037
	for _, c := range []byte(value) {
		sum = (sum ^ uint64(c)) * 1099511628211
	}
	return strings.Repeat(strconv.FormatUint(sum, 16), 4)[:32]
}

func (s *Server) memberships(*http.Request) (*reply, *apiErr) {
	return &reply{
		result: []any{map[string]any{
			"id": tokenID(s.opts.AccountID), "status": "accepted",
			"account": map[string]any{"id": s.opts.AccountID, "name": "cftest account"},
		}},
		info: map[string]any{"page": 1, "per_page": 20, "count": 1, "total_count": 1, "total_pages": 1},
	}, nil
}

func (s *Server) user(*http.Request) (*reply, *apiErr) {
	return ok(map[string]any{"id": tokenID(authorEmail), "email": authorEmail, "suspended": false, "has_enterprise_zones": false})
}

// --- workers.dev ---

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

func (s *Server) script(r *http.Request) (*script, *apiErr) {
	sc := s.st.scripts[r.PathValue("script")]
	if sc == nil {
		return nil, notFoundScript()
	}
	return sc, nil
}

// onScript serves a handler of one existing Worker: it holds the server's lock and answers 10007 when the
// path's {script} does not exist.
func (s *Server) onScript(h func(r *http.Request, sc *script) (*reply, *apiErr)) handlerFunc {
	return onFound(s, s.script, h)
}

// onFound serves h with what find looks up from the request, holding the server's lock; find's error
// is the answer when it fails.
func onFound[T any](s *Server, find func(*http.Request) (T, *apiErr), h func(*http.Request, T) (*reply, *apiErr)) handlerFunc {
	return func(r *http.Request) (*reply, *apiErr) {
		s.mu.Lock()
		defer s.mu.Unlock()
		v, err := find(r)
		if err != nil {
			return nil, err
		}
		return h(r, v)
	}
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

// --- scripts ---

func (s *Server) scriptSummary(sc *script) map[string]any {
	_, v := sc.current()
	res := map[string]any{
		"id": sc.name, "tag": sc.tag, "created_on": iso(sc.createdOn), "modified_on": iso(sc.modifiedOn),
		"handlers": []string{"fetch"}, "usage_model": "standard", "has_modules": true, "has_assets": false,
		"last_deployed_from": "wrangler", "logpush": false, "tags": []string{}, "tail_consumers": []any{}, "routes": nil,
		"placement_mode": "", "compatibility_flags": []string{},
	}
	if sc.migrationTag != "" {
		res["migration_tag"] = sc.migrationTag
	}
	if v != nil {
		res["etag"] = v.Etag
		res["compatibility_date"] = v.CompatibilityDate
		res["compatibility_flags"] = nonNil(v.CompatibilityFlags)
	}
	return res
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

func (s *Server) getService(r *http.Request) (*reply, *apiErr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := s.st.scripts[r.PathValue("script")]
	if sc == nil {
		return nil, fail(http.StatusNotFound, codeServiceNotFound, "This Worker does not exist on your account.")
	}
	sum := s.scriptSummary(sc)
	return ok(map[string]any{
		"id": sc.name, "created_on": iso(sc.createdOn), "modified_on": iso(sc.modifiedOn),
		"default_environment": map[string]any{
			"environment": "production", "created_on": iso(sc.createdOn), "modified_on": iso(sc.modifiedOn),
			"script": sum,
		},
		"environments": []any{map[string]any{"environment": "production", "created_on": iso(sc.createdOn), "modified_on": iso(sc.modifiedOn)}},
	})
}

func (s *Server) getWorker(r *http.Request, sc *script) (*reply, *apiErr) {
	return ok(map[string]any{
		"id": sc.tag, "name": sc.name, "created_on": iso(sc.createdOn), "updated_on": iso(sc.modifiedOn),
		"logpush": false, "observability": map[string]any{"enabled": false}, "tags": []string{}, "tail_consumers": []any{},
		"subdomain": map[string]any{"enabled": sc.workersDev, "previews_enabled": sc.previews},
	})
}

func (s *Server) listScripts(*http.Request) (*reply, *apiErr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.st.scripts))
	for n := range s.st.scripts {
		names = append(names, n)
	}
	slices.Sort(names)
	out := make([]any, 0, len(names))
	for _, n := range names {
		out = append(out, s.scriptSummary(s.st.scripts[n]))
	}
	return ok(out)
}

func (s *Server) listNamespaces(*http.Request) (*reply, *apiErr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []any{}
	for _, ns := range s.namespacesLocked() {
		out = append(out, map[string]any{"id": ns.ID, "name": ns.Name, "script": ns.Script, "class": ns.Class, "use_sqlite": ns.SQLite})
	}
	return &reply{result: out, info: map[string]any{"page": 1, "per_page": 20, "count": len(out), "total_count": len(out), "total_pages": 1}}, nil
}

func (s *Server) getScriptContent(r *http.Request, sc *script) (*reply, *apiErr) {
	_, v := sc.current()
	if v == nil {
		return nil, notFoundScript()
	}
	m, _ := v.Module(v.MainModule)
	return &reply{raw: m.Content, rawTyp: "application/javascript"}, nil
}

// deleteScript deletes a Worker with its versions, deployments, workers.dev route and Durable Object
// namespaces (DELETE .../workers/scripts/{name}, and .../workers/services/{name} that wrangler delete
// calls). As Cloudflare documents the force parameter, a Worker another Worker depends on (a service
// binding, or a binding to one of its Durable Object namespaces) is deleted only with ?force=true.
// Container applications are not deleted with it: they keep running until deleted themselves, which
// wrangler delete warns about.
func (s *Server) deleteScript(r *http.Request, sc *script) (*reply, *apiErr) {
	if r.URL.Query().Get("force") != "true" {
		if deps := s.dependentsLocked(sc.name); len(deps) > 0 {
			return nil, fail(http.StatusBadRequest, codeBadRequest, "Cannot delete Worker %s: %s depend on it. Remove those bindings first, or delete with force=true.", sc.name, strings.Join(deps, ", "))
		}
	}
	for id, ns := range s.st.namespaces {
		if ns.Script == sc.name {
			delete(s.st.namespaces, id)
		}
	}
	delete(s.st.scripts, sc.name)
	return ok(map[string]any{"id": sc.name})
}

// dependentsLocked names the other Workers whose deployed version binds to the named one: a service
// binding, or a Durable Object binding with script_name set to it.
func (s *Server) dependentsLocked(name string) []string {
	var out []string
	for _, other := range s.sortedScriptsLocked() {
		if other.name == name {
			continue
		}
		_, v := other.current()
		if v == nil {
			continue
		}
		if slices.ContainsFunc(v.Bindings, func(b Binding) bool { return bindsTo(b, name) }) {
			out = append(out, other.name)
		}
	}
	return out
}

func bindsTo(b Binding, script string) bool {
	switch b.Type {
	case "service":
		return str(b.Raw["service"]) == script
	case "durable_object_namespace":
		return b.ScriptName == script
	}
	return false
}

func (s *Server) sortedScriptsLocked() []*script {
	var out []*script
	for _, n := range slices.Sorted(maps.Keys(s.st.scripts)) {
		out = append(out, s.st.scripts[n])
	}
	return out
}

// getReferences lists what refers to a Worker (GET .../scripts/{name}/references), the check wrangler
// delete makes before deleting: incoming service bindings and the Durable Object namespaces it
// implements with the Workers bound to them.
func (s *Server) getReferences(r *http.Request, sc *script) (*reply, *apiErr) {
	incoming := []any{}
	dos := []any{}
	for _, ns := range s.namespacesLocked() {
		if ns.Script == sc.name {
			dos = append(dos, map[string]any{"service": sc.name, "environment": "production", "durable_object_namespace_id": ns.ID, "durable_object_namespace_name": ns.Name})
		}
	}
	for _, other := range s.sortedScriptsLocked() {
		_, v := other.current()
		if other.name == sc.name || v == nil {
			continue
		}
		for _, b := range v.Bindings {
			if !bindsTo(b, sc.name) {
				continue
			}
			if b.Type == "service" {
				incoming = append(incoming, map[string]any{"service": other.name, "environment": "production", "name": b.Name})
			} else if ns := s.st.namespaceFor(sc.name, b.ClassName); ns != nil {
				dos = append(dos, map[string]any{"service": other.name, "environment": "production", "durable_object_namespace_id": ns.ID, "durable_object_namespace_name": ns.Name})
			}
		}
	}
	return ok(map[string]any{"services": map[string]any{"incoming": incoming, "outgoing": []any{}, "pages_function": false}, "durable_objects": dos, "dispatch_outbounds": []any{}})
}

// tailProducers answers GET .../workers/tails/by-consumer/{name}: no Worker sends its logs to another
// here.
func (s *Server) tailProducers(*http.Request) (*reply, *apiErr) { return ok([]any{}) }

// listKVNamespaces answers GET .../storage/kv/namespaces: the local Cloudflare has no KV, and wrangler
// delete lists them to remove a legacy Workers Sites namespace.
func (s *Server) listKVNamespaces(r *http.Request) (*reply, *apiErr) {
	per := atoiOr(r.URL.Query().Get("per_page"), 20)
	return &reply{result: []any{}, info: pageInfo(atoiOr(r.URL.Query().Get("page"), 1), per, 0, 0)}, nil
}

func (s *Server) settingsOf(sc *script) map[string]any {
	out := map[string]any{"logpush": false, "tail_consumers": []any{}, "observability": map[string]any{"enabled": false}, "tags": []any{}}
	for k, v := range sc.settings {
		if v != nil { // a list set to null reads back as an empty list
			out[k] = v
		}
	}
	return out
}

func (s *Server) getSettings(r *http.Request, sc *script) (*reply, *apiErr) {
	res := s.settingsOf(sc)
	if _, v := sc.current(); v != nil {
		res["bindings"] = renderBindings(v.Bindings)
		res["compatibility_date"] = v.CompatibilityDate
		res["compatibility_flags"] = nonNil(v.CompatibilityFlags)
		res["usage_model"] = "standard"
		res["placement"] = map[string]any{}
		res["limits"] = map[string]any{"cpu_ms": 30000}
	}
	return ok(res)
}

func (s *Server) getScriptSettings(r *http.Request, sc *script) (*reply, *apiErr) {
	return ok(s.settingsOf(sc))
}

func (s *Server) patchScriptSettings(r *http.Request) (*reply, *apiErr) {
	var body map[string]any
	if err := decodeJSON(r, &body); err != nil {
		return nil, err
	}
	return s.onScript(func(r *http.Request, sc *script) (*reply, *apiErr) {
		for k, v := range body {
			switch k {
			case "logpush", "tags", "tail_consumers", "observability":
				sc.settings[k] = v
			}
		}
		return ok(s.settingsOf(sc))
	})(r)
}

func (s *Server) listSecrets(r *http.Request, sc *script) (*reply, *apiErr) {
	out := []any{}
	if _, v := sc.current(); v != nil {
		for _, b := range v.Bindings {
			if b.Type == "secret_text" || b.Type == "secret_key" {
				out = append(out, map[string]any{"name": b.Name, "type": b.Type})
			}
		}
	}
	return ok(out)
}

// --- uploads ---

type uploadMeta struct {
	MainModule         string            `json:"main_module"`
	BodyPart           string            `json:"body_part"`
	CompatibilityDate  string            `json:"compatibility_date"`
	CompatibilityFlags []string          `json:"compatibility_flags"`
	Bindings           []map[string]any  `json:"bindings"`
	KeepBindings       []string          `json:"keep_bindings"`
	Migrations         *migrations       `json:"migrations"`
	Containers         []map[string]any  `json:"containers"`
	Annotations        map[string]string `json:"annotations"`
	Observability      map[string]any    `json:"observability"`
	Tags               []string          `json:"tags"`
}

type migrationStep struct {
	NewClasses       []string `json:"new_classes"`
	NewSqliteClasses []string `json:"new_sqlite_classes"`
	DeletedClasses   []string `json:"deleted_classes"`
	RenamedClasses   []struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"renamed_classes"`
}

type migrations struct {
	OldTag string          `json:"old_tag"`
	NewTag string          `json:"new_tag"`
	Steps  []migrationStep `json:"steps"`
	migrationStep
}

// readUpload parses a multipart Worker upload: the metadata part and every file part, in order.
func readUpload(r *http.Request) (*uploadMeta, []byte, []Module, *apiErr) {
	ct, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "multipart/form-data" || params["boundary"] == "" {
		return nil, nil, nil, fail(http.StatusBadRequest, codeValidation, "Expected a multipart/form-data upload")
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, nil, nil, fail(http.StatusBadRequest, codeValidation, "Reading the upload: %v", err)
	}
	var meta *uploadMeta
	var rawMeta []byte
	var mods []Module
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, nil, fail(http.StatusBadRequest, codeValidation, "Reading the upload: %v", err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			return nil, nil, nil, fail(http.StatusBadRequest, codeValidation, "Reading the upload: %v", err)
		}
		if p.FormName() == "metadata" {
			meta = &uploadMeta{}
			if err := json.Unmarshal(b, meta); err != nil {
				return nil, nil, nil, fail(http.StatusBadRequest, codeValidation, "Unexpected metadata: %v", err)
			}
			rawMeta = b
			continue
		}
		// The module name is the part's filename (cloudflare-go names every part "files"), else its name.
		name := p.FileName()
		if name == "" {
			name = p.FormName()
		}
		mods = append(mods, Module{Name: name, ContentType: p.Header.Get("Content-Type"), Content: b})
	}
	if meta == nil {
		return nil, nil, nil, fail(http.StatusBadRequest, codeValidation, "Missing metadata part")
	}
	if meta.MainModule == "" {
		return nil, nil, nil, fail(http.StatusBadRequest, codeValidation, "Service Worker syntax (body_part) is not supported by cftest; upload ES modules with main_module")
	}
	found := false
	for _, m := range mods {
		found = found || m.Name == meta.MainModule
	}
	if !found {
		return nil, nil, nil, fail(http.StatusBadRequest, codeValidation, "No such module %q.", meta.MainModule)
	}
	return meta, rawMeta, mods, nil
}

// stageUpload validates an upload against the script's state and returns the version to store and a
// commit function that applies its migrations. Called with s.mu held.
func (s *Server) stageUpload(name string, sc *script, meta *uploadMeta, rawMeta []byte, mods []Module) (*Version, func(*script), *apiErr) {
	curTag := ""
	if sc != nil {
		curTag = sc.migrationTag
	}
	// Classes after migrations: class -> sqlite.
	classes := map[string]bool{}
	for _, ns := range s.st.namespaces {
		if ns.Script == name {
			classes[ns.Class] = ns.SQLite
		}
	}
	newTag := curTag
	var renames [][2]string
	if m := meta.Migrations; m != nil {
		if m.OldTag != curTag {
			return nil, nil, fail(http.StatusBadRequest, 10079, "Migration tag precondition failed; current tag is %q, old_tag is %q.", curTag, m.OldTag)
		}
		steps := m.Steps
		if len(steps) == 0 {
			steps = []migrationStep{m.migrationStep}
		}
		for _, st := range steps {
			for _, c := range st.NewClasses {
				classes[c] = false
			}
			for _, c := range st.NewSqliteClasses {
				classes[c] = true
			}
			for _, c := range st.DeletedClasses {
				if _, ok := classes[c]; !ok {
					return nil, nil, fail(http.StatusBadRequest, codeValidation, "Cannot apply deleted_classes migration to non-existent class %s", c)
				}
				delete(classes, c)
			}
			for _, rc := range st.RenamedClasses {
				sq, ok := classes[rc.From]
				if !ok {
					return nil, nil, fail(http.StatusBadRequest, codeValidation, "Cannot apply renamed_classes migration to non-existent class %s", rc.From)
				}
				delete(classes, rc.From)
				classes[rc.To] = sq
				renames = append(renames, [2]string{rc.From, rc.To})
			}
		}
		newTag = m.NewTag
	}
	// Bindings, resolving Durable Object namespaces.
	var binds []Binding
	for _, raw := range meta.Bindings {
		b := bindingOf(raw)
		if b.Type == "inherit" {
			continue
		}
		if b.Type == "durable_object_namespace" {
			target := name
			if b.ScriptName != "" {
				target = b.ScriptName
			}
			if target == name {
				if _, ok := classes[b.ClassName]; !ok {
					return nil, nil, fail(http.StatusBadRequest, 10061, "Cannot create binding for class %q because it is not currently configured to implement Durable Objects. Did you forget to apply a Durable Object migration?", b.ClassName)
				}
				if ns := s.st.namespaceFor(name, b.ClassName); ns != nil {
					b.NamespaceID = ns.ID
				}
			} else if ns := s.st.namespaceFor(target, b.ClassName); ns != nil {
				b.NamespaceID = ns.ID
			} else {
				return nil, nil, fail(http.StatusBadRequest, 10061, "Cannot create binding for class %q: script %q does not implement it.", b.ClassName, target)
			}
		}
		binds = append(binds, b)
	}
	// keep_bindings and type "inherit": carry over from the current version.
	if sc != nil {
		if _, cur := sc.current(); cur != nil {
			for _, ob := range cur.Bindings {
				keep := slices.Contains(meta.KeepBindings, ob.Type)
				for _, raw := range meta.Bindings {
					if t, _ := raw["type"].(string); t == "inherit" && raw["name"] == ob.Name {
						keep = true
					}
				}
				if keep && !slices.ContainsFunc(binds, func(b Binding) bool { return b.Name == ob.Name }) {
					binds = append(binds, ob)
				}
			}
		}
	}
	var conts []ContainerRef
	for _, c := range meta.Containers {
		ref := ContainerRef{ClassName: str(c["class_name"]), Name: str(c["name"])}
		if sq, ok := classes[ref.ClassName]; !ok || !sq {
			return nil, nil, fail(http.StatusBadRequest, codeValidation, "Container class %q must be a SQLite-backed Durable Object class (add a new_sqlite_classes migration).", ref.ClassName)
		}
		conts = append(conts, ref)
	}
	v := &Version{
		ID: uuid(), Script: name, CreatedOn: s.opts.Clock.Now(),
		MainModule: meta.MainModule, Modules: mods, CompatibilityDate: meta.CompatibilityDate,
		CompatibilityFlags: meta.CompatibilityFlags, Bindings: binds, Containers: conts,
		Annotations: map[string]string{}, Metadata: rawMeta, Source: "wrangler", Etag: randHex(32),
	}
	for k, val := range meta.Annotations {
		v.Annotations[k] = val
	}
	commit := func(sc *script) {
		for _, rn := range renames {
			if ns := s.st.namespaceFor(name, rn[0]); ns != nil {
				ns.Class, ns.Name = rn[1], name+"_"+rn[1]
			}
		}
		for id, ns := range s.st.namespaces {
			if _, ok := classes[ns.Class]; ns.Script == name && !ok {
				delete(s.st.namespaces, id)
			}
		}
		for c, sq := range classes {
			if s.st.namespaceFor(name, c) == nil {
				ns := &Namespace{ID: randHex(16), Name: name + "_" + c, Script: name, Class: c, SQLite: sq}
				s.st.namespaces[ns.ID] = ns
			}
		}
		for i := range v.Bindings {
			b := &v.Bindings[i]
			if b.Type == "durable_object_namespace" && b.NamespaceID == "" {
				if ns := s.st.namespaceFor(name, b.ClassName); ns != nil {
					b.NamespaceID = ns.ID
				}
			}
		}
		sc.migrationTag = newTag
		v.Number = len(sc.versions) + 1
		sc.versions = append(sc.versions, v)
		sc.modifiedOn = v.CreatedOn
		if meta.Observability != nil {
			sc.settings["observability"] = meta.Observability
		}
	}
	return v, commit, nil
}

func bindingOf(raw map[string]any) Binding {
	b := Binding{
		Type: str(raw["type"]), Name: str(raw["name"]), ClassName: str(raw["class_name"]),
		ScriptName: str(raw["script_name"]), Text: str(raw["text"]), Raw: map[string]any{},
	}
	for k, v := range raw {
		b.Raw[k] = v
	}
	return b
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func renderBindings(bs []Binding) []any {
	out := make([]any, 0, len(bs))
	for _, b := range bs {
		m := map[string]any{}
		for k, v := range b.Raw {
			m[k] = v
		}
		if b.Type == "secret_text" || b.Type == "secret_key" {
			delete(m, "text")
		}
		if b.NamespaceID != "" {
			m["namespace_id"] = b.NamespaceID
		}
		out = append(out, m)
	}
	return out
}

func (s *Server) newScript(name string) *script {
	now := s.opts.Clock.Now()
	return &script{name: name, tag: randHex(16), createdOn: now, modifiedOn: now, settings: map[string]any{}}
}

var scriptNameRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?$`)

func (s *Server) putScript(r *http.Request) (*reply, *apiErr) {
	name := r.PathValue("script")
	if !scriptNameRe.MatchString(name) {
		return nil, fail(http.StatusBadRequest, 10016, "Invalid Worker name %q.", name)
	}
	meta, rawMeta, mods, aerr := readUpload(r)
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := s.st.scripts[name]
	v, commit, aerr := s.stageUpload(name, sc, meta, rawMeta, mods)
	if aerr != nil {
		return nil, aerr
	}
	if sc == nil {
		sc = s.newScript(name)
		s.st.scripts[name] = sc
	}
	v.Annotations["workers/triggered_by"] = "upload"
	commit(sc)
	ann := map[string]string{"workers/triggered_by": "upload"}
	if m, ok := v.Annotations["workers/message"]; ok {
		ann["workers/message"] = m
	}
	s.deployLocked(sc, []DeploymentVersion{{VersionID: v.ID, Percentage: 100}}, ann)
	res := s.scriptSummary(sc)
	res["deployment_id"] = v.ID
	res["startup_time_ms"] = 5
	res["pipeline_hash"] = nil
	res["mutable_pipeline_id"] = nil
	return ok(res)
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

func pageInfo(page, per, count, total int) map[string]any {
	pages := 1
	if per > 0 {
		pages = max(1, (total+per-1)/per)
	}
	return map[string]any{"page": page, "per_page": per, "count": count, "total_count": total, "total_pages": pages}
}

func atoiOr(v string, def int) int {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return def
	}
	return n
}

func (s *Server) getVersion(r *http.Request, sc *script) (*reply, *apiErr) {
	v := sc.version(r.PathValue("version"))
	if v == nil {
		return nil, fail(http.StatusNotFound, codeNotFound, "Version %s not found.", r.PathValue("version"))
	}
	return ok(renderVersion(v))
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
