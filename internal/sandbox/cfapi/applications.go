package cfapi

import (
	instancetype "github.com/org/lean4-cf-action/internal/instance"

	"errors"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/org/lean4-cf-action/internal/cloudflare"
)

// applicationRoutes are the endpoints of container applications and the dash listing.
func (s *Server) applicationRoutes() []endpoint {
	const c = containersPath
	k := ScopeContainers
	return []endpoint{
		{"GET " + c + "/me", k, s.containersMe},
		{"GET " + c + "/applications", k, s.listApplications},
		{"POST " + c + "/applications", k, s.createApplication},
		{"GET " + c + "/applications/{app}", k, s.onApp(s.getApplication)},
		{"PATCH " + c + "/applications/{app}", k, s.patchApplication},
		{"DELETE " + c + "/applications/{app}", k, s.onApp(s.deleteApplication)},
		{"GET " + c + "/dash/applications", k, s.dashApplications},
	}
}

// Health counts a container application's instances, as the API reports them; its State is wrangler's
// derivation, the one lean4-cf's client applies.
type Health = cloudflare.Health

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
	ErrNoApplication = errors.New("cfapi: no such container application")
	ErrNoInstance    = errors.New("there is no container instance that can be provided to this durable object")
)

type appVersion struct {
	version int
	config  map[string]any
	readyAt time.Time
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
