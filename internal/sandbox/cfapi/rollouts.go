package cfapi

import (
	"maps"
	"net/http"
	"strconv"
	"time"
)

// rolloutRoutes are the endpoints of container application rollouts.
func (s *Server) rolloutRoutes() []endpoint {
	const c = containersPath
	k := ScopeContainers
	return []endpoint{
		{"POST " + c + "/applications/{app}/rollouts", k, s.createRollout},
		{"GET " + c + "/applications/{app}/rollouts", k, s.onApp(s.listRollouts)},
		{"GET " + c + "/applications/{app}/rollouts/{rollout}", k, s.onApp(s.getRollout)},
	}
}

type rollout struct {
	id, description, kind, strategy string
	createdAt, completesAt          time.Time
	currentVersion, targetVersion   int
	currentConfig, targetConfig     map[string]any
	steps                           []map[string]any
	applied                         bool
}

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
