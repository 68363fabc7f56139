package github

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/org/lean4-cf-action/internal/action"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		found    bool
		cmd      string
		args     map[string]string
		errHas   string // non-empty: a refusal containing this
		lineHas  string
		lineNot  string
		lineWant string
	}{
		{name: "no command", body: "LGTM, ship it"},
		{name: "prefix inside a word", body: "/lean4deploy"},
		{name: "quoted reply does not count", body: "> /lean4 deploy\nthanks"},
		{name: "mid-line does not count", body: "please run /lean4 deploy"},
		{name: "plain deploy", body: "/lean4 deploy", found: true, cmd: "deploy", lineWant: "/lean4 deploy"},
		{name: "first command line wins", body: "Looks good.\r\n  /lean4 status worker-name=lean\r\n/lean4 deploy\n", found: true, cmd: "status",
			args: map[string]string{"worker-name": "lean"}},
		{name: "deploy with every input", found: true, cmd: "deploy",
			body: "/lean4 deploy image=ghcr.io/ldct/lean4-server:v4.24.0 worker-name=lean instance-type=standard-2 max-instances=3 instances=2 sleep-after=5m stage=push timeout=10m url=https://lean.example.com/",
			args: map[string]string{"image": "ghcr.io/ldct/lean4-server:v4.24.0", "worker-name": "lean", "instance-type": "standard-2", "max-instances": "3",
				"instances": "2", "sleep-after": "5m", "stage": "push", "timeout": "10m", "url": "https://lean.example.com/"}},
		{name: "tabs between fields", body: "/lean4\tpreflight\timage=a/b@sha256:00", found: true, cmd: "preflight", args: map[string]string{"image": "a/b@sha256:00"}},
		{name: "keys are case-insensitive", body: "/lean4 rollback Worker-Name=x", found: true, cmd: "rollback", args: map[string]string{"worker-name": "x"}},
		{name: "bare prefix", body: "/lean4", found: true, errHas: "no command given"},
		{name: "unknown command", body: "/lean4 destroy", found: true, errHas: `unknown command "destroy"`},
		{name: "unknown argument", body: "/lean4 deploy colour=red", found: true, errHas: `unknown argument "colour" for ` + "`/lean4 deploy`"},
		{name: "argument not for this command", body: "/lean4 status image=x", found: true, errHas: `unknown argument "image"`},
		{name: "not key=value", body: "/lean4 deploy now", found: true, errHas: `"now" is not key=value`},
		{name: "empty value", body: "/lean4 deploy image=", found: true, errHas: `"image" has no value`},
		{name: "duplicate", body: "/lean4 deploy stage=stub stage=push", found: true, errHas: "given twice"},
		{name: "markup in a value", body: "/lean4 deploy image=<img>", found: true, errHas: "not allowed ('<')"},
		{name: "backtick in a value", body: "/lean4 deploy url=`x`", found: true, errHas: "not allowed ('`')"},
		{name: "API token refused and redacted", body: "/lean4 deploy cloudflare-api-token=sekr1t", found: true,
			errHas: `"cloudflare-api-token" is a secret`, lineWant: "/lean4 deploy cloudflare-api-token=***", lineNot: "sekr1t"},
		{name: "any token-like key refused", body: "/lean4 deploy GH_TOKEN=sekr1t", found: true, errHas: "is a secret", lineNot: "sekr1t"},
		{name: "api key redacted", body: "/lean4 deploy api-key=sekr1t", found: true, errHas: "is a secret", lineNot: "sekr1t"},
		{name: "workflow-only input", body: "/lean4 deploy environment=production", found: true, errHas: "only be set in the workflow file"},
		{name: "wrangler is workflow-only", body: "/lean4 status wrangler=/bin/sh", found: true, errHas: `"wrangler" can only be set in the workflow file, not in a comment`},
		{name: "resolve is workflow-only", body: "/lean4 rollback resolve=a:443:127.0.0.1", found: true, errHas: `"resolve" can only be set in the workflow file`},
		{name: "command is workflow-only", body: "/lean4 deploy command=status", found: true, errHas: `"command" can only be set in the workflow file`},
		{name: "github token refused", body: "/lean4 status github-token=ghp_x", found: true, errHas: `"github-token" is a secret`, lineNot: "ghp_x"},
		{name: "secret-looking non-input refused", body: "/lean4 deploy registry-password=hunter2", found: true, errHas: `"registry-password" is a secret`, lineNot: "hunter2"},
		{name: "any *key* hidden when quoted", body: "/lean4 deploy sshkey=hunter2", found: true, errHas: `unknown argument "sshkey"`, lineWant: "/lean4 deploy sshkey=***"},
		{name: "a preview flag a comment may not set", body: "/lean4 preview stage=push", found: true, errHas: `unknown argument "stage" for ` + "`/lean4 preview`"},
		{name: "url is deploy's only", body: "/lean4 status url=https://lean.example.com", found: true, errHas: `unknown argument "url" for ` + "`/lean4 status`; it takes worker-name"},
		{name: "long line clipped", body: "/lean4 deploy url=" + strings.Repeat("a", 500), found: true, lineHas: "…", cmd: "deploy",
			args: map[string]string{"url": strings.Repeat("a", 500)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd, found, err := ParseCommand(tt.body)
			if found != tt.found {
				t.Fatalf("found = %v, want %v", found, tt.found)
			}
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.errHas)
				}
			} else if err != nil {
				t.Fatalf("unexpected refusal: %v", err)
			}
			if err == nil && cmd.Name != tt.cmd {
				t.Errorf("Name = %q, want %q", cmd.Name, tt.cmd)
			}
			if err == nil && !maps.Equal(cmd.Args, tt.args) {
				t.Errorf("Args = %v, want %v", cmd.Args, tt.args)
			}
			if tt.lineWant != "" && cmd.Line != tt.lineWant {
				t.Errorf("Line = %q, want %q", cmd.Line, tt.lineWant)
			}
			if tt.lineHas != "" && !strings.Contains(cmd.Line, tt.lineHas) {
				t.Errorf("Line = %q, want it to contain %q", cmd.Line, tt.lineHas)
			}
			if tt.lineNot != "" && (strings.Contains(cmd.Line, tt.lineNot) || (err != nil && strings.Contains(err.Error(), tt.lineNot))) {
				t.Errorf("secret %q leaked: line %q, err %v", tt.lineNot, cmd.Line, err)
			}
		})
	}
}

// FuzzParseCommand checks the parser's invariants on any comment body: it never panics, a command is
// found only on a line starting with the prefix, an accepted command has a known name and only allowed,
// non-empty, safe values, the quoted line is short, valid UTF-8 when the input is, and one line.
func FuzzParseCommand(f *testing.F) {
	f.Add("/lean4 deploy image=ghcr.io/ldct/lean4-server:v4.24.0")
	f.Add("/lean4 status\n/lean4 deploy")
	f.Fuzz(func(t *testing.T, body string) {
		cmd, found, err := ParseCommand(body)
		if !found {
			if err != nil || cmd.Name != "" || cmd.Line != "" {
				t.Fatalf("not found but cmd=%+v err=%v", cmd, err)
			}
			if strings.HasPrefix(body, CommandPrefix+" ") {
				t.Fatalf("missed a command at the start of %q", body)
			}
			return
		}
		if !strings.HasPrefix(cmd.Line, CommandPrefix) || strings.ContainsAny(cmd.Line, "\r\n") {
			t.Fatalf("Line %q is not one command line", cmd.Line)
		}
		if utf8.RuneCountInString(cmd.Line) > maxLine {
			t.Fatalf("Line has %d runes", utf8.RuneCountInString(cmd.Line))
		}
		if utf8.ValidString(body) && !utf8.ValidString(cmd.Line) {
			t.Fatalf("Line %q is not valid UTF-8", cmd.Line)
		}
		if err != nil {
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("refusal spans lines: %q", err)
			}
			return
		}
		if !slices.Contains(action.Commands(), cmd.Name) && cmd.Name != CommandPreviewDelete {
			t.Fatalf("accepted unknown command %q", cmd.Name)
		}
		allowed := action.CommentInputs(cmd.Name)
		for k, v := range cmd.Args {
			if !slices.Contains(allowed, k) || v == "" {
				t.Fatalf("accepted %s=%q for %s", k, v, cmd.Name)
			}
			for _, r := range v {
				if !valueRune(r) {
					t.Fatalf("accepted value %q with %q", v, r)
				}
			}
		}
	})
}

func TestParsePreviewCommand(t *testing.T) {
	tests := []struct {
		body, name, errHas string
		args               map[string]string
	}{
		{body: "/lean4 preview", name: action.Preview},
		{body: "/lean4 preview image=ghcr.io/ldct/lean4-server:v4.25.0 instance-type=basic", name: action.Preview,
			args: map[string]string{"image": "ghcr.io/ldct/lean4-server:v4.25.0", "instance-type": "basic"}},
		{body: "/lean4 preview delete", name: CommandPreviewDelete},
		{body: "/lean4 preview delete image=x", errHas: "for `/lean4 preview delete`; it takes none"},
		{body: "/lean4 preview worker-name=x", errHas: `unknown argument "worker-name" for ` + "`/lean4 preview`"},
		{body: "/lean4 preview-delete", errHas: `unknown command "preview-delete"`},
		{body: "/lean4 preview max-previews=9", errHas: `"max-previews" can only be set in the workflow file`},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			cmd, found, err := ParseCommand(tt.body)
			if !found {
				t.Fatal("not found")
			}
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("err = %v, want %q", err, tt.errHas)
				}
				return
			}
			if err != nil || cmd.Name != tt.name || !maps.Equal(cmd.Args, tt.args) || cmd.Line != tt.body {
				t.Fatalf("got %+v, %v; want %s %v", cmd, err, tt.name, tt.args)
			}
		})
	}
}

// Each command's refusal of an unknown argument lists exactly the inputs a comment may set for it, in the
// input table's order: the slash command's rules are the table's.
func TestCommandArguments(t *testing.T) {
	for _, tt := range []struct{ command, takes string }{
		{"deploy", "it takes image, worker-name, instance-type, max-instances, instances, sleep-after, stage, url, timeout"},
		{"preflight", "it takes image, instance-type"},
		{"status", "it takes worker-name"},
		{"rollback", "it takes worker-name, timeout"},
		{"preview", "it takes image, instance-type, timeout"},
		{"preview delete", "it takes none"},
	} {
		t.Run(tt.command, func(t *testing.T) {
			_, _, err := ParseCommand("/lean4 " + tt.command + " colour=red")
			want := `unknown argument "colour" for ` + "`/lean4 " + tt.command + "`; " + tt.takes
			if err == nil || err.Error() != want {
				t.Fatalf("err = %v\nwant %s", err, want)
			}
		})
	}
	if got, want := CommandNames(), []string{"deploy", "status", "rollback", "preflight", "preview", "preview delete"}; !slices.Equal(got, want) {
		t.Errorf("CommandNames() = %v, want %v", got, want)
	}
}
