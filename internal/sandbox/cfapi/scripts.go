package cfapi

import (
	"encoding/json"
	"io"
	"maps"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// scriptRoutes are the endpoints of Worker scripts: upload, read, delete, settings, secrets, references, Durable Object namespaces.
func (s *Server) scriptRoutes() []endpoint {
	const a = acctPath
	const sc = scriptPath
	w := ScopeWorkers
	return []endpoint{
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
	}
}

func notFoundScript() *apiErr {
	return fail(http.StatusNotFound, codeNotFound, "This Worker does not exist on your account.")
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
		return nil, nil, nil, fail(http.StatusBadRequest, codeValidation, "Service Worker syntax (body_part) is not supported by the local Cloudflare; upload ES modules with main_module")
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
