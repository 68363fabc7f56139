package cfapi

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// instanceRoutes are the endpoints of container instances (dash listing); StartInstance and StopInstance are the platform's side, used by the edge.
func (s *Server) instanceRoutes() []endpoint {
	const c = containersPath
	k := ScopeContainers
	return []endpoint{
		{"GET " + c + "/dash/applications/{app}/instances", k, s.onApp(s.dashInstances)},
	}
}

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

type instance struct {
	id, doName, doID string
	version          int
	image            string
	startedAt        time.Time
	placementID      string
}

func (s *Server) instanceSnapshot(a *application, in *instance, now time.Time) Instance {
	ready := in.startedAt.Add(s.opts.StartDelay)
	st := "running"
	if now.Before(ready) {
		st = "starting"
	}
	return Instance{ID: in.id, App: a.id, DurableObject: in.doName, DurableID: in.doID, Version: in.version, Image: in.image, StartedAt: in.startedAt, ReadyAt: ready, State: st}
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
