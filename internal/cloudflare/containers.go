package cloudflare

import (
	"context"
	"fmt"

	"github.com/cloudflare/cloudflare-go/v6/option"

	"github.com/org/lean4-cf-action/internal/instance"
)

// Container state is read from the same endpoints `wrangler containers list` and `wrangler containers
// instances` call (the dashboard's application and instance lists), without starting wrangler: cloudflare-go
// has no typed Containers calls, so its raw request helper is used. The rows and states are the ones
// wrangler prints, so `lean4-cf status --json` keeps its shape.

// Application is one container application as `wrangler containers list --json` shows it.
type Application struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	State     string `json:"state"`     // degraded, provisioning, active or ready: see Health.State
	Instances int    `json:"instances"` // live instances
	Image     string `json:"image"`
	Version   int    `json:"version"` // increments with each change of the application
	UpdatedAt string `json:"updated_at"`
	CreatedAt string `json:"created_at"`
	// InstanceType is the configured type as instance.Lookup reads it (a name, or custom:vcpu=…); not in
	// the list, filled by FillInstanceType.
	InstanceType string `json:"instanceType,omitempty"`
	// InstanceConfig describes it for people, e.g. "custom (1 vCPU, 3072 MiB, 4 GB)"; set with InstanceType.
	InstanceConfig string `json:"instanceConfig,omitempty"`
}

// FillInstanceType reads the application's configuration (GET the application: what `wrangler
// containers info` prints) and fills app's configured instance type; an application configured with
// none is left without one.
func (c *Client) FillInstanceType(ctx context.Context, app *Application) error {
	var env struct {
		Result struct {
			Configuration map[string]any `json:"configuration"`
		} `json:"result"`
	}
	if err := c.api.Get(ctx, fmt.Sprintf("accounts/%s/containers/applications/%s", c.account, app.ID), nil, &env); err != nil {
		return fmt.Errorf("reading container application %s: %w", app.ID, c.explainDenied(err))
	}
	t, _, err := instance.FromAPIConfiguration(env.Result.Configuration)
	if err != nil {
		return fmt.Errorf("reading container application %s: the application's %w", app.ID, err)
	}
	if t.Name != "" {
		app.InstanceType, app.InstanceConfig = t.Spec(), t.Describe()
	}
	return nil
}

// Health counts an application's instances by state, as the API reports them.
type Health struct {
	Active     int `json:"active"`
	Healthy    int `json:"healthy"`
	Failed     int `json:"failed"`
	Starting   int `json:"starting"`
	Scheduling int `json:"scheduling"`
}

// State is the state wrangler derives from an application's health, first match winning: any failed
// instance is degraded, any starting or scheduling one provisioning, any active one active, and
// otherwise ready (no instance runs: normal for an idle application driven by Durable Objects).
func (h Health) State() string {
	switch {
	case h.Failed > 0:
		return "degraded"
	case h.Starting > 0 || h.Scheduling > 0:
		return "provisioning"
	case h.Active > 0:
		return "active"
	}
	return "ready"
}

type dashApplication struct {
	Application
	Health struct {
		Instances Health `json:"instances"`
	} `json:"health"`
}

// resultInfo is the containers API's paging: next_page_token goes back as page_token.
type resultInfo struct {
	NextPageToken string `json:"next_page_token"`
}

// pages GETs path page by page into each, until the API gives no next page token.
func pages[T any](ctx context.Context, c *Client, path string, each func(T) bool) error {
	token := ""
	for range 1000 { // a bound against an API that never stops paging
		var env struct {
			Result     T          `json:"result"`
			ResultInfo resultInfo `json:"result_info"`
		}
		var opts []option.RequestOption
		if token != "" {
			opts = append(opts, option.WithQuery("page_token", token))
		}
		if err := c.api.Get(ctx, path, nil, &env, opts...); err != nil {
			return err
		}
		if !each(env.Result) || env.ResultInfo.NextPageToken == "" || env.ResultInfo.NextPageToken == token {
			return nil
		}
		token = env.ResultInfo.NextPageToken
	}
	return fmt.Errorf("reading %s: the API kept paging past 1000 pages", path)
}

// Application returns the container application named name, and whether there is one. Unlike wrangler's
// list, which reads the first page only, every page is read until the application is found.
func (c *Client) Application(ctx context.Context, name string) (Application, bool, error) {
	var found *Application
	err := pages(ctx, c, fmt.Sprintf("accounts/%s/containers/dash/applications", c.account), func(apps []dashApplication) bool {
		for _, a := range apps {
			if a.Name == name {
				app := a.Application
				app.State = a.Health.Instances.State()
				found = &app
				return false
			}
		}
		return true
	})
	if err != nil {
		return Application{}, false, fmt.Errorf("reading container application %s: %w", name, c.explainDenied(err))
	}
	if found == nil {
		return Application{}, false, nil
	}
	return *found, true, nil
}

// Instance is one row of `wrangler containers instances <id> --json`: a container instance, or a
// Durable Object and the instance it runs, when the API lists Durable Objects.
type Instance struct {
	ID       string `json:"id"`
	Name     string `json:"name,omitempty"` // the Durable Object's name, when the API lists Durable Objects
	State    string `json:"state"`          // provisioning, running, stopping, stopped, failed, unhealthy, inactive or unknown
	Location string `json:"location"`
	Version  int    `json:"version"` // the application version the instance runs
}

type dashInstances struct {
	Instances []struct {
		ID               string `json:"id"`
		Location         string `json:"location"`
		AppVersion       int    `json:"app_version"`
		CurrentPlacement *struct {
			Status struct {
				Health          string `json:"health"`
				ContainerStatus string `json:"container_status"`
			} `json:"status"`
		} `json:"current_placement"`
	} `json:"instances"`
	DurableObjects []struct {
		ID           string `json:"id"`
		DeploymentID string `json:"deployment_id"`
		Name         string `json:"name"`
	} `json:"durable_objects"`
}

// Instances lists a container application's instances (every page) in wrangler's rows: one per Durable
// Object when the API lists them (a Durable Object without an instance is inactive), else one per instance.
func (c *Client) Instances(ctx context.Context, appID string) ([]Instance, error) {
	var all dashInstances
	err := pages(ctx, c, fmt.Sprintf("accounts/%s/containers/dash/applications/%s/instances", c.account, appID), func(p dashInstances) bool {
		all.Instances = append(all.Instances, p.Instances...)
		all.DurableObjects = append(all.DurableObjects, p.DurableObjects...)
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("reading the instances of container application %s: %w", appID, c.explainDenied(err))
	}
	byID := map[string]Instance{}
	var rows []Instance
	for _, in := range all.Instances {
		row := Instance{ID: in.ID, State: "unknown", Location: in.Location, Version: in.AppVersion}
		if p := in.CurrentPlacement; p != nil {
			row.State = instanceState(p.Status.ContainerStatus, p.Status.Health)
		}
		byID[in.ID] = row
		rows = append(rows, row)
	}
	if len(all.DurableObjects) == 0 {
		return rows, nil
	}
	rows = rows[:0]
	for _, do := range all.DurableObjects {
		row, ok := byID[do.DeploymentID]
		if !ok || do.DeploymentID == "" {
			row = Instance{State: "inactive"}
		}
		row.ID, row.Name = do.ID, do.Name
		rows = append(rows, row)
	}
	return rows, nil
}

// instanceState is wrangler's state of an instance: its container status, else its placement's health;
// placed is provisioning, and anything unknown is unknown.
func instanceState(containerStatus, health string) string {
	raw := containerStatus
	if raw == "" {
		raw = health
	}
	switch raw {
	case "placed":
		return "provisioning"
	case "running", "failed", "stopping", "stopped", "unhealthy":
		return raw
	}
	return "unknown"
}
