package report

import (
	"strings"
	"testing"
)

// previewed is a preview run: the deploy result under the preview Worker's name, on the smallest type.
func previewed() *Result {
	r := deployed()
	r.Name, r.URL = "lean4-server-pr-7", "https://lean4-server-pr-7.acct.workers.dev"
	r.Status.Application = "lean4-server-pr-7-leancontainer"
	r.Preflight.InstanceType = "basic"
	r.Preflight.Types[1].Fits, r.Preflight.Types[1].Reasons = true, nil
	return r
}

func TestPreviewComments(t *testing.T) {
	info := PreviewInfo{Production: "lean4-server", PR: 7, SleepAfter: "1m", MaxInstances: 1}
	run := "https://github.com/octo/lean/actions/runs/1"
	failed := previewed()
	failed.Outcome, failed.Error, failed.Ready, failed.Latency, failed.Status = "failed", "verify stage: `#eval 1 + 1` answered 3, want 2", nil, nil, nil
	failed.Stages[3] = StageResult{Name: "promote", Status: "failed", Started: t0, Duration: ms(120000), Detail: "preview removed"}
	if strings.Contains(PreviewComment(info, failed, ""), "per hour awake") {
		t.Error("a failed preview shows a running cost")
	}
	custom := previewed()
	spec := "custom:vcpu=1,memory=3072MiB,disk=4000MB"
	custom.Preflight.InstanceType, custom.Preflight.InstanceConfig = spec, "custom (1 vCPU, 3072 MiB, 4 GB)"
	custom.Preflight.Custom = &CustomRow{FitRow: FitRow{Name: "custom", Spec: spec, VCPU: 1, MemoryMiB: 3072, DiskMB: 4000, Fits: true, USDPerHour: 0.1010}}
	removal := PreviewRemoval{Worker: "lean4-server-pr-7", Why: "pull request #7 was merged",
		Removed: []string{"Worker lean4-server-pr-7", "container application lean4-server-pr-7-leancontainer (a1b2)",
			"image registry.cloudflare.com/acct/lean4-server-pr-7@sha256:0123456789abcdef"},
		Kept:        []string{"image registry.cloudflare.com/acct/lean4-server@sha256:fedc (production version 0001-aaaa uses it)"},
		Deployments: 2}
	tests := map[string]string{
		"preview-deployed.comment.md":        PreviewComment(info, previewed(), run),
		"preview-custom.comment.md":          PreviewComment(PreviewInfo{Production: "lean4-server", PR: 7}, custom, ""),
		"preview-failed.comment.md":          PreviewComment(info, failed, run),
		"preview-deleted.comment.md":         PreviewDeletedComment(info, removal, run),
		"preview-deleted-nothing.comment.md": PreviewDeletedComment(info, PreviewRemoval{Worker: "lean4-server-pr-7", Why: "`/lean4 preview delete` by @alice"}, ""),
		"preview-cap.comment.md":             PreviewCapComment(PreviewInfo{Production: "lean4-server", PR: 9}, 5, []int{1, 2, 4, 6, 7}, run),
		"preview-refused.comment.md":         PreviewRefusal(info, "/lean4 preview", "@bob has the read role on octo/lean; slash commands need write, maintain or admin"),
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			golden(t, name, body)
			if !strings.HasPrefix(body, PreviewMarker("lean4-server")+"\n") || strings.Contains(body, Marker("lean4-server")) {
				t.Errorf("the body must start with the preview marker and never hold the deploy comment's marker")
			}
		})
	}
}

// The preview's comment and the production comment find only themselves.
func TestPreviewMarkerIsItsOwn(t *testing.T) {
	for _, m := range []string{Marker("lean4-server"), PreviewMarker("lean4-server-pr"), PreviewMarker("lean4")} {
		if strings.Contains(PreviewComment(PreviewInfo{Production: "lean4-server", PR: 7}, previewed(), ""), m) {
			t.Errorf("the preview comment contains the marker %q", m)
		}
	}
}

// A preview whose chosen type is missing from the fit table shows no price rather than a wrong one.
func TestPreviewCostNeedsTheChosenType(t *testing.T) {
	r := previewed()
	r.Preflight.InstanceType = "standard-4"
	if body := PreviewComment(PreviewInfo{Production: "p", PR: 1}, r, ""); strings.Contains(body, "per hour awake") {
		t.Errorf("a price was shown for a type not in the table:\n%s", body)
	}
}
