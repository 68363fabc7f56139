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

	"github.com/org/lean4-cf-action/internal/wrangler"
)

// This file turns bad input into one line that names the input and says what to do.

var (
	invalidArgRE = regexp.MustCompile(`^invalid argument ("(?:[^"\\]|\\.)*") for "(?:-., )?--([^"]+)" flag: (.*)$`)
	unknownCmdRE = regexp.MustCompile(`^unknown command ("(?:[^"\\]|\\.)*") for "([^"]+)"(.*)$`)
	longTokenRE  = regexp.MustCompile(`\S{121,}`)
)

// flagError is the root command's flag error function: pflag's parse errors, rewritten by describeFlagError.
func flagError(cmd *cobra.Command, err error) error {
	return &UsageError{Err: describeFlagError(cmd.Flags(), cmd.CommandPath(), err)}
}

// describeFlagError rewrites pflag's parse errors ("invalid argument "x" for "--n" flag: strconv...")
// so that they name the flag first and say which value to give. command is e.g. "lean4-cf deploy".
func describeFlagError(fs *pflag.FlagSet, command string, err error) error {
	msg := err.Error()
	help := fmt.Sprintf("run %s --help for the flags", command)
	switch {
	case strings.HasPrefix(msg, "unknown flag: "), strings.HasPrefix(msg, "unknown shorthand flag: "), strings.HasPrefix(msg, "bad flag syntax: "):
		return fmt.Errorf("%s: %s", msg, help)
	case strings.HasPrefix(msg, "flag needs an argument: "):
		return fmt.Errorf("%s: give it a value (%s)", msg, help)
	}
	m := invalidArgRE.FindStringSubmatch(msg)
	if m == nil {
		return err
	}
	value, uerr := strconv.Unquote(m[1])
	if uerr != nil {
		value = m[1]
	}
	name, why := m[2], m[3]
	f := fs.Lookup(name)
	if f == nil {
		return err
	}
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
		if strings.Contains(why, "out of range") {
			return fmt.Errorf("--%s %q is too large: use a small whole number, like %s", name, value, example)
		}
		return fmt.Errorf("--%s %q is not a whole number: use one like %s", name, value, example)
	case "duration":
		return fmt.Errorf("--%s %q is not a duration: use a number with a unit (s, m or h), like %s", name, value, example)
	case "bool":
		return fmt.Errorf("--%s %q is not true or false: use --%s or --%s=false", name, value, name, name)
	}
	return fmt.Errorf("--%s %q: %s; %s", name, value, why, help)
}

// describeError gives cobra's own argument errors a fix and keeps huge inputs from flooding the line.
func describeError(msg string) string {
	if m := unknownCmdRE.FindStringSubmatch(msg); m != nil {
		if strings.Contains(m[2], " ") { // a subcommand given an argument: they all take flags only
			msg = fmt.Sprintf("%s takes no arguments, got %s: pass options as flags (run %s --help)", strings.TrimPrefix(m[2], "lean4-cf "), m[1], m[2])
		} else {
			hint := strings.TrimSpace(m[3]) // cobra's "Did you mean this? deploy"
			if hint != "" {
				hint = " (" + hint + ")"
			}
			msg = fmt.Sprintf("unknown command %s: run %s --help for the commands%s", m[1], m[2], hint)
		}
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
func (o *deployOptions) checkUserConfig() error {
	b, err := os.ReadFile(o.config)
	if err != nil {
		return usagef("--config %q is not a readable file: give the path of your wrangler.jsonc", o.config)
	}
	_, err = wrangler.Config(wrangler.Options{
		Mode: wrangler.ModeContainer, WorkerName: o.name, Image: placeholderImage(o.name),
		MaxInstances: o.maxInstances, Instances: o.instances, SleepAfter: o.sleepAfter,
		UserConfig: b, UserConfigName: o.config,
	})
	if err != nil {
		return usagef("--config %v", err)
	}
	// The type the user's configuration names is kept: fitted and checked against the image like one
	// given with --instance-type, which overrides it.
	if o.instanceType == "auto" {
		spec, ok, err := wrangler.UserInstanceType(b, o.config)
		if err != nil {
			return usagef("--config %v", err)
		}
		if ok {
			o.instanceType = spec
		}
	}
	return nil
}

// versionIDRE is a Worker version id (a UUID).
var versionIDRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// renderFlags name, for the start of a wrangler option error, the render flag that set it.
var renderFlags = [][2]string{
	{"mode ", "--mode "}, {"worker name ", "--name "}, {"image ", "--image "}, {"instance type ", "--instance-type "},
	{"max instances ", "--max-instances "}, {"instances ", "--instances "}, {"sleep after ", "--sleep-after "},
	{"compatibility date ", "--compatibility-date "}, {"variable ", "--var "}, {"output directory ", "--out "},
	{"node_modules ", "--node-modules "},
}

// renderInputError names the render flag in an error from wrangler.Render's input checks.
func renderInputError(o *renderOptions, err error) error {
	msg := err.Error()
	if o.config != "" && strings.HasPrefix(msg, o.config) {
		return &UsageError{Err: fmt.Errorf("--config %w", err)}
	}
	for _, p := range renderFlags {
		if rest, ok := strings.CutPrefix(msg, p[0]); ok {
			return &UsageError{Err: errors.New(p[1] + rest)}
		}
	}
	return &UsageError{Err: err}
}

// validateActionInputs checks the Action inputs that are not deploy flags (credentials, secrets,
// environment), before anything is contacted.
// command is the command the run will do.
func validateActionInputs(env Env, command string) error {
	if command == "deploy" || command == "status" || command == "rollback" {
		if input(env, "cloudflare-api-token") == "" && env.Getenv("CLOUDFLARE_API_TOKEN") == "" {
			return usagef("input cloudflare-api-token is empty: pass a token with Workers Scripts edit and Containers write from a secret, like cloudflare-api-token: ${{ secrets.CLOUDFLARE_API_TOKEN }}")
		}
		account := input(env, "cloudflare-account-id")
		if account == "" && env.Getenv("CLOUDFLARE_ACCOUNT_ID") == "" {
			return usagef("input cloudflare-account-id is empty: set it to your account id (32 hex digits, in the dashboard's Workers overview)")
		}
		if account != "" && !isHex32(account) {
			return usagef("input cloudflare-account-id %q is not an account id: set it to the 32 hex digits of your account id (the dashboard's Workers overview)", account)
		}
	}
	for _, in := range []string{"cloudflare-api-token", "api-key", "github-token"} {
		if v := input(env, in); strings.IndexFunc(v, unicode.IsSpace) >= 0 || strings.IndexFunc(v, unicode.IsControl) >= 0 {
			return usagef("input %s holds spaces or line breaks: pass the secret alone, like %s: ${{ secrets.NAME }}", in, in)
		}
	}
	// comment and allow-forks are checked where they are read (commentMode, boolInput).
	// GitHub environment names: at most 255 characters, one line.
	if v := input(env, "environment"); len(v) > 255 || strings.IndexFunc(v, unicode.IsControl) >= 0 {
		return usagef("input environment is not an environment name: use one line of at most 255 characters, like production")
	}
	return nil
}
