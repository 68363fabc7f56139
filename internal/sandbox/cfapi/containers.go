package cfapi

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/org/lean4-cf-action/internal/cloudflare"
	instancetype "github.com/org/lean4-cf-action/internal/instance"
)

// Health counts a container application's instances, as the API reports them; its State is wrangler's
// derivation, the one lean4-cf's client applies.
type Health = cloudflare.Health

// Instance is a running container instance of an application, owned by one Durable Object.
type Instance struct {
	ID            string
	App           string // application id
	DurableObject string // the Durable Object name the Worker used
	DurableID     string // its 64-hex id
	Version       int    // the application version it runs
	Image         string
	StartedAt     time.Time
	ReadyAt       time.Time // StartedAt + StartDelay: "starting" before, "running" after
	State         string    // "starting" or "running" at the time of the snapshot
}

// Application is a snapshot of a container application.
type Application struct {
	ID      string
	Name    string
	Version int    // the latest configured version
	Image   string // the latest configured image
	// InstanceType is the latest configured type: its name, or for a custom configuration (vcpu,
	// memory_mib and disk.size_mb instead of instance_type) custom:vcpu=V,memory=MMiB,disk=DMB.
	InstanceType string
	MaxInstances int
	NamespaceID  string
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// Provisioned reports whether the latest version has finished provisioning (ProvisionDelay after it
	// was created or rolled out) and its image can be pulled.
	Provisioned bool
	// ServingVersion and ServingImage are what a newly started instance runs: the newest provisioned
	// version. ServingVersion is 0 while nothing is provisioned (the platform answers 503).
	ServingVersion int
	ServingImage   string
	Health         Health
	State          string // Health.State()
	Instances      []Instance
}

// Errors returned by StartInstance, matching what @cloudflare/containers turns into 503.
var (
	ErrNoApplication = errors.New("cftest: no such container application")
	ErrNoInstance    = errors.New("there is no container instance that can be provided to this durable object")
)

type appVersion struct {
	version int
	config  map[string]any
	readyAt time.Time
}

type rollout struct {
	id, description, kind, strategy string
	createdAt, completesAt          time.Time
	currentVersion, targetVersion   int
	currentConfig, targetConfig     map[string]any
	steps                           []map[string]any
	applied                         bool
}

type instance struct {
	id, doName, doID string
	version          int
	image            string
	startedAt        time.Time
	placementID      string
}

type application struct {
	id, name         string
	createdAt        time.Time
	updatedAt        time.Time
	schedulingPolicy string
	instances        int
	maxInstances     int
	constraints      any
	observability    any
	namespaceID      string
	grace            any
	versions         []appVersion // oldest first
	rollouts         []*rollout
	running          []*instance
}

func (a *application) latest() appVersion { return a.versions[len(a.versions)-1] }

func (a *application) versionConfig(n int) map[string]any {
	for _, v := range a.versions {
		if v.version == n {
			return v.config
		}
	}
	return nil
}

func imageOf(cfg map[string]any) string { return str(cfg["image"]) }

// advance applies rollouts that completed by now: running instances of older versions are replaced by
// the target version, restarting at the completion time. Called with s.mu held.
func (s *Server) advance(a *application, now time.Time) {
	for _, ro := range a.rollouts {
		if ro.applied || now.Before(ro.completesAt) {
			continue
		}
		ro.applied = true
		for _, in := range a.running {
			if in.version < ro.targetVersion {
				in.version, in.image, in.startedAt = ro.targetVersion, imageOf(a.versionConfig(ro.targetVersion)), ro.completesAt
			}
		}
	}
}

// serving returns the newest version that is provisioned and pullable, or ok=false.
func (s *Server) serving(a *application, now time.Time) (appVersion, bool) {
	for i := len(a.versions) - 1; i >= 0; i-- {
		v := a.versions[i]
		if !now.Before(v.readyAt) && s.imagePullable(imageOf(v.config)) {
			return v, true
		}
	}
	return appVersion{}, false
}

func (s *Server) health(a *application, now time.Time) Health {
	var h Health
	l := a.latest()
	switch {
	case now.Before(l.readyAt):
		h.Scheduling = 1
	case !s.imagePullable(imageOf(l.config)):
		h.Failed = 1
	}
	for _, in := range a.running {
		if now.Before(in.startedAt.Add(s.opts.StartDelay)) {
			h.Starting++
		} else {
			h.Active++
			h.Healthy++
		}
	}
	return h
}

func (s *Server) snapshot(a *application) Application {
	now := s.opts.Clock.Now()
	s.advance(a, now)
	l := a.latest()
	out := Application{
		ID: a.id, Name: a.name, Version: l.version, Image: imageOf(l.config), InstanceType: instanceTypeOf(l.config),
		MaxInstances: a.maxInstances, NamespaceID: a.namespaceID, CreatedAt: a.createdAt, UpdatedAt: a.updatedAt,
		Health: s.health(a, now),
	}
	out.State = out.Health.State()
	if sv, ok := s.serving(a, now); ok {
		out.ServingVersion, out.ServingImage = sv.version, imageOf(sv.config)
		out.Provisioned = sv.version == l.version
	}
	for _, in := range a.running {
		out.Instances = append(out.Instances, s.instanceSnapshot(a, in, now))
	}
	return out
}

func (s *Server) instanceSnapshot(a *application, in *instance, now time.Time) Instance {
	ready := in.startedAt.Add(s.opts.StartDelay)
	st := "running"
	if now.Before(ready) {
		st = "starting"
	}
	return Instance{ID: in.id, App: a.id, DurableObject: in.doName, DurableID: in.doID, Version: in.version, Image: in.image, StartedAt: in.startedAt, ReadyAt: ready, State: st}
}

func (s *Server) findApp(nameOrID string) *application {
	if a := s.st.apps[nameOrID]; a != nil {
		return a
	}
	for _, a := range s.st.apps {
		if a.name == nameOrID {
			return a
		}
	}
	return nil
}

// Application returns a snapshot of the application with this name or id.
func (s *Server) Application(nameOrID string) (Application, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.findApp(nameOrID)
	if a == nil {
		return Application{}, false
	}
	return s.snapshot(a), true
}

// ApplicationForNamespace returns the application bound to a Durable Object namespace id.
func (s *Server) ApplicationForNamespace(namespaceID string) (Application, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.st.apps {
		if a.namespaceID == namespaceID {
			return s.snapshot(a), true
		}
	}
	return Application{}, false
}

// Applications returns every application, oldest first.
func (s *Server) Applications() []Application {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Application
	for _, a := range s.sortedApps() {
		out = append(out, s.snapshot(a))
	}
	return out
}

func (s *Server) sortedApps() []*application {
	apps := slices.Collect(maps.Values(s.st.apps))
	slices.SortFunc(apps, func(x, y *application) int {
		if c := x.createdAt.Compare(y.createdAt); c != 0 {
			return c
		}
		return strings.Compare(x.id, y.id)
	})
	return apps
}

// StartInstance does what a request through the Worker to Durable Object doName does: it returns the
// running instance of that Durable Object, or starts one with the serving version ("starting" for
// StartDelay, then "running"). It fails with ErrNoInstance while nothing is provisioned or when
// max_instances instances already run, as the platform does.
func (s *Server) StartInstance(app, doName string) (Instance, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.findApp(app)
	if a == nil {
		return Instance{}, fmt.Errorf("%w: %q", ErrNoApplication, app)
	}
	now := s.opts.Clock.Now()
	s.advance(a, now)
	for _, in := range a.running {
		if in.doName == doName {
			return s.instanceSnapshot(a, in, now), nil
		}
	}
	sv, ok := s.serving(a, now)
	if !ok {
		return Instance{}, fmt.Errorf("application %s is still provisioning: %w", a.name, ErrNoInstance)
	}
	if a.maxInstances > 0 && len(a.running) >= a.maxInstances {
		return Instance{}, fmt.Errorf("application %s runs max_instances=%d: %w", a.name, a.maxInstances, ErrNoInstance)
	}
	in := &instance{id: uuid(), doName: doName, doID: doID(a.namespaceID, doName), version: sv.version, image: imageOf(sv.config), startedAt: now, placementID: uuid()}
	a.running = append(a.running, in)
	return s.instanceSnapshot(a, in, now), nil
}

// StopInstance stops the instance of Durable Object doName (it went to sleep or exited).
func (s *Server) StopInstance(app, doName string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.findApp(app); a != nil {
		a.running = slices.DeleteFunc(a.running, func(in *instance) bool { return in.doName == doName })
	}
}

func doID(ns, name string) string { return strings.Repeat(tokenID(ns+"/"+name), 2) }

// --- HTTP handlers ---

func (s *Server) containersMe(*http.Request) (*reply, *apiErr) {
	return ok(map[string]any{
		"account_id": s.opts.AccountID, "external_account_id": s.opts.AccountID, "legacy_identity": s.opts.AccountID,
		"capabilities": []string{},
		"limits": map[string]any{
			"account_id": s.opts.AccountID, "vcpu_per_deployment": 4, "memory_mib_per_deployment": 12288,
			"disk_mb_per_deployment": 20000, "total_vcpu": 1500, "total_memory_mib": 6291456, "total_disk_mb": 30000000,
		},
		"locations": []any{}, "defaults": map[string]any{"vcpus": 0.0625, "memory_mib": 256, "disk_mb": 2000},
	})
}

func (s *Server) renderApp(a *application) map[string]any {
	now := s.opts.Clock.Now()
	s.advance(a, now)
	l := a.latest()
	res := map[string]any{
		"id": a.id, "created_at": iso(a.createdAt), "updated_at": iso(a.updatedAt), "account_id": s.opts.AccountID,
		"name": a.name, "version": l.version, "scheduling_policy": a.schedulingPolicy, "instances": a.instances,
		"max_instances": a.maxInstances, "configuration": l.config,
		"durable_objects": map[string]any{"namespace_id": a.namespaceID},
		"health":          map[string]any{"instances": s.health(a, now)},
	}
	if a.namespaceID != "" {
		res["durable_object_namespace_id"] = a.namespaceID // the description's top-level copy of durable_objects.namespace_id
	}
	if a.constraints != nil {
		res["constraints"] = a.constraints
	}
	if a.observability != nil {
		res["observability"] = a.observability
	}
	if a.grace != nil {
		res["rollout_active_grace_period"] = a.grace
	}
	if n := len(a.rollouts); n > 0 {
		res["active_rollout_id"] = a.rollouts[n-1].id
	}
	return res
}

func (s *Server) listApplications(*http.Request) (*reply, *apiErr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []any{}
	for _, a := range s.sortedApps() {
		out = append(out, s.renderApp(a))
	}
	return ok(out)
}

func (s *Server) app(r *http.Request) (*application, *apiErr) {
	a := s.st.apps[r.PathValue("app")]
	if a == nil {
		return nil, fail(http.StatusNotFound, 1000, "Application %s not found", r.PathValue("app"))
	}
	return a, nil
}

// onApp serves a handler of one existing application: it holds the server's lock and answers 404 when
// the path's {app} does not exist.
func (s *Server) onApp(h func(r *http.Request, a *application) (*reply, *apiErr)) handlerFunc {
	return onFound(s, s.app, h)
}

func (s *Server) getApplication(r *http.Request, a *application) (*reply, *apiErr) {
	return ok(s.renderApp(a))
}

type appRequest struct {
	Name             *string        `json:"name"`
	SchedulingPolicy *string        `json:"scheduling_policy"`
	Instances        *int           `json:"instances"`
	MaxInstances     *int           `json:"max_instances"`
	Constraints      any            `json:"constraints"`
	Configuration    map[string]any `json:"configuration"`
	Observability    any            `json:"observability"`
	DurableObjects   *struct {
		NS string `json:"namespace_id"`
	} `json:"durable_objects"`
	Grace any `json:"rollout_active_grace_period"`
}

// customFields are the configuration fields of a custom instance type, as wrangler sends them instead of
// instance_type: vcpu, memory_mib and disk {size_mb}.
var customFields = []string{"vcpu", "memory_mib", "disk"}

// instanceTypeOf names a configuration's instance type: instance_type as given, or the custom
// configuration written custom:vcpu=V,memory=MMiB,disk=DMB.
func instanceTypeOf(cfg map[string]any) string {
	if it, ok := cfg["instance_type"]; ok {
		return str(it)
	}
	t, ok, err := instancetype.FromAPIConfiguration(cfg)
	if err != nil || !ok {
		return ""
	}
	return t.Spec()
}

// mergeConfig applies a configuration update: the instance type is one setting, given either as
// instance_type or as custom resources, so giving it one way drops the other.
func mergeConfig(cur, upd map[string]any) map[string]any {
	cfg := maps.Clone(cur)
	if _, named := upd["instance_type"]; named {
		for _, k := range customFields {
			delete(cfg, k)
		}
	} else if slices.ContainsFunc(customFields, func(k string) bool { _, ok := upd[k]; return ok }) {
		delete(cfg, "instance_type")
	}
	maps.Copy(cfg, upd)
	return cfg
}

var (
	ecrRe = regexp.MustCompile(`^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com$`)
	garRe = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?-docker\.pkg\.dev$`)
)

// checkConfig validates a configuration as the API would. Called with s.mu held.
func (s *Server) checkConfig(cfg map[string]any) *apiErr {
	img := imageOf(cfg)
	if img == "" {
		return fail(http.StatusBadRequest, codeBadRequest, "configuration.image is required")
	}
	host, path, _ := strings.Cut(img, "/")
	switch {
	case host == s.RegistryHost() || host == "registry.cloudflare.com":
		acct, _, _ := strings.Cut(path, "/")
		if acct != s.opts.AccountID {
			return fail(http.StatusBadRequest, codeBadRequest, "Image %q does not belong to your account %s", img, s.opts.AccountID)
		}
	case host == "docker.io" || ecrRe.MatchString(host) || garRe.MatchString(host):
	default:
		return fail(http.StatusBadRequest, codeBadRequest, "Image %q: registry %q is not supported; push the image to the Cloudflare registry (%s) or use docker.io or Amazon ECR", img, host, "registry.cloudflare.com")
	}
	if _, _, err := instancetype.FromAPIConfiguration(cfg); err != nil {
		return fail(http.StatusBadRequest, codeBadRequest, "Invalid instance type: %v", err)
	}
	return nil
}

func (s *Server) createApplication(r *http.Request) (*reply, *apiErr) {
	var body appRequest
	if err := decodeJSON(r, &body); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if body.Name == nil || *body.Name == "" {
		return nil, fail(http.StatusBadRequest, codeBadRequest, "name is required")
	}
	if body.Configuration == nil {
		return nil, fail(http.StatusBadRequest, codeBadRequest, "configuration is required")
	}
	if err := s.checkConfig(body.Configuration); err != nil {
		return nil, err
	}
	ns := ""
	if body.DurableObjects != nil {
		ns = body.DurableObjects.NS
		n := s.st.namespaces[ns]
		if n == nil {
			return nil, fail(http.StatusBadRequest, codeBadRequest, "Durable Object namespace %s does not exist", ns)
		}
		if !n.SQLite {
			return nil, fail(http.StatusBadRequest, codeBadRequest, "Durable Object namespace %s is not SQLite-backed", ns)
		}
	}
	for _, a := range s.st.apps {
		if a.name == *body.Name {
			return nil, fail(http.StatusBadRequest, codeBadRequest, "There is already an application with the name %s associated with a different durable object namespace", a.name)
		}
		if ns != "" && a.namespaceID == ns {
			return nil, fail(http.StatusBadRequest, codeBadRequest, "Durable Object namespace %s is already used by application %s", ns, a.name)
		}
	}
	now := s.opts.Clock.Now()
	a := &application{id: uuid(), createdAt: now, schedulingPolicy: "default", maxInstances: 20, namespaceID: ns}
	a.apply(body, now)
	a.versions = []appVersion{{version: 1, config: body.Configuration, readyAt: now.Add(s.opts.ProvisionDelay)}}
	s.st.apps[a.id] = a
	return created(s.renderApp(a))
}

func (s *Server) patchApplication(r *http.Request) (*reply, *apiErr) {
	var body appRequest
	if err := decodeJSON(r, &body); err != nil {
		return nil, err
	}
	return s.onApp(func(r *http.Request, a *application) (*reply, *apiErr) {
		if body.Configuration != nil {
			cfg := mergeConfig(a.latest().config, body.Configuration)
			if err := s.checkConfig(cfg); err != nil {
				return nil, err
			}
			s.addVersion(a, cfg)
		}
		a.apply(body, s.opts.Clock.Now())
		return ok(s.renderApp(a))
	})(r)
}

// apply sets the application fields the request carries (create and patch alike; the configuration is
// versioned by the caller) and marks the application updated at now.
func (a *application) apply(body appRequest, now time.Time) {
	if body.Name != nil {
		a.name = *body.Name
	}
	if body.MaxInstances != nil {
		a.maxInstances = *body.MaxInstances
	}
	if body.Instances != nil {
		a.instances = *body.Instances
	}
	if body.SchedulingPolicy != nil {
		a.schedulingPolicy = *body.SchedulingPolicy
	}
	if body.Constraints != nil {
		a.constraints = body.Constraints
	}
	if body.Grace != nil {
		a.grace = body.Grace
	}
	if body.Observability != nil {
		a.observability = body.Observability
	}
	a.updatedAt = now
}

func (s *Server) addVersion(a *application, cfg map[string]any) {
	now := s.opts.Clock.Now()
	a.versions = append(a.versions, appVersion{version: a.latest().version + 1, config: cfg, readyAt: now.Add(s.opts.ProvisionDelay)})
	a.updatedAt = now
}

func (s *Server) deleteApplication(r *http.Request, a *application) (*reply, *apiErr) {
	delete(s.st.apps, a.id)
	return ok(map[string]any{})
}

func (s *Server) createRollout(r *http.Request) (*reply, *apiErr) {
	var body struct {
		Description    string           `json:"description"`
		Strategy       string           `json:"strategy"`
		Kind           string           `json:"kind"`
		Target         map[string]any   `json:"target_configuration"`
		StepPercentage *float64         `json:"step_percentage"`
		Steps          []map[string]any `json:"steps"`
	}
	if err := decodeJSON(r, &body); err != nil {
		return nil, err
	}
	return s.onApp(func(r *http.Request, a *application) (*reply, *apiErr) {
		if body.Strategy != "rolling" {
			return nil, fail(http.StatusBadRequest, codeBadRequest, "strategy must be \"rolling\"")
		}
		if body.Kind == "" {
			body.Kind = "full_auto"
		}
		if body.Target == nil {
			return nil, fail(http.StatusBadRequest, codeBadRequest, "target_configuration is required")
		}
		steps := body.Steps
		if len(steps) == 0 {
			p := 100.0
			if body.StepPercentage != nil {
				p = *body.StepPercentage
			}
			if p <= 0 || p > 100 {
				return nil, fail(http.StatusBadRequest, codeBadRequest, "step_percentage must be in (0, 100]")
			}
			for c := p; ; c += p {
				c = min(c, 100)
				steps = append(steps, map[string]any{"step_size": map[string]any{"percentage": c}})
				if c >= 100 {
					break
				}
			}
		}
		now := s.opts.Clock.Now()
		s.advance(a, now)
		cur := a.latest()
		cfg := mergeConfig(cur.config, body.Target)
		if err := s.checkConfig(cfg); err != nil {
			return nil, err
		}
		currentVersion := cur.version
		if imageOf(cfg) != imageOf(cur.config) || instanceTypeOf(cfg) != instanceTypeOf(cur.config) {
			s.addVersion(a, cfg)
		} else if len(a.versions) > 1 {
			currentVersion = a.versions[len(a.versions)-2].version
		}
		target := a.latest()
		ro := &rollout{
			id: uuid(), description: body.Description, kind: body.Kind, strategy: body.Strategy, createdAt: now,
			completesAt: now.Add(s.opts.ProvisionDelay), currentVersion: currentVersion, targetVersion: target.version,
			currentConfig: a.versionConfig(currentVersion), targetConfig: target.config,
		}
		if target.readyAt.After(ro.completesAt) {
			ro.completesAt = target.readyAt
		}
		for i, st := range steps {
			step := maps.Clone(st)
			step["id"] = i + 1
			ro.steps = append(ro.steps, step)
		}
		a.rollouts = append(a.rollouts, ro)
		return created(s.renderRollout(a, ro))
	})(r)
}

func (s *Server) renderRollout(a *application, ro *rollout) map[string]any {
	now := s.opts.Clock.Now()
	status, stepStatus, cur := "progressing", "progressing", 1
	if !now.Before(ro.completesAt) {
		status, stepStatus, cur = "completed", "completed", len(ro.steps)
	}
	for _, later := range a.rollouts {
		if later != ro && !later.createdAt.Before(ro.createdAt) && later.createdAt.Before(ro.completesAt) {
			status = "replaced" // a newer rollout started before this one completed
		}
	}
	var steps []any
	for i, st := range ro.steps {
		step := maps.Clone(st)
		step["status"] = "pending"
		if i < cur-1 || stepStatus == "completed" {
			step["status"] = "completed"
		} else if i == cur-1 {
			step["status"] = stepStatus
		}
		if _, ok := step["description"]; !ok {
			step["description"] = "Step " + strconv.Itoa(i+1) + " of " + strconv.Itoa(len(ro.steps))
		}
		steps = append(steps, step)
	}
	updated := 0
	for _, in := range a.running {
		if in.version >= ro.targetVersion {
			updated++
		}
	}
	return map[string]any{
		"id": ro.id, "description": ro.description, "created_at": iso(ro.createdAt), "last_updated_at": iso(now),
		"started_at": iso(ro.createdAt), "kind": ro.kind, "strategy": ro.strategy,
		"current_version": ro.currentVersion, "target_version": ro.targetVersion,
		"current_configuration": ro.currentConfig, "target_configuration": ro.targetConfig,
		"status": status, "health": map[string]any{"instances": s.health(a, now)}, "steps": steps,
		"progress": map[string]any{"total_steps": len(ro.steps), "current_step": cur, "updated_instances": updated, "total_instances": len(a.running)},
	}
}

func (s *Server) listRollouts(r *http.Request, a *application) (*reply, *apiErr) {
	s.advance(a, s.opts.Clock.Now())
	out := []any{}
	for i := len(a.rollouts) - 1; i >= 0; i-- {
		out = append(out, s.renderRollout(a, a.rollouts[i]))
	}
	return ok(out)
}

func (s *Server) getRollout(r *http.Request, a *application) (*reply, *apiErr) {
	s.advance(a, s.opts.Clock.Now())
	for _, ro := range a.rollouts {
		if ro.id == r.PathValue("rollout") {
			return ok(s.renderRollout(a, ro))
		}
	}
	return nil, fail(http.StatusNotFound, 1000, "Rollout %s not found", r.PathValue("rollout"))
}

// page cuts items per the containers API's per_page / page_token paging.
func page[T any](r *http.Request, items []T) ([]T, map[string]any) {
	q := r.URL.Query()
	per := atoiOr(q.Get("per_page"), 25)
	from := 0
	if t := q.Get("page_token"); t != "" {
		from = min(atoiOr(t, 0), len(items))
	}
	to := min(from+per, len(items))
	info := map[string]any{"per_page": per}
	if to < len(items) {
		info["next_page_token"] = strconv.Itoa(to)
	}
	return items[from:to], info
}

func (s *Server) dashApplications(r *http.Request) (*reply, *apiErr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	all := []any{}
	now := s.opts.Clock.Now()
	for _, a := range s.sortedApps() {
		s.advance(a, now)
		l := a.latest()
		all = append(all, map[string]any{
			"id": a.id, "created_at": iso(a.createdAt), "updated_at": iso(a.updatedAt), "name": a.name,
			"version": l.version, "instances": len(a.running), "image": imageOf(l.config),
			"health": map[string]any{"instances": s.health(a, now)},
		})
	}
	items, info := page(r, all)
	return &reply{result: items, info: info}, nil
}

func (s *Server) dashInstances(r *http.Request, a *application) (*reply, *apiErr) {
	now := s.opts.Clock.Now()
	s.advance(a, now)
	var insts, dos []any
	for _, in := range a.running {
		health := "running"
		if now.Before(in.startedAt.Add(s.opts.StartDelay)) {
			health = "placed"
		}
		insts = append(insts, map[string]any{
			"id": in.id, "created_at": iso(in.startedAt), "location": "sfo06", "region": "WNAM", "app_version": in.version,
			"image": in.image, "type": instanceTypeOf(a.versionConfig(in.version)),
			"current_placement": map[string]any{
				"id": in.placementID, "created_at": iso(in.startedAt), "deployment_id": in.id, "deployment_version": in.version,
				"terminate": false, "status": map[string]any{"health": health, "container_status": health},
			},
		})
		dos = append(dos, map[string]any{"id": in.doID, "deployment_id": in.id, "placement_id": in.placementID, "assigned_at": iso(in.startedAt), "name": in.doName})
	}
	items, info := page(r, insts)
	if items == nil {
		items = []any{}
	}
	if dos == nil {
		dos = []any{}
	}
	return &reply{result: map[string]any{"instances": items, "durable_objects": dos}, info: info}, nil
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
