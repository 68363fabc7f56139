package cli

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/org/lean4-cf-action/internal/action"
	"github.com/org/lean4-cf-action/internal/wrangler"
)

// This file turns bad input into one line that names the input and says what to do.

var (
	unknownCmdRE = regexp.MustCompile(`^unknown command ("(?:[^"\\]|\\.)*") for "([^"]+)"(.*)$`) // cobra's own, untyped
	longTokenRE  = regexp.MustCompile(`\S{121,}`)
)

// FlagError is bad input in one flag's value. Its message names the flag first, "--NAME" and Detail,
// so that the Action can name its input instead (action.InputError) without rewriting the text.
type FlagError struct {
	Flag   string // the flag's name without dashes, e.g. "max-instances"
	detail string // the words after the name: ` "five" is not a whole number: use one like 5` or `: why`
}

func (e *FlagError) Error() string { return "--" + e.Flag + e.detail }

// Detail is the message without the flag's name.
func (e *FlagError) Detail() string { return e.detail }

// flagErrorf returns a usage error about flag, worded to follow its name (format starts with " " or ":").
func flagErrorf(flag, format string, args ...any) error {
	return &UsageError{Err: &FlagError{Flag: flag, detail: fmt.Sprintf(format, args...)}}
}

// flagError is the root command's flag error function: pflag's parse errors, described by describeFlagError.
func flagError(cmd *cobra.Command, err error) error {
	return &UsageError{Err: describeFlagError(cmd.Flags(), cmd.CommandPath(), err)}
}

// describeFlagError words pflag's parse errors so that they name the flag first and say which value to
// give. command is e.g. "lean4-cf deploy".
func describeFlagError(fs *pflag.FlagSet, command string, err error) error {
	help := fmt.Sprintf("run %s --help for the flags", command)
	var (
		notExist *pflag.NotExistError
		syntax   *pflag.InvalidSyntaxError
		required *pflag.ValueRequiredError
		invalid  *pflag.InvalidValueError
	)
	switch {
	case errors.As(err, &notExist), errors.As(err, &syntax):
		return fmt.Errorf("%w: %s", err, help)
	case errors.As(err, &required):
		return fmt.Errorf("%w: give it a value (%s)", err, help)
	case !errors.As(err, &invalid):
		return err
	}
	f := invalid.GetFlag()
	if f == nil || fs.Lookup(f.Name) == nil {
		return err
	}
	return &FlagError{Flag: f.Name, detail: valueProblem(f, invalid.GetValue(), invalid.Unwrap(), help)}
}

// valueProblem says why value does not parse as flag f's type and gives a value that does.
func valueProblem(f *pflag.Flag, value string, cause error, help string) string {
	name := f.Name
	example := f.DefValue
	switch example { // a zero default means "unset": show a value that works
	case "0":
		example = "1"
	case "0s":
		example = "2m"
	}
	if h, ok := strings.CutSuffix(example, "h0m0s"); ok { // durations print as 15m0s: show 15m
		example = h + "h"
	} else if m, ok := strings.CutSuffix(example, "m0s"); ok {
		example = m + "m"
	}
	switch f.Value.Type() {
	case "int", "int64", "int32", "uint", "uint64":
		if errors.Is(cause, strconv.ErrRange) {
			return fmt.Sprintf(" %q is too large: use a small whole number, like %s", value, example)
		}
		return fmt.Sprintf(" %q is not a whole number: use one like %s", value, example)
	case "duration":
		return fmt.Sprintf(" %q is not a duration: use a number with a unit (s, m or h), like %s", value, example)
	case "bool":
		return fmt.Sprintf(" %q is not true or false: use --%s or --%s=false", value, name, name)
	}
	return fmt.Sprintf(" %q: %v; %s", value, cause, help)
}

// flagSetter sets a command's flags by name for the Action, with errors worded as on the command line.
type flagSetter struct {
	fs      *pflag.FlagSet
	command string // e.g. "lean4-cf deploy"
}

func (s flagSetter) Set(name, value string) error {
	if err := s.fs.Set(name, value); err != nil {
		return describeFlagError(s.fs, s.command, err)
	}
	return nil
}

// noArgs is every command's argument check: they take flags only.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	path := cmd.CommandPath()
	return usagef("%s takes no arguments, got %q: pass options as flags (run %s --help)", strings.TrimPrefix(path, cmd.Root().Name()+" "), args[0], path)
}

// describeError gives cobra's unknown-command error (untyped: cobra has no error types) a fix and keeps
// huge inputs from flooding the line.
func describeError(msg string) string {
	if m := unknownCmdRE.FindStringSubmatch(msg); m != nil {
		hint := strings.TrimSpace(m[3]) // cobra's "Did you mean this? deploy"
		if hint != "" {
			hint = " (" + hint + ")"
		}
		msg = fmt.Sprintf("unknown command %s: run %s --help for the commands%s", m[1], m[2], hint)
	}
	return longTokenRE.ReplaceAllStringFunc(msg, func(s string) string {
		return s[:48] + fmt.Sprintf("…(%d characters)…", len(s)) + s[len(s)-8:]
	})
}

// placeholderImage stands in for the pushed image when a user's wrangler.jsonc is checked before the
// push: a digest-pinned reference in Cloudflare's registry, as promote will set.
func placeholderImage(name string) string {
	return "registry.cloudflare.com/" + strings.Repeat("0", 32) + "/" + name + "@sha256:" + strings.Repeat("0", 64)
}

// checkUserConfig patches the user's wrangler.jsonc as promote will, so a configuration that cannot be
// patched fails before anything is contacted, not after the stub and the push.
func (o *DeployOptions) checkUserConfig() error {
	b, err := os.ReadFile(o.config)
	if err != nil {
		return flagErrorf("config", " %q is not a readable file: give the path of your wrangler.jsonc", o.config)
	}
	_, err = wrangler.Config(wrangler.Options{
		Mode: wrangler.ModeContainer, WorkerName: o.name, Image: placeholderImage(o.name),
		MaxInstances: o.maxInstances, Instances: o.instances, SleepAfter: o.sleepAfter,
		UserConfig: b, UserConfigName: o.config,
	})
	if err != nil {
		return flagErrorf("config", " %v", err)
	}
	// The type the user's configuration names is kept: fitted and checked against the image like one
	// given with --instance-type, which overrides it.
	if o.instanceType == "auto" {
		spec, ok, err := wrangler.UserInstanceType(b, o.config)
		if err != nil {
			return flagErrorf("config", " %v", err)
		}
		if ok {
			o.instanceType = spec
		}
	}
	return nil
}

// versionIDRE is a Worker version id (a UUID).
var versionIDRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// renderFlag is the render flag that sets a wrangler field; "" for none.
func renderFlag(f wrangler.Field) string {
	switch f {
	case wrangler.FieldMode:
		return "mode"
	case wrangler.FieldWorkerName:
		return "name"
	case wrangler.FieldImage:
		return "image"
	case wrangler.FieldInstanceType:
		return "instance-type"
	case wrangler.FieldMaxInstances:
		return "max-instances"
	case wrangler.FieldInstances:
		return "instances"
	case wrangler.FieldSleepAfter:
		return "sleep-after"
	case wrangler.FieldCompatibilityDate:
		return "compatibility-date"
	case wrangler.FieldVars:
		return "var"
	case wrangler.FieldOutDir:
		return "out"
	case wrangler.FieldNodeModules:
		return "node-modules"
	}
	return ""
}

// renderInputError names the render flag in an error from wrangler.Render's input checks.
func renderInputError(err error) error {
	var fe *wrangler.FieldError
	switch {
	case !errors.As(err, &fe):
		return &UsageError{Err: err}
	case fe.Field == wrangler.FieldUserConfig: // the message starts with the file's name
		return &UsageError{Err: &FlagError{Flag: "config", detail: " " + fe.Error()}}
	case renderFlag(fe.Field) != "":
		return &UsageError{Err: &FlagError{Flag: renderFlag(fe.Field), detail: fe.Detail}}
	}
	return &UsageError{Err: err}
}

// validateActionInputs checks the Action inputs that are not a command's flags (credentials, secrets,
// environment), before anything is contacted. in.Command is the command the run will do.
func validateActionInputs(env Env, in action.Options) error {
	if in.Command == action.Deploy || in.Command == action.Status || in.Command == action.Rollback || in.Command == action.Preview {
		if in.APIToken == "" && env.Getenv("CLOUDFLARE_API_TOKEN") == "" {
			return &UsageError{Err: action.Errorf("cloudflare-api-token", " is empty: pass a token with Workers Scripts edit and Containers write from a secret, like cloudflare-api-token: ${{ secrets.CLOUDFLARE_API_TOKEN }}")}
		}
		if in.AccountID == "" && env.Getenv("CLOUDFLARE_ACCOUNT_ID") == "" {
			return &UsageError{Err: action.Errorf("cloudflare-account-id", " is empty: set it to your account id (32 hex digits, in the dashboard's Workers overview)")}
		}
		if in.AccountID != "" && !isHex32(in.AccountID) {
			return &UsageError{Err: action.Errorf("cloudflare-account-id", " %q is not an account id: set it to the 32 hex digits of your account id (the dashboard's Workers overview)", in.AccountID)}
		}
	}
	for _, secret := range [][2]string{{"cloudflare-api-token", in.APIToken}, {"api-key", in.APIKey}, {"github-token", in.GitHubToken}} {
		name, v := secret[0], secret[1]
		if strings.IndexFunc(v, unicode.IsSpace) >= 0 || strings.IndexFunc(v, unicode.IsControl) >= 0 {
			return &UsageError{Err: action.Errorf(name, " holds spaces or line breaks: pass the secret alone, like %s: ${{ secrets.NAME }}", name)}
		}
	}
	// GitHub environment names: at most 255 characters, one line.
	if v := in.Environment; len(v) > 255 || strings.IndexFunc(v, unicode.IsControl) >= 0 {
		return &UsageError{Err: action.Errorf("environment", " is not an environment name: use one line of at most 255 characters, like production")}
	}
	return nil
}
