package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// validateDeploy parses deploy's flags from args and validates them, as deploy does before any write.
func validateDeploy(t *testing.T, args ...string) (DeployOptions, error) {
	t.Helper()
	var o DeployOptions
	fs := pflag.NewFlagSet("deploy", pflag.ContinueOnError)
	o.addFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return o, o.validate()
}

func TestDeployOptionsValidate(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg := write("wrangler.jsonc", `{ "containers": [{ "class_name": "LeanContainer", "image": "./Dockerfile" }] } // mine
`)
	tests := []struct {
		args []string
		want string // "" = valid; else a substring of the one-line usage error
	}{
		{nil, ""},
		{[]string{"--stage", "promote", "--name", "lean-1", "--max-instances", "3", "--instances", "3", "--sleep-after", "90s", "--timeout", "1h",
			"--url", "https://lean.example.com", "--resolve", "lean-1.acct.workers.dev:443:127.0.0.1:8443", "--config", cfg}, ""},
		{[]string{"--stage", "deploy"}, `--stage "deploy" is not a stage`},
		{[]string{"--image", " "}, "--image is empty"},
		{[]string{"--name", "Lean"}, `--name "Lean" is not a Worker name`},
		{[]string{"--name", "-lean"}, "is not a Worker name"},
		{[]string{"--name", strings.Repeat("a", 58), "--timeout", "1h"}, ""},
		{[]string{"--name", strings.Repeat("a", 59)}, "is not a Worker name: use 1 to 58 lowercase letters, digits and dashes, not starting or ending with a dash (deploy also creates <name>-stub"},
		{[]string{"--max-instances", "0"}, "--max-instances 0 is out of range"},
		{[]string{"--instances", "6"}, "--instances 6 is out of range: use 1 to max instances (5)"},
		{[]string{"--instances", "0"}, "--instances 0 is out of range"},
		{[]string{"--sleep-after", "2 minutes"}, `--sleep-after "2 minutes" is not an idle time`},
		{[]string{"--sleep-after", "0m"}, "is not an idle time"},
		{[]string{"--sleep-after", "1.5m"}, "is not an idle time"},
		{[]string{"--sleep-after", "99999999999h"}, `--sleep-after "99999999999h" is not an idle time: use a whole number of s, m or h (a bare number is seconds) from 1s to 8760h`},
		{[]string{"--timeout", "1s"}, "--timeout 1s is out of range"},
		{[]string{"--url", "lean.example.com"}, "is not an http(s) URL"},
		{[]string{"--url", "https://lean.example.com/some/path"}, `--url "https://lean.example.com/some/path" has a path or query: give the custom domain's origin only, like https://lean.example.com`},
		{[]string{"--url", "https://lean.example.com/?x=1"}, "has a path or query"},
		{[]string{"--url", "http://lean.example.com"}, `--url "http://lean.example.com" is plain http: custom domains serve HTTPS, so use https://lean.example.com`},
		{[]string{"--url", "https://lean.example.com/", "--timeout", "1h"}, ""},
		{[]string{"--resolve", "lean.example.com:443:localhost"}, `ADDR "localhost" is not an IP address`},
		{[]string{"--url", "https://user:pw@lean.example.com"}, "is not an http(s) URL"},
		{[]string{"--config", filepath.Join(t.TempDir(), "nope.jsonc")}, "--config"},
		{[]string{"--resolve", "host:443"}, "--resolve: resolve rule \"host:443\": missing ADDR"},
		{[]string{"--image", "Not A/Ref"}, `--image: image "Not A/Ref" is not a reference`},
		{[]string{"--instance-type", "huge"}, `--instance-type: unknown instance type "huge"`},
		// the user's wrangler.jsonc is patched as promote will, before anything is contacted
		{[]string{"--config", write("syntax.jsonc", `{ "name": "x" "main": "y" }`)}, "--config " + filepath.Join(dir, "syntax.jsonc") + " is not JSONC"},
		{[]string{"--config", write("none.jsonc", `{}`)}, "--config " + filepath.Join(dir, "none.jsonc") + " has no containers"},
		{[]string{"--config", write("other.jsonc", `{ "containers": [{ "class_name": "Mine" }] }`)}, `containers name class "Mine"`},
		{[]string{"--config", write("type.jsonc", `{ "containers": { "class_name": "LeanContainer" } }`)}, `"containers" is an object where wrangler expects an array`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			o, err := validateDeploy(t, tt.args...)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("validate: %v", err)
				}
				if o.timeout != time.Hour && len(tt.args) > 0 {
					t.Fatalf("timeout = %s", o.timeout)
				}
				return
			}
			var ue *UsageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("validate = %v, want a one-line usage error containing %q", err, tt.want)
			}
		})
	}
}

// One input, one meaning: render and deploy (and so the Action, whose sleep-after input is deploy's flag)
// accept and refuse the same sleep-after values.
func TestSleepAfterOneMeaning(t *testing.T) {
	for _, tt := range []struct {
		value string
		ok    bool
	}{
		{"120", true}, {"2m", true}, {"30s", true}, {"1h", true}, {"8760h", true},
		{"0", false}, {"0s", false}, {"2d", false}, {"1.5m", false}, {"8761h", false}, {"99999999999h", false}, {"2 m", false},
	} {
		t.Run(tt.value, func(t *testing.T) {
			code, _, stderr := run(t, "render", "--mode", "stub", "--out", filepath.Join(t.TempDir(), "out"), "--sleep-after", tt.value)
			if renderOK := code == ExitOK; renderOK != tt.ok {
				t.Errorf("render --sleep-after %q: exit %d (%s), want accepted=%v", tt.value, code, strings.TrimSpace(stderr), tt.ok)
			} else if !tt.ok && !strings.Contains(stderr, `--sleep-after "`+tt.value+`" is not an idle time`) {
				t.Errorf("render's error %q does not name --sleep-after", stderr)
			}
			_, err := validateDeploy(t, "--sleep-after", tt.value)
			if (err == nil) != tt.ok {
				t.Errorf("deploy --sleep-after %q: %v, want accepted=%v", tt.value, err, tt.ok)
			} else if err != nil && !strings.Contains(err.Error(), `--sleep-after "`+tt.value+`" is not an idle time`) {
				t.Errorf("deploy's error %q does not name --sleep-after", err)
			}
		})
	}
}

// One input, one meaning: the inputs render and deploy share go through one check each, so a value is
// accepted or refused by both, with the same message. The Worker name is the one difference, by design:
// deploy's name leaves room for the <name>-stub Worker it also creates.
func TestSharedInputsOneMeaning(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	for _, tt := range []struct {
		args               []string
		renderOK, deployOK bool
		want               string // when set, the error both print
	}{
		{args: []string{"--max-instances", "1000"}, renderOK: true, deployOK: true},
		{args: []string{"--max-instances", "1001", "--instances", "1"}, want: "--max-instances 1001 is out of range: use 1 to 1000"},
		{args: []string{"--max-instances=-3", "--instances", "1"}, want: "--max-instances -3 is out of range: use 1 to 1000"},
		{args: []string{"--instances", "5"}, renderOK: true, deployOK: true},
		{args: []string{"--instances", "6"}, want: "--instances 6 is out of range: use 1 to max instances (5); requests would wait for instances that cannot start, so lower instances or raise max instances"},
		{args: []string{"--instances", "1001", "--max-instances", "1000"}, want: "--instances 1001 is out of range: use 1 to 1000"},
		{args: []string{"--instance-type", "standard-2"}, renderOK: true, deployOK: true},
		{args: []string{"--instance-type", "dev"}, renderOK: true, deployOK: true}, // a deprecated alias: its type, with a warning
		{args: []string{"--instance-type", "custom:vcpu=1,memory=3GiB,disk=4GB"}, renderOK: true, deployOK: true},
		{args: []string{"--instance-type", "custom:vcpu=1,memory=2GiB,disk=8GB"}},
		{args: []string{"--instance-type", "huge"}},
		{args: []string{"--name", long(58)}, renderOK: true, deployOK: true},
		{args: []string{"--name", "Lean"}},
		{args: []string{"--name", long(59)}, renderOK: true},
		{args: []string{"--name", long(63)}, renderOK: true},
		{args: []string{"--name", long(64)}},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, stderr := run(t, append([]string{"render", "--mode", "container", "--image", renderImage, "--out", filepath.Join(t.TempDir(), "out")}, tt.args...)...)
			renderErr := strings.TrimSpace(strings.TrimPrefix(stderr, "lean4-cf: "))
			if (code == ExitOK) != tt.renderOK {
				t.Errorf("render %v: exit %d (%s), want accepted=%v", tt.args, code, renderErr, tt.renderOK)
			}
			_, err := validateDeploy(t, tt.args...)
			if (err == nil) != tt.deployOK {
				t.Errorf("deploy %v: %v, want accepted=%v", tt.args, err, tt.deployOK)
			}
			if tt.want != "" {
				if w := tt.want; renderErr != w || err == nil || err.Error() != w {
					t.Errorf("render says %q, deploy says %v; want both %q", renderErr, err, w)
				}
			}
		})
	}
}
