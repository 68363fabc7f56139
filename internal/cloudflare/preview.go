package cloudflare

import (
	"context"
	"fmt"
	"time"

	cf "github.com/cloudflare/cloudflare-go/v6"
	"github.com/cloudflare/cloudflare-go/v6/workers"
)

// Previews need the account-wide lists (which Workers and applications exist, and which images the
// applications run) and the delete of a container application, which wrangler makes for
// `wrangler containers delete`.

// WorkerSummary is one Worker of the account.
type WorkerSummary struct {
	Name      string
	CreatedOn time.Time
}

// Workers lists the account's Workers.
func (c *Client) Workers(ctx context.Context) ([]WorkerSummary, error) {
	page, err := c.api.Workers.Scripts.List(ctx, workers.ScriptListParams{AccountID: cf.F(c.account)})
	if err != nil {
		return nil, fmt.Errorf("listing Workers: %w", c.explainDenied(err))
	}
	out := make([]WorkerSummary, 0, len(page.Result))
	for _, s := range page.Result {
		out = append(out, WorkerSummary{Name: s.ID, CreatedOn: s.CreatedOn})
	}
	return out, nil
}

// Applications lists the account's container applications (every page), with their states and images.
func (c *Client) Applications(ctx context.Context) ([]Application, error) {
	var out []Application
	err := pages(ctx, c, fmt.Sprintf("accounts/%s/containers/dash/applications", c.account), func(apps []dashApplication) bool {
		for _, a := range apps {
			app := a.Application
			app.State = a.Health.Instances.State()
			out = append(out, app)
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("listing container applications: %w", c.explainDenied(err))
	}
	return out, nil
}

// DeleteApplication deletes a container application and its instances. An application that is already
// gone is not an error.
func (c *Client) DeleteApplication(ctx context.Context, id string) error {
	err := c.api.Delete(ctx, fmt.Sprintf("accounts/%s/containers/applications/%s", c.account, id), nil, nil)
	if err != nil && !IsNotFound(err) {
		return fmt.Errorf("deleting container application %s: %w", id, Explain(err))
	}
	return nil
}
