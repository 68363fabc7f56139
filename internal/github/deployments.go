package github

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	gh "github.com/google/go-github/v75/github"
)

// DeploymentOptions describe a GitHub deployment.
type DeploymentOptions struct {
	// Environment is the GitHub environment (input environment). Required.
	Environment string
	// SHA is the commit deployed. Required.
	SHA string
	// Description is a short note (at most 140 characters are sent).
	Description string
	// LogURL is the workflow run's page (RunURL), shown on every status.
	LogURL string
	// Transient marks an environment that goes away, such as a per-PR preview. Default false.
	Transient bool
}

// Deployment is a GitHub deployment in progress.
type Deployment struct {
	ID   int64
	c    *Client
	opts DeploymentOptions
}

// StartDeployment creates a deployment of opts.SHA to opts.Environment and marks it in_progress. It sets
// auto_merge false (GitHub would otherwise merge the default branch into the ref) and required_contexts
// empty (the command or workflow already decided to deploy this commit; status checks are not re-gated).
func (c *Client) StartDeployment(ctx context.Context, opts DeploymentOptions) (*Deployment, error) {
	if opts.Environment == "" || opts.SHA == "" {
		return nil, fmt.Errorf("creating a deployment: environment and SHA are required")
	}
	req := &gh.DeploymentRequest{
		Ref:                  gh.Ptr(opts.SHA),
		Task:                 gh.Ptr("deploy"),
		AutoMerge:            gh.Ptr(false),
		RequiredContexts:     &[]string{},
		Environment:          gh.Ptr(opts.Environment),
		Description:          gh.Ptr(clip(opts.Description, 140)),
		TransientEnvironment: gh.Ptr(opts.Transient),
	}
	if opts.Transient {
		req.ProductionEnvironment = gh.Ptr(false) // a preview is never production, whatever its name
	}
	d, _, err := c.gh.Repositories.CreateDeployment(ctx, c.owner, c.repo, req)
	var accepted *gh.AcceptedError
	switch {
	case errors.As(err, &accepted):
		return nil, fmt.Errorf("creating a deployment of %s to %s: GitHub merged a branch instead of creating it (202)", short(opts.SHA), opts.Environment)
	case err != nil:
		return nil, fmt.Errorf("creating a deployment of %s to %s: %w", short(opts.SHA), opts.Environment, needs(err, "deployments: write"))
	}
	dep := &Deployment{ID: d.GetID(), c: c, opts: opts}
	if err := dep.status(ctx, "in_progress", "", opts.Description); err != nil {
		return nil, err
	}
	return dep, nil
}

// Finish sets the deployment's final status: success with the environment URL, or failure. After a
// transient deployment's success, the environment's earlier deployments are marked inactive: GitHub's
// auto_inactive does that only for environments that are neither transient nor production, and a preview
// has one live deployment.
func (d *Deployment) Finish(ctx context.Context, ok bool, environmentURL, description string) error {
	state := "failure"
	if ok {
		state = "success"
	} else {
		environmentURL = ""
	}
	if err := d.status(ctx, state, environmentURL, description); err != nil {
		return err
	}
	if ok && d.opts.Transient {
		if _, err := d.c.deactivate(ctx, d.opts.Environment, d.ID, "replaced by deployment "+strconv.FormatInt(d.ID, 10), d.opts.LogURL); err != nil {
			return err
		}
	}
	return nil
}

func (d *Deployment) status(ctx context.Context, state, envURL, description string) error {
	req := &gh.DeploymentStatusRequest{
		State:       gh.Ptr(state),
		Description: gh.Ptr(clip(description, 140)),
		Environment: gh.Ptr(d.opts.Environment),
	}
	if d.opts.LogURL != "" {
		req.LogURL = gh.Ptr(d.opts.LogURL)
	}
	if envURL != "" {
		req.EnvironmentURL = gh.Ptr(envURL)
	}
	if _, _, err := d.c.gh.Repositories.CreateDeploymentStatus(ctx, d.c.owner, d.c.repo, d.ID, req); err != nil {
		return fmt.Errorf("setting deployment %d to %s: %w", d.ID, state, needs(err, "deployments: write"))
	}
	return nil
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// PreviewDeploymentOptions describe the GitHub deployment of a pull request's preview.
type PreviewDeploymentOptions struct {
	// PR is the pull request; the environment is PreviewEnvironment(PR). Required.
	PR int
	// SHA is the commit deployed. Required.
	SHA string
	// Description is a short note (at most 140 characters are sent).
	Description string
	// LogURL is the workflow run's page (RunURL), shown on every status.
	LogURL string
}

// StartPreviewDeployment records a deployment of o.SHA to the preview environment of o.PR, transient and
// not production, and marks it in_progress. It is idempotent: when that environment already has a
// deployment of o.SHA (a re-run), the newest one is used again instead of creating another. Finish it
// with the preview's URL; DeactivatePreview marks it inactive when the preview is removed.
func (c *Client) StartPreviewDeployment(ctx context.Context, o PreviewDeploymentOptions) (*Deployment, error) {
	if o.PR <= 0 || o.SHA == "" {
		return nil, fmt.Errorf("creating a preview deployment: pull request and SHA are required")
	}
	opts := DeploymentOptions{Environment: PreviewEnvironment(o.PR), SHA: o.SHA, Description: o.Description, LogURL: o.LogURL, Transient: true}
	found, _, err := c.gh.Repositories.ListDeployments(ctx, c.owner, c.repo, &gh.DeploymentsListOptions{
		SHA: o.SHA, Environment: opts.Environment, ListOptions: gh.ListOptions{PerPage: 1}})
	if err != nil {
		return nil, fmt.Errorf("listing the deployments of %s to %s: %w", short(o.SHA), opts.Environment, needs(err, "deployments: write"))
	}
	if len(found) == 0 {
		return c.StartDeployment(ctx, opts)
	}
	dep := &Deployment{ID: found[0].GetID(), c: c, opts: opts}
	if err := dep.status(ctx, "in_progress", "", opts.Description); err != nil {
		return nil, err
	}
	return dep, nil
}

// DeactivatePreview marks every deployment in pull request pr's preview environment inactive (GitHub
// then shows a transient environment as destroyed) and returns how many it changed. Deployments already
// inactive are left alone, so a second call changes nothing and returns 0.
func (c *Client) DeactivatePreview(ctx context.Context, pr int, description, logURL string) (int, error) {
	if pr <= 0 {
		return 0, fmt.Errorf("deactivating a preview deployment: pull request number %d is not positive", pr)
	}
	return c.deactivate(ctx, PreviewEnvironment(pr), 0, description, logURL)
}

// deactivate sets an inactive status on each deployment of env but except whose latest status is another.
func (c *Client) deactivate(ctx context.Context, env string, except int64, description, logURL string) (int, error) {
	var ids []int64
	opts := &gh.DeploymentsListOptions{Environment: env, ListOptions: gh.ListOptions{PerPage: 100}}
	for {
		page, resp, err := c.gh.Repositories.ListDeployments(ctx, c.owner, c.repo, opts)
		if err != nil {
			return 0, fmt.Errorf("listing the deployments to %s: %w", env, needs(err, "deployments: write"))
		}
		for _, d := range page {
			if d.GetID() != except {
				ids = append(ids, d.GetID())
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	n := 0
	for _, id := range ids {
		latest, _, err := c.gh.Repositories.ListDeploymentStatuses(ctx, c.owner, c.repo, id, &gh.ListOptions{PerPage: 1})
		if err != nil {
			return n, fmt.Errorf("reading deployment %d's status: %w", id, needs(err, "deployments: write"))
		}
		if len(latest) > 0 && latest[0].GetState() == "inactive" {
			continue
		}
		d := &Deployment{ID: id, c: c, opts: DeploymentOptions{Environment: env, LogURL: logURL}}
		if err := d.status(ctx, "inactive", "", description); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
