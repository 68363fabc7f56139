// Package action owns the GitHub Action's inputs: one table says, for every input of action.yml, the
// command flag it sets, its default, the commands that take it, and whether a pull request's `/lean4`
// comment may set it. The CLI fills a command's options from it (through the command's own flags, so an
// input parses exactly as its flag does) and words bad input through InputError, which names the input
// rather than the flag; the slash-command parser takes its argument rules from it.
package action

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// The commands the Action runs.
const (
	Deploy    = "deploy"
	Status    = "status"
	Rollback  = "rollback"
	Preflight = "preflight"
	Preview   = "preview" // one preview Worker per pull request: deployed on open and push, removed on close
)

// Commands lists the Action's commands in the order help and errors name them.
func Commands() []string { return []string{Deploy, Status, Rollback, Preflight, Preview} }

// Values of the comment input.
const (
	CommentAuto   = "auto"   // runs about a pull request (pull_request events and /lean4 commands) comment on it
	CommentAlways = "always" // as auto, and push and workflow_dispatch runs comment on the open pull requests whose head is their commit
	CommentNever  = "never"  // no comment at all; a refused command still gets its reaction and a warning in the log
)

// Setter sets one of a command's options by its flag name, parsing value as the flag does (a
// *pflag.FlagSet, or one that words its errors).
type Setter interface {
	Set(flag, value string) error
}

// Input is one input of action.yml.
type Input struct {
	Name    string // the input's name in action.yml
	Default string // action.yml's default; "" for none
	// Flag is the command flag the input sets; "" for an input the Action reads itself (Options).
	Flag string
	// Commands are the commands whose flag Flag is; the input is ignored by the others.
	Commands []string
	// Comment are the commands for which a pull request's `/lean4 COMMAND key=value` comment may set the
	// input, each one of Commands; nil: only the workflow file sets it.
	Comment []string
	// Secret says the input holds a secret: a comment, which anyone can read, naming it is refused and its
	// value never quoted back.
	Secret bool
	// apply sets the input's value: on the command's flags (set) for a flag input, on o otherwise.
	// Default for a flag input: set.Set(Flag, value).
	apply func(set Setter, o *Options, value string) error
}

// Options are the inputs the Action reads itself: which command, the credentials, and how to report.
type Options struct {
	Command     string // the command input; a /lean4 comment's command wins. Default deploy
	APIToken    string // cloudflare-api-token; becomes CLOUDFLARE_API_TOKEN
	AccountID   string // cloudflare-account-id; becomes CLOUDFLARE_ACCOUNT_ID
	APIKey      string // api-key; becomes LEAN_API_KEY
	GitHubToken string // github-token
	Comment     string // comment: CommentAuto, CommentAlways or CommentNever. Default auto
	Environment string // environment; "" records no Deployment
	AllowForks  bool   // allow-forks. Default false
}

// Inputs is the table of action.yml's inputs, in its order.
func Inputs() []Input {
	// preview deploys through deploy's pipeline: it takes deploy's inputs but its container defaults
	// (max-instances, instances, sleep-after), which keep a preview cheap.
	deployOnly := []string{Deploy}
	imageCommands := []string{Deploy, Preflight, Preview}          // image, instance-type
	accountCommands := []string{Deploy, Status, Rollback, Preview} // worker-name, wrangler
	timeoutCommands := []string{Deploy, Rollback, Preview}         // timeout, resolve

	// A comment may override what shapes one run (which image, Worker, sizes, stages, bounds); what
	// reaches into the runner or the account (credentials, wrangler, its config, resolve rules, reporting,
	// the preview cap) comes only from the workflow file, which a reviewer controls.
	// A preview takes no worker-name from a comment: its Worker is named from the production name (the
	// workflow's) and the pull request.
	nameComment := []string{Deploy, Status, Rollback}
	str := func(field func(*Options) *string) func(Setter, *Options, string) error {
		return func(_ Setter, o *Options, v string) error { *field(o) = v; return nil }
	}
	return []Input{
		{Name: "cloudflare-api-token", Secret: true, apply: str(func(o *Options) *string { return &o.APIToken })},
		{Name: "cloudflare-account-id", apply: str(func(o *Options) *string { return &o.AccountID })},
		{Name: "command", Default: Deploy, apply: applyCommand},
		{Name: "image", Default: "ghcr.io/ldct/lean4-server:v4.24.0", Flag: "image", Commands: imageCommands, Comment: imageCommands},
		{Name: "worker-name", Default: "lean4-server", Flag: "name", Commands: accountCommands, Comment: nameComment},
		{Name: "instance-type", Default: "auto", Flag: "instance-type", Commands: imageCommands, Comment: imageCommands},
		{Name: "max-instances", Default: "5", Flag: "max-instances", Commands: deployOnly, Comment: deployOnly},
		{Name: "instances", Default: "1", Flag: "instances", Commands: deployOnly, Comment: deployOnly},
		{Name: "sleep-after", Default: "2m", Flag: "sleep-after", Commands: deployOnly, Comment: deployOnly},
		{Name: "stage", Default: "all", Flag: "stage", Commands: []string{Deploy, Preview}, Comment: deployOnly},
		{Name: "wrangler-config", Flag: "config", Commands: deployOnly},
		{Name: "url", Flag: "url", Commands: deployOnly, Comment: deployOnly},
		{Name: "resolve", Flag: "resolve", Commands: timeoutCommands, apply: applyResolve},
		{Name: "wrangler", Flag: "wrangler", Commands: accountCommands},
		{Name: "api-key", Secret: true, apply: str(func(o *Options) *string { return &o.APIKey })},
		{Name: "timeout", Default: "15m", Flag: "timeout", Commands: timeoutCommands, Comment: timeoutCommands},
		{Name: "github-token", Default: "${{ github.token }}", Secret: true, apply: str(func(o *Options) *string { return &o.GitHubToken })},
		{Name: "comment", Default: CommentAuto, apply: applyComment},
		{Name: "environment", apply: str(func(o *Options) *string { return &o.Environment })},
		{Name: "allow-forks", Default: "false", apply: applyAllowForks},
		{Name: "max-previews", Default: "5", Flag: "max-previews", Commands: []string{Preview}},
	}
}

// applyResolve sets --resolve once per rule: the input takes one rule a line.
func applyResolve(set Setter, _ *Options, v string) error {
	for rule := range strings.SplitSeq(v, "\n") {
		if rule = strings.TrimSpace(rule); rule != "" {
			if err := set.Set("resolve", rule); err != nil {
				return err
			}
		}
	}
	return nil
}

// applyCommand keeps the value: it is checked (CheckCommand) only once the event is known to need a run.
func applyCommand(_ Setter, o *Options, v string) error {
	o.Command = v
	return nil
}

// CheckCommand checks the command to run.
func (o Options) CheckCommand() error {
	c := Commands()
	if slices.Contains(c, o.Command) {
		return nil
	}
	return Errorf("command", " %q is not a command: use %s or %s", o.Command, strings.Join(c[:len(c)-1], ", "), c[len(c)-1])
}

func applyComment(_ Setter, o *Options, v string) error {
	switch m := strings.ToLower(v); m {
	case CommentAuto, CommentAlways, CommentNever:
		o.Comment = m
		return nil
	default:
		return Detailf(" %q is not a mode: use auto (pull-request runs), always (also pushes to a pull request's head) or never", m)
	}
}

func applyAllowForks(_ Setter, o *Options, v string) error {
	switch b := strings.ToLower(v); b {
	case "true", "false":
		o.AllowForks = b == "true"
		return nil
	default:
		return Detailf(" %q is not true or false: use true or false", b)
	}
}

// Read returns the inputs the Action reads itself; get returns an input's value ("" when unset). The
// error names the input (*InputError).
func Read(get func(input string) string) (Options, error) {
	o := Options{Command: Deploy, Comment: CommentAuto}
	for _, in := range Inputs() {
		if in.Flag != "" || in.apply == nil {
			continue
		}
		if v := get(in.Name); v != "" {
			if err := in.apply(nil, &o, v); err != nil {
				return o, &InputError{Input: in.Name, Err: err}
			}
		}
	}
	return o, nil
}

// Fill sets command's flags from the inputs that apply to it; get returns an input's value ("" when
// unset: the flag keeps its default). The error names the input (*InputError).
func Fill(command string, get func(input string) string, set Setter) error {
	for _, in := range Inputs() {
		if in.Flag == "" || !slices.Contains(in.Commands, command) {
			continue
		}
		v := get(in.Name)
		if v == "" {
			continue
		}
		var err error
		if in.apply != nil {
			err = in.apply(set, nil, v)
		} else {
			err = set.Set(in.Flag, v)
		}
		if err != nil {
			return &InputError{Input: in.Name, Err: err}
		}
	}
	return nil
}

// Lookup returns the input named name, if there is one.
func Lookup(name string) (Input, bool) {
	for _, in := range Inputs() {
		if in.Name == name {
			return in, true
		}
	}
	return Input{}, false
}

// CommentInputs returns the inputs a `/lean4 command` comment may set, in the table's order; none for a
// command that takes no arguments or is not one.
func CommentInputs(command string) []string {
	var names []string
	for _, in := range Inputs() {
		if slices.Contains(in.Comment, command) {
			names = append(names, in.Name)
		}
	}
	return names
}

// ForFlag returns the input that sets command's flag, if any.
func ForFlag(command, flag string) (Input, bool) {
	for _, in := range Inputs() {
		if in.Flag == flag && slices.Contains(in.Commands, command) {
			return in, true
		}
	}
	return Input{}, false
}

// InputError is bad input in one Action input. Its message names the input first: `input NAME` and
// then Err's detail when Err has one (a flag error's words after the flag's name), else ": " and Err.
type InputError struct {
	Input string
	Err   error
}

func (e *InputError) Error() string {
	var d detailer
	if errors.As(e.Err, &d) {
		return "input " + e.Input + d.Detail()
	}
	return "input " + e.Input + ": " + e.Err.Error()
}

func (e *InputError) Unwrap() error { return e.Err }

// detailer is an error whose message is worded to follow the name of what was wrong.
type detailer interface{ Detail() string }

// Detailf returns an error worded to follow an input's name, like ` "x" is not a mode: use ...`.
func Detailf(format string, args ...any) error { return detail(fmt.Sprintf(format, args...)) }

// Errorf returns the InputError for input with a detail worded to follow its name.
func Errorf(input, format string, args ...any) error {
	return &InputError{Input: input, Err: Detailf(format, args...)}
}

type detail string

func (d detail) Error() string  { return strings.TrimSpace(strings.TrimPrefix(string(d), ":")) }
func (d detail) Detail() string { return string(d) }
