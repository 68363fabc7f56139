package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/org/lean4-cf-action/internal/action"
	"github.com/org/lean4-cf-action/internal/github"
	"github.com/org/lean4-cf-action/internal/pipeline"
	"github.com/org/lean4-cf-action/internal/report"
	"github.com/org/lean4-cf-action/internal/wrangler"
)

// ActionOptions are what `lean4-cf action` reads: the inputs (INPUT_*) and the workflow event, through
// f's environment. It has no flags.
type ActionOptions struct {
	f *Factory
}

// NewCmdAction returns `lean4-cf action`, the GitHub Action's entry point; runF, when set, runs instead of
// runAction (tests).
func NewCmdAction(f *Factory, runF func(*ActionOptions) error) *cobra.Command {
	o := &ActionOptions{f: f}
	return &cobra.Command{
		Use:    "action",
		Short:  "Run as the GitHub Action: read INPUT_* and the event, report to the job summary, outputs and PR",
		Hidden: true,
		Args:   noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			env := f.Env
			err := runAction(cmd.Context(), o)
			if err == nil {
				return nil
			}
			msg := describeError(oneLine(err.Error()))
			var ue *UsageError
			if errors.As(err, &ue) { // bad input: an annotation too, so it shows on the run's page, not only in the log
				github.NewActions(env.Stdout, env.Getenv).Error("lean4-cf: bad input", msg)
			}
			// The error may quote wrangler, a registry or a comment's argument: it is printed with workflow
			// commands stopped, so nothing in it can act as one; the last line only points at it.
			code := exitCode(err)
			resume := github.NewActions(env.Stderr, env.Getenv).StopCommands()
			fmt.Fprintf(env.Stderr, "lean4-cf: %s\n", msg)
			resume()
			return &ExitError{Code: code, Err: fmt.Errorf("the action failed (exit %d); the error is on the line above", code)}
		},
	}
}

// runAction is the Action: the gate (event, inputs, permissions), the options (the inputs fill the
// command's flags through internal/action's table), the command, and the report (outputs, summary,
// comment, Deployment).
func runAction(ctx context.Context, o *ActionOptions) error {
	r, err := gate(ctx, o.f)
	if r == nil || err != nil { // nil, nil: nothing to do, or refused and answered
		return err
	}
	cf := o.f.with(r.commandEnv())
	if r.preview != nil {
		return r.runPreview(ctx, cf)
	}
	if r.in.Command != action.Deploy {
		return r.runCommand(ctx, cf)
	}
	opts, err := r.deployOptions(ctx, cf)
	if err != nil {
		return err
	}
	ports, err := opts.ports()
	if err != nil {
		return inputNamed(action.Deploy, err)
	}
	dep := r.startDeployment(ctx)
	res, runErr := r.deploy(ctx, opts, ports)
	if res == nil { // nothing ran
		return inputNamed(action.Deploy, runErr)
	}
	if err := r.report(ctx, res, runErr, dep, nil); err != nil {
		return err
	}
	if runErr != nil {
		return &ExitError{Code: ExitFailure, Err: runErr}
	}
	return nil
}

// actionRun is one run of the Action past its gate.
type actionRun struct {
	env     Env // the step's streams and environment
	gh      *github.Actions
	trigger *github.Trigger
	in      action.Options
	worker  string                  // the Worker the run is about, for comments
	client  *github.Client          // nil without a github-token or a repository
	preview *github.PreviewDecision // what a run with command preview does; nil for the other commands
}

// gate reads the event and the inputs the Action reads itself, checks them, and authorizes a run about a
// pull request. A nil run means there is nothing to do (an ignored event, a refused command).
func gate(ctx context.Context, f *Factory) (*actionRun, error) {
	env := f.Env
	gh := github.NewActions(env.Stdout, env.Getenv)
	// Secrets are masked before anything else is printed.
	gh.Mask(gh.Input("cloudflare-api-token"), gh.Input("api-key"), gh.Input("github-token"), env.Getenv("CLOUDFLARE_API_TOKEN"))

	trigger, err := github.ReadEvent(env.Getenv)
	if err != nil {
		return nil, usagef("reading the workflow event: %v", err)
	}
	in, err := action.Read(gh.Input)
	if err != nil {
		return nil, &UsageError{Err: err}
	}
	// A preview run decides from the event itself: a pull request's close, which ParseEvent ignores for
	// the other commands, removes the preview. The other runs leave preview comments to it.
	var decision *github.PreviewDecision
	if in.Command == action.Preview {
		d := github.DecidePreview(trigger)
		if d.Action == github.PreviewIgnore && (trigger.Event == "schedule" || trigger.Event == "workflow_dispatch") {
			d = github.PreviewDecision{Action: previewPrune, Why: "a " + trigger.Event + " run removes the previews of closed pull requests"}
		}
		if d.Action == github.PreviewIgnore {
			fmt.Fprintf(env.Stdout, "lean4-cf: nothing to do: %s\n", d.Why)
			return nil, nil
		}
		decision = &d
	} else {
		if trigger.Ignore == "" && github.IsPreviewCommand(trigger) {
			trigger.Ignore = "the comment asks for a preview, which the workflow whose command is preview answers"
		}
		if trigger.Ignore != "" {
			fmt.Fprintf(env.Stdout, "lean4-cf: nothing to do: %s\n", trigger.Ignore)
			return nil, nil
		}
		if trigger.Command != "" {
			in.Command = trigger.Command
		}
	}
	if err := in.CheckCommand(); err != nil {
		return nil, &UsageError{Err: err}
	}
	if err := validateActionInputs(env, in); err != nil {
		return nil, err
	}
	r := &actionRun{env: env, gh: gh, trigger: trigger, in: in, worker: wrangler.DefaultWorkerName}
	if w := r.input("worker-name"); w != "" {
		r.worker = w
	}
	if token, repo := in.GitHubToken, env.Getenv("GITHUB_REPOSITORY"); token != "" && repo != "" {
		if r.client, err = github.NewClient(github.ClientOptions{Repository: repo, Token: token, APIURL: env.Getenv("GITHUB_API_URL")}); err != nil {
			return nil, usagef("github-token: %v", err)
		}
	}
	if decision == nil && trigger.Comment == nil && trigger.Refuse == "" && trigger.Event != "pull_request" {
		return r, nil
	}
	if r.client == nil {
		return nil, usagef("github-token is empty: pull-request runs need it to check permissions and comment")
	}
	if decision != nil && decision.Action == previewPrune { // about no pull request: nothing to authorize
		r.preview = decision
		return r, nil
	}
	_ = r.client.Acknowledge(ctx, trigger)
	if decision != nil {
		d, err := r.client.GatePreview(ctx, trigger, github.GateOptions{AllowForks: in.AllowForks})
		r.preview = &d
		if stop, err := r.answerRefusal(ctx, err, r.client.RefusePreview); stop {
			return nil, err
		}
		return r, nil
	}
	if stop, err := r.answerRefusal(ctx, r.client.Authorize(ctx, trigger, github.GateOptions{AllowForks: in.AllowForks}), r.client.Refuse); stop {
		return nil, err
	}
	return r, nil
}

// answerRefusal answers the gate's verdict err: a refusal is warned about and answered with refuse (the
// sticky comment); stop says the run ends here, with the error of a failed API call if that was it.
func (r *actionRun) answerRefusal(ctx context.Context, err error, refuse func(context.Context, *github.Trigger, string, string) (github.Sticky, error)) (stop bool, _ error) {
	if err == nil {
		return false, nil
	}
	ref, ok := github.IsRefusal(err)
	if !ok {
		return true, err
	}
	r.gh.Warning("lean4-cf refused: " + ref.Error())
	if _, cerr := refuse(ctx, commentOn(r.trigger, r.in.Comment), r.worker, ref.Error()); cerr != nil {
		r.gh.Warning("could not answer in the pull request: " + cerr.Error())
	}
	return true, nil
}

// input is an Action input, or a slash command's key=value override of it.
func (r *actionRun) input(name string) string {
	if v := r.trigger.Args[name]; v != "" {
		return v
	}
	return r.gh.Input(name)
}

// commandEnv is the environment the command runs in: the credentials inputs reach lean4-cf and wrangler
// through the environment only, and progress goes to the log (stdout).
func (r *actionRun) commandEnv() Env {
	env := r.env
	overlay := map[string]string{}
	for name, v := range map[string]string{"CLOUDFLARE_API_TOKEN": r.in.APIToken, "CLOUDFLARE_ACCOUNT_ID": r.in.AccountID, "LEAN_API_KEY": r.in.APIKey} {
		if v != "" {
			overlay[name] = v
		}
	}
	if t := r.in.GitHubToken; t != "" && env.Getenv("GITHUB_TOKEN") == "" {
		overlay["GITHUB_TOKEN"] = t
	}
	return Env{Stdin: env.Stdin, Stdout: env.Stdout, Stderr: env.Stdout, Environ: env.Environ, Clock: env.Clock, Getenv: func(k string) string {
		if v, ok := overlay[k]; ok {
			return v
		}
		return env.Getenv(k)
	}}
}

// deployOptions are deploy's options as the inputs set them, validated as on the command line.
func (r *actionRun) deployOptions(ctx context.Context, f *Factory) (*DeployOptions, error) {
	var opts *DeployOptions
	cmd := NewCmdDeploy(f, func(o *DeployOptions) error { opts = o; return nil })
	if err := action.Fill(action.Deploy, r.input, flagSetter{cmd.Flags(), cmd.CommandPath()}); err != nil {
		return nil, &UsageError{Err: err}
	}
	if err := execute(ctx, cmd); err != nil { // validates the options, then hands them over
		return nil, inputNamed(action.Deploy, err)
	}
	return opts, nil
}

// startDeployment records a GitHub Deployment when the environment input asks for one; nil otherwise.
func (r *actionRun) startDeployment(ctx context.Context) *github.Deployment {
	if r.in.Environment == "" || r.client == nil {
		return nil
	}
	dep, err := r.client.StartDeployment(ctx, github.DeploymentOptions{Environment: r.in.Environment, SHA: r.trigger.SHA,
		Description: "lean4-cf deploy " + r.worker, LogURL: github.RunURL(r.env.Getenv)})
	if err != nil {
		r.gh.Warning("could not create the GitHub deployment: " + err.Error())
		return nil
	}
	return dep
}

// deploy runs the pipeline with each stage in a log group. Workflow commands are stopped while a stage
// runs (wrangler's and the registry's messages pass through the log) and whenever anything else is
// printed before the pipeline returns; they are resumed only to open or close a stage's group and to
// mask a registry password, issued mid-push.
func (r *actionRun) deploy(ctx context.Context, opts *DeployOptions, ports imagePorts) (*report.Result, error) {
	log := r.gh.NewLog()
	ports.push.secret = func(pw string) { log.Mask(pw) }
	res, err := deployResult(ctx, opts, ports, func(e pipeline.Event) {
		switch e.Kind {
		case "start":
			log.Group("lean4-cf: " + e.Stage)
		case "done", "failed":
			log.EndGroup()
		default: // a progress line outside a stage's group
			log.Stop()
		}
	})
	log.EndGroup()
	if res != nil {
		res.Commit = r.trigger.SHA
	}
	return res, err
}

// report writes a deploy's result: the failed stage's annotation, the report on the log, the outputs,
// the job summary, the Deployment's status and the sticky comments. conclude, when set, writes the
// comment instead (a preview's); ok says the run succeeded.
func (r *actionRun) report(ctx context.Context, res *report.Result, runErr error, dep *github.Deployment, conclude func(ok bool) error) error {
	gh, env := r.gh, r.env
	var se *pipeline.StageError
	if errors.As(runErr, &se) {
		msg := se.Err.Error()
		if se.Fix != "" {
			msg += " Fix: " + se.Fix
		}
		gh.Error("lean4-cf "+se.Stage+" stage failed", msg)
	}
	resume := gh.StopCommands() // the report quotes wrangler's and the registry's messages
	fmt.Fprint(env.Stdout, report.Text(res))
	resume()
	if env.Getenv("GITHUB_OUTPUT") != "" {
		outs, err := report.Outputs(res)
		if err != nil {
			return err
		}
		if err := gh.SetOutputs(outs); err != nil {
			return err
		}
	}
	if env.Getenv("GITHUB_STEP_SUMMARY") != "" {
		if err := gh.AddSummary(report.Summary(res)); err != nil {
			gh.Warning(err.Error())
		}
	}
	if dep != nil {
		if err := dep.Finish(ctx, runErr == nil, res.URL, res.Outcome); err != nil {
			gh.Warning("could not update the GitHub deployment: " + err.Error())
		}
	}
	if r.client == nil {
		return nil
	}
	if conclude != nil {
		if err := conclude(runErr == nil); err != nil {
			gh.Warning("could not update the pull-request comment: " + err.Error())
		}
		return nil
	}
	body := report.Comment(res, github.RunURL(env.Getenv))
	if _, err := r.client.Conclude(ctx, commentOn(r.trigger, r.in.Comment), r.worker, body, runErr == nil); err != nil {
		gh.Warning("could not update the pull-request comment: " + err.Error())
	}
	if r.in.Comment != action.CommentAlways || r.trigger.PR != 0 || r.trigger.SHA == "" {
		return nil
	}
	prs, err := r.client.OpenPullsWithCommit(ctx, r.trigger.SHA)
	if err != nil {
		gh.Warning("could not find the pull requests to comment on: " + err.Error())
	}
	for _, pr := range prs {
		if _, err := r.client.UpsertComment(ctx, pr, report.Marker(r.worker), body); err != nil {
			gh.Warning(fmt.Sprintf("could not update the comment on pull request #%d: %s", pr, err))
		}
	}
	return nil
}

// runCommand runs status, rollback or preflight: they report on the log, their outcome becomes the
// status output, and what they print the pull-request comment.
func (r *actionRun) runCommand(ctx context.Context, f *Factory) error {
	gh, command := r.gh, r.in.Command
	var printed bytes.Buffer // what the command reports, for the sticky comment
	cenv := f.Env
	cenv.Stdout = io.MultiWriter(r.env.Stdout, &printed)
	var cmd *cobra.Command
	switch cf := f.with(cenv); command {
	case action.Status:
		cmd = NewCmdStatus(cf, nil)
	case action.Rollback:
		cmd = NewCmdRollback(cf, nil)
	default:
		cmd = NewCmdPreflight(cf, nil)
	}
	err := action.Fill(command, r.input, flagSetter{cmd.Flags(), cmd.CommandPath()})
	if err != nil {
		err = &UsageError{Err: err}
	} else {
		// Their output quotes wrangler and the API: no line of it may act as a workflow command.
		resume := gh.StopCommands()
		err = inputNamed(command, execute(ctx, cmd))
		resume()
	}
	status := "ok"
	if err != nil {
		status = "failed"
		gh.Error(command, oneLine(err.Error()))
	}
	if r.env.Getenv("GITHUB_OUTPUT") != "" {
		if oerr := gh.SetOutputs([]report.Output{{Name: "status", Value: status}}); oerr != nil {
			return oerr
		}
	}
	if r.client != nil {
		line := "/lean4 " + command
		if r.trigger.Comment != nil {
			line = r.trigger.Comment.Line
		}
		body := report.CommandComment(r.worker, line, err == nil, printed.String(), github.RunURL(r.env.Getenv))
		if _, cerr := r.client.Conclude(ctx, commentOn(r.trigger, r.in.Comment), r.worker, body, err == nil); cerr != nil {
			gh.Warning("could not update the pull-request comment: " + cerr.Error())
		}
	}
	if err != nil {
		return &ExitError{Code: exitCode(err), Err: errors.New(oneLine(err.Error()))}
	}
	return nil
}

// execute runs a command built for the Action, whose flags the inputs have set: no arguments, and
// nothing of cobra's own printed.
func execute(ctx context.Context, cmd *cobra.Command) error {
	cmd.SetArgs([]string{})
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	return cmd.ExecuteContext(ctx)
}

// inputNamed names the Action input instead of the flag in a flag error of command (*action.InputError).
func inputNamed(command string, err error) error {
	var fe *FlagError
	if !errors.As(err, &fe) {
		return err
	}
	in, ok := action.ForFlag(command, fe.Flag)
	if !ok {
		return err
	}
	named := &action.InputError{Input: in.Name, Err: fe}
	if code := exitCode(err); code != ExitUsage {
		return &ExitError{Code: code, Err: named}
	}
	return &UsageError{Err: named}
}

// commentOn is the trigger as Conclude and Refuse should answer it: with comment never, no pull request to
// comment on (a command's reactions stay).
func commentOn(t *github.Trigger, mode string) *github.Trigger {
	if mode != action.CommentNever {
		return t
	}
	c := *t
	c.PR = 0
	return &c
}
