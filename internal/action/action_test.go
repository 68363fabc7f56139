package action

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The table holds every input of action.yml, with its name and default, and nothing else.
func TestInputsMatchActionYML(t *testing.T) {
	b, err := os.ReadFile("../../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Inputs yaml.Node `yaml:"inputs"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	type decl struct {
		Default *string `yaml:"default"`
	}
	var names []string
	defaults := map[string]string{}
	for i := 0; i+1 < len(doc.Inputs.Content); i += 2 {
		var d decl
		if err := doc.Inputs.Content[i+1].Decode(&d); err != nil {
			t.Fatal(err)
		}
		name := doc.Inputs.Content[i].Value
		names = append(names, name)
		if d.Default != nil {
			defaults[name] = *d.Default
		}
	}
	var table []string
	for _, in := range Inputs() {
		table = append(table, in.Name)
		if in.Default != defaults[in.Name] {
			t.Errorf("input %s: default %q in the table, %q in action.yml", in.Name, in.Default, defaults[in.Name])
		}
		if (in.Flag == "") != (len(in.Commands) == 0) {
			t.Errorf("input %s: a flag input names its commands, and only it (flag %q, commands %v)", in.Name, in.Flag, in.Commands)
		}
	}
	if !slices.Equal(table, names) {
		t.Errorf("table inputs %v\naction.yml inputs %v", table, names)
	}
}

// A comment sets an input only through a flag of the command it runs (an argument the command would
// ignore is refused, not dropped), and never a secret: a comment is public.
func TestCommentRules(t *testing.T) {
	for _, in := range Inputs() {
		for _, c := range in.Comment {
			if in.Flag == "" || !slices.Contains(in.Commands, c) {
				t.Errorf("input %s: a comment may set it for %s, which takes no flag from it (flag %q, commands %v)", in.Name, c, in.Flag, in.Commands)
			}
		}
		if in.Secret && in.Comment != nil {
			t.Errorf("input %s: a secret, yet a comment may set it for %v", in.Name, in.Comment)
		}
		if in.Comment != nil && len(in.Comment) == 0 {
			t.Errorf("input %s: Comment is empty, not nil: write nil for a workflow-only input", in.Name)
		}
	}
	for _, name := range []string{"cloudflare-api-token", "api-key", "github-token"} {
		if in, ok := Lookup(name); !ok || !in.Secret {
			t.Errorf("input %s is not marked Secret (found %v)", name, ok)
		}
	}
	if got := CommentInputs("preview-delete"); got != nil {
		t.Errorf("CommentInputs(preview-delete) = %v, want none", got)
	}
}

// flags records what Fill sets, and fails a value "bad".
type flags map[string][]string

func (f flags) Set(name, value string) error {
	if value == "bad" {
		return fmt.Errorf(`%q is not good: use "good"`, value) // a detail without Detail(): wrapped with ": "
	}
	f[name] = append(f[name], value)
	return nil
}

func TestFill(t *testing.T) {
	for _, tt := range []struct {
		command string
		inputs  map[string]string
		want    flags
		wantErr string
	}{
		{Deploy, map[string]string{"worker-name": "lean", "max-instances": "7", "wrangler-config": "w.jsonc", "api-key": "k"},
			flags{"name": {"lean"}, "max-instances": {"7"}, "config": {"w.jsonc"}}, ""},
		{Deploy, map[string]string{"resolve": "a:443:127.0.0.1\n\n  b:443:127.0.0.2  \n"}, flags{"resolve": {"a:443:127.0.0.1", "b:443:127.0.0.2"}}, ""},
		{Preflight, map[string]string{"image": "x", "worker-name": "ignored", "timeout": "1m"}, flags{"image": {"x"}}, ""},
		{Status, map[string]string{"worker-name": "lean", "wrangler": "/w", "instance-type": "lite"}, flags{"name": {"lean"}, "wrangler": {"/w"}}, ""},
		{Rollback, map[string]string{"timeout": "1m", "stage": "push"}, flags{"timeout": {"1m"}}, ""},
		// A preview takes the pipeline's inputs and max-previews, but neither production's URL and wrangler
		// config nor deploy's container sizes (its own defaults keep it cheap).
		{Preview, map[string]string{"worker-name": "lean", "image": "x", "max-previews": "3", "url": "https://prod", "wrangler-config": "w.jsonc", "max-instances": "7", "sleep-after": "1h"},
			flags{"name": {"lean"}, "image": {"x"}, "max-previews": {"3"}}, ""},
		{Deploy, map[string]string{"max-previews": "3"}, flags{}, ""},
		{Deploy, map[string]string{"stage": "bad"}, nil, `input stage: "bad" is not good`},
	} {
		t.Run(tt.command, func(t *testing.T) {
			got := flags{}
			err := Fill(tt.command, func(name string) string { return tt.inputs[name] }, got)
			if tt.wantErr != "" {
				var ie *InputError
				if !errors.As(err, &ie) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want an *InputError containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("Fill set %v (err %v), want %v", got, err, tt.want)
			}
		})
	}
}

// The inputs the Action reads itself take their documented values and refuse others, naming the input.
func TestRead(t *testing.T) {
	for _, tt := range []struct {
		inputs  map[string]string
		want    Options
		wantErr string
	}{
		{nil, Options{Command: Deploy, Comment: CommentAuto}, ""},
		{map[string]string{"comment": "always", "allow-forks": "true", "command": "status", "environment": "prod"},
			Options{Command: Status, Comment: CommentAlways, AllowForks: true, Environment: "prod"}, ""},
		{map[string]string{"comment": "NEVER", "allow-forks": "False"}, Options{Command: Deploy, Comment: CommentNever}, ""},
		{map[string]string{"cloudflare-api-token": "t", "cloudflare-account-id": "a", "api-key": "k", "github-token": "g"},
			Options{Command: Deploy, Comment: CommentAuto, APIToken: "t", AccountID: "a", APIKey: "k", GitHubToken: "g"}, ""},
		{map[string]string{"comment": "sometimes"}, Options{}, `input comment "sometimes" is not a mode: use auto`},
		{map[string]string{"allow-forks": "yes"}, Options{}, `input allow-forks "yes" is not true or false`},
	} {
		t.Run(fmt.Sprint(tt.inputs), func(t *testing.T) {
			got, err := Read(func(name string) string { return tt.inputs[name] })
			if tt.wantErr != "" {
				var ie *InputError
				if !errors.As(err, &ie) || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want an *InputError starting %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Read = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
	if err := (Options{Command: "destroy"}).CheckCommand(); err == nil || err.Error() != `input command "destroy" is not a command: use deploy, status, rollback, preflight or preview` {
		t.Fatalf("CheckCommand = %v", err)
	}
}
