package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/org/lean4-cf-action/internal/sandbox"
	"github.com/org/lean4-cf-action/internal/sandbox/cfapi"
	"github.com/org/lean4-cf-action/internal/wrangler"
)

// SandboxOptions are the flags of `lean4-cf sandbox`.
type SandboxOptions struct {
	f              *Factory
	provisionDelay time.Duration // --provision-delay; default 3s
	startDelay     time.Duration // --start-delay; default 1s
	envFile        string        // --env-file; default "" (print only)
	deploy         bool          // --deploy; default false (serve until interrupted)
	wrangler       string        // --wrangler; default "" (LEAN4CF_WRANGLER, the pinned install, then PATH)
}

// NewCmdSandbox returns `lean4-cf sandbox`; runF, when set, runs instead of runSandbox (tests).
func NewCmdSandbox(f *Factory, runF func(*SandboxOptions) error) *cobra.Command {
	o := &SandboxOptions{f: f}
	cmd := &cobra.Command{
		Use:   "sandbox",
		Short: "Run a local Cloudflare (API, registry, workers.dev edge) to try lean4-cf with no account",
		Long: `sandbox starts, on loopback only:
  - a Cloudflare API (v4 envelope) that the pinned wrangler deploys to,
  - a container registry behind the credentials that API issues,
  - an HTTPS workers.dev edge with a certificate from a CA made for this run, running each deployed
    Worker version in workerd; container requests reach a Lean server double once the application has
    "provisioned" (--provision-delay) and the instance has "cold started" (--start-delay),
  - a source registry holding a small Lean-server-shaped image to deploy.
It prints the environment to export in another shell, then serves until interrupted, and stops every
process it started.

With --deploy it runs "lean4-cf deploy" against itself once, prints the report and exits with
deploy's exit status: the whole flow, offline, with no account.`,
		Example: `  lean4-cf sandbox --deploy
  lean4-cf sandbox --env-file /tmp/sandbox.env    # then: . /tmp/sandbox.env && lean4-cf deploy --image "$LEAN4CF_SOURCE_IMAGE"`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return runSandbox(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.DurationVar(&o.provisionDelay, "provision-delay", 3*time.Second, "how long a new container application takes to provision")
	fl.DurationVar(&o.startDelay, "start-delay", time.Second, "how long a container instance takes to cold start")
	fl.StringVar(&o.envFile, "env-file", "", "also write the exports to this file")
	fl.BoolVar(&o.deploy, "deploy", false, "run lean4-cf deploy against the sandbox once, then stop")
	addWranglerFlag(fl, &o.wrangler)
	return cmd
}

// maxSandboxDelay bounds the simulated provisioning and cold start: longer would only stall a local run.
const maxSandboxDelay = 10 * time.Minute

// validate checks the flags before anything starts, so a bad one does not surface after the servers are up.
func (o *SandboxOptions) validate() error {
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"--provision-delay", o.provisionDelay}, {"--start-delay", o.startDelay}} {
		if d.v < 0 || d.v > maxSandboxDelay {
			return usagef("%s %s is out of range: use 0s to %s, like 3s", d.flag, d.v, "10m")
		}
	}
	if o.envFile != "" {
		if info, err := os.Stat(o.envFile); err == nil && info.IsDir() {
			return flagErrorf("env-file", " %q is a folder: give a file path, like /tmp/sandbox.env", o.envFile)
		}
		if info, err := os.Stat(filepath.Dir(o.envFile)); err != nil || !info.IsDir() {
			return flagErrorf("env-file", " %q is in a folder that does not exist: create it, or give a path like /tmp/sandbox.env", o.envFile)
		}
	}
	return nil
}

func runSandbox(ctx context.Context, o *SandboxOptions) error {
	env := o.f.Env
	if err := o.validate(); err != nil {
		return err
	}
	tool, err := wrangler.Locate(wrangler.LocateOptions{Flag: o.wrangler, Getenv: env.Getenv})
	if err != nil {
		return usagef("%v", err)
	}
	nm, err := workerModules(tool)
	if err != nil {
		return err
	}
	s, err := sandbox.Start(ctx, sandbox.Options{
		Workerd: filepath.Join(nm, "workerd", "bin", "workerd"),
		API:     cfapi.Options{ProvisionDelay: o.provisionDelay, StartDelay: o.startDelay},
	})
	if err != nil {
		return err
	}
	defer s.Close()
	vars := s.Env()
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "export %s=%s\n", k, shellQuote(vars[k]))
	}
	if o.envFile != "" {
		if err := os.WriteFile(o.envFile, []byte(b.String()), 0o600); err != nil {
			return fmt.Errorf("writing --env-file: %w", err)
		}
	}
	if o.deploy {
		image := vars["LEAN4CF_SOURCE_IMAGE"]
		fmt.Fprintf(env.Stderr, "lean4-cf sandbox: local Cloudflare up (API %s, edge port %d); deploying %s\n", s.API().APIBase(), s.Edge().Port(), image)
		overlay := func(k string) string {
			if v, ok := vars[k]; ok {
				return v
			}
			return env.Getenv(k)
		}
		denv := Env{Stdin: env.Stdin, Stdout: env.Stdout, Stderr: env.Stderr, Getenv: overlay, Environ: env.Environ}
		d := &DeployOptions{f: o.f.with(denv), stage: "all", image: image, name: wrangler.DefaultWorkerName, instanceType: "auto", maxInstances: wrangler.DefaultMaxInstances,
			instances: wrangler.DefaultInstances, sleepAfter: wrangler.DefaultSleepAfter, timeout: 5 * time.Minute, wrangler: o.wrangler}
		if err := d.validate(); err != nil {
			return err
		}
		return runDeploy(ctx, d)
	}
	fmt.Fprintf(env.Stdout, "# lean4-cf sandbox: a local Cloudflare on loopback. In another shell:\n%s", b.String())
	fmt.Fprintf(env.Stdout, "# then: lean4-cf deploy --image \"$LEAN4CF_SOURCE_IMAGE\"   (and curl --cacert \"$SSL_CERT_FILE\" --resolve ...)\n# serving until interrupted\n")
	<-ctx.Done()
	fmt.Fprintln(env.Stderr, "lean4-cf sandbox: stopping")
	return nil
}
