// Package github talks to GitHub Actions (file commands, masking, groups, annotations) and to GitHub's API
// (sticky PR comments, reactions, the permission gate, deployments).
package github

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	"github.com/sethvargo/go-githubactions"

	"github.com/org/lean4-cf-action/internal/report"
)

// Actions writes workflow commands to the log and file commands to the runner's files.
// It wraps go-githubactions v1.0.0 and avoids its deprecated ::set-output (see SetOutputs).
type Actions struct {
	a      *githubactions.Action
	getenv func(string) string
	w      io.Writer
}

// NewActions returns an Actions writing workflow commands to w and reading the runner's environment
// (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, ...) through getenv.
func NewActions(w io.Writer, getenv func(string) string) *Actions {
	return &Actions{
		a:      githubactions.New(githubactions.WithWriter(w), githubactions.WithGetenv(githubactions.GetenvFunc(getenv))),
		getenv: getenv,
		w:      w,
	}
}

// InActions reports whether the process runs as a GitHub Actions step.
func InActions(getenv func(string) string) bool { return getenv("GITHUB_ACTIONS") == "true" }

// Mask hides each non-empty secret in every later log line. Call it before anything else is printed.
func (x *Actions) Mask(secrets ...string) {
	for _, s := range secrets {
		if strings.TrimSpace(s) == "" {
			continue
		}
		// A multi-line secret is masked line by line, as the runner matches lines.
		for _, line := range strings.Split(s, "\n") {
			if strings.TrimSpace(line) != "" {
				x.a.AddMask(line)
			}
		}
	}
}

// SetOutputs appends each output to $GITHUB_OUTPUT as a heredoc block with a fresh random delimiter, so a
// value can never end the block early and inject another output. go-githubactions v1.0.0's SetOutput prints
// the deprecated ::set-output command, so the block goes through its file-command API instead.
func (x *Actions) SetOutputs(outs []report.Output) error {
	if x.getenv("GITHUB_OUTPUT") == "" {
		return fmt.Errorf("writing outputs: GITHUB_OUTPUT is not set (not running as an Actions step?)")
	}
	for _, o := range outs {
		delim, err := delimiter(o.Value)
		if err != nil {
			return err
		}
		msg := o.Name + "<<" + delim + "\n" + o.Value + "\n" + delim
		if err := x.fileCommand("output", msg); err != nil {
			return fmt.Errorf("writing output %q: %w", o.Name, err)
		}
	}
	return nil
}

// AddSummary appends markdown to $GITHUB_STEP_SUMMARY.
func (x *Actions) AddSummary(markdown string) error {
	if x.getenv("GITHUB_STEP_SUMMARY") == "" {
		return fmt.Errorf("writing the job summary: GITHUB_STEP_SUMMARY is not set")
	}
	if err := x.fileCommand("step-summary", markdown); err != nil {
		return fmt.Errorf("writing the job summary: %w", err)
	}
	return nil
}

// fileCommand calls the library's IssueFileCommand, which panics on a write failure, and returns the failure.
func (x *Actions) fileCommand(name, msg string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	x.a.IssueFileCommand(&githubactions.Command{Name: name, Message: msg})
	return nil
}

// Group starts a collapsible log group; EndGroup ends it.
func (x *Actions) Group(title string) { x.a.Group(title) }

// EndGroup ends the current log group.
func (x *Actions) EndGroup() { x.a.EndGroup() }

// Error adds an error annotation with a title (the stage) and a message (what failed and the fix).
func (x *Actions) Error(title, msg string) {
	x.a.WithFieldsMap(map[string]string{"title": title}).Errorf("%s", msg)
}

// Warning adds a warning annotation.
func (x *Actions) Warning(msg string) { x.a.Warningf("%s", msg) }

// StopCommands makes the runner ignore workflow commands in what follows (a tool's output that lean4-cf
// does not control) until the returned function is called.
func (x *Actions) StopCommands() (resume func(), err error) {
	token, err := randomToken()
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(x.w, "::stop-commands::%s\n", token)
	return func() { fmt.Fprintf(x.w, "::%s::\n", token) }, nil
}

// delimiter returns a random heredoc delimiter that does not occur in value.
func delimiter(value string) (string, error) {
	for {
		t, err := randomToken()
		if err != nil {
			return "", err
		}
		d := "ghadelimiter_" + t
		if !strings.Contains(value, d) {
			return d, nil
		}
	}
}

func randomToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("making a random delimiter: %w", err)
	}
	return hex.EncodeToString(b), nil
}
