package github_test

import (
	"context"
	"fmt"
	"os"

	"github.com/org/lean4-cf-action/internal/github"
	"github.com/org/lean4-cf-action/internal/report"
)

// Example shows the order the CLI calls things in on an Actions run: read the event, stop early when it is
// ignored, acknowledge a command, authorize it, answer a refusal, run, then conclude.
func Example() {
	ctx := context.Background()
	getenv := os.Getenv
	t, err := github.ReadEvent(getenv)
	if err != nil || t.Ignore != "" {
		return // an error is a usage problem; an ignored event exits 0 after logging t.Ignore
	}
	c, err := github.NewClient(github.ClientOptions{Repository: getenv("GITHUB_REPOSITORY"), Token: getenv("INPUT_GITHUB-TOKEN"), APIURL: getenv("GITHUB_API_URL")})
	if err != nil {
		return
	}
	_ = c.Acknowledge(ctx, t)
	if err := c.Authorize(ctx, t, github.GateOptions{AllowForks: getenv("INPUT_ALLOW-FORKS") == "true"}); err != nil {
		if r, ok := github.IsRefusal(err); ok {
			_, _ = c.Refuse(ctx, t, "lean", r.Reason)
		}
		return
	}
	// Run t.Command (or the CLI's own command) with t.Args over the inputs, at t.SHA; record a deployment
	// with c.StartDeployment when the environment input is set, and Finish it afterwards.
	res := &report.Result{Name: "lean", Outcome: "deployed"}
	_, _ = c.Conclude(ctx, t, res.Name, report.Comment(res, github.RunURL(getenv)), res.Outcome == "deployed")
	fmt.Println("done")
}
