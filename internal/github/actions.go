// Package github talks to GitHub Actions (file commands, masking, groups, annotations) and to GitHub's API
// (sticky PR comments, reactions, the permission gate, deployments).
package github

import (
	"crypto/rand"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/sethvargo/go-githubactions"

	"github.com/org/lean4-cf-action/internal/report"
)

// Actions writes workflow commands to the log and file commands to the runner's files, through
// go-githubactions; multi-line outputs get a random heredoc delimiter (see SetOutputs).
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

// Input returns an Action input as the runner passes it (INPUT_<NAME>), trimmed like @actions/core's getInput.
func (x *Actions) Input(name string) string { return x.a.GetInput(name) }

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

// libraryDelimiter is the fixed heredoc delimiter go-githubactions' SetOutput writes.
const libraryDelimiter = "_GitHubActionsFileCommandDelimeter_"

// SetOutputs appends each output to $GITHUB_OUTPUT. A one-line value goes through the library's SetOutput;
// a multi-line value (or one holding the library's fixed delimiter) gets a heredoc block with a fresh
// random delimiter, so that no value can end its block early and inject another output.
func (x *Actions) SetOutputs(outs []report.Output) error {
	if x.getenv("GITHUB_OUTPUT") == "" {
		return fmt.Errorf("writing outputs: GITHUB_OUTPUT is not set (not running as an Actions step?)")
	}
	for _, o := range outs {
		var err error
		if strings.ContainsAny(o.Value, "\r\n") || strings.Contains(o.Value, libraryDelimiter) {
			delim := delimiter(o.Value)
			err = x.fileCommand("output", func() {
				x.a.IssueFileCommand(&githubactions.Command{Name: "output", Message: o.Name + "<<" + delim + "\n" + o.Value + "\n" + delim})
			})
		} else {
			err = x.fileCommand("output", func() { x.a.SetOutput(o.Name, o.Value) })
		}
		if err != nil {
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
	if err := x.fileCommand("step-summary", func() { x.a.AddStepSummary(markdown) }); err != nil {
		return fmt.Errorf("writing the job summary: %w", err)
	}
	return nil
}

// fileCommand runs one of the library's file commands, which panic on a write failure, and returns the
// failure. name is the command, for the error.
func (x *Actions) fileCommand(name string, issue func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s file command: %v", name, r)
		}
	}()
	issue()
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
func (x *Actions) StopCommands() (resume func()) {
	token := strings.ToLower(rand.Text()) // at least 128 random bits, lower case like the runner's command names
	fmt.Fprintf(x.w, "::stop-commands::%s\n", token)
	return func() { fmt.Fprintf(x.w, "::%s::\n", token) }
}

// delimiter returns a random heredoc delimiter that does not occur in value.
func delimiter(value string) string {
	for {
		if d := "ghadelimiter_" + strings.ToLower(rand.Text()); !strings.Contains(value, d) {
			return d
		}
	}
}

// Log is a step's log while tools' output passes through it. Workflow commands stay stopped whenever
// lean4-cf does not control what is printed; Log resumes them only to issue its own (a group, a mask)
// and stops them again. Its methods may be called from several goroutines (the push masks a registry
// password while the pipeline reports its stages).
type Log struct {
	x      *Actions
	mu     sync.Mutex
	resume func() // set while commands are stopped
	group  bool   // a group is open
}

// NewLog returns the Log of the step x writes to; commands are live until Stop.
func (x *Actions) NewLog() *Log { return &Log{x: x} }

// Stop stops workflow commands; Resume resumes them. Either does nothing when already so.
func (l *Log) Stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stop()
}

// Resume resumes workflow commands.
func (l *Log) Resume() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.live()
}

func (l *Log) stop() {
	if l.resume == nil {
		l.resume = l.x.StopCommands()
	}
}

func (l *Log) live() {
	if l.resume != nil {
		l.resume()
		l.resume = nil
	}
}

// Mask masks secrets in every later line, resuming commands for the mask when they are stopped.
func (l *Log) Mask(secrets ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	stopped := l.resume != nil
	l.live()
	l.x.Mask(secrets...)
	if stopped {
		l.stop()
	}
}

// Group opens a group titled title (closing an open one) and stops commands for what the group holds.
func (l *Log) Group(title string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.live()
	if l.group {
		l.x.EndGroup()
	}
	l.x.Group(title)
	l.group = true
	l.stop()
}

// EndGroup resumes commands and closes the open group, if any.
func (l *Log) EndGroup() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.live()
	if l.group {
		l.x.EndGroup()
		l.group = false
	}
}
