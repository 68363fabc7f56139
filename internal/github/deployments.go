package github

import (
	"context"
	"errors"
	"fmt"

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

// Finish sets the deployment's final status: success with the environment URL, or failure.
func (d *Deployment) Finish(ctx context.Context, ok bool, environmentURL, description string) error {
	state := "failure"
	if ok {
		state = "success"
	} else {
		environmentURL = ""
	}
	return d.status(ctx, state, environmentURL, description)
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
