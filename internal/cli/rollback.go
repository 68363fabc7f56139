package cli

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/org/lean4-cf-action/internal/pipeline"
	"github.com/org/lean4-cf-action/internal/verify"
	"github.com/org/lean4-cf-action/internal/wrangler"
)

// RollbackOptions are the flags of `lean4-cf rollback`.
type RollbackOptions struct {
	f        *Factory
	name     string        // --name; default wrangler.DefaultWorkerName
	to       string        // --to; default "" (the newest earlier version at 100 %)
	image    string        // --image; default "" (the container application keeps its image)
	wrangler string        // --wrangler; default "" (LEAN4CF_WRANGLER, the pinned install, then PATH)
	resolve  []string      // --resolve, repeatable; default none
	timeout  time.Duration // --timeout; default rollbackTimeout
	json     bool          // --json; default false (text)
}

// rollbackTimeout bounds the wait for the earlier version to answer.
const rollbackTimeout = 5 * time.Minute

// rollbackReport is what `lean4-cf rollback --json` prints.
type rollbackReport struct {
	Name        string `json:"name"`
	From        string `json:"from"`
	To          string `json:"to"`
	Image       string `json:"image,omitempty"`
	URL         string `json:"url"`
	Verified    string `json:"verified"` // lean or stub
	LeanVersion string `json:"leanVersion,omitempty"`
}

// NewCmdRollback returns `lean4-cf rollback`; runF, when set, runs instead of runRollback (tests).
func NewCmdRollback(f *Factory, runF func(*RollbackOptions) error) *cobra.Command {
	o := &RollbackOptions{f: f}
	cmd := &cobra.Command{
		Use:   "rollback",
		Short: "Return a Worker to an earlier version and prove that it answers",
		Long: `rollback returns the Worker to --to VERSION (default: the newest earlier version wrangler finds
at 100 %), then probes the URL: a version with containers must answer #eval 1 + 1 with 2, a stub
version must keep the stub's contract.

wrangler rolls back the Worker only: the container application keeps its image. Pass --image with
the earlier digest-pinned image (lean4-cf status shows the current one) to put it back as well.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return runRollback(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.name, "name", wrangler.DefaultWorkerName, "Worker name")
	fl.StringVar(&o.to, "to", "", "version id to return to (default: the newest earlier version at 100 %)")
	fl.StringVar(&o.image, "image", "", "digest-pinned image to put back on the container application as well")
	addResolveFlag(fl, &o.resolve)
	fl.DurationVar(&o.timeout, "timeout", rollbackTimeout, "bound on waiting for the earlier version to answer")
	addWranglerFlag(fl, &o.wrangler)
	fl.BoolVar(&o.json, "json", false, "print one JSON object")
	return cmd
}

func runRollback(ctx context.Context, o *RollbackOptions) error {
	env := o.f.Env
	if err := checkName(o.name); err != nil {
		return err
	}
	rules, err := verify.ParseResolveRules(o.resolve)
	if err != nil {
		return flagErrorf("resolve", ": %v", err)
	}
	client, err := o.f.VerifyClient(rules)
	if err != nil {
		return err
	}
	if err := checkTimeout(o.timeout); err != nil {
		return err
	}
	apiKey, err := leanAPIKey(env)
	if err != nil {
		return err
	}
	if o.to != "" && !versionIDRE.MatchString(o.to) {
		return flagErrorf("to", " %q is not a version id: give a Worker version id like 4f8c2a6e-1b3d-4e5f-8a9b-0c1d2e3f4a5b (wrangler versions list shows them)", o.to)
	}
	if o.image != "" {
		if _, err := wrangler.Config(wrangler.Options{Mode: wrangler.ModeContainer, WorkerName: o.name, Image: o.image, ManagedRegistry: env.Getenv("CLOUDFLARE_CONTAINER_REGISTRY")}); err != nil {
			return flagErrorf("image", ": %v", err)
		}
	}
	c, err := o.f.Cloud(o.wrangler)
	if err != nil {
		return err
	}
	var nm string
	if o.image != "" { // putting an image back deploys the container Worker: it needs the Worker's modules
		if nm, err = workerModules(c.wr.Tool); err != nil {
			return err
		}
	}
	// Nothing is written before the token is known to reach Workers and Containers (the probe
	// after the rollback reads the container application).
	if err := c.api.VerifyToken(ctx); err != nil {
		return err
	}
	from, exists, err := c.api.Worker(ctx, o.name)
	if err != nil {
		return err
	}
	if !exists {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("no Worker %q on this account: nothing to roll back; check --name and CLOUDFLARE_ACCOUNT_ID", o.name)}
	}
	if o.to != "" {
		if ok, err := c.api.HasVersion(ctx, o.name, o.to); err != nil {
			return err
		} else if !ok {
			return &ExitError{Code: ExitFailure, Err: fmt.Errorf("--to %s is not a version of Worker %q: give one that `wrangler versions list --name %s` shows", o.to, o.name, o.name)}
		}
	}
	url, err := c.api.WorkersDevURL(ctx, o.name)
	if err != nil {
		return err
	}
	run := c.wr
	if !o.json {
		run.Stderr = prefixWriter(env.Stderr, "  wrangler: ")
	}
	if o.image != "" {
		work, err := os.MkdirTemp("", "lean4cf-rollback-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(work)
		d := &wranglerDeployer{runner: run, work: work, nodeModules: nm, managed: env.Getenv("CLOUDFLARE_CONTAINER_REGISTRY"), rollouts: c.api}
		if _, err := d.DeployContainer(ctx, pipeline.ContainerSpec{Name: o.name, Image: o.image}); err != nil {
			return fmt.Errorf("restoring image %s: %w", o.image, err)
		}
	}
	args := []string{"rollback"}
	if o.to != "" {
		args = append(args, o.to)
	}
	args = append(args, "--name", o.name, "--message", "lean4-cf rollback", "--yes")
	if _, err := run.Run(ctx, args...); err != nil {
		return err
	}
	to, _, err := c.api.Worker(ctx, o.name)
	if err != nil {
		return err
	}
	rep := rollbackReport{Name: o.name, From: from, To: to, Image: o.image, URL: url}
	p := verify.Prober{Client: client, BaseURL: url, APIKey: apiKey}
	// What must answer depends on the version returned to, not on the container application:
	// the platform keeps the application after a Worker rollback, also one to a stub version.
	containers, err := apiAccount{c.api}.HasContainers(ctx, o.name, to)
	if err != nil {
		return err
	}
	if containers {
		r, err := p.WaitReady(ctx, verify.WaitOptions{Timeout: o.timeout, Clock: env.Clock})
		if err != nil {
			return &ExitError{Code: ExitFailure, Err: fmt.Errorf("rolled back to %s, but it does not answer: %w", to, err)}
		}
		rep.Verified, rep.LeanVersion = "lean", r.Version
	} else {
		if err := p.CheckStub(ctx); err != nil {
			return &ExitError{Code: ExitFailure, Err: fmt.Errorf("rolled back to %s, but it does not answer: %w", to, err)}
		}
		rep.Verified = "stub"
	}
	if o.json {
		return printJSON(env.Stdout, rep)
	}
	fmt.Fprintf(env.Stdout, "%s: rolled back from %s to %s; %s answers (%s)\n", o.name, from, to, url, rep.Verified)
	return nil
}
