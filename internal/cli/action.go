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
		Args:   cobra.NoArgs,
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

// runAction is the Action: the gate (event, permissions), the options (the inputs fill the command's
// flags through internal/action's table), the command, and the report (outputs, summary, comment).
func runAction(ctx context.Context, o *ActionOptions) error {
	env := o.f.Env
	gh := github.NewActions(env.Stdout, env.Getenv)
	// Secrets are masked before anything else is printed.
	gh.Mask(gh.Input("cloudflare-api-token"), gh.Input("api-key"), gh.Input("github-token"), env.Getenv("CLOUDFLARE_API_TOKEN"))

	trigger, err := github.ReadEvent(env.Getenv)
	if err != nil {
		return usagef("reading the workflow event: %v", err)
	}
	in, err := action.Read(gh.Input)
	if err != nil {
		return &UsageError{Err: err}
	}
	if trigger.Ignore != "" {
		fmt.Fprintf(env.Stdout, "lean4-cf: nothing to do: %s\n", trigger.Ignore)
		return nil
	}
	if trigger.Command != "" {
		in.Command = trigger.Command
	}
	if err := in.CheckCommand(); err != nil {
		return &UsageError{Err: err}
	}
	if err := validateActionInputs(env, in); err != nil {
		return err
	}
	input := func(name string) string { // a slash command's key=value overrides the input
		if v := trigger.Args[name]; v != "" {
			return v
		}
		return gh.Input(name)
	}
	worker := input("worker-name")
	if worker == "" {
		worker = wrangler.DefaultWorkerName
	}

	var client *github.Client
	if token, repo := in.GitHubToken, env.Getenv("GITHUB_REPOSITORY"); token != "" && repo != "" {
		if client, err = github.NewClient(github.ClientOptions{Repository: repo, Token: token, APIURL: env.Getenv("GITHUB_API_URL")}); err != nil {
			return usagef("github-token: %v", err)
		}
	}
	if trigger.Comment != nil || trigger.Refuse != "" || trigger.Event == "pull_request" {
		if client == nil {
			return usagef("github-token is empty: pull-request runs need it to check permissions and comment")
		}
		_ = client.Acknowledge(ctx, trigger)
		if err := client.Authorize(ctx, trigger, github.GateOptions{AllowForks: in.AllowForks}); err != nil {
			if ref, ok := github.IsRefusal(err); ok {
				gh.Warning("lean4-cf refused: " + ref.Error())
				if _, cerr := client.Refuse(ctx, commentOn(trigger, in.Comment), worker, ref.Error()); cerr != nil {
					gh.Warning("could not answer in the pull request: " + cerr.Error())
				}
				return nil
			}
			return err
		}
	}

	// Credentials reach lean4-cf and wrangler through the environment only.
	overlay := map[string]string{}
	for envName, v := range map[string]string{"CLOUDFLARE_API_TOKEN": in.APIToken, "CLOUDFLARE_ACCOUNT_ID": in.AccountID, "LEAN_API_KEY": in.APIKey} {
		if v != "" {
			overlay[envName] = v
		}
	}
	if t := in.GitHubToken; t != "" && env.Getenv("GITHUB_TOKEN") == "" {
		overlay["GITHUB_TOKEN"] = t
	}
	aenv := Env{Stdin: env.Stdin, Stdout: env.Stdout, Stderr: env.Stdout, Environ: env.Environ, Clock: env.Clock, Getenv: func(k string) string {
		if v, ok := overlay[k]; ok {
			return v
		}
		return env.Getenv(k)
	}}

	if in.Command != action.Deploy {
		return runActionCommand(ctx, o.f.with(aenv), gh, client, trigger, in, worker, input)
	}
	var opts *DeployOptions
	cmd := NewCmdDeploy(o.f.with(aenv), func(o *DeployOptions) error { opts = o; return nil })
	if err := action.Fill(action.Deploy, input, flagSetter{cmd.Flags(), cmd.CommandPath()}); err != nil {
		return &UsageError{Err: err}
	}
	if err := execute(ctx, cmd); err != nil { // validates the options, then hands them over
		return inputNamed(action.Deploy, err)
	}
	ports, err := opts.ports()
	if err != nil {
		return inputNamed(action.Deploy, err)
	}
	var dep *github.Deployment
	if envName := in.Environment; envName != "" && client != nil {
		if dep, err = client.StartDeployment(ctx, github.DeploymentOptions{Environment: envName, SHA: trigger.SHA, Description: "lean4-cf deploy " + worker, LogURL: github.RunURL(env.Getenv)}); err != nil {
			gh.Warning("could not create the GitHub deployment: " + err.Error())
		}
	}
	// Workflow commands are stopped while a stage runs (wrangler's and the registry's messages pass through
	// the log) and whenever anything else is printed before the pipeline returns; they are resumed only to
	// open or close a stage's group and to mask a registry password, issued mid-push.
	log := gh.NewLog()
	ports.push.secret = func(pw string) { log.Mask(pw) }
	res, runErr := deployResult(ctx, opts, ports, func(e pipeline.Event) {
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
	if res == nil { // nothing ran
		return inputNamed(action.Deploy, runErr)
	}
	res.Commit = trigger.SHA
	var se *pipeline.StageError
	if errors.As(runErr, &se) {
		msg := se.Err.Error()
		if se.Fix != "" {
			msg += " Fix: " + se.Fix
		}
		gh.Error("lean4-cf "+se.Stage+" stage failed", msg)
	}
	log.Stop()
	fmt.Fprint(env.Stdout, report.Text(res))
	log.Resume()
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
	if client != nil {
		body := report.Comment(res, github.RunURL(env.Getenv))
		if _, err := client.Conclude(ctx, commentOn(trigger, in.Comment), worker, body, runErr == nil); err != nil {
			gh.Warning("could not update the pull-request comment: " + err.Error())
		}
		if in.Comment == action.CommentAlways && trigger.PR == 0 && trigger.SHA != "" {
			prs, err := client.OpenPullsWithCommit(ctx, trigger.SHA)
			if err != nil {
				gh.Warning("could not find the pull requests to comment on: " + err.Error())
			}
			for _, pr := range prs {
				if _, err := client.UpsertComment(ctx, pr, report.Marker(worker), body); err != nil {
					gh.Warning(fmt.Sprintf("could not update the comment on pull request #%d: %s", pr, err))
				}
			}
		}
	}
	if runErr != nil {
		return &ExitError{Code: ExitFailure, Err: runErr}
	}
	return nil
}

// runActionCommand runs status, rollback or preflight for the Action: they report on the log, their
// outcome becomes the status output, and what they print the pull-request comment.
func runActionCommand(ctx context.Context, f *Factory, gh *github.Actions, client *github.Client, trigger *github.Trigger, in action.Options, worker string, input func(string) string) error {
	env := f.Env
	var printed bytes.Buffer // what the command reports, for the sticky comment
	cenv := env
	cenv.Stdout = io.MultiWriter(env.Stdout, &printed)
	var cmd *cobra.Command
	switch cf := f.with(cenv); in.Command {
	case action.Status:
		cmd = NewCmdStatus(cf, nil)
	case action.Rollback:
		cmd = NewCmdRollback(cf, nil)
	default:
		cmd = NewCmdPreflight(cf, nil)
	}
	err := action.Fill(in.Command, input, flagSetter{cmd.Flags(), cmd.CommandPath()})
	if err != nil {
		err = &UsageError{Err: err}
	} else {
		// Their output quotes wrangler and the API: no line of it may act as a workflow command.
		resume := gh.StopCommands()
		err = inputNamed(in.Command, execute(ctx, cmd))
		resume()
	}
	status := "ok"
	if err != nil {
		status = "failed"
		gh.Error(in.Command, oneLine(err.Error()))
	}
	if env.Getenv("GITHUB_OUTPUT") != "" {
		if oerr := gh.SetOutputs([]report.Output{{Name: "status", Value: status}}); oerr != nil {
			return oerr
		}
	}
	if client != nil {
		line := "/lean4 " + in.Command
		if trigger.Comment != nil {
			line = trigger.Comment.Line
		}
		body := report.CommandComment(worker, line, err == nil, printed.String(), github.RunURL(env.Getenv))
		if _, cerr := client.Conclude(ctx, commentOn(trigger, in.Comment), worker, body, err == nil); cerr != nil {
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
