package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	gname "github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/org/lean4-cf-action/internal/cloudflare"
	"github.com/org/lean4-cf-action/internal/image"
	"github.com/org/lean4-cf-action/internal/pipeline"
	"github.com/org/lean4-cf-action/internal/preview"
	"github.com/org/lean4-cf-action/internal/report"
	"github.com/org/lean4-cf-action/internal/wrangler"
)

// PreviewOptions are the flags every `lean4-cf preview` command shares.
type PreviewOptions struct {
	f    *Factory
	name string // --name, the production deployment the previews belong to; default wrangler.DefaultWorkerName
	json bool   // --json; default false (text)
	// mask hides a registry password the commands receive; the Action sets it to the log's masking.
	// Default nil (nothing to hide from a terminal).
	mask func(string)
}

// PreviewDeployOptions are the flags of `lean4-cf preview deploy`: deploy's, with the preview's defaults.
type PreviewDeployOptions struct {
	PreviewOptions
	pr          int // --pr, required
	maxPreviews int // --max-previews; default preview.DefaultMaxPreviews
	deploy      *DeployOptions
}

// PreviewDeleteOptions are the flags of `lean4-cf preview delete`.
type PreviewDeleteOptions struct {
	PreviewOptions
	pr int // --pr, required
}

// PreviewListOptions are the flags of `lean4-cf preview list`.
type PreviewListOptions struct{ PreviewOptions }

// PreviewPruneOptions are the flags of `lean4-cf preview prune`.
type PreviewPruneOptions struct {
	PreviewOptions
	olderThan time.Duration // --older-than, required (> 0) unless closed is set
	// olderThanSet says --older-than was given (0 given is out of range; 0 by default is "not given").
	olderThanSet bool
	// closed says which pull requests are closed; the Action sets it from GitHub (--closed). Default nil.
	closed preview.ClosedPRs
}

// NewCmdPreview returns `lean4-cf preview` and its commands.
func NewCmdPreview(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "preview",
		Short: "One Lean endpoint per pull request: deploy, delete, list and prune previews",
		Long: `A preview is a Worker of its own, <name>-pr-<N> (cut and hashed when long), with its own container
application and image repository, deployed by the whole deploy pipeline with low-cost defaults
(--max-instances 1, --sleep-after 1m, the smallest instance type the image fits). delete removes the
Worker, its application and the images no other application runs; production is never touched.`,
		Args: noArgs,
	}
	cmd.AddCommand(NewCmdPreviewDeploy(f, nil), NewCmdPreviewDelete(f, nil), NewCmdPreviewList(f, nil), NewCmdPreviewPrune(f, nil))
	return cmd
}

func (o *PreviewOptions) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.name, "name", wrangler.DefaultWorkerName, "the production deployment's name; previews are <name>-pr-<N>")
	cmd.Flags().BoolVar(&o.json, "json", false, "print JSON on stdout")
}

func (o *PreviewOptions) validate() error { return checkName(o.name) }

// checkPR checks --pr, which has no default: a preview belongs to one pull request.
func checkPR(cmd *cobra.Command, pr int) error {
	switch {
	case !cmd.Flags().Changed("pr"):
		return flagErrorf("pr", " is required: give the number of the pull request, like --pr 42")
	case pr < 1:
		return flagErrorf("pr", " %d is not a pull request number: give the number of the pull request, like --pr 42", pr)
	}
	return nil
}

// NewCmdPreviewDeploy returns `lean4-cf preview deploy`; runF, when set, runs instead of runPreviewDeploy
// once the flags are valid (tests, and the Action, which deploys with its own progress and comments).
func NewCmdPreviewDeploy(f *Factory, runF func(*PreviewDeployOptions) error) *cobra.Command {
	o := &PreviewDeployOptions{PreviewOptions: PreviewOptions{f: f}, deploy: &DeployOptions{f: f}}
	cmd := &cobra.Command{
		Use:   "deploy --pr N",
		Short: "Deploy or update pull request N's preview through the whole pipeline",
		Example: `  lean4-cf preview deploy --pr 42
  lean4-cf preview deploy --pr 42 --image ghcr.io/ldct/lean4-server:v4.25.0 --json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkPR(cmd, o.pr); err != nil {
				return err
			}
			if o.maxPreviews < 1 {
				return flagErrorf("max-previews", " %d is out of range: use 1 or more", o.maxPreviews)
			}
			o.name, o.json = o.deploy.name, o.deploy.json // deploy's --name and --json are the preview's
			if err := o.deploy.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(o)
			}
			return runPreviewDeploy(cmd.Context(), o)
		},
	}
	o.deploy.addFlags(cmd.Flags())
	// deploy's --name and --json are the preview's own; its container defaults are the preview's.
	cmd.Flags().VisitAll(func(fl *pflag.Flag) {
		switch fl.Name {
		case "max-instances":
			_ = fl.Value.Set(fmt.Sprint(preview.DefaultMaxInstances))
			fl.DefValue = fl.Value.String()
		case "sleep-after":
			_ = fl.Value.Set(preview.DefaultSleepAfter)
			fl.DefValue = fl.Value.String()
		case "instance-type":
			_ = fl.Value.Set(preview.DefaultInstanceType)
			fl.DefValue = fl.Value.String()
		}
	})
	cmd.Flags().Lookup("name").Usage = "the production deployment's name; the preview is <name>-pr-<N>"
	cmd.Flags().IntVar(&o.pr, "pr", 0, "the pull request's number (required)")
	cmd.Flags().IntVar(&o.maxPreviews, "max-previews", preview.DefaultMaxPreviews,
		"most previews of the deployment at once; a new one beyond it is refused, an update never (of new ones racing, the earliest Worker, then lowest PR, keeps the place)")
	return cmd
}

// manager wires a preview.Manager to the account; deployer may be nil for commands that deploy nothing.
func (o *PreviewOptions) manager(c *cloud, deployer preview.Deployer, maxPreviews int) *preview.Manager {
	registry := o.f.Getenv("CLOUDFLARE_CONTAINER_REGISTRY")
	if registry == "" {
		registry = defaultRegistry
	}
	m := &preview.Manager{
		Name: o.name, Account: previewAccount{c.api}, Registry: previewRegistry{api: c.api, account: c.account, host: registry, mask: o.mask},
		Deployer: deployer, MaxPreviews: maxPreviews,
	}
	if !o.json {
		m.Log = func(s string) { fmt.Fprintf(o.f.Stderr, "  %s\n", s) }
	}
	return m
}

func runPreviewDeploy(ctx context.Context, o *PreviewDeployOptions) error {
	c, ports, err := o.prepare()
	if err != nil {
		return err
	}
	// Announced only once the inputs passed: a usage error is one line and nothing before it.
	if !o.json {
		fmt.Fprintf(o.f.Stderr, "==> preview of #%d: %s\n", o.pr, wrangler.PreviewName(o.name, o.pr))
	}
	d, err := o.deployWith(ctx, c, ports, nil, nil)
	if ce := (*preview.CapError)(nil); errors.As(err, &ce) {
		// The inputs are valid and the account was read: a runtime refusal (exit 1), fixed by freeing a
		// preview, not by changing the command.
		return &ExitError{Code: ExitFailure, Err: err}
	}
	if d == nil || d.Result == nil {
		return err
	}
	if o.json {
		if perr := printJSON(o.f.Stdout, d); perr != nil {
			return perr
		}
	} else {
		fmt.Fprint(o.f.Stdout, report.Text(d.Result))
		if d.Removed != nil {
			fmt.Fprintf(o.f.Stdout, "removed the failed preview: %s\n", d.Removed.Summary())
		}
	}
	if err != nil {
		code := ExitFailure
		if ue := (*UsageError)(nil); errors.As(err, &ue) {
			code = ExitUsage
		}
		return &ExitError{Code: code, Err: err}
	}
	return nil
}

// prepare makes the API client and the deploy's ports: every local check of the inputs and the
// environment, with nothing contacted yet.
func (o *PreviewDeployOptions) prepare() (*cloud, imagePorts, error) {
	c, err := o.f.APICloud()
	if err != nil {
		return nil, imagePorts{}, err
	}
	ports, err := o.deploy.ports()
	if err != nil {
		return nil, imagePorts{}, err
	}
	if o.mask != nil {
		ports.push.secret = o.mask
	}
	return c, ports, nil
}

// run deploys the preview: onEvent follows the pipeline (nil: none), and start, when set, is called once
// the preview holds its place under the cap: before the pipeline runs for an update, at the end of the
// stub stage (inside its log group) for a new preview, after which nothing refuses it.
func (o *PreviewDeployOptions) run(ctx context.Context, onEvent func(pipeline.Event), start func()) (*preview.Deployed, error) {
	c, ports, err := o.prepare()
	if err != nil {
		return nil, err
	}
	return o.deployWith(ctx, c, ports, onEvent, start)
}

func (o *PreviewDeployOptions) deployWith(ctx context.Context, c *cloud, ports imagePorts, onEvent func(pipeline.Event), start func()) (*preview.Deployed, error) {
	if err := c.api.VerifyToken(ctx); err != nil {
		return nil, err
	}
	if start == nil {
		start = func() {}
	}
	m := o.manager(c, deployFunc(func(ctx context.Context, worker string, reserve func(context.Context) error) (*report.Result, error) {
		d := *o.deploy
		d.name = worker
		if reserve == nil { // an update holds its place already
			start()
		} else {
			d.afterStub = func(ctx context.Context) error {
				if err := reserve(ctx); err != nil {
					return err
				}
				start()
				return nil
			}
		}
		return deployResult(ctx, &d, ports, onEvent)
	}), o.maxPreviews)
	return m.Deploy(ctx, o.pr)
}

// NewCmdPreviewDelete returns `lean4-cf preview delete`; runF, when set, runs instead of runPreviewDelete
// once the flags are valid (tests, and the Action).
func NewCmdPreviewDelete(f *Factory, runF func(*PreviewDeleteOptions) error) *cobra.Command {
	o := &PreviewDeleteOptions{PreviewOptions: PreviewOptions{f: f}}
	cmd := &cobra.Command{
		Use:   "delete --pr N",
		Short: "Delete pull request N's preview: its Worker, container application and images",
		Long: `delete removes the preview's Worker (and a side stub an interrupted deploy left), its container
application, and the image manifests of its repository that no other application runs, then asks the
registry to collect unreferenced layers. What is already gone is skipped: deleting twice, or deleting a
preview that never finished or whose Worker is gone (orphaned), succeeds and says what it found.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			if err := checkPR(cmd, o.pr); err != nil {
				return err
			}
			if runF != nil {
				return runF(o)
			}
			return runPreviewDelete(cmd.Context(), o)
		},
	}
	o.addFlags(cmd)
	cmd.Flags().IntVar(&o.pr, "pr", 0, "the pull request's number (required)")
	return cmd
}

// run removes the preview.
func (o *PreviewDeleteOptions) run(ctx context.Context) (*preview.Teardown, error) {
	c, err := o.f.APICloud()
	if err != nil {
		return nil, err
	}
	return o.manager(c, nil, 0).Delete(ctx, o.pr)
}

func runPreviewDelete(ctx context.Context, o *PreviewDeleteOptions) error {
	td, err := o.run(ctx)
	if err != nil {
		return err
	}
	if o.json {
		return printJSON(o.f.Stdout, td)
	}
	fmt.Fprintln(o.f.Stdout, td.Summary())
	return nil
}

// NewCmdPreviewList returns `lean4-cf preview list`; runF, when set, runs instead of runPreviewList (tests).
func NewCmdPreviewList(f *Factory, runF func(*PreviewListOptions) error) *cobra.Command {
	o := &PreviewListOptions{PreviewOptions{f: f}}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the deployment's previews: PR, Worker, URL, image, age, state and cost per hour awake",
		Long: `list shows every preview of the deployment, and what a preview left without its Worker (state
"orphaned": a container application, image repository or side stub; --json names them in
"leftovers"). prune and delete --pr N remove orphans.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return runPreviewList(cmd.Context(), o)
		},
	}
	o.addFlags(cmd)
	return cmd
}

func runPreviewList(ctx context.Context, o *PreviewListOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	c, err := o.f.APICloud()
	if err != nil {
		return err
	}
	ps, err := o.manager(c, nil, 0).List(ctx)
	if err != nil {
		return err
	}
	if o.json {
		if ps == nil {
			ps = []preview.Preview{}
		}
		return printJSON(o.f.Stdout, ps)
	}
	return printPreviews(o.f.Stdout, ps)
}

func printPreviews(w interface{ Write([]byte) (int, error) }, ps []preview.Preview) error {
	if len(ps) == 0 {
		_, err := fmt.Fprintln(w, "no previews")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PR\tWORKER\tURL\tIMAGE\tAGE\tSTATE\t$/HOUR AWAKE")
	for _, p := range ps {
		usd := "-"
		if p.USDPerHour != nil {
			usd = fmt.Sprintf("%.4f", p.USDPerHour.Round())
		}
		age := "-" // an orphan without an application has no date
		if !p.Created.IsZero() {
			age = p.Age.D().Round(time.Minute).String()
		}
		fmt.Fprintf(tw, "#%d\t%s\t%s\t%s\t%s\t%s\t%s\n", p.PR, p.Worker, orDash(p.URL), orDash(p.Image), age, p.State, usd)
	}
	return tw.Flush()
}

// orDash is s, or "-" for an empty table cell.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// NewCmdPreviewPrune returns `lean4-cf preview prune`; runF, when set, runs instead of runPreviewPrune
// (tests, and the Action, which selects the previews of closed pull requests instead of an age).
func NewCmdPreviewPrune(f *Factory, runF func(*PreviewPruneOptions) error) *cobra.Command {
	o := &PreviewPruneOptions{PreviewOptions: PreviewOptions{f: f}}
	cmd := &cobra.Command{
		Use:   "prune --older-than D",
		Short: "Delete the previews older than D, and orphaned ones: what a missed close or a failed deploy left",
		Long: `prune deletes the previews created longer ago than --older-than, and every orphaned preview
(state "orphaned" in preview list): a container application, image repository or side stub whose
preview Worker is gone, left by a failed deploy or a Worker deleted by hand. An orphan serves nothing
and still costs storage; it is never a deploy in progress, which creates the Worker first.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.olderThanSet = cmd.Flags().Changed("older-than")
			if runF != nil {
				return runF(o)
			}
			return runPreviewPrune(cmd.Context(), o)
		},
	}
	o.addFlags(cmd)
	cmd.Flags().DurationVar(&o.olderThan, "older-than", 0, "delete previews created longer ago than this, like 72h (required)")
	return cmd
}

// validate checks the options once they say what to select: --older-than is required unless the
// closed pull requests select (the Action sets closed after the flags are parsed, then validates).
func (o *PreviewPruneOptions) validate() error {
	if err := o.PreviewOptions.validate(); err != nil {
		return err
	}
	switch {
	case o.olderThanSet && o.olderThan <= 0:
		return flagErrorf("older-than", " %s is out of range: give a positive age like 72h", o.olderThan)
	case !o.olderThanSet && o.closed == nil:
		return flagErrorf("older-than", " is required: give an age like 72h; previews created longer ago are deleted")
	}
	return nil
}

func runPreviewPrune(ctx context.Context, o *PreviewPruneOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	tds, err := o.run(ctx)
	if o.json {
		if tds == nil {
			tds = []*preview.Teardown{}
		}
		if perr := printJSON(o.f.Stdout, tds); perr != nil {
			return perr
		}
	} else {
		for _, td := range tds {
			fmt.Fprintf(o.f.Stdout, "%s (%s)\n", td.Summary(), td.Why)
		}
		if len(tds) == 0 && err == nil {
			fmt.Fprintln(o.f.Stdout, "no preview to prune")
		}
	}
	return err
}

// run removes the previews the options select; the options are valid.
func (o *PreviewPruneOptions) run(ctx context.Context) ([]*preview.Teardown, error) {
	c, err := o.f.APICloud()
	if err != nil {
		return nil, err
	}
	return o.manager(c, nil, 0).Prune(ctx, preview.PruneOptions{OlderThan: o.olderThan, Closed: o.closed})
}

// deployFunc adapts a function to preview.Deployer.
type deployFunc func(ctx context.Context, worker string, reserve func(context.Context) error) (*report.Result, error)

func (f deployFunc) Deploy(ctx context.Context, worker string, reserve func(context.Context) error) (*report.Result, error) {
	return f(ctx, worker, reserve)
}

// previewAccount is the API client as preview.Account.
type previewAccount struct{ api *cloudflare.Client }

func (a previewAccount) Workers(ctx context.Context) ([]preview.Worker, error) {
	ws, err := a.api.Workers(ctx)
	out := make([]preview.Worker, len(ws))
	for i, w := range ws {
		out[i] = preview.Worker{Name: w.Name, Created: w.CreatedOn}
	}
	return out, err
}

func (a previewAccount) Applications(ctx context.Context) ([]preview.Application, error) {
	apps, err := a.api.Applications(ctx)
	out := make([]preview.Application, len(apps))
	for i, x := range apps {
		created, _ := time.Parse(time.RFC3339, x.CreatedAt) // zero when absent: list shows no age
		out[i] = preview.Application{ID: x.ID, Name: x.Name, State: x.State, Image: x.Image, Created: created}
	}
	return out, err
}

func (a previewAccount) InstanceType(ctx context.Context, appID string) (string, error) {
	app := cloudflare.Application{ID: appID}
	err := a.api.FillInstanceType(ctx, &app)
	return app.InstanceType, err
}

func (a previewAccount) WorkersDevURL(ctx context.Context, worker string) (string, error) {
	return a.api.WorkersDevURL(ctx, worker)
}

func (a previewAccount) DeleteWorker(ctx context.Context, name string) error {
	return a.api.DeleteWorker(ctx, name)
}

func (a previewAccount) DeleteApplication(ctx context.Context, id string) error {
	return a.api.DeleteApplication(ctx, id)
}

// previewRegistry deletes a preview's repository in the account's registry with credentials from the API.
type previewRegistry struct {
	api     *cloudflare.Client
	account string
	host    string
	mask    func(string) // hides the registry password; nil: nothing to hide
}

// auth asks the API for registry credentials (wrangler asks for 5 minutes to list or delete images).
func (r previewRegistry) auth(ctx context.Context) (authn.Authenticator, error) {
	cr, err := r.api.RegistryCredentials(ctx, r.host, 5*time.Minute)
	if err != nil {
		return nil, err
	}
	if r.mask != nil {
		r.mask(cr.Password)
	}
	return authn.FromConfig(authn.AuthConfig{Username: cr.Username, Password: cr.Password}), nil
}

func (r previewRegistry) Repositories(ctx context.Context) ([]string, error) {
	reg, err := gname.NewRegistry(r.host)
	if err != nil {
		return nil, fmt.Errorf("naming registry %s: %w", r.host, err)
	}
	auth, err := r.auth(ctx)
	if err != nil {
		return nil, err
	}
	all, err := image.Repositories(ctx, reg, image.CatalogOptions{Auth: auth})
	var out []string
	for _, repo := range all {
		if name, ok := strings.CutPrefix(repo, r.account+"/"); ok {
			out = append(out, name)
		}
	}
	return out, err
}

func (r previewRegistry) DeleteRepository(ctx context.Context, repo string, keep func(string) bool) ([]string, []string, error) {
	ref, err := gname.NewRepository(fmt.Sprintf("%s/%s/%s", r.host, r.account, repo))
	if err != nil {
		return nil, nil, fmt.Errorf("naming repository %s in %s: %w", repo, r.host, err)
	}
	auth, err := r.auth(ctx)
	if err != nil {
		return nil, nil, err
	}
	res, err := image.DeleteRepository(ctx, ref, image.DeleteOptions{Auth: auth, Keep: keep})
	return res.Deleted, res.Kept, err
}
