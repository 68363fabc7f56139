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
		{[]string{"--name", strings.Repeat("a", 59)}, "is not a Worker name: use 1-58"},
		{[]string{"--max-instances", "0"}, "--max-instances 0 is out of range"},
		{[]string{"--instances", "6"}, "--instances 6 is out of range: use 1 to --max-instances (5)"},
		{[]string{"--instances", "0"}, "--instances 0 is out of range"},
		{[]string{"--sleep-after", "2 minutes"}, `--sleep-after "2 minutes" is not a duration`},
		{[]string{"--sleep-after", "0m"}, "is not a duration"},
		{[]string{"--sleep-after", "1.5m"}, "is not a duration"},
		{[]string{"--timeout", "1s"}, "--timeout 1s is out of range"},
		{[]string{"--url", "lean.example.com"}, "is not an http(s) URL"},
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
			var o deployOptions
			fs := pflag.NewFlagSet("deploy", pflag.ContinueOnError)
			o.addFlags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			err := o.validate()
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
