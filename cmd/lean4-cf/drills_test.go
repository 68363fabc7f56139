package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestFaultDrills runs the deploy through faults on every Cloudflare API endpoint it uses. A baseline run
// (a first deploy, then a redeploy with a new image) lists the endpoints each scenario really calls, so
// the drills cannot drift from what the pipeline and wrangler do. Then, per endpoint, one script injects
// three faults in a row on that endpoint alone: a 429 with Retry-After, then a reset or a 500/502/503,
// then a 2 s slow answer; and deploys through them. Each drill checks that every fault fired, the deploy
// succeeded within the retry budget, the new image answers through the edge, and no side stub is left.
func TestFaultDrills(t *testing.T) {
	if testing.Short() {
		t.Skip("fault drills deploy once per endpoint")
	}
	t.Parallel() // beside the scripts (TestScripts)
	work := t.TempDir()
	base := filepath.Join(work, "base")
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(base, "baseline.txtar"), []byte(baseline), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(work, "endpoints")
	t.Run("baseline", func(t *testing.T) {
		testscript.Run(t, scriptParams(t, base, map[string]string{"ENDPOINTS": out}))
	})
	if t.Failed() {
		return
	}
	first := readLines(t, out+".first")
	redeploy := readLines(t, out+".redeploy")

	drills := filepath.Join(work, "drills")
	if err := os.MkdirAll(drills, 0o755); err != nil {
		t.Fatal(err)
	}
	n := 0
	only := regexp.MustCompile(os.Getenv("LEAN4CF_DRILL")) // selects drills by endpoint slug while working on some
	add := func(scenario, endpoint string) {
		if !only.MatchString(slug(endpoint)) {
			return
		}
		second := []string{"reset", "500", "502", "503"}[n%4]
		script := fmt.Sprintf(drillScript[scenario], endpoint, second)
		file := fmt.Sprintf("%02d-%s-%s.txtar", n, scenario, slug(endpoint))
		if err := os.WriteFile(filepath.Join(drills, file), []byte(script), 0o644); err != nil {
			t.Fatal(err)
		}
		n++
	}
	for _, e := range first {
		add("first", e)
	}
	for _, e := range redeploy {
		if !slices.Contains(first, e) {
			add("redeploy", e)
		}
	}
	t.Run("drills", func(t *testing.T) {
		testscript.Run(t, scriptParams(t, drills, nil))
	})
	passed := n
	if t.Failed() {
		passed = -1 // testscript reports the failures; the count is not worth guessing
	}
	t.Logf("fault drills: %d endpoints x 3 faults, %d passed (first deploy %d endpoints, redeploy %d more)", n, passed, len(first), n-len(first))
}

// baseline records the endpoints of a first deploy and of a redeploy with a new image.
const baseline = `exec lean4-cf deploy --image $IMAGE_V1 --json
stdout '"outcome": "deployed"'
cf-endpoints $ENDPOINTS.first
cf-reset
exec lean4-cf deploy --image $IMAGE_V2 --timeout 2m --json
stdout '"outcome": "deployed"'
cf-endpoints $ENDPOINTS.redeploy
`

// drillFaults are the three faults a drill injects on one endpoint (%[1]s), the second being %[2]s.
const drillFaults = `cf-fault '%[1]s' 429 1 1
cf-fault '%[1]s' %[2]s 1
cf-fault '%[1]s' slow 1 latency=2s
`

// drillScript holds one script per scenario, around the faults; %[1]s is the endpoint.
var drillScript = map[string]string{
	"first": `# Faults on %[1]s during a first deploy.
` + drillFaults + `exec lean4-cf deploy --image $IMAGE_V1 --timeout 2m --json
stdout '"outcome": "deployed"'
cf-faults-fired '%[1]s' 2
edge-eval lean4-server '"stdout": "2\n"'
cf-app-image lean4-server-leancontainer $DIGEST_V1
`,
	"redeploy": `# Faults on %[1]s during a redeploy with a new image.
exec lean4-cf deploy --image $IMAGE_V1 --timeout 2m --json
stdout '"outcome": "deployed"'
` + drillFaults + `exec lean4-cf deploy --image $IMAGE_V2 --timeout 2m --json
stdout '"outcome": "deployed"'
cf-faults-fired '%[1]s' 2
edge-eval lean4-server '"stdout": "2\n"'
cf-app-image lean4-server-leancontainer $DIGEST_V2
! cf-worker lean4-server-stub
`,
}

func readLines(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

var nonWord = regexp.MustCompile(`[^a-z0-9]+`)

func slug(endpoint string) string {
	return strings.Trim(nonWord.ReplaceAllString(strings.ToLower(strings.ReplaceAll(endpoint, "/accounts/{account}", "")), "-"), "-")
}
