package wrangler

import (
	"context"
	"strings"
)

// ApplicationName is the container application wrangler creates for a Worker's container class:
// <worker>-<class lowercased>.
func ApplicationName(worker, class string) string { return worker + "-" + strings.ToLower(class) }

// Rollback runs `wrangler rollback VERSION --name NAME -m MESSAGE -y`, repeating transient failures
// (see RunRetry): the Worker only; the container application keeps its image (deploy the previous image
// to change that).
func (r Runner) Rollback(ctx context.Context, name, version, message string) error {
	if message == "" {
		message = "lean4-cf rollback"
	}
	if len(message) > 120 {
		message = message[:120]
	}
	_, _, err := r.RunRetry(ctx, "rollback", version, "--name", name, "--message", message, "--yes")
	return err
}
