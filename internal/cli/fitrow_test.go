package cli

import (
	"bytes"
	"encoding/json"
	"regexp"
	"testing"
)

// TestFitTableOneShape: preflight --json and deploy --json print the same fit table (one row type, one
// marshaller), and every price in it is rounded to 4 decimal places.
func TestFitTableOneShape(t *testing.T) {
	_, env := localCloudflare(t)
	img := testRegistry(t) + "/lean:v1"

	code, pre, errOut := runCLI(t, env, "preflight", "--image", img, "--json")
	if code != 0 {
		t.Fatalf("preflight: exit %d: %s", code, errOut)
	}
	code, dep, errOut := runCLI(t, env, "deploy", "--stage", "preflight", "--image", img, "--json")
	if code != 0 {
		t.Fatalf("deploy: exit %d: %s", code, errOut)
	}
	var p struct {
		Types  json.RawMessage `json:"instanceTypes"`
		Custom json.RawMessage `json:"customType"`
	}
	var d struct {
		Preflight struct {
			Types  json.RawMessage `json:"instanceTypes"`
			Custom json.RawMessage `json:"customType"`
		} `json:"preflight"`
	}
	if err := json.Unmarshal([]byte(pre), &p); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(dep), &d); err != nil {
		t.Fatal(err)
	}
	if len(p.Types) < 10 || len(p.Custom) < 10 {
		t.Fatalf("preflight --json has no fit table:\n%s", pre)
	}
	compact := func(raw json.RawMessage) string {
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	if compact(p.Types) != compact(d.Preflight.Types) {
		t.Errorf("instanceTypes differ:\npreflight: %s\ndeploy:    %s", p.Types, d.Preflight.Types)
	}
	if compact(p.Custom) != compact(d.Preflight.Custom) {
		t.Errorf("customType differs:\npreflight: %s\ndeploy:    %s", p.Custom, d.Preflight.Custom)
	}
	long := regexp.MustCompile(`"(?:[a-zA-Z]*[uU]sdPerHour)":\s*-?[0-9]+\.[0-9]{5,}`)
	for name, out := range map[string]string{"preflight": pre, "deploy": dep} {
		if m := long.FindString(out); m != "" {
			t.Errorf("%s --json prints an unrounded price: %s", name, m)
		}
	}
}
