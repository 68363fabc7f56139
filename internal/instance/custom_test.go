package instance

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestLookupCustomLimits(t *testing.T) {
	tests := []struct {
		spec    string
		want    Type
		wantErr string // substring; "" means valid
		limit   bool   // the error is a *LimitError
	}{
		// At each bound, inside.
		{spec: "custom:vcpu=1,memory=3072,disk=2000", want: Type{CustomName, 1, 3072, 2000}},
		{spec: "custom:vcpu=4,memory=12288,disk=20000", want: Type{CustomName, 4, 12288, 20000}},
		{spec: "custom:vcpu=1,memory=12GiB,disk=20GB", want: Type{CustomName, 1, 12288, 20000}},
		{spec: "custom:vcpu=2,memory=6GiB,disk=8GB", want: Type{CustomName, 2, 6144, 8000}},
		{spec: "custom:vcpu=1.5,memory=4608MiB,disk=3500MB", want: Type{CustomName, 1.5, 4608, 3500}},
		{spec: "custom: disk=5GB , vcpu=1, MEMORY=3GiB", want: Type{CustomName, 1, 3072, 5000}},
		// 1 vCPU, 3 GiB and 20 GB: the changelog's example, refused before the disk-to-memory limit went.
		{spec: "custom:vcpu=1,memory=3072,disk=20000", want: Type{CustomName, 1, 3072, 20000}},
		// Just outside each bound.
		{spec: "custom:vcpu=0.9375,memory=3072,disk=4000", wantErr: "vcpu 0.9375 is outside the minimum of 1 vCPU", limit: true},
		{spec: "custom:vcpu=4.0625,memory=12288,disk=4000", wantErr: "vcpu 4.0625 is outside the maximum of 4 vCPU", limit: true},
		{spec: "custom:vcpu=1,memory=12289,disk=4000", wantErr: "memory 12289 MiB is outside the maximum of 12288 MiB", limit: true},
		{spec: "custom:vcpu=1,memory=3071,disk=4000", wantErr: "memory 3071 MiB is outside the minimum of 3 GiB per vCPU (3072 MiB for 1 vCPU)", limit: true},
		{spec: "custom:vcpu=4,memory=12287,disk=4000", wantErr: "minimum of 3 GiB per vCPU (12288 MiB for 4 vCPU)", limit: true},
		{spec: "custom:vcpu=1,memory=3072,disk=20001", wantErr: "disk 20001 MB is outside the maximum of 20000 MB", limit: true},
		{spec: "custom:vcpu=1,memory=3072,disk=1999", wantErr: "disk 1999 MB is outside lean4-cf's minimum of 2000 MB", limit: true},
		// Malformed.
		{spec: "custom:vcpu=1,memory=3072", wantErr: "disk is missing"},
		{spec: "custom:vcpu=1,vcpu=2,memory=3072,disk=4000", wantErr: "vcpu is given twice"},
		{spec: "custom:vcpu=one,memory=3072,disk=4000", wantErr: `vcpu "one" is not a number`},
		{spec: "custom:vcpu=NaN,memory=3072,disk=4000", wantErr: `vcpu "NaN" is not a number`},
		{spec: "custom:vcpu=1,memory=3GB,disk=4000", wantErr: `memory "3GB" is not a whole number of MiB`},
		{spec: "custom:vcpu=1,memory=3072,disk=4GiB", wantErr: `disk "4GiB" is not a whole number of MB`},
		{spec: "custom:vcpu=1,memory=-5,disk=4000", wantErr: `memory "-5" is out of range`},
		{spec: "custom:vcpu=1,memory=0,disk=4000", wantErr: `memory "0" is out of range`},
		{spec: "custom:vcpu=1,memory=3072,disk=4000,gpu=1", wantErr: `"gpu" is not a custom type field`},
		{spec: "custom:vcpu1,memory=3072,disk=4000", wantErr: `"vcpu1" is not key=value`},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, dep, err := Lookup(tt.spec)
			if tt.wantErr == "" {
				if err != nil || got != tt.want || dep != "" {
					t.Fatalf("Lookup(%q) = %+v, %q, %v; want %+v", tt.spec, got, dep, err, tt.want)
				}
				back, _, err := Lookup(got.Spec()) // the canonical spec reads back the same
				if err != nil || back != got {
					t.Fatalf("Lookup(%q) = %+v, %v; want %+v", got.Spec(), back, err, got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("Lookup(%q) error = %v; want one line containing %q", tt.spec, err, tt.wantErr)
			}
			var le *LimitError
			if errors.As(err, &le) != tt.limit {
				t.Fatalf("Lookup(%q) error %v: LimitError = %v, want %v", tt.spec, err, !tt.limit, tt.limit)
			}
			if tt.limit && !strings.Contains(err.Error(), limitsURL) {
				t.Fatalf("a limit error names its source: %v", err)
			}
		})
	}
}

func TestCheckWants(t *testing.T) {
	for _, ok := range []string{"auto", "custom", "lite", "standard", "custom:vcpu=1,memory=3GiB,disk=8GB"} {
		if err := Check(ok); err != nil {
			t.Errorf("Check(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "huge", "Custom", "custom:", "custom:vcpu=8,memory=3GiB,disk=8GB"} {
		if err := Check(bad); err == nil {
			t.Errorf("Check(%q) = nil, want an error", bad)
		}
	}
	if _, _, err := Lookup("custom"); err == nil || !strings.Contains(err.Error(), "Select") {
		t.Fatalf("Lookup(custom) = %v, want the search to be sent to Select", err)
	}
}

func TestCheapestCustom(t *testing.T) {
	const gb = 1_000_000_000
	tests := []struct {
		name string
		need Need
		want Type
		fits bool
	}{
		// The memory floor (3 GiB for 1 vCPU) decides for the default workload of 1280 MiB.
		{"default workload, small image", Need{DiskBytes: 1 * gb}, Type{CustomName, 1, 3072, 2000}, true},
		// Disk: required / 0.8, up to whole GB. 1.6 GB needs exactly 2 GB; a byte more needs 3 GB.
		{"disk at a step", Need{DiskBytes: 1.6 * gb}, Type{CustomName, 1, 3072, 2000}, true},
		{"disk a byte over a step", Need{DiskBytes: 1.6*gb + 1}, Type{CustomName, 1, 3072, 3000}, true},
		{"Mathlib-sized image", Need{DiskBytes: 11.3 * gb}, Type{CustomName, 1, 3072, 15000}, true},
		// Headroom does not fit under 20 GB: the maximum, still fitting.
		{"headroom capped", Need{DiskBytes: 19 * gb}, Type{CustomName, 1, 3072, 20000}, true},
		{"disk exactly the maximum", Need{DiskBytes: 20 * gb}, Type{CustomName, 1, 3072, 20000}, true},
		{"disk a byte over the maximum", Need{DiskBytes: 20*gb + 1}, Type{CustomName, 1, 3072, 20000}, false},
		// Memory above the floor: base 256 MiB + 12 × 256 MiB = 3328 MiB.
		{"memory over the floor", Need{DiskBytes: gb, Concurrency: 12, MemoryPerRun: 256 << 20}, Type{CustomName, 1, 3328, 2000}, true},
		// Not a whole MiB: rounded up.
		{"memory rounded up", Need{DiskBytes: gb, Concurrency: 10, MemoryPerRun: 300_000_000}, Type{CustomName, 1, 3118, 2000}, true},
		// 256 + 47 × 256 = 12288 MiB: exactly the maximum; one run more does not fit.
		{"memory exactly the maximum", Need{DiskBytes: gb, Concurrency: 47, MemoryPerRun: 256 << 20}, Type{CustomName, 1, 12288, 2000}, true},
		{"memory over the maximum", Need{DiskBytes: gb, Concurrency: 48, MemoryPerRun: 256 << 20}, Type{CustomName, 1, 12288, 2000}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := CheapestCustom(tt.need)
			if f.Type != tt.want || f.Fits != tt.fits {
				t.Fatalf("CheapestCustom = %+v fits=%v (%v); want %+v fits=%v", f.Type, f.Fits, f.Reasons, tt.want, tt.fits)
			}
			if f.Fits {
				if err := f.Type.checkCustom(); err != nil {
					t.Fatalf("the cheapest fit is outside the limits: %v", err)
				}
				if tt.want.DiskMB < CustomMaxDiskMB && len(f.Warnings) > 0 {
					t.Fatalf("the cheapest fit leaves the disk headroom, yet warns: %v", f.Warnings)
				}
			} else if len(f.Reasons) != 1 || !strings.Contains(f.Reasons[0], "the most a custom type may have") {
				t.Fatalf("reasons = %q, want one naming the custom maximum", f.Reasons)
			}
		})
	}
}

// TestCheapestCustomIsCheapest checks the search against brute force over a grid of valid
// configurations: none that holds the need with the headroom costs less.
func TestCheapestCustomIsCheapest(t *testing.T) {
	needs := []Need{
		{DiskBytes: 500_000_000},
		{DiskBytes: 2_950_000_000},
		{DiskBytes: 11_300_000_000, Concurrency: 8, MemoryPerRun: 512 << 20},
		{DiskBytes: 15_000_000_000, Concurrency: 20, MemoryPerRun: 400 << 20},
	}
	for _, n := range needs {
		got := CheapestCustom(n)
		if !got.Fits {
			t.Fatalf("need %+v: no fit", n)
		}
		for vcpu := CustomMinVCPU; vcpu <= CustomMaxVCPU; vcpu += 0.25 {
			for mem := int64(3072); mem <= CustomMaxMemoryMiB; mem += 64 {
				for disk := int64(CustomMinDiskMB); disk <= CustomMaxDiskMB; disk += CustomDiskStepMB {
					c, err := Custom(vcpu, mem, disk)
					if err != nil {
						continue
					}
					f := FitType(n, c)
					if f.Fits && len(f.Warnings) == 0 && c.USDPerHour() < got.Type.USDPerHour()-1e-12 {
						t.Fatalf("need %+v: %s costs %.6f, less than the search's %s at %.6f", n, c.Spec(), c.USDPerHour(), got.Type.Spec(), got.Type.USDPerHour())
					}
				}
			}
		}
	}
}

func TestSelect(t *testing.T) {
	lean := Need{DiskBytes: RequiredDiskBytes(2_500_000_000, 12)} // ≈ 2.95 GB, 1280 MiB
	tests := []struct {
		want, got string
		ok        bool
	}{
		{"auto", "standard-1", true},
		{"basic", "basic", false},
		{"standard", "standard-1", true},
		{"custom", "custom:vcpu=1,memory=3072MiB,disk=4000MB", true},
		{"custom:vcpu=2,memory=6GiB,disk=4GB", "custom:vcpu=2,memory=6144MiB,disk=4000MB", true},
		{"custom:vcpu=1,memory=3GiB,disk=2GB", "custom:vcpu=1,memory=3072MiB,disk=2000MB", false},
	}
	for _, tt := range tests {
		f, ok, err := Select(lean, tt.want)
		if err != nil || f.Type.Spec() != tt.got || ok != tt.ok {
			t.Errorf("Select(%q) = %s, %v, %v; want %s, %v", tt.want, f.Type.Spec(), ok, err, tt.got, tt.ok)
		}
	}
	if f, _, _ := Select(lean, "custom:vcpu=1,memory=3GiB,disk=2GB"); !strings.Contains(strings.Join(f.Reasons, ";"), "disk: needs 2.95 GB, has 2.00 GB") {
		t.Errorf("reasons = %q", f.Reasons)
	}
	if _, _, err := Select(lean, "custom:vcpu=9,memory=3GiB,disk=2GB"); err == nil {
		t.Error("Select accepted a configuration out of bounds")
	}
}

func TestCheapestNamedAndSaving(t *testing.T) {
	lean := Need{DiskBytes: RequiredDiskBytes(2_500_000_000, 12)}
	named, ok := CheapestNamed(FitAll(lean))
	if !ok || named.Type.Name != "standard-1" {
		t.Fatalf("cheapest named = %s, %v", named.Type.Name, ok)
	}
	custom := CheapestCustom(lean)
	// standard-1: 4 GiB, 8 GB, 0.5 vCPU; custom: 3 GiB, 4 GB, 1 vCPU, all at the published rates.
	want := 3600 * (3*USDPerGiBSecond + 4*USDPerGBSecond + 1*USDPerVCPUSecond)
	if got := custom.Type.USDPerHour(); math.Abs(got-want) > 1e-12 {
		t.Fatalf("custom $/h = %v, want %v", got, want)
	}
	if _, ok := CheapestNamed(FitAll(Need{DiskBytes: 21e9})); ok {
		t.Fatal("a need no named type holds has a cheapest named type")
	}
}

func TestDescribe(t *testing.T) {
	c, _ := Custom(1, 3072, 4000)
	if got := c.Describe(); got != "custom (1 vCPU, 3072 MiB, 4 GB)" {
		t.Fatalf("Describe = %q", got)
	}
	c.DiskMB = 3500
	if got := c.Describe(); got != "custom (1 vCPU, 3072 MiB, 3500 MB)" {
		t.Fatalf("Describe = %q", got)
	}
	if s, _, _ := Lookup("standard-2"); s.Describe() != "standard-2" || s.Spec() != "standard-2" {
		t.Fatalf("named: %q %q", s.Describe(), s.Spec())
	}
}

func TestFromAPIConfiguration(t *testing.T) {
	tests := []struct {
		name    string
		cfg     map[string]any
		want    string // Spec
		ok      bool
		wantErr string
	}{
		{"named", map[string]any{"image": "x", "instance_type": "standard-2"}, "standard-2", true, ""},
		{"alias", map[string]any{"instance_type": "dev"}, "lite", true, ""},
		{"none", map[string]any{"image": "x"}, "", false, ""},
		{"custom as wrangler sends it", map[string]any{"vcpu": 1.0, "memory_mib": 3072.0, "disk": map[string]any{"size_mb": 15000.0}}, "custom:vcpu=1,memory=3072MiB,disk=15000MB", true, ""},
		{"custom with the defaults", map[string]any{"vcpu": 1.0, "memory_mib": 3072.0}, "custom:vcpu=1,memory=3072MiB,disk=2000MB", true, ""},
		{"default vcpu under the limit", map[string]any{"memory_mib": 4096.0}, "", true, "vcpu 0.0625 is outside the minimum"},
		{"both", map[string]any{"instance_type": "basic", "vcpu": 1.0}, "", true, "sets both"},
		{"unknown name", map[string]any{"instance_type": "huge"}, "", true, "unknown instance_type huge"},
		{"spec as a name", map[string]any{"instance_type": "custom:vcpu=1,memory=3072,disk=2000"}, "", true, "unknown instance_type"},
		{"disk not an object", map[string]any{"vcpu": 1.0, "memory_mib": 3072.0, "disk": 2000.0}, "", true, "configuration.disk must be an object"},
		{"string vcpu", map[string]any{"vcpu": "1", "memory_mib": 3072.0}, "", true, "configuration.vcpu must be a number"},
		{"fractional memory", map[string]any{"vcpu": 1.0, "memory_mib": 3072.5}, "", true, "whole numbers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := FromAPIConfiguration(tt.cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || ok != tt.ok {
					t.Fatalf("got %v, %v, %v; want error %q", got, ok, err, tt.wantErr)
				}
				return
			}
			if err != nil || ok != tt.ok || (ok && got.Spec() != tt.want) {
				t.Fatalf("got %q, %v, %v; want %q, %v", got.Spec(), ok, err, tt.want, tt.ok)
			}
		})
	}
}
