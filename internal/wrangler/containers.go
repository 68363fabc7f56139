package wrangler

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
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
