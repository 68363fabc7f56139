package report

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/report -update)", err)
	}
	if got != string(want) {
		t.Fatalf("%s differs from the golden file:\n--- got ---\n%s\n--- want ---\n%s", name, got, want)
	}
}

func ms(n int) Ms { return Ms(time.Duration(n) * time.Millisecond) }

var t0 = time.Date(2026, 11, 29, 1, 2, 3, 0, time.UTC)

func fitRows() []FitRow {
	return []FitRow{
		{Name: "lite", VCPU: 0.0625, MemoryMiB: 256, DiskMB: 2000, Reasons: []string{"disk: needs 2.92 GB, has 2.00 GB", "memory: needs 1280 MiB, has 256 MiB"}, USDPerHour: 0.0069},
		{Name: "basic", VCPU: 0.25, MemoryMiB: 1024, DiskMB: 4000, Reasons: []string{"memory: needs 1280 MiB, has 1024 MiB"}, USDPerHour: 0.0279},
		{Name: "standard-1", VCPU: 0.5, MemoryMiB: 4096, DiskMB: 8000, Fits: true, USDPerHour: 0.0740},
	}
}

func deployed() *Result {
	return &Result{
		Name: "lean4-server", URL: "https://lean4-server.acct.workers.dev", VersionID: "0001-aaaa", FirstDeploy: true, Outcome: "deployed",
		Commit: "0123456789abcdef0123456789abcdef01234567",
		Stages: []StageResult{
			{Name: "preflight", Status: "ok", Started: t0, Duration: ms(850), Detail: "sha256:abc fits standard-1"},
			{Name: "stub", Status: "ok", Started: t0, Duration: ms(4200), Detail: "lean4-server verified"},
			{Name: "push", Status: "ok", Started: t0, Duration: ms(65000), Detail: "12 blobs"},
			{Name: "promote", Status: "ok", Started: t0, Duration: ms(185000), Detail: "answers | with pipes"},
		},
		Preflight: &Preflight{Image: "ghcr.io/ldct/lean4-server:v4.24.0", Digest: "sha256:0123456789abcdef0123", Layers: 12, CompressedBytes: 672_000_000,
			UncompressedBytes: 2_500_000_000, RequiredDiskBytes: 2_951_326_592, SizeMethod: "estimate", InstanceType: "standard-1", Fits: true, Types: fitRows()},
		Push:    &Pushed{Image: "registry.cloudflare.com/acct/lean4-server@sha256:0123", BytesPushed: 672_000_000, BlobsPushed: 13, UncompressedBytes: 2_612_345_678, Fits: true},
		Ready:   &Ready{LeanVersion: "Lean (version 4.24.0, x86_64-unknown-linux-gnu, Release)", Attempts: 7, ColdStart: ms(41234)},
		Latency: &Latency{N: 5, P50: ms(412), P95: ms(903)},
		Status:  &Status{ApplicationID: "a1b2", Application: "lean4-server-leancontainer", State: "ready", Instances: 1, Image: "registry.cloudflare.com/acct/lean4-server@sha256:0123", Version: 2},
	}
}

func rolledBack() *Result {
	r := deployed()
	r.Outcome, r.RolledBack, r.FirstDeploy, r.VersionID = "rolled-back", true, false, "0000-old"
	r.Ready, r.Latency, r.Status = nil, nil, nil
	r.Stages[3] = StageResult{Name: "promote", Status: "failed", Started: t0, Duration: ms(600000), Detail: "waiting for the Lean server: 503"}
	r.Stages = append(r.Stages, StageResult{Name: "rollback", Status: "ok", Started: t0, Duration: ms(9000), Detail: "version 0000-old serves again"})
	r.Error = "promote stage: waiting for the Lean server (40 attempts over 10m0s): GET /health answered 503: <!-- lean4-cf:deploy:other -->"
	return r
}

// deployedCustom is a deploy on the cheapest custom configuration, shown beside the named types.
func deployedCustom() *Result {
	r := deployed()
	spec := "custom:vcpu=1,memory=3072MiB,disk=4000MB"
	r.Preflight.InstanceType, r.Preflight.InstanceConfig = spec, "custom (1 vCPU, 3072 MiB, 4 GB)"
	r.Preflight.Custom = &CustomRow{FitRow: FitRow{Name: "custom", Spec: spec, VCPU: 1, MemoryMiB: 3072, DiskMB: 4000, Fits: true, USDPerHour: 0.1010}, CustomCosts: CustomCosts{IdleUSDPerHour: 0.0045}}
	r.Stages[0].Detail = "sha256:abc fits " + spec
	return r
}

func TestGolden(t *testing.T) {
	for name, r := range map[string]*Result{"deployed": deployed(), "rolled-back": rolledBack(), "deployed-custom": deployedCustom()} {
		t.Run(name, func(t *testing.T) {
			golden(t, name+".summary.md", Summary(r))
			golden(t, name+".comment.md", Comment(r, "https://github.com/o/r/actions/runs/1"))
			golden(t, name+".txt", Text(r))
			outs, err := Outputs(r)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, o := range outs {
				if o.Name == "result-json" {
					var back Result
					if err := json.Unmarshal([]byte(o.Value), &back); err != nil {
						t.Fatalf("result-json does not parse back: %v", err)
					}
					if back.Outcome != r.Outcome || back.Stages[0].Duration != r.Stages[0].Duration {
						t.Fatalf("result-json lost data: %+v", back)
					}
				}
				b.WriteString(o.Name + "=" + o.Value + "\n")
			}
			golden(t, name+".outputs", b.String())
		})
	}
}

// A slash command other than deploy: its output in a code block no line of it can close.
func TestCommandComment(t *testing.T) {
	golden(t, "status.comment.md", CommandComment("lean4-server", "/lean4 status", true,
		"lean4-server\n  state: active\n```\nnot the end of the block\n", "https://github.com/o/r/actions/runs/1"))
	failed := CommandComment("w", "/lean4 rollback", false, "", "")
	if !strings.HasPrefix(failed, Marker("w")+"\n") || !strings.Contains(failed, "`/lean4 rollback` on `w` ❌") || strings.Contains(failed, "```") {
		t.Fatalf("failed command comment:\n%s", failed)
	}
	long := CommandComment("w", "/lean4 status", true, strings.Repeat("é", MaxCommentChars), "")
	if utf8.RuneCountInString(long) > MaxCommentChars || !utf8.ValidString(long) || !strings.HasPrefix(long, Marker("w")) {
		t.Fatalf("long output: %d chars, valid UTF-8 %v", utf8.RuneCountInString(long), utf8.ValidString(long))
	}
}

func TestCommentHasExactlyOneMarker(t *testing.T) {
	c := Comment(rolledBack(), "")
	if !strings.HasPrefix(c, Marker("lean4-server")+"\n") {
		t.Fatalf("comment does not start with its marker:\n%s", c)
	}
	if n := strings.Count(c, "<!-- lean4-cf:deploy:"); n != 1 {
		t.Fatalf("comment holds %d markers; an error text must not add one", n)
	}
	if !strings.Contains(Refusal("w", "/lean4 deploy", "commenter has read permission"), Marker("w")) {
		t.Fatal("refusal has no marker")
	}
}

func TestLimits(t *testing.T) {
	r := deployed()
	r.Error = strings.Repeat("é", 2<<20) // far over both limits, multi-byte
	s := Summary(r)
	if len(s) > MaxSummaryBytes || !utf8.ValidString(s) || !strings.HasSuffix(s, "_(summary truncated)_\n") {
		t.Fatalf("summary: %d bytes, valid UTF-8 %v", len(s), utf8.ValidString(s))
	}
	c := Comment(r, "")
	if utf8.RuneCountInString(c) > MaxCommentChars || !strings.Contains(c, "comment truncated") || !strings.HasPrefix(c, Marker(r.Name)) {
		t.Fatalf("comment: %d chars", utf8.RuneCountInString(c))
	}
}

func TestFormatters(t *testing.T) {
	for _, tt := range []struct {
		got, want string
	}{
		{Bytes(999), "999 B"}, {Bytes(1500), "1.5 kB"}, {Bytes(672_000_000), "672.0 MB"}, {Bytes(2_500_000_000), "2.50 GB"},
		{Dur(850 * time.Millisecond), "850ms"}, {Dur(4200 * time.Millisecond), "4.2s"}, {Dur(185 * time.Second), "3m05s"},
		{short("sha256:0123456789abcdef"), "sha256:0123456789ab"}, {short("x"), "x"},
		{mdCell("a|b\nc<d"), `a\|b c&lt;d`},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

// A bounded preflight shows the uncompressed size as its range wherever the size is shown.
func TestBoundedSizeIsShownAsARange(t *testing.T) {
	r := deployed()
	r.Push = nil // a push's measured figure replaces the range (TestOneUncompressedFigure)
	r.Preflight.SizeMethod, r.Preflight.UncompressedBytesHigh, r.Preflight.RequiredDiskBytesHigh = "bounds", 6_794_967_296, 7_675_790_618
	for name, out := range map[string]string{"summary": Summary(r), "comment": Comment(r, ""), "text": Text(r)} {
		if !strings.Contains(out, "2.50 GB to 6.79 GB uncompressed") {
			t.Errorf("%s does not show the range:\n%s", name, out)
		}
	}
	if !strings.Contains(Summary(r), "uncompressed (bounds)") {
		t.Errorf("summary does not name the method")
	}
	js, _ := json.Marshal(r.Preflight)
	if !strings.Contains(string(js), `"uncompressedBytesHigh":6794967296`) || !strings.Contains(string(js), `"requiredDiskBytesHigh":7675790618`) {
		t.Errorf("json %s", js)
	}
	measured := deployed()
	measured.Preflight.SizeMethod, measured.Preflight.UncompressedBytesHigh = "bounds", 6_794_967_296
	if s := Summary(measured); !strings.Contains(s, "2.61 GB uncompressed (measured)") || strings.Contains(s, " GB to ") {
		t.Errorf("after the push the range is still shown:\n%s", s)
	}
	r = deployed() // exact and estimate figures keep their single number and keys
	if js, _ := json.Marshal(r.Preflight); strings.Contains(string(js), "High") || strings.Contains(Summary(r), " GB to ") {
		t.Errorf("an unbounded size shows a range: %s", js)
	}
}

// One figure for one fact: once the push has measured the uncompressed size, every renderer reports that
// figure, labelled measured, and none the preflight's estimate; before the push, the estimate, labelled so.
func TestOneUncompressedFigure(t *testing.T) {
	renders := func(r *Result) map[string]string {
		outs, err := Outputs(r)
		if err != nil {
			t.Fatal(err)
		}
		var o string
		for _, out := range outs {
			if out.Name == "uncompressed-bytes" {
				o = out.Value
			}
		}
		return map[string]string{"summary": Summary(r), "comment": Comment(r, "https://github.com/o/r/actions/runs/1"), "text": Text(r), "output": o}
	}
	for name, got := range renders(deployed()) {
		want := map[string]string{"output": "2612345678"}[name]
		if want == "" {
			want = "2.61 GB uncompressed (measured)"
		}
		if !strings.Contains(got, want) || strings.Contains(got, "2.50 GB") || strings.Contains(got, "estimate") {
			t.Errorf("%s after the push: want %q and no estimate, got:\n%s", name, want, got)
		}
	}
	before := deployed()
	before.Push = nil
	for name, got := range renders(before) {
		want := map[string]string{"output": "2500000000"}[name]
		if want == "" {
			want = "2.50 GB uncompressed (estimate)"
		}
		if !strings.Contains(got, want) {
			t.Errorf("%s before the push: want %q, got:\n%s", name, want, got)
		}
	}
}
