package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/org/lean4-cf-action/internal/image"
	"github.com/org/lean4-cf-action/internal/instance"
	"github.com/org/lean4-cf-action/internal/wrangler"
)

// RenderOptions are the flags of `lean4-cf render`. Options left zero in opts take wrangler's defaults
// (or, with --config, keep the user's values).
type RenderOptions struct {
	f           *Factory
	mode        string           // --mode stub|container; required
	out         string           // --out DIR; required
	config      string           // --config; default "" (render a configuration)
	nodeModules string           // --node-modules; default "" (npm ci in the rendered directory)
	vars        []string         // --var KEY=VALUE, repeatable; default none
	json        bool             // --json; default false (text)
	opts        wrangler.Options // --name, --image, --instance-type, --max-instances, --instances, --sleep-after, --compatibility-date
}

// NewCmdRender returns `lean4-cf render`; runF, when set, runs instead of runRender (tests).
func NewCmdRender(f *Factory, runF func(*RenderOptions) error) *cobra.Command {
	o := &RenderOptions{f: f}
	cmd := &cobra.Command{
		Use:   "render --mode stub|container --out DIR [flags]",
		Short: "Write the Worker project (wrangler.jsonc and sources) for the stub or the container",
		Long: `render writes what lean4-cf deploys, so it can be inspected or deployed by hand:
DIR/wrangler.jsonc, the Worker sources in DIR/src and DIR/package.json with its lock.
Deploy it with: cd DIR && npm ci && npx wrangler deploy   (Node.js 22 or later)

With --config, your own wrangler.jsonc is patched instead (comments and layout kept):
lean4-cf sets main, the image and the options you pass, and adds the LeanContainer binding
and migration when missing. Options left unset keep your values there.`,
		Example: `  lean4-cf render --mode stub --out build/stub
  lean4-cf render --mode container --out build/container \
    --image registry.cloudflare.com/<account>/lean4-server@sha256:<digest> --instances 2 --var MAX_LEAN_TIMEOUT=120`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return runRender(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.mode, "mode", "", "stub (no containers) or container (required)")
	fl.StringVar(&o.out, "out", "", "directory to write; it must be empty, new, or a previous rendering (required)")
	fl.StringVar(&o.opts.WorkerName, "name", "", `Worker name (default "`+wrangler.DefaultWorkerName+`")`)
	fl.StringVar(&o.opts.Image, "image", "", "digest-pinned image reference the container runs (container mode)")
	fl.StringVar(&o.opts.InstanceType, "instance-type", "", strings.Join(instance.Names(), ", ")+`, custom (measures --image for the cheapest custom configuration that fits) or custom:vcpu=V,memory=M,disk=D (default "`+wrangler.DefaultInstanceType+`")`)
	fl.IntVar(&o.opts.MaxInstances, "max-instances", 0, fmt.Sprintf("most instances running at once (default %d)", wrangler.DefaultMaxInstances))
	fl.IntVar(&o.opts.Instances, "instances", 0, fmt.Sprintf("1 = one named instance; N > 1 spreads requests over N (default %d)", wrangler.DefaultInstances))
	fl.StringVar(&o.opts.SleepAfter, "sleep-after", "", `idle time before an instance is stopped, e.g. 30s, 2m, 1h (default "`+wrangler.DefaultSleepAfter+`")`)
	fl.StringVar(&o.opts.CompatibilityDate, "compatibility-date", "", `Worker compatibility date (default "`+wrangler.DefaultCompatibilityDate+`")`)
	fl.StringArrayVar(&o.vars, "var", nil, "Worker setting KEY=VALUE, repeatable (e.g. MAX_LEAN_TIMEOUT=120, CORS_ORIGINS=https://app.example)")
	fl.StringVar(&o.config, "config", "", "your own wrangler.jsonc to patch instead of rendering one")
	fl.StringVar(&o.nodeModules, "node-modules", "", "an installed worker/node_modules to link into DIR, so no npm ci is needed")
	fl.BoolVar(&o.json, "json", false, "print the result as JSON")
	return cmd
}

// renderResult is what render prints with --json.
type renderResult struct {
	Mode   string `json:"mode"`
	Dir    string `json:"dir"`
	Config string `json:"config"`
	Main   string `json:"main"`
}

func runRender(ctx context.Context, o *RenderOptions) error {
	env := o.f.Env
	if o.mode == "" {
		return &UsageError{Err: errors.New("--mode is required: use --mode stub or --mode container")}
	}
	if o.out == "" {
		return &UsageError{Err: errors.New("--out is required: name the directory to write, e.g. --out build/worker")}
	}
	opts := o.opts
	opts.Mode = wrangler.Mode(o.mode)
	// wrangler treats this registry host as Cloudflare's managed registry; so does the renderer.
	opts.ManagedRegistry = env.Getenv("CLOUDFLARE_CONTAINER_REGISTRY")
	if len(o.vars) > 0 {
		opts.Vars = map[string]string{}
	}
	for _, kv := range o.vars {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return &UsageError{Err: fmt.Errorf("--var %q: use KEY=VALUE, e.g. --var MAX_LEAN_TIMEOUT=120", kv)}
		}
		opts.Vars[k] = v
	}
	if o.config != "" {
		b, err := os.ReadFile(o.config)
		if err != nil {
			return flagErrorf("config", " %q is not a readable file: give the path of your wrangler.jsonc", o.config)
		}
		opts.UserConfig, opts.UserConfigName = b, o.config
	}
	// A deprecated alias means what it means to deploy: its type, with the same warning.
	if t, dep, err := instance.Lookup(opts.InstanceType); err == nil && dep != "" {
		fmt.Fprintf(env.Stderr, "warning: %s\n", dep)
		opts.InstanceType = t.Name
	}
	if opts.InstanceType == instance.CustomName {
		spec, err := cheapestCustomFor(ctx, env, opts.Image)
		if err != nil {
			return err
		}
		opts.InstanceType = spec
	}
	r, err := wrangler.Render(o.out, opts, o.nodeModules)
	var inputErr *wrangler.InputError
	if errors.As(err, &inputErr) {
		return renderInputError(err)
	}
	if err != nil {
		return fmt.Errorf("rendering into %s: %w", o.out, err)
	}
	if o.json {
		return printJSON(env.Stdout, renderResult{Mode: o.mode, Dir: r.Dir, Config: r.Config, Main: r.Main})
	}
	deploy := "cd " + shellQuote(r.Dir) + " && npm ci && npx wrangler deploy"
	if o.nodeModules != "" {
		deploy = "cd " + shellQuote(r.Dir) + " && npx wrangler deploy"
	}
	_, err = fmt.Fprintf(env.Stdout, "rendered the %s Worker into %s (%s, %s)\ndeploy it with: %s\n", o.mode, r.Dir, filepath.Base(r.Config), r.Main, deploy)
	return err
}

// cheapestCustomFor measures the image to render (read only, credentials as for preflight) and returns
// the cheapest custom configuration that holds it with the default workload.
func cheapestCustomFor(ctx context.Context, env Env, img string) (string, error) {
	if img == "" {
		return "", flagErrorf("instance-type", " custom measures the image: give --image, or an explicit custom:vcpu=V,memory=M,disk=D from lean4-cf preflight")
	}
	ref, err := image.ParseRef(img)
	if err != nil {
		return "", flagErrorf("image", ": %v", err)
	}
	src, err := imageSource(env)
	if err != nil {
		return "", err
	}
	_, rep, err := measureImage(ctx, env, ref, measureOptions{source: src, quiet: true, want: instance.CustomName,
		concurrency: instance.DefaultConcurrency, memRun: instance.DefaultMemoryPerRun})
	if err != nil {
		return "", fmt.Errorf("measuring %s for --instance-type custom (or give custom:vcpu=V,memory=M,disk=D): %w", img, err)
	}
	fr, err := fitImage(rep, instance.CustomName, instance.DefaultConcurrency, instance.DefaultMemoryPerRun)
	if err != nil {
		return "", err
	}
	if !fr.ok {
		return "", fmt.Errorf("image %s fits no custom configuration: %s", img, strings.Join(fr.chosen.Reasons, "; "))
	}
	fmt.Fprintf(env.Stderr, "instance type: %s, the cheapest custom configuration for %s\n", fr.chosen.Type.Spec(), img)
	return fr.chosen.Type.Spec(), nil
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
