// Package pipeline runs lean4-cf's deploy stages in order (preflight, stub, push, promote), times them,
// rolls back a promotion that fails verification, and reports what happened. It consumes small interfaces
// (defined here) that the cli package wires to wrangler, the registry, the Cloudflare API and the verifier,
// and it decides when the new image serves.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/org/lean4-cf-action/internal/report"
	"github.com/org/lean4-cf-action/internal/retry"
	"github.com/org/lean4-cf-action/internal/wrangler"
)

// Stage names, in the order they run.
const (
	StagePreflight = "preflight"
	StageStub      = "stub"
	StagePush      = "push"
	StagePromote   = "promote"
	StageRollback  = "rollback"
	StageStatus    = "status"
)

// StageNames lists the stages a --stage value may name, in order; "all" runs every one.
func StageNames() []string { return []string{StagePreflight, StageStub, StagePush, StagePromote} }

// Options are the pipeline's inputs, already validated by the caller.
type Options struct {
	// Stage is the last stage to run: preflight, stub, push, promote or all (default all = promote).
	Stage string
	// Name is the Worker's name. Required.
	Name string
	// Container is the container configuration that promote deploys (the image is filled in by push).
	Container ContainerSpec
	// Wait bounds the wait for provisioning and cold start after promotion, and tunes its polling.
	Wait WaitPolicy
	// LatencyRequests is how many warm requests measure p50/p95 after verification. Default 5.
	LatencyRequests int
	// CancelGrace bounds the rollback of a run cancelled during promotion (SIGINT or SIGTERM, e.g. a
	// cancelled workflow): the previous version is put back within it. Default 60 s.
	CancelGrace time.Duration
	// Progress, when set, hears stage starts and ends and long-running progress lines. It must not block.
	Progress func(Event)
	// AfterStub, when set, runs at the end of the stub stage once the stub answers: on a first deploy the
	// Worker now holds Name, and nothing else is written yet. Its error fails the stub stage and stops the
	// run, which removes nothing: the caller owns what it refused. A preview recounts the previews there,
	// its own Worker holding its place (see preview.Manager.Deploy). Default nil.
	AfterStub func(ctx context.Context) error
}

// WaitPolicy bounds the wait for a promoted container.
type WaitPolicy struct {
	Timeout                      time.Duration // default 15 minutes
	InitialInterval, MaxInterval time.Duration // poll pacing; defaults 1 s and 15 s
	WantVersion                  string        // required prefix of the Lean version in GET /health; "" accepts any
}

// ContainerSpec is what the container Worker is deployed with.
type ContainerSpec struct {
	Name         string // Worker name
	Image        string // digest-pinned reference in Cloudflare's registry
	InstanceType string
	MaxInstances int
	Instances    int    // how many instances requests are spread over (1 = one named instance)
	SleepAfter   string // e.g. "2m"
}

// Event is a progress notice.
type Event struct {
	Stage   string
	Kind    string // "start", "done", "failed", "info"
	Message string
	Elapsed time.Duration
}

// Ports: what the pipeline needs from the outside world.
type (
	// Preflighter measures the source image and fits it; it must not write anything anywhere.
	Preflighter interface {
		Preflight(ctx context.Context) (Preflight, error)
	}
	// Account reads and changes account state through the Cloudflare API.
	Account interface {
		// VerifyToken checks the token and its Containers access; its error names what to change (the
		// token, its permissions, the account id), so the stage adds no fix of its own.
		VerifyToken(ctx context.Context) error
		// Worker returns the Worker's live version id and whether it exists.
		Worker(ctx context.Context, name string) (version string, exists bool, err error)
		DeleteWorker(ctx context.Context, name string) error
		// WorkersDevURL is the Worker's https://<name>.<subdomain>.workers.dev URL.
		WorkersDevURL(ctx context.Context, name string) (string, error)
		// HasContainers reports whether a version of the Worker runs containers (binds the container
		// class). A rollback decides from it what must answer: the platform keeps the container
		// application after a Worker rollback, so the application's existence says nothing about the
		// version that serves.
		HasContainers(ctx context.Context, name, version string) (bool, error)
	}
	// Deployer deploys through wrangler.
	Deployer interface {
		DeployStub(ctx context.Context, name string) (Deployed, error)
		DeployContainer(ctx context.Context, spec ContainerSpec) (Deployed, error)
		// Rollback returns the Worker to version, and its container application to image when image is set.
		Rollback(ctx context.Context, name, version, image string) error
	}
	// Containers reads container state through the Cloudflare API (no wrangler process).
	Containers interface {
		// Application returns the Worker's container application and whether it has one.
		Application(ctx context.Context, worker string) (Status, bool, error)
		// Instances lists the application's instances.
		Instances(ctx context.Context, appID string) ([]Instance, error)
	}
	// Pusher copies the source image into Cloudflare's registry.
	Pusher interface {
		Push(ctx context.Context, name string) (Pushed, error)
	}
	// Verifier probes a Worker URL.
	Verifier interface {
		CheckStub(ctx context.Context, url string) error
		WaitReady(ctx context.Context, url string, policy WaitPolicy) (Ready, error)
		MeasureLatency(ctx context.Context, url string, n int) (Latency, error)
	}
)

// Instance is one container instance (or Durable Object) of an application.
type Instance struct {
	ID      string
	State   string // running, provisioning, stopped, failed, inactive, ...
	Version int    // the application version it runs
}

// Deployed is what a wrangler deploy reported.
type Deployed struct {
	URL       string `json:"url"`
	VersionID string `json:"versionId"`
}

// The run's record is the report package's model, so every renderer reads exactly what ran.
type (
	Result      = report.Result
	StageResult = report.StageResult
	Preflight   = report.Preflight
	Pushed      = report.Pushed
	Ready       = report.Ready
	Latency     = report.Latency
	Status      = report.Status
)

// StageError says which stage failed and how to fix it.
type StageError struct {
	Stage string
	Err   error
	Fix   string // one line the user can act on; may be empty
}

func (e *StageError) Error() string {
	if e.Fix != "" {
		return fmt.Sprintf("%s stage: %v (fix: %s)", e.Stage, e.Err, e.Fix)
	}
	return fmt.Sprintf("%s stage: %v", e.Stage, e.Err)
}

func (e *StageError) Unwrap() error { return e.Err }

// Pipeline holds the ports; build one per run.
type Pipeline struct {
	Preflighter Preflighter
	Account     Account
	Deployer    Deployer
	Pusher      Pusher
	Verifier    Verifier
	Containers  Containers
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Clock paces the pauses between checks of which version serves. Default: real time.
	Clock retry.Clock
}

// Run runs the stages up to opts.Stage. It returns the result in every case; the error is a *StageError.
func (p *Pipeline) Run(ctx context.Context, opts Options) (*Result, error) {
	if p.Now == nil {
		p.Now = time.Now
	}
	last := opts.Stage
	if last == "" || last == "all" {
		last = StagePromote
	}
	if opts.LatencyRequests <= 0 {
		opts.LatencyRequests = 5
	}
	res := &Result{Name: opts.Name}
	r := &run{p: p, opts: opts, res: res}

	// preflight: nothing is written before every input is valid and the token is verified.
	if err := r.stage(ctx, StagePreflight, func(ctx context.Context) (string, error) {
		if err := p.Account.VerifyToken(ctx); err != nil {
			return "", err
		}
		pf, err := p.Preflighter.Preflight(ctx)
		if err != nil {
			return "", err
		}
		res.Preflight = &pf
		if !pf.Fits {
			return "", withFix(fmt.Errorf("image %s does not fit instance type %s: %s", pf.Image, pf.InstanceType, pf.Reason),
				"choose a larger --instance-type, or auto")
		}
		return fmt.Sprintf("%s fits %s", pf.Digest, pf.InstanceType), nil
	}); err != nil || last == StagePreflight {
		return r.finish(err, StagePreflight)
	}

	prevVersion, exists, err := p.Account.Worker(ctx, opts.Name)
	if err != nil {
		return r.finish(&StageError{Stage: StageStub, Err: fmt.Errorf("reading Worker %q: %w", opts.Name, err)}, "")
	}
	res.FirstDeploy = !exists
	var prevStatus *Status
	if exists {
		if st, ok, err := p.Containers.Application(ctx, opts.Name); err == nil && ok {
			prevStatus = &st
		}
	}

	// stub: the production name on a first deploy; otherwise <name>-stub, verified and deleted.
	var stubVersion string
	if err := r.stage(ctx, StageStub, func(ctx context.Context) (string, error) {
		name := opts.Name
		if exists {
			name = opts.Name + wrangler.StubSuffix
		}
		d, err := p.Deployer.DeployStub(ctx, name)
		if err != nil {
			return "", err
		}
		if exists {
			defer func() {
				// The side stub must never outlive the stage; a failed delete is reported, not hidden.
				if derr := p.Account.DeleteWorker(context.WithoutCancel(ctx), name); derr != nil {
					r.event(StageStub, "info", fmt.Sprintf("could not delete %s: %v", name, derr))
				}
			}()
		} else {
			stubVersion = d.VersionID
			res.URL, res.VersionID = d.URL, d.VersionID
		}
		if err := p.Verifier.CheckStub(ctx, d.URL); err != nil {
			return "", err
		}
		if opts.AfterStub != nil {
			if err := opts.AfterStub(ctx); err != nil {
				return "", err
			}
		}
		return fmt.Sprintf("%s verified at %s", name, d.URL), nil
	}); err != nil || last == StageStub {
		return r.finish(err, StageStub)
	}

	var pushed Pushed
	if err := r.stage(ctx, StagePush, func(ctx context.Context) (string, error) {
		var err error
		if pushed, err = p.Pusher.Push(ctx, opts.Name); err != nil {
			return "", err
		}
		res.Push = &pushed
		if !pushed.Fits {
			return "", withFix(fmt.Errorf("measured while pushing, the image does not fit %s: %s", res.Preflight.InstanceType, pushed.Reason),
				"choose a larger --instance-type")
		}
		return fmt.Sprintf("%s (%d bytes in %d blobs pushed, %d blobs already there)", pushed.Image, pushed.BytesPushed, pushed.BlobsPushed, pushed.BlobsSkipped), nil
	}); err != nil || last == StagePush {
		return r.finish(err, StagePush)
	}

	spec := opts.Container
	spec.Name, spec.Image = opts.Name, pushed.Image
	if res.Preflight.InstanceType != "" {
		// The one preflight chose and fitted: auto and custom resolved, an alias made canonical.
		spec.InstanceType = res.Preflight.InstanceType
	}
	err = r.stage(ctx, StagePromote, func(ctx context.Context) (string, error) {
		d, err := p.Deployer.DeployContainer(ctx, spec)
		if err != nil {
			return "", err
		}
		res.URL, res.VersionID = d.URL, d.VersionID
		ready, err := r.waitNewImage(ctx, d.URL)
		if err != nil {
			return "", err
		}
		res.Ready = &ready
		lat, err := p.Verifier.MeasureLatency(ctx, d.URL, opts.LatencyRequests)
		if err != nil {
			return "", err
		}
		res.Latency = &lat
		return fmt.Sprintf("%s answers #eval 1 + 1 after %s cold start", d.URL, ready.ColdStart.D().Round(time.Millisecond)), nil
	})
	if err != nil {
		r.rollback(ctx, exists, prevVersion, prevStatus, stubVersion)
		return r.finish(err, StagePromote)
	}
	r.status(ctx)
	return r.finish(nil, StagePromote)
}

// waitNewImage waits until the Lean server answers and the instances run the new version, then verifies
// once more so that the answer comes from the new image. Wait.Timeout bounds the whole wait: every
// WaitReady gets only what is left of it.
func (r *run) waitNewImage(ctx context.Context, url string) (Ready, error) {
	start := r.p.Now()
	timeout := r.opts.Wait.Timeout
	if timeout <= 0 {
		timeout = 15 * time.Minute
	}
	deadline := start.Add(timeout)
	pause := r.opts.Wait.InitialInterval
	if pause <= 0 {
		pause = time.Second
	}
	answered := false // the new version has answered at least once
	// waitReady gives WaitReady only what is left of the one deadline.
	waitReady := func() (Ready, error) {
		left := deadline.Sub(r.p.Now())
		if left <= 0 {
			return Ready{}, fmt.Errorf("the wait for the new version used up its %s", timeout)
		}
		policy := r.opts.Wait
		policy.Timeout = left
		ready, err := r.p.Verifier.WaitReady(ctx, url, policy)
		if err != nil && answered {
			// It answered, then stopped: its container crashed or was stopped. Say so, with what was seen.
			err = fmt.Errorf("the Lean server answered, then stopped answering (the new image's container crashed or was stopped): %w", err)
		}
		return ready, err
	}
	// Checks pause 1 s, 2 s, 4 s ... at most 10 s apart, until the deadline.
	policy := retry.Policy{Initial: pause, Multiplier: 2, Max: 10 * time.Second, MaxElapsed: timeout}
	var (
		ready      Ready
		notServing *notServingError // what the last check found missing
	)
	res, err := retry.Do(ctx, policy, r.p.Clock, func(err error, _ time.Duration) {
		r.event(StagePromote, "info", "waiting for the new version: "+err.Error())
	}, func() (Ready, error) {
		if notServing != nil && !r.p.Now().Before(deadline) {
			return ready, retry.Permanent(notServing)
		}
		var err error
		if ready, err = waitReady(); err != nil {
			return ready, retry.Permanent(err)
		}
		answered = true
		ok, detail, err := r.serving(ctx)
		switch {
		case err != nil:
			return ready, retry.Permanent(fmt.Errorf("checking which version the instances run: %w", err))
		case !ok:
			notServing = &notServingError{detail: detail}
			return ready, notServing
		}
		again, err := waitReady()
		if err != nil {
			return again, retry.Permanent(err)
		}
		again.ColdStart = report.Ms(r.p.Now().Sub(start))
		again.Attempts += ready.Attempts
		return again, nil
	})
	var ns *notServingError
	if errors.As(err, &ns) && ctx.Err() == nil {
		err = fmt.Errorf("the new version never served within %s: %s (cloudflare/containers#233: the old image kept answering)", timeout, ns.detail)
	}
	return res, err
}

// notServingError says what the new version still lacks to serve.
type notServingError struct{ detail string }

func (e *notServingError) Error() string { return e.detail }

// serving reports whether the instances that run now all run the application's latest version, with at
// least one running: a rollout can report completed while an old instance keeps answering
// (cloudflare/containers#233), so an answer alone does not prove the new image. detail says what is
// still missing.
func (r *run) serving(ctx context.Context) (ok bool, detail string, err error) {
	app, found, err := r.p.Containers.Application(ctx, r.opts.Name)
	if err != nil {
		return false, "", err
	}
	if !found {
		return false, "the container application is not listed yet", nil
	}
	rows, err := r.p.Containers.Instances(ctx, app.ApplicationID)
	if err != nil {
		return false, "", err
	}
	ok, detail = servesVersion(app.Version, rows)
	return ok, detail, nil
}

// servesVersion is the decision of serving: every running instance runs version, and one at least does.
func servesVersion(version int, rows []Instance) (bool, string) {
	running := 0
	for _, r := range rows {
		if r.State != "running" {
			continue
		}
		if r.Version != version {
			return false, fmt.Sprintf("instance %s runs application version %d, the application is at %d", r.ID, r.Version, version)
		}
		running++
	}
	if running == 0 {
		return false, fmt.Sprintf("no instance of application version %d runs yet", version)
	}
	return true, ""
}

type run struct {
	p    *Pipeline
	opts Options
	res  *Result
}

func (r *run) event(stage, kind, msg string) {
	if r.opts.Progress != nil {
		r.opts.Progress(Event{Stage: stage, Kind: kind, Message: msg})
	}
}

// stage runs fn as the named stage and records its timing; a failure becomes a *StageError.
func (r *run) stage(ctx context.Context, name string, fn func(context.Context) (string, error)) error {
	start := r.p.Now()
	if r.opts.Progress != nil {
		r.opts.Progress(Event{Stage: name, Kind: "start"})
	}
	detail, err := fn(ctx)
	sr := StageResult{Name: name, Status: "ok", Started: start, Duration: report.Ms(r.p.Now().Sub(start)), Detail: detail}
	if err != nil {
		sr.Status, sr.Detail = "failed", err.Error()
		if ctx.Err() != nil {
			sr.Detail = (&cancelledError{err: err}).Error()
		}
	}
	r.res.Stages = append(r.res.Stages, sr)
	if r.opts.Progress != nil {
		kind := "done"
		if err != nil {
			kind = "failed"
		}
		r.opts.Progress(Event{Stage: name, Kind: kind, Message: sr.Detail, Elapsed: sr.Duration.D()})
	}
	if err != nil {
		se := &StageError{Stage: name, Err: err}
		var fe *fixError
		if errors.As(err, &fe) {
			se.Err, se.Fix = fe.err, fe.fix
		}
		if ctx.Err() != nil {
			se.Err = &cancelledError{err: se.Err}
		}
		return se
	}
	return nil
}

// rollback returns the Worker to what served before, and proves it answers again.
func (r *run) rollback(ctx context.Context, existed bool, prevVersion string, prev *Status, stubVersion string) {
	// A cancelled run still rolls back, within a grace period: the previous version must keep serving.
	if ctx.Err() != nil {
		grace := r.opts.CancelGrace
		if grace <= 0 {
			grace = time.Minute
		}
		r.event(StageRollback, "info", fmt.Sprintf("cancelled: putting the previous version back (up to %s)", grace))
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), grace)
		defer cancel()
	}
	_ = r.stage(ctx, StageRollback, func(ctx context.Context) (string, error) {
		url := r.res.URL
		if url == "" { // the promotion failed before wrangler reported one
			u, err := r.p.Account.WorkersDevURL(ctx, r.opts.Name)
			if err != nil {
				return "", fmt.Errorf("finding the URL to probe after the rollback: %w", err)
			}
			url, r.res.URL = u, u
		}
		switch {
		case existed && prevVersion != "":
			image := ""
			if prev != nil {
				image = prev.Image
			}
			if err := r.p.Deployer.Rollback(ctx, r.opts.Name, prevVersion, image); err != nil {
				return "", fmt.Errorf("rolling back to version %s: %w", prevVersion, err)
			}
			containers, err := r.p.Account.HasContainers(ctx, r.opts.Name, prevVersion)
			if err != nil {
				return "", fmt.Errorf("reading what version %s runs: %w", prevVersion, err)
			}
			if containers {
				if _, err := r.p.Verifier.WaitReady(ctx, url, r.opts.Wait); err != nil {
					return "", fmt.Errorf("version %s does not answer after the rollback: %w", prevVersion, err)
				}
			} else if err := r.p.Verifier.CheckStub(ctx, url); err != nil {
				return "", fmt.Errorf("version %s (a stub) does not answer after the rollback: %w", prevVersion, err)
			}
			r.res.VersionID = prevVersion
			return fmt.Sprintf("version %s serves again", prevVersion), nil
		case !existed && stubVersion != "":
			if err := r.p.Deployer.Rollback(ctx, r.opts.Name, stubVersion, ""); err != nil {
				return "", fmt.Errorf("rolling back to the stub version %s: %w", stubVersion, err)
			}
			if err := r.p.Verifier.CheckStub(ctx, url); err != nil {
				return "", fmt.Errorf("the stub does not answer after the rollback: %w", err)
			}
			r.res.VersionID = stubVersion
			return fmt.Sprintf("the verified stub (version %s) serves again", stubVersion), nil
		}
		return "", errors.New("no previous version to return to")
	})
	r.res.RolledBack = r.res.Stages[len(r.res.Stages)-1].Status == "ok"
}

func (r *run) status(ctx context.Context) {
	_ = r.stage(ctx, StageStatus, func(ctx context.Context) (string, error) {
		st, ok, err := r.p.Containers.Application(ctx, r.opts.Name)
		if err != nil {
			return "", err
		}
		if !ok {
			return "no container application", nil
		}
		r.res.Status = &st
		return fmt.Sprintf("%s %s, %d instances", st.ApplicationID, st.State, st.Instances), nil
	})
}

func (r *run) finish(err error, last string) (*Result, error) {
	switch {
	case err != nil && r.res.RolledBack:
		r.res.Outcome = "rolled-back"
	case err != nil:
		r.res.Outcome = "failed"
	case last == StagePromote:
		r.res.Outcome = "deployed"
	default:
		r.res.Outcome = "stopped-after-" + last
	}
	if err != nil {
		r.res.Error = err.Error()
	}
	return r.res, err
}

// fixError carries a one-line fix through a stage function to its StageError.
type fixError struct {
	err error
	fix string
}

func (e *fixError) Error() string { return e.err.Error() }
func (e *fixError) Unwrap() error { return e.err }

func withFix(err error, fix string) error { return &fixError{err: err, fix: fix} }

// cancelledError marks a stage stopped by cancellation (SIGINT, SIGTERM), whatever error it surfaced as;
// it unwraps to both the stage's error and context.Canceled.
type cancelledError struct{ err error }

func (e *cancelledError) Error() string {
	if errors.Is(e.err, context.Canceled) && e.err.Error() == context.Canceled.Error() {
		return "cancelled"
	}
	return "cancelled: " + e.err.Error()
}
func (e *cancelledError) Unwrap() []error { return []error{e.err, context.Canceled} }
