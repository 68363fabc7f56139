package cli

import (
	"io"

	"bytes"
	"context"
	"github.com/org/lean4-cf-action/internal/action"
	"github.com/org/lean4-cf-action/internal/github"
	"os"
	"strings"
	"testing"
)

// TestFlagErrors: pflag's and cobra's own errors name the flag first and say what to give.
func TestFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"deploy", "--max-instances", "abc"}, `lean4-cf: --max-instances "abc" is not a whole number: use one like 5` + "\n"},
		{[]string{"deploy", "--max-instances", "99999999999999999999"}, `lean4-cf: --max-instances "99999999999999999999" is too large: use a small whole number, like 5` + "\n"},
		{[]string{"deploy", "--timeout", "5"}, `lean4-cf: --timeout "5" is not a duration: use a number with a unit (s, m or h), like 15m` + "\n"},
		{[]string{"rollback", "--timeout", "soon"}, `lean4-cf: --timeout "soon" is not a duration: use a number with a unit (s, m or h), like 5m` + "\n"},
		{[]string{"status", "--json=maybe"}, `lean4-cf: --json "maybe" is not true or false: use --json or --json=false` + "\n"},
		{[]string{"deploy", "--force"}, "lean4-cf: unknown flag: --force: run lean4-cf deploy --help for the flags\n"},
		{[]string{"deploy", "--image"}, "lean4-cf: flag needs an argument: --image: give it a value (run lean4-cf deploy --help for the flags)\n"},
		{[]string{"deploy", "now"}, `lean4-cf: deploy takes no arguments, got "now": pass options as flags (run lean4-cf deploy --help)` + "\n"},
		{[]string{"deploi"}, `lean4-cf: unknown command "deploi": run lean4-cf --help for the commands (Did you mean this? deploy)` + "\n"},
		{[]string{"deploy", "--name", strings.Repeat("x", 5000)}, `lean4-cf: --name "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…(5002 characters)…xxxxxxx" is not a Worker name`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(context.Background(), tt.args, Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }})
			if code != ExitUsage {
				t.Errorf("exit %d, want %d", code, ExitUsage)
			}
			if !strings.HasPrefix(stderr.String(), tt.want) || strings.Count(stderr.String(), "\n") != 1 {
				t.Errorf("stderr %q\nwant one line starting %q", stderr.String(), tt.want)
			}
		})
	}
}

// TestValidateActionInputs: the Action inputs that are not deploy flags are checked before anything runs.
func TestValidateActionInputs(t *testing.T) {
	good := map[string]string{
		"INPUT_CLOUDFLARE-API-TOKEN": "s3cr3t", "INPUT_CLOUDFLARE-ACCOUNT-ID": "0123456789abcdef0123456789abcdef",
		"INPUT_COMMENT": "auto", "INPUT_ALLOW-FORKS": "false", "INPUT_ENVIRONMENT": "production", "INPUT_API-KEY": "k3y",
	}
	tests := []struct {
		name    string
		command string
		set     map[string]string
		want    string // "" = valid
	}{
		{"good", "deploy", nil, ""},
		{"preflight needs no credentials", "preflight", map[string]string{"INPUT_CLOUDFLARE-API-TOKEN": "", "INPUT_CLOUDFLARE-ACCOUNT-ID": ""}, ""},
		{"token from the environment", "deploy", map[string]string{"INPUT_CLOUDFLARE-API-TOKEN": "", "CLOUDFLARE_API_TOKEN": "s3cr3t"}, ""},
		{"no token", "status", map[string]string{"INPUT_CLOUDFLARE-API-TOKEN": ""}, "input cloudflare-api-token is empty"},
		{"no account", "rollback", map[string]string{"INPUT_CLOUDFLARE-ACCOUNT-ID": ""}, "input cloudflare-account-id is empty"},
		{"bad account", "deploy", map[string]string{"INPUT_CLOUDFLARE-ACCOUNT-ID": "xyz"}, `input cloudflare-account-id "xyz" is not an account id`},
		{"token with a line break", "deploy", map[string]string{"INPUT_CLOUDFLARE-API-TOKEN": "a\nb"}, "input cloudflare-api-token holds spaces"},
		{"api key with a space", "deploy", map[string]string{"INPUT_API-KEY": "a b"}, "input api-key holds spaces"},
		{"environment on two lines", "deploy", map[string]string{"INPUT_ENVIRONMENT": "a\nb"}, "input environment is not an environment name"},
		{"environment too long", "deploy", map[string]string{"INPUT_ENVIRONMENT": strings.Repeat("e", 256)}, "input environment is not an environment name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vals := map[string]string{}
			for k, v := range good {
				vals[k] = v
			}
			for k, v := range tt.set {
				vals[k] = v
			}
			env := Env{Getenv: func(k string) string { return vals[k] }}
			in, err := action.Read(github.NewActions(io.Discard, env.Getenv).Input)
			if err != nil {
				t.Fatal(err)
			}
			in.Command = tt.command
			err = validateActionInputs(env, in)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("validateActionInputs = %v, want nil", err)
				}
				return
			}
			if err == nil || exitCode(err) != ExitUsage || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("validateActionInputs = %v, want a usage error containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "k3y") {
				t.Fatalf("the error shows a secret: %v", err)
			}
		})
	}
}

// TestActionBadInputAnnotated: in Actions mode a bad input is also an error annotation, and nothing runs.
func TestActionBadInputAnnotated(t *testing.T) {
	event := t.TempDir() + "/event.json"
	if err := os.WriteFile(event, []byte(`{"after":"abc","ref":"refs/heads/main"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	vals := map[string]string{
		"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": event,
		"INPUT_CLOUDFLARE-API-TOKEN": "s3cr3t", "INPUT_CLOUDFLARE-ACCOUNT-ID": "0123456789abcdef0123456789abcdef", "INPUT_COMMENT": "sometimes",
	}
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), []string{"action"}, Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string { return vals[k] }})
	if code != ExitUsage {
		t.Errorf("exit %d, want %d", code, ExitUsage)
	}
	// stderr: the error with workflow commands stopped around it, then a pointer to it
	if want := "\nlean4-cf: input comment \"sometimes\" is not a mode: use auto"; !strings.Contains(stderr.String(), want) ||
		!strings.HasSuffix(stderr.String(), "\nlean4-cf: the action failed (exit 2); the error is on the line above\n") {
		t.Errorf("stderr %q, want the error line %q and the pointer to it", stderr.String(), want)
	}
	if want := "::error title=lean4-cf%3A bad input::input comment \"sometimes\" is not a mode"; !strings.Contains(stdout.String(), want) {
		t.Errorf("stdout %q\nwant the annotation %q", stdout.String(), want)
	}
	if strings.Contains(strings.ReplaceAll(stdout.String(), "::add-mask::s3cr3t\n", "")+stderr.String(), "s3cr3t") {
		t.Errorf("the token is printed")
	}
}

// TestEnvironmentErrors: variables that point lean4-cf elsewhere are checked before anything is contacted.
func TestEnvironmentErrors(t *testing.T) {
	base := map[string]string{"CLOUDFLARE_API_TOKEN": "s3cr3t", "CLOUDFLARE_ACCOUNT_ID": testAccount}
	tests := []struct{ key, value, want string }{
		{"CLOUDFLARE_CONTAINER_REGISTRY", "https://registry.example.com/v2", `CLOUDFLARE_CONTAINER_REGISTRY "https://registry.example.com/v2" is not a registry host: set it to a host[:port]`},
		{"CLOUDFLARE_CONTAINER_REGISTRY", "not a host", `CLOUDFLARE_CONTAINER_REGISTRY "not a host" is not a registry host`},
		{"CLOUDFLARE_API_BASE_URL", "api.cloudflare.com", `CLOUDFLARE_API_BASE_URL "api.cloudflare.com" is not an http(s) URL: unset it`},
		{"CLOUDFLARE_ACCOUNT_ID", "C0FFEE", `CLOUDFLARE_ACCOUNT_ID "C0FFEE" is not an account id: set it to the 32 hex digits`},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			vals := map[string]string{tt.key: tt.value}
			for k, v := range base {
				if _, set := vals[k]; !set {
					vals[k] = v
				}
			}
			var stdout, stderr bytes.Buffer
			code := Main(context.Background(), []string{"status"}, Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string { return vals[k] }})
			if code != ExitUsage || !strings.HasPrefix(stderr.String(), "lean4-cf: "+tt.want) || strings.Count(stderr.String(), "\n") != 1 {
				t.Errorf("exit %d, stderr %q; want exit 2 and one line starting %q", code, stderr.String(), tt.want)
			}
		})
	}
}
