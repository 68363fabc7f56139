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

// Example_preview shows a preview run (command preview) in the order the Action calls things: decide and
// gate, answer a refusal, record the deployment, run the preview, then the comment and the deployment's end.
func Example_preview() {
	ctx := context.Background()
	getenv := os.Getenv
	t, err := github.ReadEvent(getenv)
	if err != nil {
		return
	}
	c, err := github.NewClient(github.ClientOptions{Repository: getenv("GITHUB_REPOSITORY"), Token: getenv("INPUT_GITHUB-TOKEN"), APIURL: getenv("GITHUB_API_URL")})
	if err != nil {
		return
	}
	if github.DecidePreview(t).Action == github.PreviewIgnore {
		return // exit 0, nothing written
	}
	_ = c.Acknowledge(ctx, t)
	d, err := c.GatePreview(ctx, t, github.GateOptions{AllowForks: getenv("INPUT_ALLOW-FORKS") == "true"})
	if r, ok := github.IsRefusal(err); ok {
		_, _ = c.RefusePreview(ctx, t, "lean", r.Reason)
		return
	} else if err != nil {
		return
	}
	info := report.PreviewInfo{Production: "lean", PR: d.PR, SleepAfter: "1m", MaxInstances: 1}
	switch d.Action {
	case github.PreviewDeploy:
		// Over the cap: c.ConcludePreview(ctx, t, "lean", report.PreviewCapComment(info, max, holders, runURL), github.ReactRefused).
		dep, err := c.StartPreviewDeployment(ctx, github.PreviewDeploymentOptions{PR: d.PR, SHA: d.SHA, LogURL: github.RunURL(getenv)})
		if err != nil {
			return
		}
		res := &report.Result{Name: "lean-pr-7", Outcome: "deployed"} // the preview pipeline's result
		_ = dep.Finish(ctx, res.Outcome == "deployed", res.URL, "preview of #7")
		_, _ = c.ConcludePreview(ctx, t, "lean", report.PreviewComment(info, res, github.RunURL(getenv)), github.ReactDone)
	case github.PreviewDelete:
		n, _ := c.DeactivatePreview(ctx, d.PR, d.Why, github.RunURL(getenv))
		removal := report.PreviewRemoval{Worker: "lean-pr-7", Why: d.Why, Deployments: n} // plus what the preview package removed
		_, _ = c.ConcludePreview(ctx, t, "lean", report.PreviewDeletedComment(info, removal, github.RunURL(getenv)), github.ReactDone)
	}
}
