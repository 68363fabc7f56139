package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/org/lean4-cf-action/internal/action"
	"github.com/org/lean4-cf-action/internal/github"
	"github.com/org/lean4-cf-action/internal/pipeline"
	"github.com/org/lean4-cf-action/internal/preview"
	"github.com/org/lean4-cf-action/internal/report"
)

// runPreview is the Action with command preview, past its gate: `preview deploy` or `preview delete` for
// the pull request, with the preview's transient Deployment and its sticky comment.
func (r *actionRun) runPreview(ctx context.Context, f *Factory) error {
	switch r.preview.Action {
	case github.PreviewDelete:
		return r.previewDelete(ctx, f)
	case previewPrune:
		return r.previewPrune(ctx, f)
	}
	return r.previewDeploy(ctx, f)
}

// previewPrune is what a preview run does on schedule and workflow_dispatch events: remove the previews
// whose pull request is closed (what a missed or replaced close left behind).
const previewPrune github.PreviewAction = "preview-prune"

// previewInfo names the run's preview for its comments.
func (r *actionRun) previewInfo(o *PreviewDeployOptions) report.PreviewInfo {
	p := report.PreviewInfo{Production: r.worker, PR: r.preview.PR}
	if o != nil {
		p.SleepAfter, p.MaxInstances = o.deploy.sleepAfter, o.deploy.maxInstances
	}
	return p
}

func (r *actionRun) previewDeploy(ctx context.Context, f *Factory) error {
	var opts *PreviewDeployOptions
	cmd := NewCmdPreviewDeploy(f, func(o *PreviewDeployOptions) error { opts = o; return nil })
	set := flagSetter{cmd.Flags(), cmd.CommandPath()}
	if err := action.Fill(action.Preview, r.input, set); err != nil {
		return &UsageError{Err: err}
	}
	if err := cmd.Flags().Set("pr", strconv.Itoa(r.preview.PR)); err != nil {
		return err
	}
	if err := execute(ctx, cmd); err != nil { // validates the options, then hands them over
		return inputNamed(action.Preview, err)
	}
	log := r.gh.NewLog()
	opts.mask = func(pw string) { log.Mask(pw) }
	runURL := github.RunURL(r.env.Getenv)
	// The Deployment starts once the preview holds its place under the cap: a preview refused by the cap
	// records none.
	var dep *github.Deployment
	var depErr error
	start := func() {
		if r.client == nil {
			return
		}
		dep, depErr = r.client.StartPreviewDeployment(ctx, github.PreviewDeploymentOptions{PR: r.preview.PR, SHA: r.preview.SHA,
			Description: "lean4-cf preview of #" + strconv.Itoa(r.preview.PR), LogURL: runURL})
		if depErr != nil {
			dep = nil
		}
	}
	d, runErr := opts.run(ctx, func(e pipeline.Event) {
		switch e.Kind {
		case "start":
			log.Group("lean4-cf: " + e.Stage)
		case "done", "failed":
			log.EndGroup()
		default:
			log.Stop()
		}
	}, start)
	log.EndGroup()
	if depErr != nil { // warned once the log is out of the stage's group, where workflow commands act
		r.gh.Warning("could not create the GitHub deployment: " + depErr.Error())
	}
	info := r.previewInfo(opts)
	if ce := (*preview.CapError)(nil); errors.As(runErr, &ce) {
		r.gh.Error("lean4-cf preview refused", ce.Error())
		r.setOutputs([]report.Output{{Name: "status", Value: "refused"}})
		if r.client != nil {
			body := report.PreviewCapComment(info, ce.Max, ce.Previews, runURL)
			if _, err := r.client.ConcludePreview(ctx, commentOn(r.trigger, r.in.Comment), r.worker, body, github.ReactRefused); err != nil {
				r.gh.Warning("could not update the pull-request comment: " + err.Error())
			}
		}
		return &ExitError{Code: ExitFailure, Err: runErr}
	}
	if d == nil || d.Result == nil { // nothing ran
		return inputNamed(action.Preview, runErr)
	}
	res := d.Result
	res.Commit = r.preview.SHA
	if d.Removed != nil {
		fmt.Fprintf(r.env.Stdout, "lean4-cf: removed the failed preview: %s\n", d.Removed.Summary())
	}
	err := r.report(ctx, res, runErr, dep, func(ok bool) error {
		body := report.PreviewComment(info, res, runURL)
		if d.Removed != nil {
			body = report.PreviewComment(info, res, "") + "\nThe failed preview was removed: " + d.Removed.Summary() + ".\n"
			if runURL != "" {
				body += "\n[Workflow run](" + runURL + ")\n"
			}
			if n, err := r.client.DeactivatePreview(ctx, r.preview.PR, "the first preview deploy failed and was removed", runURL); err != nil {
				r.gh.Warning(fmt.Sprintf("could not mark the %d preview deployments inactive: %s", n, err))
			}
		}
		reaction := github.ReactDone
		if !ok {
			reaction = github.ReactFailed
		}
		_, err := r.client.ConcludePreview(ctx, commentOn(r.trigger, r.in.Comment), r.worker, body, reaction)
		return err
	})
	if err != nil {
		return err
	}
	if runErr != nil {
		return &ExitError{Code: ExitFailure, Err: runErr}
	}
	return nil
}

func (r *actionRun) previewDelete(ctx context.Context, f *Factory) error {
	var opts *PreviewDeleteOptions
	cmd := NewCmdPreviewDelete(f, func(o *PreviewDeleteOptions) error { opts = o; return nil })
	set := flagSetter{cmd.Flags(), cmd.CommandPath()}
	if err := set.Set("pr", strconv.Itoa(r.preview.PR)); err != nil {
		return err
	}
	if w := r.input("worker-name"); w != "" {
		if err := set.Set("name", w); err != nil {
			return inputNamed(action.Preview, err)
		}
	}
	if err := execute(ctx, cmd); err != nil {
		return inputNamed(action.Preview, err)
	}
	log := r.gh.NewLog()
	opts.mask = func(pw string) { log.Mask(pw) }
	runURL := github.RunURL(r.env.Getenv)
	fmt.Fprintf(r.env.Stdout, "lean4-cf: removing the preview of #%d: %s\n", r.preview.PR, r.preview.Why)
	log.Stop() // the teardown's log quotes the API
	td, runErr := opts.run(ctx)
	log.Resume()
	status := "deleted"
	if runErr != nil {
		status = "failed"
		r.gh.Error("lean4-cf preview delete failed", oneLine(runErr.Error()))
	} else {
		fmt.Fprintf(r.env.Stdout, "lean4-cf: %s\n", td.Summary())
	}
	r.setOutputs([]report.Output{{Name: "status", Value: status}})
	if runErr == nil && r.client != nil {
		n, err := r.client.DeactivatePreview(ctx, r.preview.PR, r.preview.Why, runURL)
		if err != nil {
			r.gh.Warning("could not mark the preview deployments inactive: " + err.Error())
		}
		body := report.PreviewDeletedComment(r.previewInfo(nil), removal(td, r.preview.Why, n), runURL)
		if r.env.Getenv("GITHUB_STEP_SUMMARY") != "" {
			if err := r.gh.AddSummary(body); err != nil {
				r.gh.Warning(err.Error())
			}
		}
		if _, err := r.client.ConcludePreview(ctx, commentOn(r.trigger, r.in.Comment), r.worker, body, github.ReactDone); err != nil {
			r.gh.Warning("could not update the pull-request comment: " + err.Error())
		}
	}
	if runErr != nil {
		if r.client != nil && r.trigger.Comment != nil {
			_ = r.client.React(ctx, r.trigger.Comment.ID, github.ReactFailed)
		}
		return &ExitError{Code: exitCode(runErr), Err: runErr}
	}
	return nil
}

// setOutputs sets step outputs when the runner reads them; a failure to write them is a warning.
func (r *actionRun) setOutputs(outs []report.Output) {
	if r.env.Getenv("GITHUB_OUTPUT") == "" {
		return
	}
	if err := r.gh.SetOutputs(outs); err != nil {
		r.gh.Warning(err.Error())
	}
}

// previewPrune removes the previews of closed pull requests (GitHub says which), marks their Deployments
// inactive and updates their comments.
func (r *actionRun) previewPrune(ctx context.Context, f *Factory) error {
	var opts *PreviewPruneOptions
	cmd := NewCmdPreviewPrune(f, func(o *PreviewPruneOptions) error { opts = o; return nil })
	if w := r.input("worker-name"); w != "" {
		if err := cmd.Flags().Set("name", w); err != nil {
			return inputNamed(action.Preview, err)
		}
	}
	if err := execute(ctx, cmd); err != nil {
		return inputNamed(action.Preview, err)
	}
	opts.closed = r.client // the closed pull requests select, not an age
	if err := opts.validate(); err != nil {
		return inputNamed(action.Preview, err)
	}
	log := r.gh.NewLog()
	opts.mask = func(pw string) { log.Mask(pw) }
	runURL := github.RunURL(r.env.Getenv)
	fmt.Fprintf(r.env.Stdout, "lean4-cf: %s\n", r.preview.Why)
	log.Stop() // the teardown's log quotes the API
	tds, runErr := opts.run(ctx)
	log.Resume()
	var lines []string
	for _, td := range tds {
		fmt.Fprintf(r.env.Stdout, "lean4-cf: %s\n", td.Summary())
		lines = append(lines, "- "+td.Summary())
		why := fmt.Sprintf("pull request #%d is closed", td.PR)
		if td.Why != preview.WhyClosed {
			why = td.Why // an orphan: whatever its pull request, its Worker is gone
		}
		n, err := r.client.DeactivatePreview(ctx, td.PR, why, runURL)
		if err != nil {
			r.gh.Warning("could not mark the preview deployments inactive: " + err.Error())
		}
		body := report.PreviewDeletedComment(report.PreviewInfo{Production: r.worker, PR: td.PR}, removal(td, why, n), runURL)
		if r.in.Comment != action.CommentNever {
			if _, err := r.client.UpsertComment(ctx, td.PR, report.PreviewMarker(r.worker), body); err != nil {
				r.gh.Warning(fmt.Sprintf("could not update the preview comment on pull request #%d: %s", td.PR, err))
			}
		}
	}
	if len(tds) == 0 && runErr == nil {
		fmt.Fprintln(r.env.Stdout, "lean4-cf: no preview to prune")
	}
	status := "pruned"
	if runErr != nil {
		status = "failed"
		r.gh.Error("lean4-cf preview prune failed", oneLine(runErr.Error()))
	}
	r.setOutputs([]report.Output{{Name: "status", Value: status}})
	if r.env.Getenv("GITHUB_STEP_SUMMARY") != "" && len(lines) > 0 {
		if err := r.gh.AddSummary("### lean4-cf: previews of closed pull requests removed\n\n" + strings.Join(lines, "\n") + "\n"); err != nil {
			r.gh.Warning(err.Error())
		}
	}
	if runErr != nil {
		return &ExitError{Code: exitCode(runErr), Err: runErr}
	}
	return nil
}

// removal is a teardown as its comment shows it.
func removal(td *preview.Teardown, why string, deployments int) report.PreviewRemoval {
	rm := report.PreviewRemoval{Worker: td.Worker, Why: why, Kept: td.Kept, Deployments: deployments}
	for _, w := range td.Workers {
		rm.Removed = append(rm.Removed, "Worker "+w)
	}
	if td.Application != "" {
		rm.Removed = append(rm.Removed, "container application "+td.Application)
	}
	for _, img := range td.Images {
		rm.Removed = append(rm.Removed, "image "+img)
	}
	return rm
}
