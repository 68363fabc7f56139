package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/org/lean4-cf-action/internal/github"
	"github.com/org/lean4-cf-action/internal/pipeline"
	"github.com/org/lean4-cf-action/internal/report"
	"github.com/org/lean4-cf-action/internal/wrangler"
)

// input reads an Action input as the runner passes it: INPUT_<NAME upper-cased>, hyphens kept.
func input(env Env, name string) string {
	return strings.TrimSpace(env.Getenv("INPUT_" + strings.ToUpper(strings.ReplaceAll(name, " ", "_"))))
}

// inputFlags maps Action inputs to deploy's flags (resolve is handled apart: one rule a line).
func inputFlags() [][2]string {
	return [][2]string{
		{"image", "--image"}, {"worker-name", "--name"}, {"instance-type", "--instance-type"}, {"max-instances", "--max-instances"},
		{"instances", "--instances"}, {"sleep-after", "--sleep-after"}, {"stage", "--stage"}, {"wrangler-config", "--config"},
		{"url", "--url"}, {"wrangler", "--wrangler"}, {"timeout", "--timeout"},
	}
}

func newActionCmd(env Env) *cobra.Command {
	return &cobra.Command{
		Use:    "action",
		Short:  "Run as the GitHub Action: read INPUT_* and the event, report to the job summary, outputs and PR",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			err := runAction(cmd.Context(), env)
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
			gh := github.NewActions(env.Stderr, env.Getenv)
			if resume, serr := gh.StopCommands(); serr == nil {
				fmt.Fprintf(env.Stderr, "lean4-cf: %s\n", msg)
				resume()
			}
			return &ExitError{Code: code, Err: fmt.Errorf("the action failed (exit %d); the error is on the line above", code)}
		},
	}
}

// Values of the comment input (see commentMode).
const (
	commentAuto   = "auto"   // runs about a pull request (pull_request events and /lean4 commands) comment on it
	commentAlways = "always" // as auto, and push and workflow_dispatch runs comment on the open pull requests whose head is their commit
	commentNever  = "never"  // no comment at all; a refused command still gets its reaction and a warning in the log
)

// commentMode reads and checks the comment input; empty means auto.
func commentMode(env Env) (string, error) {
	switch m := strings.ToLower(input(env, "comment")); m {
	case "":
		return commentAuto, nil
	case commentAuto, commentAlways, commentNever:
		return m, nil
	default:
		return "", usagef("input comment %q is not a mode: use auto (pull-request runs), always (also pushes to a pull request's head) or never", m)
	}
}

// boolInput reads a true/false input; empty is false.
func boolInput(env Env, name string) (bool, error) {
	switch v := strings.ToLower(input(env, name)); v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, usagef("input %s %q is not true or false: use true or false", name, v)
	}
}

func runAction(ctx context.Context, env Env) error {
	gh := github.NewActions(env.Stdout, env.Getenv)
	// Secrets are masked before anything else is printed.
	gh.Mask(input(env, "cloudflare-api-token"), input(env, "api-key"), input(env, "github-token"), env.Getenv("CLOUDFLARE_API_TOKEN"))

	trigger, err := github.ReadEvent(env.Getenv)
	if err != nil {
		return usagef("reading the workflow event: %v", err)
	}
	mode, err := commentMode(env)
	if err != nil {
		return err
	}
	allowForks, err := boolInput(env, "allow-forks")
	if err != nil {
		return err
	}
	if trigger.Ignore != "" {
		fmt.Fprintf(env.Stdout, "lean4-cf: nothing to do: %s\n", trigger.Ignore)
		return nil
	}
	command := trigger.Command
	if command == "" {
		command = input(env, "command")
	}
	if command == "" {
		command = "deploy"
	}
	if err := validateActionInputs(env, command); err != nil {
		return err
	}
	vals := map[string]string{}
	for _, in := range append(inputFlags(), [2]string{"resolve"}) {
		vals[in[0]] = input(env, in[0])
	}
	for k, v := range trigger.Args { // a slash command's key=value overrides
		vals[k] = v
	}
	worker := vals["worker-name"]
	if worker == "" {
		worker = wrangler.DefaultWorkerName
	}

	var client *github.Client
	if token, repo := input(env, "github-token"), env.Getenv("GITHUB_REPOSITORY"); token != "" && repo != "" {
		if client, err = github.NewClient(github.ClientOptions{Repository: repo, Token: token, APIURL: env.Getenv("GITHUB_API_URL")}); err != nil {
			return usagef("github-token: %v", err)
		}
	}
	if trigger.Comment != nil || trigger.Refuse != "" || trigger.Event == "pull_request" {
		if client == nil {
			return usagef("github-token is empty: pull-request runs need it to check permissions and comment")
		}
		_ = client.Acknowledge(ctx, trigger)
		if err := client.Authorize(ctx, trigger, github.GateOptions{AllowForks: allowForks}); err != nil {
			if ref, ok := github.IsRefusal(err); ok {
				gh.Warning("lean4-cf refused: " + ref.Error())
				if _, cerr := client.Refuse(ctx, commentOn(trigger, mode), worker, ref.Error()); cerr != nil {
					gh.Warning("could not answer in the pull request: " + cerr.Error())
				}
				return nil
			}
			return err
		}
	}

	// Credentials reach lean4-cf and wrangler through the environment only.
	overlay := map[string]string{}
	for in, envName := range map[string]string{"cloudflare-api-token": "CLOUDFLARE_API_TOKEN", "cloudflare-account-id": "CLOUDFLARE_ACCOUNT_ID", "api-key": "LEAN_API_KEY"} {
		if v := input(env, in); v != "" {
			overlay[envName] = v
		}
	}
	if t := input(env, "github-token"); t != "" && env.Getenv("GITHUB_TOKEN") == "" {
		overlay["GITHUB_TOKEN"] = t
	}
	aenv := Env{Stdin: env.Stdin, Stdout: env.Stdout, Stderr: env.Stdout, Getenv: func(k string) string {
		if v, ok := overlay[k]; ok {
			return v
		}
		return env.Getenv(k)
	}}

	args := []string{}
	allowed := map[string][]string{
		"deploy":    {"image", "worker-name", "instance-type", "max-instances", "instances", "sleep-after", "stage", "wrangler-config", "url", "wrangler", "timeout"},
		"preflight": {"image", "instance-type"},
		"status":    {"worker-name", "wrangler"},
		"rollback":  {"worker-name", "wrangler", "timeout"},
	}[command]
	if allowed == nil {
		return usagef("input command %q is not a command: use deploy, status, rollback or preflight", command)
	}
	for _, in := range inputFlags() {
		if v := vals[in[0]]; v != "" && contains(allowed, in[0]) {
			args = append(args, in[1], v)
		}
	}
	if command == "deploy" || command == "rollback" {
		for _, rule := range strings.Split(vals["resolve"], "\n") {
			if strings.TrimSpace(rule) != "" {
				args = append(args, "--resolve", strings.TrimSpace(rule))
			}
		}
	}
	if command != "deploy" {
		// The other commands report on the log; their status becomes the status output.
		var printed bytes.Buffer // what the command reports, for the sticky comment
		cenv := aenv
		cenv.Stdout = io.MultiWriter(env.Stdout, &printed)
		root := newRootCmd(cenv)
		root.SetArgs(append([]string{command}, args...))
		var out bytes.Buffer
		root.SetOut(&out)
		// Their output quotes wrangler and the API: no line of it may act as a workflow command.
		resume, err := gh.StopCommands()
		if err != nil {
			return err
		}
		err = root.ExecuteContext(ctx)
		resume()
		status := "ok"
		if err != nil {
			status = "failed"
			gh.Error(command, inputError(oneLine(err.Error())))
		}
		if env.Getenv("GITHUB_OUTPUT") != "" {
			if oerr := gh.SetOutputs([]report.Output{{Name: "status", Value: status}}); oerr != nil {
				return oerr
			}
		}
		if client != nil {
			line := "/lean4 " + command
			if trigger.Comment != nil {
				line = trigger.Comment.Line
			}
			body := report.CommandComment(worker, line, err == nil, printed.String(), github.RunURL(env.Getenv))
			if _, cerr := client.Conclude(ctx, commentOn(trigger, mode), worker, body, err == nil); cerr != nil {
				gh.Warning("could not update the pull-request comment: " + cerr.Error())
			}
		}
		if err != nil {
			return &ExitError{Code: exitCode(err), Err: errors.New(inputError(oneLine(err.Error())))}
		}
		return nil
	}

	o := &deployOptions{}
	fs := pflag.NewFlagSet("deploy", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o.addFlags(fs)
	if err := fs.Parse(args); err != nil {
		return usagef("%s", inputError(describeFlagError(fs, "lean4-cf deploy", err).Error()))
	}
	if err := o.validate(); err != nil {
		return &UsageError{Err: errors.New(inputError(err.Error()))}
	}
	ports, err := imagePortsFor(aenv, o)
	if err != nil {
		return err
	}
	var dep *github.Deployment
	if envName := input(env, "environment"); envName != "" && client != nil {
		if dep, err = client.StartDeployment(ctx, github.DeploymentOptions{Environment: envName, SHA: trigger.SHA, Description: "lean4-cf deploy " + worker, LogURL: github.RunURL(env.Getenv)}); err != nil {
			gh.Warning("could not create the GitHub deployment: " + err.Error())
		}
	}
	// Workflow commands are stopped while a stage runs (wrangler's and the registry's messages pass through
	// the log) and whenever anything else is printed before the pipeline returns; lean4-cf resumes them
	// only to open or close a stage's group and to mask a registry password.
	var resume func()
	var stopErr error // only a failing random source
	stopCommands := func() {
		if resume == nil && stopErr == nil {
			resume, stopErr = gh.StopCommands()
		}
	}
	resumeCommands := func() {
		if resume != nil {
			resume()
			resume = nil
		}
	}
	// The registry password is issued mid-push, with commands stopped: it is masked in a short resume.
	var maskMu sync.Mutex // guards resume between the push's goroutines and the pipeline's events
	ports.push.secret = func(pw string) {
		maskMu.Lock()
		defer maskMu.Unlock()
		stopped := resume != nil
		resumeCommands()
		gh.Mask(pw)
		if stopped {
			stopCommands()
		}
	}
	open := false
	res, runErr := deployResult(ctx, aenv, o, ports, func(e pipeline.Event) {
		maskMu.Lock() // the push may renew its password while the pipeline reports
		defer maskMu.Unlock()
		switch e.Kind {
		case "start":
			resumeCommands()
			gh.Group("lean4-cf: " + e.Stage)
			open = true
			stopCommands()
		case "done", "failed":
			resumeCommands()
			if open {
				gh.EndGroup()
				open = false
			}
		default: // a progress line outside a stage's group
			stopCommands()
		}
	})
	resumeCommands()
	if open {
		gh.EndGroup()
	}
	if stopErr != nil {
		return stopErr
	}
	if res == nil {
		var ue *UsageError
		if errors.As(runErr, &ue) { // nothing ran: name the input, not the flag
			return &UsageError{Err: errors.New(inputError(runErr.Error()))}
		}
		return runErr
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
	stopCommands()
	fmt.Fprint(env.Stdout, report.Text(res))
	resumeCommands()
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
		if _, err := client.Conclude(ctx, commentOn(trigger, mode), worker, body, runErr == nil); err != nil {
			gh.Warning("could not update the pull-request comment: " + err.Error())
		}
		if mode == commentAlways && trigger.PR == 0 && trigger.SHA != "" {
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

// commentOn is the trigger as Conclude and Refuse should answer it: with comment never, no pull request to
// comment on (a command's reactions stay).
func commentOn(t *github.Trigger, mode string) *github.Trigger {
	if mode != commentNever {
		return t
	}
	c := *t
	c.PR = 0
	return &c
}

// inputError names the Action input instead of the flag in a usage message.
func inputError(msg string) string {
	for _, in := range append(inputFlags(), [2]string{"resolve", "--resolve"}) {
		msg = strings.ReplaceAll(msg, in[1]+" ", "input "+in[0]+" ")
		msg = strings.ReplaceAll(msg, in[1]+":", "input "+in[0]+":")
		msg = strings.ReplaceAll(msg, "("+in[1]+")", "(input "+in[0]+")")
	}
	return msg
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
