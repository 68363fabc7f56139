package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/org/lean4-cf-action/internal/cloudflare"
	"github.com/org/lean4-cf-action/internal/wrangler"
)

// StatusOptions are the flags of `lean4-cf status`.
type StatusOptions struct {
	f        *Factory
	name     string // --name; default wrangler.DefaultWorkerName
	wrangler string // --wrangler; accepted and ignored (status runs no wrangler)
	json     bool   // --json; default false (text)
}

// statusReport is what `lean4-cf status --json` prints.
type statusReport struct {
	Name        string                  `json:"name"`
	Exists      bool                    `json:"exists"`
	URL         string                  `json:"url,omitempty"`
	VersionID   string                  `json:"versionId,omitempty"`
	Application *cloudflare.Application `json:"application,omitempty"`
}

// NewCmdStatus returns `lean4-cf status`; runF, when set, runs instead of runStatus (tests).
func NewCmdStatus(f *Factory, runF func(*StatusOptions) error) *cobra.Command {
	o := &StatusOptions{f: f}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show a deployed Worker's URL, live version and container application state",
		Long: `Show a deployed Worker's URL, live version, and its container application (id, state, live instances,
image, version) as "wrangler containers list --json" reports it, and its configured instance type
(a name, or a custom configuration) as "wrangler containers info --json" reports it; both are read
through the API, without running wrangler.

Credentials come from the environment only: CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID
(CLOUDFLARE_API_BASE_URL points both lean4-cf and wrangler at another API, e.g. lean4-cf sandbox).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return runStatus(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.name, "name", wrangler.DefaultWorkerName, "Worker name")
	// status runs no wrangler; the flag (and the Action's wrangler input) stays accepted so that existing
	// invocations keep working.
	cmd.Flags().StringVar(&o.wrangler, "wrangler", "", "ignored: status reads the API and runs no wrangler")
	_ = cmd.Flags().MarkHidden("wrangler")
	cmd.Flags().BoolVar(&o.json, "json", false, "print one JSON object")
	return cmd
}

func runStatus(ctx context.Context, o *StatusOptions) error {
	env := o.f.Env
	if err := checkName(o.name); err != nil {
		return err
	}
	c, err := o.f.APICloud()
	if err != nil {
		return err
	}
	if err := c.api.VerifyToken(ctx); err != nil { // status reads the container application too
		return err
	}
	rep := statusReport{Name: o.name}
	version, exists, err := c.api.Worker(ctx, o.name)
	if err != nil {
		return err
	}
	rep.Exists, rep.VersionID = exists, version
	if exists {
		if rep.URL, err = c.api.WorkersDevURL(ctx, o.name); err != nil {
			return err
		}
		app, ok, err := c.api.Application(ctx, wrangler.ApplicationName(o.name, wrangler.ClassName))
		if err != nil {
			return err
		}
		if ok {
			if err := c.api.FillInstanceType(ctx, &app); err != nil { // the configured instance type
				return err
			}
			rep.Application = &app
		}
	}
	if o.json {
		if err := printJSON(env.Stdout, rep); err != nil {
			return err
		}
	} else {
		printStatus(env, rep)
	}
	if !exists {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("no Worker %q on this account: deploy it with lean4-cf deploy --name %s", o.name, o.name)}
	}
	return nil
}

func printStatus(env Env, r statusReport) {
	if !r.Exists {
		fmt.Fprintf(env.Stdout, "%s: no such Worker\n", r.Name)
		return
	}
	fmt.Fprintf(env.Stdout, "%s\n  url:         %s\n  version:     %s\n", r.Name, r.URL, r.VersionID)
	if a := r.Application; a != nil {
		fmt.Fprintf(env.Stdout, "  application: %s (%s)\n  state:       %s, %d live instances\n  image:       %s (application version %d)\n",
			a.Name, a.ID, a.State, a.Instances, a.Image, a.Version)
		if a.InstanceConfig != "" {
			fmt.Fprintf(env.Stdout, "  instance:    %s\n", a.InstanceConfig)
		}
	} else {
		fmt.Fprintln(env.Stdout, "  application: none (a stub Worker, or not promoted yet)")
	}
}
