package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/org/lean4-cf-action/internal/ghtest"
	"github.com/org/lean4-cf-action/internal/sandbox/cfapi"
)

// A reader's `/lean4 deploy` is refused: a refusal in the sticky comment, a refused reaction, exit 0,
// and not one Cloudflare request that writes.
func TestActionRefusesAReadersCommand(t *testing.T) {
	wr, node := projectTools(t)
	cf, err := cfapi.New(cfapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cf.Close()
	gh := ghtest.New(t, "octo/lean")
	gh.SetRole("bob", "read")
	gh.AddPull(ghtest.Pull{Number: 7, HeadSHA: strings.Repeat("a", 40), HeadRef: "feature", HeadRepo: "octo/lean", User: "bob"})
	id := gh.AddComment(7, "bob", "/lean4 deploy")
	dir := t.TempDir()
	// The payload names the comment the double holds.
	var event map[string]any
	if err := json.Unmarshal(ghtest.Event(t, "issue_comment_reader"), &event); err != nil {
		t.Fatal(err)
	}
	event["comment"].(map[string]any)["id"] = id
	b, _ := json.Marshal(event)
	eventFile := filepath.Join(dir, "event.json")
	if err := os.WriteFile(eventFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	env := cf.Env()
	for k, v := range map[string]string{
		"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "issue_comment", "GITHUB_EVENT_PATH": eventFile,
		"GITHUB_REPOSITORY": "octo/lean", "GITHUB_API_URL": gh.URL, "GITHUB_OUTPUT": filepath.Join(dir, "output"),
		"GITHUB_STEP_SUMMARY": filepath.Join(dir, "summary"), "INPUT_GITHUB-TOKEN": "ghs_secret_token_value",
		"LEAN4CF_WRANGLER": wr, "LEAN4CF_NODE": node, "PATH": os.Getenv("PATH"),
	} {
		env[k] = v
	}
	code, out, errOut := runCLI(t, env, "action")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if w := cf.Control().Writes(); len(w) != 0 {
		t.Fatalf("a refused command wrote to Cloudflare: %v", w)
	}
	comments := gh.Comments(7)
	var sticky string
	for _, c := range comments {
		if strings.Contains(c.Body, "<!-- lean4-cf:deploy:lean4-server -->") {
			sticky = c.Body
		}
	}
	if !strings.Contains(sticky, "refused") {
		t.Fatalf("no refusal in the sticky comment: %+v\nstdout:\n%s\nstderr:\n%s", comments, out, errOut)
	}
	refused := false
	for _, r := range gh.Reactions() {
		refused = refused || r.Content == "confused"
	}
	if !refused {
		t.Fatalf("no refused reaction: %+v", gh.Reactions())
	}
	if strings.Contains(out+errOut+sticky, "ghs_secret_token_value") && !strings.Contains(out, "::add-mask::ghs_secret_token_value") {
		t.Fatal("the GitHub token leaked")
	}
}
