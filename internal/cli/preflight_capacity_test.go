package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// preflight states what an instance of the chosen type takes at once and what happens past it, and plans
// instances for a target load.
func TestPreflightCapacity(t *testing.T) {
	host := testRegistry(t)
	code, out, errOut := runCLI(t, nil, "preflight", "--image", host+"/lean:v1", "--target-rate", "2", "--run-seconds", "0.5")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"capacity  standard-1 runs 2 evaluations at once (memory allows 15, 0.5 vCPU keeps 2 busy); up to 4 more wait",
		"429", "503",
		"plan      2 evaluations/s × 0.5 s of CPU each keeps 1 vCPU busy on average (Little's law); one standard-1 finishes 1/s at full use, so instances 3",
		"max_instances 6",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}

	code, out, errOut = runCLI(t, nil, "preflight", "--image", host+"/lean:v1", "--instance-type", "standard-3", "--json", "--target-rate", "20", "--run-seconds", "0.25")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var m struct {
		ConcurrentEvaluations int    `json:"concurrentEvaluations"`
		Capacity              string `json:"capacity"`
		Plan                  struct {
			Instances    int     `json:"instances"`
			MaxInstances int     `json:"maxInstances"`
			USDPerHour   float64 `json:"usdPerHour"`
		} `json:"plan"`
	}
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	if m.ConcurrentEvaluations != 8 || !strings.HasPrefix(m.Capacity, "standard-3 runs 8") || m.Plan.Instances != 4 || m.Plan.MaxInstances != 8 || m.Plan.USDPerHour <= 0 {
		t.Fatalf("json = %+v", m)
	}

	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"--target-rate", "2"}, "--target-rate and --run-seconds go together"},
		{[]string{"--run-seconds", "1"}, "--target-rate and --run-seconds go together"},
		{[]string{"--target-rate", "-1", "--run-seconds", "1"}, "target rate -1"},
		{[]string{"--target-rate", "1", "--run-seconds", "-2"}, "run seconds -2"},
	} {
		code, _, errOut := runCLI(t, nil, append([]string{"preflight", "--image", "127.0.0.1:1/never-contacted:v1"}, bad.args...)...)
		if code != 2 || !strings.Contains(errOut, bad.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", bad.args, code, errOut, bad.want)
		}
	}
}
