package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/org/lean4-cf-action/internal/image"
	"github.com/org/lean4-cf-action/internal/pipeline"
	"github.com/org/lean4-cf-action/internal/report"
)

// defaultRegistry is Cloudflare's managed registry; CLOUDFLARE_CONTAINER_REGISTRY replaces it, as for wrangler.
const defaultRegistry = "registry.cloudflare.com"

// imagePorts are what deploy needs from the image packages: measure and fit the source, open it for the
// push, and measure layers from the pushed stream.
type imagePorts struct {
	preflight func(ctx context.Context) (report.Preflight, error)
	push      *registryPusher // open, measure, refit and measured are filled by the image side
}

// NewCmdDeploy returns `lean4-cf deploy`; runF, when set, runs instead of runDeploy once the flags are
// valid (tests, and the Action, which reports the result itself).
func NewCmdDeploy(f *Factory, runF func(*DeployOptions) error) *cobra.Command {
	o := &DeployOptions{f: f}
	cmd := &cobra.Command{
		Use:   "deploy",
		Short: "Preflight, stub, push, promote and verify the Lean server on Cloudflare Containers",
		Long: `deploy runs the stages in order and stops at --stage:
  preflight  validate every input, verify the token, measure the image and fit it to an instance type
  stub       deploy a Worker with no containers and verify POST /, GET /health and a 404
             (under the production name on a first deploy, else as <name>-stub, deleted afterwards)
  push       copy the image into Cloudflare's registry (blobs already there are skipped)
  promote    deploy the container Worker with the digest-pinned image, wait out provisioning and the
             cold start, verify #eval 1 + 1 gives 2, measure warm latency; roll back when it fails

Credentials come from the environment only: CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID.
CLOUDFLARE_API_BASE_URL and CLOUDFLARE_CONTAINER_REGISTRY point lean4-cf and wrangler elsewhere
(lean4-cf sandbox prints them). LEAN_API_KEY, when set, is the Worker's API key for verification.`,
		Example: `  lean4-cf deploy
  lean4-cf deploy --stage stub --name lean-staging
  lean4-cf deploy --instance-type standard-2 --max-instances 10 --instances 3 --json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(o)
			}
			return runDeploy(cmd.Context(), o)
		},
	}
	o.addFlags(cmd.Flags())
	return cmd
}

// ports returns the image side of the deploy: o.images, else imagePortsFor.
func (o *DeployOptions) ports() (imagePorts, error) {
	if o.images != nil {
		return o.images(o)
	}
	return imagePortsFor(o.f.Env, o)
}

func runDeploy(ctx context.Context, o *DeployOptions) error {
	env := o.f.Env
	ports, err := o.ports()
	if err != nil {
		return err
	}
	res, err := deployResult(ctx, o, ports, nil)
	if res == nil {
		return err
	}
	if o.json {
		if err := printJSON(env.Stdout, res); err != nil {
			return err
		}
	} else {
		fmt.Fprint(env.Stdout, report.Text(res))
	}
	if err != nil {
		code := ExitFailure
		if ue := (*UsageError)(nil); errors.As(err, &ue) {
			code = ExitUsage // an input found wrong once the image was measured, before any write
		}
		return &ExitError{Code: code, Err: err}
	}
	return nil
}

// deployResult runs the pipeline. A nil result means nothing ran (a usage error); otherwise the result
// is complete and the error, if any, says which stage failed. stage, when set, hears stage events.
func deployResult(ctx context.Context, o *DeployOptions, ports imagePorts, stage func(pipeline.Event)) (*report.Result, error) {
	env := o.f.Env
	apiKey, err := leanAPIKey(env)
	if err != nil {
		return nil, err
	}
	c, err := o.f.Cloud(o.wrangler)
	if err != nil {
		return nil, err
	}
	var userConfig []byte
	if o.config != "" {
		if userConfig, err = os.ReadFile(o.config); err != nil {
			return nil, flagErrorf("config", " %q cannot be read: %v", o.config, err)
		}
	}
	client, err := o.f.VerifyClient(o.rules)
	if err != nil {
		return nil, err
	}
	nm, err := workerModules(c.wr.Tool)
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "lean4cf-deploy-")
	if err != nil {
		return nil, fmt.Errorf("creating a work folder: %w", err)
	}
	defer os.RemoveAll(work)

	logf := func(format string, args ...any) {
		if !o.json {
			fmt.Fprintf(env.Stderr, format+"\n", args...)
		}
	}
	run := c.wr
	clock := &stageClock{spent: map[string]time.Duration{}}
	run.Observe = clock.add
	run.Retrying = func(s string) { logf("  %s", s) }
	if !o.json {
		run.Stderr = prefixWriter(env.Stderr, "  wrangler: ")
	}
	registry := env.Getenv("CLOUDFLARE_CONTAINER_REGISTRY")
	managed := registry
	if registry == "" {
		registry = defaultRegistry
	}
	pusher := ports.push
	pusher.api, pusher.account, pusher.registry, pusher.clock = c.api, c.account, registry, env.Clock
	var lastTick time.Time
	var tickMu sync.Mutex // the push reports from one goroutine per upload
	pusher.progress = func(p image.PushProgress) {
		tickMu.Lock()
		defer tickMu.Unlock()
		if time.Since(lastTick) >= time.Second || p.LayersDone == p.LayersTotal {
			lastTick = time.Now()
			logf("  push: %d/%d layers, %s uploaded", p.LayersDone, p.LayersTotal, report.Bytes(p.BytesDone))
		}
	}
	p := &pipeline.Pipeline{
		Preflighter: preflightFunc(ports.preflight),
		Account:     apiAccount{c.api},
		Deployer:    &wranglerDeployer{runner: run, work: work, nodeModules: nm, userConfig: userConfig, configName: o.config, managed: managed, log: func(s string) { logf("  %s", s) }, rollouts: c.api},
		Pusher:      pusher,
		Verifier:    &prober{client: client, apiKey: apiKey, extra: o.url, clock: env.Clock, log: func(s string) { logf("  verify: %s", s) }},
		Containers:  apiContainers{api: c.api},
		Clock:       env.Clock,
	}
	res, runErr := p.Run(ctx, pipeline.Options{
		Stage: o.stage,
		Name:  o.name,
		Container: pipeline.ContainerSpec{
			InstanceType: o.instanceType, MaxInstances: o.maxInstances, Instances: o.instances, SleepAfter: o.sleepAfter,
		},
		Wait:      pipeline.WaitPolicy{Timeout: o.timeout},
		AfterStub: o.afterStub,
		Progress: func(e pipeline.Event) {
			switch e.Kind {
			case "start":
				clock.enter(e.Stage)
			case "done", "failed":
				clock.enter("") // wrangler runs between stages belong to none
			}
			// stage hears a start before its line and the end after its line, so a stage's lines stay
			// inside what stage opens (the Action's log group) and closes.
			if stage != nil {
				if e.Kind == "done" || e.Kind == "failed" {
					defer stage(e)
				} else {
					stage(e)
				}
			}
			switch e.Kind {
			case "start":
				logf("==> %s", e.Stage)
			case "done":
				logf("    %s ok in %s: %s", e.Stage, report.Dur(e.Elapsed), e.Message)
			case "failed":
				logf("    %s FAILED after %s: %s", e.Stage, report.Dur(e.Elapsed), e.Message)
			default:
				logf("    %s", e.Message)
			}
		},
	})
	if res != nil {
		for i := range res.Stages {
			res.Stages[i].Wrangler = report.Ms(clock.spentIn(res.Stages[i].Name))
		}
		res.Wrangler = report.Ms(clock.total())
	}
	return res, runErr
}

// stageClock adds up the time wrangler runs take in each stage, so a report can tell wrangler's time
// from lean4-cf's own.
type stageClock struct {
	mu    sync.Mutex
	stage string
	spent map[string]time.Duration
}

func (c *stageClock) enter(stage string) {
	c.mu.Lock()
	c.stage = stage
	c.mu.Unlock()
}

func (c *stageClock) add(_ []string, took time.Duration) {
	c.mu.Lock()
	c.spent[c.stage] += took
	c.mu.Unlock()
}

func (c *stageClock) total() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var t time.Duration
	for _, d := range c.spent {
		t += d
	}
	return t
}

func (c *stageClock) spentIn(stage string) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.spent[stage]
}

// preflightFunc adapts a function to the pipeline's Preflighter.
type preflightFunc func(ctx context.Context) (report.Preflight, error)

func (f preflightFunc) Preflight(ctx context.Context) (report.Preflight, error) { return f(ctx) }

// prefixWriter prefixes each line written to w.
func prefixWriter(w interface{ Write([]byte) (int, error) }, prefix string) *linePrefixer {
	return &linePrefixer{w: w, prefix: prefix}
}

type linePrefixer struct {
	w      interface{ Write([]byte) (int, error) }
	prefix string
	buf    strings.Builder
}

func (l *linePrefixer) Write(p []byte) (int, error) {
	l.buf.Write(p)
	s := l.buf.String()
	for {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			break
		}
		if line := strings.TrimRight(s[:i], "\r"); strings.TrimSpace(line) != "" {
			if _, err := fmt.Fprintf(l.w, "%s%s\n", l.prefix, line); err != nil {
				return len(p), err
			}
		}
		s = s[i+1:]
	}
	l.buf.Reset()
	l.buf.WriteString(s)
	return len(p), nil
}
