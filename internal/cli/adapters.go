package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	gname "github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/org/lean4-cf-action/internal/cloudflare"
	"github.com/org/lean4-cf-action/internal/image"
	"github.com/org/lean4-cf-action/internal/pipeline"
	"github.com/org/lean4-cf-action/internal/report"
	"github.com/org/lean4-cf-action/internal/retry"
	"github.com/org/lean4-cf-action/internal/verify"
	"github.com/org/lean4-cf-action/internal/wrangler"
)

// wranglerDeployer is the pipeline's Deployer: it renders a Worker project per deploy into a work folder
// and runs the pinned wrangler there (which repeats transient failures: wrangler.Runner.RunRetry).
type wranglerDeployer struct {
	runner      wrangler.Runner
	work        string            // a private folder for rendered projects
	nodeModules string            // the installed worker/node_modules to link into each project
	vars        map[string]string // further Worker settings
	userConfig  []byte            // the user's wrangler.jsonc to patch, for the container Worker
	configName  string            // its path, for errors
	managed     string            // CLOUDFLARE_CONTAINER_REGISTRY, which wrangler treats as managed
	log         func(string)      // progress lines
	rollouts    rolloutEnsurer    // repairs a rollout lost to a failed attempt; nil skips the repair
}

// rolloutEnsurer finds a container application and creates its missing rollout (see
// cloudflare.Client.EnsureRollout).
type rolloutEnsurer interface {
	Application(ctx context.Context, name string) (cloudflare.Application, bool, error)
	EnsureRollout(ctx context.Context, appID string) (bool, error)
}

// workerModules returns the installed worker/node_modules that holds the wrangler being run (rendered
// projects link it, so no npm install happens at deploy time). Without one it is a usage error.
func workerModules(tool wrangler.Tool) (string, error) {
	// .../node_modules/wrangler/bin/wrangler.js
	dir := filepath.Dir(filepath.Dir(filepath.Dir(tool.Path)))
	if filepath.Base(dir) == "node_modules" {
		if _, err := os.Stat(filepath.Join(dir, "@cloudflare", "containers", "package.json")); err == nil {
			return dir, nil
		}
	}
	return "", usagef("the Worker's node_modules was not found next to wrangler %s: run `make toolchain`, or point --wrangler at worker/node_modules/.bin/wrangler", tool.Path)
}

// deploy renders the Worker for o and runs wrangler deploy, retrying transient failures; attempts says
// how many runs it took.
func (d *wranglerDeployer) deploy(ctx context.Context, o wrangler.Options, extra ...string) (_ pipeline.Deployed, attempts int, _ error) {
	dir, err := os.MkdirTemp(d.work, string(o.Mode)+"-")
	if err != nil {
		return pipeline.Deployed{}, attempts, fmt.Errorf("creating a folder for the %s Worker: %w", o.Mode, err)
	}
	if err := os.Remove(dir); err != nil { // Render wants a new or empty folder of its own
		return pipeline.Deployed{}, attempts, err
	}
	r, err := wrangler.Render(dir, o, d.nodeModules)
	if err != nil {
		return pipeline.Deployed{}, attempts, fmt.Errorf("rendering the %s Worker: %w", o.Mode, err)
	}
	run := d.runner
	run.Dir = r.Dir
	// Deploying the same configuration again is safe, so transient failures are retried.
	res, attempts, err := run.RunRetry(ctx, append([]string{"deploy", "--config", r.Config}, extra...)...)
	if err != nil {
		return pipeline.Deployed{}, attempts, err
	}
	if res.Deploy == nil || res.Deploy.VersionID == nil || len(res.Deploy.Targets) == 0 {
		return pipeline.Deployed{}, attempts, errors.New("wrangler deploy reported no version id or URL in its output file")
	}
	return pipeline.Deployed{URL: res.Deploy.Targets[0], VersionID: *res.Deploy.VersionID}, attempts, nil
}

func (d *wranglerDeployer) DeployStub(ctx context.Context, name string) (pipeline.Deployed, error) {
	dep, _, err := d.deploy(ctx, wrangler.Options{Mode: wrangler.ModeStub, WorkerName: name})
	return dep, err
}

func (d *wranglerDeployer) DeployContainer(ctx context.Context, spec pipeline.ContainerSpec) (pipeline.Deployed, error) {
	o := wrangler.Options{
		Mode: wrangler.ModeContainer, WorkerName: spec.Name, Image: spec.Image, InstanceType: spec.InstanceType,
		MaxInstances: spec.MaxInstances, Instances: spec.Instances, SleepAfter: spec.SleepAfter,
		Vars: d.vars, ManagedRegistry: d.managed, UserConfig: d.userConfig, UserConfigName: d.configName,
	}
	// One step: the new image must answer before the run reports success, so no partial rollout is left.
	dep, attempts, err := d.deploy(ctx, o, "--containers-rollout", "immediate")
	if err != nil || attempts == 1 || d.rollouts == nil {
		return dep, err
	}
	// An earlier attempt may have changed the application and then failed to create its rollout; this
	// attempt then saw "no changes". Without the rollout the old image would serve for good.
	app, ok, err := d.rollouts.Application(ctx, wrangler.ApplicationName(spec.Name, wrangler.ClassName))
	if err != nil || !ok {
		return dep, err
	}
	did, err := d.rollouts.EnsureRollout(ctx, app.ID)
	if err != nil {
		return dep, fmt.Errorf("checking the rollout of %s after a retried deploy: %w", app.Name, err)
	}
	if did && d.log != nil {
		d.log(fmt.Sprintf("created the rollout of %s that a failed attempt left out", app.Name))
	}
	return dep, nil
}

// Rollback puts the previous image back on the container application (by deploying it), then returns
// the Worker to its previous version.
func (d *wranglerDeployer) Rollback(ctx context.Context, name, version, image string) error {
	if image != "" {
		spec := pipeline.ContainerSpec{Name: name, Image: image}
		if _, err := d.DeployContainer(ctx, spec); err != nil {
			return fmt.Errorf("restoring image %s: %w", image, err)
		}
	}
	return d.runner.Rollback(ctx, name, version, "lean4-cf: verification failed, back to "+version)
}

// apiContainers is the pipeline's Containers: the Worker's container application and its instances,
// read through the Cloudflare API.
type apiContainers struct{ api *cloudflare.Client }

func (c apiContainers) Application(ctx context.Context, worker string) (pipeline.Status, bool, error) {
	app, ok, err := c.api.Application(ctx, wrangler.ApplicationName(worker, wrangler.ClassName))
	if err != nil || !ok {
		return pipeline.Status{}, ok, err
	}
	return pipeline.Status{ApplicationID: app.ID, Application: app.Name, State: app.State, Instances: app.Instances, Image: app.Image, Version: app.Version}, true, nil
}

func (c apiContainers) Instances(ctx context.Context, appID string) ([]pipeline.Instance, error) {
	rows, err := c.api.Instances(ctx, appID)
	if err != nil {
		return nil, err
	}
	out := make([]pipeline.Instance, len(rows))
	for i, r := range rows {
		out[i] = pipeline.Instance{ID: r.ID, State: r.State, Version: r.Version}
	}
	return out, nil
}

// prober is the pipeline's Verifier over verify.Prober.
type prober struct {
	client *http.Client
	apiKey string
	extra  string // a custom domain URL verified as well after promotion
	clock  retry.Clock
	log    func(string)
}

func (p *prober) at(url string) verify.Prober {
	return verify.Prober{Client: p.client, BaseURL: url, APIKey: p.apiKey}
}

func (p *prober) CheckStub(ctx context.Context, url string) error { return p.at(url).CheckStub(ctx) }

func (p *prober) WaitReady(ctx context.Context, url string, w pipeline.WaitPolicy) (pipeline.Ready, error) {
	opts := verify.WaitOptions{
		Timeout: w.Timeout, InitialInterval: w.InitialInterval, MaxInterval: w.MaxInterval, WantVersion: w.WantVersion, Clock: p.clock,
		Progress: func(attempt int, err error, next time.Duration) {
			p.logf("attempt %d: %v; next in %s", attempt, err, next.Round(100*time.Millisecond))
		},
	}
	start := time.Now()
	r, err := p.at(url).WaitReady(ctx, opts)
	if err != nil {
		return pipeline.Ready{Attempts: r.Attempts}, err
	}
	if p.extra != "" {
		// The custom domain must serve the same Lean server once workers.dev does, within what is left
		// of the same timeout: the policy's bound is for the whole wait.
		if w.Timeout > 0 {
			if opts.Timeout = w.Timeout - time.Since(start); opts.Timeout <= 0 {
				return pipeline.Ready{Attempts: r.Attempts}, fmt.Errorf("verifying %s: no time left of the %s wait", p.extra, w.Timeout)
			}
		}
		if _, err := p.at(p.extra).WaitReady(ctx, opts); err != nil {
			return pipeline.Ready{Attempts: r.Attempts}, fmt.Errorf("verifying %s: %w", p.extra, err)
		}
	}
	return pipeline.Ready{LeanVersion: r.Version, Attempts: r.Attempts, ColdStart: report.Ms(r.ColdStart)}, nil
}

func (p *prober) MeasureLatency(ctx context.Context, url string, n int) (pipeline.Latency, error) {
	l, err := p.at(url).MeasureLatency(ctx, n)
	if err != nil {
		return pipeline.Latency{}, err
	}
	return pipeline.Latency{N: l.N, P50: report.Ms(l.P50), P95: report.Ms(l.P95)}, nil
}

func (p *prober) logf(format string, args ...any) {
	if p.log != nil {
		p.log(fmt.Sprintf(format, args...))
	}
}

// registryPusher is the pipeline's Pusher: it copies the source image into the account's repository in
// Cloudflare's registry with credentials from the API, renewing them before they expire.
type registryPusher struct {
	api      *cloudflare.Client
	account  string
	registry string                                      // registry host: CLOUDFLARE_CONTAINER_REGISTRY or registry.cloudflare.com
	open     func(ctx context.Context) (v1.Image, error) // the source image, one platform
	measure  func(ctx context.Context, layer v1.Hash, mt types.MediaType, r io.Reader) error
	refit    func(uncompressed int64) (bool, string) // checks the fit again with what was measured
	measured func() int64                            // total uncompressed bytes measured while pushing
	progress func(image.PushProgress)
	secret   func(string) // hears each registry password as soon as it is issued (the Action masks it); may be nil
	clock    retry.Clock  // paces the push's retries
}

func (p *registryPusher) Push(ctx context.Context, name string) (pipeline.Pushed, error) {
	img, err := p.open(ctx)
	if err != nil {
		return pipeline.Pushed{}, err
	}
	digest, err := img.Digest()
	if err != nil {
		return pipeline.Pushed{}, fmt.Errorf("reading the source image digest: %w", err)
	}
	tag, err := gname.NewTag(fmt.Sprintf("%s/%s/%s:lean4cf-%s", p.registry, p.account, name, digest.Hex[:12]))
	if err != nil {
		return pipeline.Pushed{}, fmt.Errorf("naming the destination in %s: %w", p.registry, err)
	}
	res, err := image.Push(ctx, img, tag, image.PushOptions{
		Credentials: func(ctx context.Context) (authn.AuthConfig, time.Time, error) {
			c, err := p.api.RegistryCredentials(ctx, p.registry, 60*time.Minute)
			if err != nil {
				return authn.AuthConfig{}, time.Time{}, err
			}
			if p.secret != nil {
				p.secret(c.Password)
			}
			return authn.AuthConfig{Username: c.Username, Password: c.Password}, c.Expires, nil
		},
		Measure:  p.measure,
		Progress: p.progress,
		Clock:    p.clock,
	})
	if err != nil {
		return pipeline.Pushed{}, err
	}
	out := pipeline.Pushed{Image: res.Reference, BytesPushed: res.BytesPushed, BlobsPushed: res.BlobsPushed, BlobsSkipped: res.BlobsSkipped, Fits: true}
	if p.measured != nil && res.BlobsSkipped == 0 {
		out.UncompressedBytes = p.measured()
		if p.refit != nil {
			out.Fits, out.Reason = p.refit(out.UncompressedBytes)
		}
	}
	return out, nil
}
