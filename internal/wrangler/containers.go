package wrangler

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/org/lean4-cf-action/internal/instance"
)

// Application is one row of `wrangler containers list --json`.
type Application struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	State     string `json:"state"` // degraded, provisioning, active or ready (wrangler derives it from health)
	Instances int    `json:"instances"`
	Image     string `json:"image"`
	Version   int    `json:"version"`
	UpdatedAt string `json:"updated_at"`
	CreatedAt string `json:"created_at"`
	// InstanceType is the configured type as instance.Lookup reads it (a name, or custom:vcpu=…); not in
	// the list, filled by ContainersInfo.
	InstanceType string `json:"instanceType,omitempty"`
	// InstanceConfig describes it for people, e.g. "custom (1 vCPU, 3072 MiB, 4 GB)"; set with InstanceType.
	InstanceConfig string `json:"instanceConfig,omitempty"`
}

// ApplicationName is the container application wrangler creates for a Worker's container class:
// <worker>-<class lowercased>.
func ApplicationName(worker, class string) string { return worker + "-" + strings.ToLower(class) }

// ParseContainersList reads the JSON that `wrangler containers list --json` prints: an array of applications,
// or {"error": "..."} when the call failed.
func ParseContainersList(out []byte) ([]Application, error) {
	trimmed := strings.TrimSpace(string(out))
	if strings.HasPrefix(trimmed, "{") {
		var e struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal([]byte(trimmed), &e); err == nil && e.Error != "" {
			return nil, fmt.Errorf("wrangler containers list: %s", e.Error)
		}
	}
	var apps []Application
	if err := json.Unmarshal([]byte(trimmed), &apps); err != nil {
		return nil, fmt.Errorf("parsing wrangler containers list --json output %q: %w", truncate(trimmed, 120), err)
	}
	return apps, nil
}

// ContainersList runs `wrangler containers list --json` and returns the application named name, and
// whether there is one.
func (r Runner) ContainersList(ctx context.Context, name string) (Application, bool, error) {
	res, err := r.Run(ctx, "containers", "list", "--json")
	if err != nil {
		return Application{}, false, err
	}
	apps, err := ParseContainersList(res.Stdout)
	if err != nil {
		return Application{}, false, err
	}
	for _, a := range apps {
		if a.Name == name {
			return a, true, nil
		}
	}
	return Application{}, false, nil
}

// ParseContainersInfo reads `wrangler containers info ID --json`: the application, whose configuration
// names its instance type; or {"error": "..."}. It returns the type (zero when none is configured).
func ParseContainersInfo(out []byte) (instance.Type, error) {
	var app struct {
		Error         string         `json:"error"`
		Configuration map[string]any `json:"configuration"`
	}
	trimmed := strings.TrimSpace(string(out))
	if err := json.Unmarshal([]byte(trimmed), &app); err != nil {
		return instance.Type{}, fmt.Errorf("parsing wrangler containers info --json output %q: %w", truncate(trimmed, 120), err)
	}
	if app.Error != "" {
		return instance.Type{}, fmt.Errorf("wrangler containers info: %s", app.Error)
	}
	t, _, err := instance.FromAPIConfiguration(app.Configuration)
	if err != nil {
		return instance.Type{}, fmt.Errorf("wrangler containers info: the application's %w", err)
	}
	return t, nil
}

// ContainersInfo runs `wrangler containers info ID --json` and fills app's configured instance type.
func (r Runner) ContainersInfo(ctx context.Context, app *Application) error {
	res, err := r.Run(ctx, "containers", "info", app.ID, "--json")
	if err != nil {
		return err
	}
	t, err := ParseContainersInfo(res.Stdout)
	if err != nil {
		return err
	}
	if t.Name != "" {
		app.InstanceType, app.InstanceConfig = t.Spec(), t.Describe()
	}
	return nil
}

// Rollback runs `wrangler rollback VERSION --name NAME -m MESSAGE -y`: the Worker only; the container
// application keeps its image (deploy the previous image to change that).
func (r Runner) Rollback(ctx context.Context, name, version, message string) error {
	if message == "" {
		message = "lean4-cf rollback"
	}
	if len(message) > 120 {
		message = message[:120]
	}
	_, err := r.Run(ctx, "rollback", version, "--name", name, "--message", message, "--yes")
	return err
}

// Instance is one row of `wrangler containers instances <id> --json`.
type Instance struct {
	ID       string `json:"id"`
	Name     string `json:"name,omitempty"` // the Durable Object's name, when the API lists Durable Objects
	State    string `json:"state"`          // provisioning, running, stopping, stopped, failed, unhealthy, inactive, unknown
	Location string `json:"location"`
	Version  int    `json:"version"` // the application version the instance runs
}

// ParseInstances reads `wrangler containers instances <id> --json`: an array, or {"instances": [...]}
// when paging flags were given, or {"error": "..."}.
func ParseInstances(out []byte) ([]Instance, error) {
	trimmed := strings.TrimSpace(string(out))
	if strings.HasPrefix(trimmed, "{") {
		var obj struct {
			Error     string     `json:"error"`
			Instances []Instance `json:"instances"`
		}
		if err := json.Unmarshal([]byte(trimmed), &obj); err != nil {
			return nil, fmt.Errorf("parsing wrangler containers instances --json output %q: %w", truncate(trimmed, 120), err)
		}
		if obj.Error != "" {
			return nil, fmt.Errorf("wrangler containers instances: %s", obj.Error)
		}
		return obj.Instances, nil
	}
	var rows []Instance
	if err := json.Unmarshal([]byte(trimmed), &rows); err != nil {
		return nil, fmt.Errorf("parsing wrangler containers instances --json output %q: %w", truncate(trimmed, 120), err)
	}
	return rows, nil
}

// Instances runs `wrangler containers instances <id> --json`.
func (r Runner) Instances(ctx context.Context, appID string) ([]Instance, error) {
	res, err := r.Run(ctx, "containers", "instances", appID, "--json")
	if err != nil {
		return nil, err
	}
	return ParseInstances(res.Stdout)
}
