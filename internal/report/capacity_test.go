package report

import (
	"strings"
	"testing"
)

// The summary and the PR comment state the instance's capacity when preflight gave it.
func TestSummaryStatesCapacity(t *testing.T) {
	const sentence = "standard-1 runs 2 evaluations at once (memory allows 15, 0.5 vCPU keeps 2 busy); beyond that a request gets 429"
	with := &Result{Name: "deploy", Outcome: "deployed", Preflight: &Preflight{Image: "img", InstanceType: "standard-1", Capacity: sentence}}
	for name, out := range map[string]string{"summary": Summary(with), "comment": Comment(with, "")} {
		if !strings.Contains(out, "**Capacity:** "+sentence) {
			t.Errorf("%s lacks the capacity line:\n%s", name, out)
		}
	}
	without := &Result{Name: "deploy", Outcome: "deployed", Preflight: &Preflight{Image: "img", InstanceType: "standard-1"}}
	if strings.Contains(Summary(without), "Capacity") {
		t.Errorf("a summary without a capacity shows one:\n%s", Summary(without))
	}
}
