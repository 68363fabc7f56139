package instance

import (
	"math"
	"strings"
	"testing"
)

func TestRequiredDiskBytes(t *testing.T) {
	// Worked examples of wrangler's disk rule, ceil(size × 1.1 + layers × 16 MiB) (the README's preflight section).
	tests := []struct {
		size   int64
		layers int
		want   int64
	}{
		{2_500_000_000, 10, 2_750_000_000 + 167_772_160},
		{850_000_000, 0, 935_000_001}, // float arithmetic, exactly as wrangler's JavaScript: 850e6*1.1 = 935000000.0000001
		{5_532_863_328, 8, 6_220_367_389},
		{1, 0, 2}, // ceil(1.1)
	}
	for _, tt := range tests {
		if got := RequiredDiskBytes(tt.size, tt.layers); got != tt.want {
			t.Errorf("RequiredDiskBytes(%d, %d) = %d, want %d", tt.size, tt.layers, got, tt.want)
		}
	}
}

func TestFitAllAndChoose(t *testing.T) {
	lean := Need{DiskBytes: RequiredDiskBytes(2_500_000_000, 12)} // ≈ 2.95 GB, 1280 MiB by default
	fits := FitAll(lean)
	var fitting []string
	for _, f := range fits {
		if f.Fits {
			fitting = append(fitting, f.Type.Name)
		}
	}
	if got := strings.Join(fitting, ","); got != "standard-1,standard-2,standard-3,standard-4" {
		t.Fatalf("fitting types = %s", got)
	}
	if r := strings.Join(fits[0].Reasons, "; "); !strings.Contains(r, "disk: needs 2.95 GB, has 2.00 GB") || !strings.Contains(r, "memory: needs 1280 MiB, has 256 MiB") {
		t.Fatalf("lite reasons = %q", r)
	}
	if r := strings.Join(fits[1].Reasons, "; "); r != "memory: needs 1280 MiB, has 1024 MiB" {
		t.Fatalf("basic reasons = %q", r)
	}
	tests := []struct {
		want, got string
		ok        bool
	}{{"auto", "standard-1", true}, {"", "standard-1", true}, {"basic", "basic", false}, {"standard-3", "standard-3", true}, {"standard", "standard-1", true}, {"dev", "lite", false}}
	for _, tt := range tests {
		f, ok, err := Choose(fits, tt.want)
		if err != nil || f.Type.Name != tt.got || ok != tt.ok {
			t.Errorf("Choose(%q) = %s, %v, %v; want %s, %v", tt.want, f.Type.Name, ok, err, tt.got, tt.ok)
		}
	}
	if _, _, err := Choose(fits, "huge"); err == nil || !strings.Contains(err.Error(), "use auto, lite, basic") {
		t.Fatalf("unknown type error = %v", err)
	}
	// Nothing fits: auto reports the largest and not ok.
	f, ok, _ := Choose(FitAll(Need{DiskBytes: 21e9}), "auto")
	if ok || f.Type.Name != "standard-4" {
		t.Fatalf("too big: %s, %v", f.Type.Name, ok)
	}
	// A light workload fits basic.
	f, ok, _ = Choose(FitAll(Need{DiskBytes: 1e9, Concurrency: 1, MemoryPerRun: 512 << 20}), "auto")
	if !ok || f.Type.Name != "basic" {
		t.Fatalf("light: %s, %v", f.Type.Name, ok)
	}
}

func TestHeadroomWarning(t *testing.T) {
	fits := FitAll(Need{DiskBytes: 7_000_000_000}) // 12.5 % of standard-1's 8 GB left
	for _, f := range fits {
		warned := len(f.Warnings) > 0
		if want := f.Type.Name == "standard-1"; warned != want {
			t.Errorf("%s warned = %v (%v), want %v", f.Type.Name, warned, f.Warnings, want)
		}
	}
}

func TestLookupAliases(t *testing.T) {
	if ty, dep, err := Lookup("standard"); err != nil || ty.Name != "standard-1" || !strings.Contains(dep, "deprecated") {
		t.Fatalf("standard = %v, %q, %v", ty, dep, err)
	}
	if ty, dep, err := Lookup("standard-2"); err != nil || ty.DiskMB != 12000 || dep != "" {
		t.Fatalf("standard-2 = %v, %q, %v", ty, dep, err)
	}
}

func TestUSDPerHour(t *testing.T) {
	s1, _, _ := Lookup("standard-1")
	// 4 GiB × 3600 × 0.0000025 + 8 GB × 3600 × 0.00000007 + 0.5 × 3600 × 0.00002
	want := 0.036 + 0.002016 + 0.036
	if got := s1.USDPerHour(); math.Abs(got-want) > 1e-12 {
		t.Fatalf("standard-1 $/h = %v, want %v", got, want)
	}
	if got := s1.IdleUSDPerHour(); math.Abs(got-0.038016) > 1e-12 {
		t.Fatalf("standard-1 idle $/h = %v", got)
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr string
	}{
		{"256MiB", 256 << 20, ""}, {"1GiB", 1 << 30, ""}, {"512MB", 512e6, ""}, {"300M", 300 << 20, ""}, {"1.5Gi", 3 << 29, ""},
		{" 64 KiB ", 64 << 10, ""}, {"100B", 100, ""},
		{"256", 0, "needs a number and a unit"}, {"", 0, "needs a number and a unit"}, {"MiB", 0, "needs a number and a unit"},
		{"12XB", 0, "unknown unit"}, {"0MiB", 0, "not a positive number"}, {"1.2.3MiB", 0, "not a positive number"}, {"2TiB", 0, "unknown unit"},
		{"2000GiB", 0, "over 1 TiB"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseSize(%q) = %d, %v; want error %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}
