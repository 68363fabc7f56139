package instance

import (
	"math"
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	for _, tc := range []struct {
		in, want, warn, err string
	}{
		{in: "lite", want: "lite"},
		{in: "basic", want: "basic"},
		{in: "standard-1", want: "standard-1"},
		{in: "Standard-4", want: "standard-4"},
		{in: "dev", want: "lite", warn: `"dev" is deprecated and means "lite"`},
		{in: "standard", want: "standard-1", warn: `"standard" is deprecated and means "standard-1"`},
		{in: "standard-5", err: `unknown instance type "standard-5": use auto, lite, basic, standard-1`},
		{in: "", err: "unknown instance type"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, warn, err := Lookup(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got.Name != tc.want {
				t.Fatalf("Lookup = %v, %v; want %s", got, err, tc.want)
			}
			if (tc.warn == "") != (warn == "") || !strings.Contains(warn, tc.warn) {
				t.Fatalf("warning = %q, want %q", warn, tc.warn)
			}
		})
	}
}

func TestCatalog(t *testing.T) {
	want := map[string][3]float64{
		"lite": {1.0 / 16, 256, 2000}, "basic": {0.25, 1024, 4000}, "standard-1": {0.5, 4096, 8000},
		"standard-2": {1, 6144, 12000}, "standard-3": {2, 8192, 16000}, "standard-4": {4, 12288, 20000},
	}
	ts := Types()
	if len(ts) != 6 {
		t.Fatalf("%d types", len(ts))
	}
	for i, ty := range ts {
		w, ok := want[ty.Name]
		if !ok || ty.VCPU != w[0] || float64(ty.MemoryMiB) != w[1] || float64(ty.DiskMB) != w[2] {
			t.Errorf("%+v, want %v", ty, w)
		}
		if i > 0 && ty.DiskMB <= ts[i-1].DiskMB {
			t.Errorf("not smallest first at %s", ty.Name)
		}
	}
	ts[0].Name = "changed"
	if Types()[0].Name != "lite" {
		t.Fatal("Types exposes the catalog")
	}
}

func TestRequiredDiskBytes(t *testing.T) {
	for _, tc := range []struct {
		size   int64
		layers int
		want   int64
	}{
		{2_500_000_000, 10, 2_750_000_000 + 10*16777216}, // image-sizes.md §2 worked example: 2.92e9
		{850_000_000, 0, 935_000_000},
		{1, 0, 2},   // ceil(1.1)
		{10, 0, 11}, // exact, no rounding up
		{0, 1, 16777216},
		{5_532_863_328, 8, 6_220_367_389}, // the measured fit table
	} {
		if got := RequiredDiskBytes(tc.size, tc.layers); got != tc.want {
			t.Errorf("RequiredDiskBytes(%d, %d) = %d, want %d", tc.size, tc.layers, got, tc.want)
		}
	}
}

func TestFitAndChoose(t *testing.T) {
	const gb = 1_000_000_000
	for _, tc := range []struct {
		name        string
		requested   string
		needs       Needs
		chosen      string
		fits        bool
		recommended string
		fitting     []string
		warn        string
		reason      string
	}{
		{name: "defaults need 1.25 GiB: lean-sized image picks standard-1", needs: Needs{RequiredDiskBytes: 2_920_000_000},
			chosen: "standard-1", fits: true, recommended: "standard-1", fitting: []string{"standard-1", "standard-2", "standard-3", "standard-4"}},
		{name: "small workload fits basic", needs: Needs{RequiredDiskBytes: 2_920_000_000, Concurrency: 1, MemoryPerRun: 512 << 20},
			chosen: "basic", fits: true, recommended: "basic", fitting: []string{"basic", "standard-1", "standard-2", "standard-3", "standard-4"}},
		{name: "exactly full memory fits", needs: Needs{RequiredDiskBytes: 1, Concurrency: 3, MemoryPerRun: 256 << 20},
			chosen: "basic", fits: true, recommended: "basic", fitting: []string{"basic", "standard-1", "standard-2", "standard-3", "standard-4"}},
		{name: "exactly full disk fits with a warning", requested: "standard-1", needs: Needs{RequiredDiskBytes: 8 * gb},
			chosen: "standard-1", fits: true, recommended: "standard-1", fitting: []string{"standard-1", "standard-2", "standard-3", "standard-4"},
			warn: "standard-1 has only 0 % of its disk left"},
		{name: "one byte over", needs: Needs{RequiredDiskBytes: 8*gb + 1},
			chosen: "standard-2", fits: true, recommended: "standard-2", fitting: []string{"standard-2", "standard-3", "standard-4"}},
		{name: "requested too small", requested: "basic", needs: Needs{RequiredDiskBytes: 5 * gb},
			chosen: "basic", fits: false, recommended: "standard-1", fitting: []string{"standard-1", "standard-2", "standard-3", "standard-4"},
			reason: "disk: needs 5000 MB, has 4000 MB"},
		{name: "alias", requested: "standard", needs: Needs{RequiredDiskBytes: gb},
			chosen: "standard-1", fits: true, recommended: "standard-1", fitting: []string{"standard-1", "standard-2", "standard-3", "standard-4"}, warn: "deprecated"},
		{name: "nothing fits: auto shows the largest", needs: Needs{RequiredDiskBytes: 21 * gb},
			chosen: "standard-4", fits: false, recommended: "", reason: "disk: needs 21000 MB, has 20000 MB"},
		{name: "memory too much everywhere", needs: Needs{RequiredDiskBytes: gb, Concurrency: 64, MemoryPerRun: 1 << 30},
			chosen: "standard-4", fits: false, reason: "memory: needs 65792 MiB (256 MiB + 64 × 1GiB), has 12288 MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Choose(tc.requested, tc.needs)
			if err != nil {
				t.Fatal(err)
			}
			if c.Chosen.Name != tc.chosen || c.Chosen.Fits != tc.fits || c.Recommended != tc.recommended {
				t.Fatalf("chosen %s fits %v recommended %q; want %s %v %q", c.Chosen.Name, c.Chosen.Fits, c.Recommended, tc.chosen, tc.fits, tc.recommended)
			}
			var fitting []string
			for _, r := range c.Rows {
				if r.Fits {
					fitting = append(fitting, r.Name)
					if len(r.Reasons) != 0 {
						t.Errorf("%s fits with reasons %v", r.Name, r.Reasons)
					}
				} else if len(r.Reasons) == 0 {
					t.Errorf("%s does not fit and has no reason", r.Name)
				}
			}
			if strings.Join(fitting, ",") != strings.Join(tc.fitting, ",") {
				t.Errorf("fitting = %v, want %v", fitting, tc.fitting)
			}
			warns := strings.Join(c.Warnings, "|")
			if (tc.warn == "") != (warns == "") || !strings.Contains(warns, tc.warn) {
				t.Errorf("warnings = %q, want %q", warns, tc.warn)
			}
			if tc.reason != "" && !strings.Contains(strings.Join(c.Chosen.Reasons, "; "), tc.reason) {
				t.Errorf("reasons = %v, want %q", c.Chosen.Reasons, tc.reason)
			}
		})
	}
	if _, err := Choose("huge", Needs{}); err == nil {
		t.Fatal("unknown type accepted")
	}
}

func TestUSDPerHour(t *testing.T) {
	for _, tc := range []struct {
		name string
		want float64
	}{
		// memory GiB*3600*0.0000025 + disk GB*3600*0.00000007 + vCPU*3600*0.000020
		{"lite", 0.25*0.009 + 2*0.000252 + 0.0625*0.072},
		{"standard-1", 4*0.009 + 8*0.000252 + 0.5*0.072}, // 0.036 + 0.002016 + 0.036
		{"standard-4", 12*0.009 + 20*0.000252 + 4*0.072},
	} {
		ty, _, _ := Lookup(tc.name)
		if got := USDPerHour(ty); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  string
	}{
		{in: "256MiB", want: 256 << 20},
		{in: "1GiB", want: 1 << 30},
		{in: "1gib", want: 1 << 30},
		{in: "512MB", want: 512_000_000},
		{in: "300M", want: 300_000_000},
		{in: "300Mi", want: 300 << 20},
		{in: "1.5Gi", want: 3 << 29},
		{in: "4096B", want: 4096},
		{in: " 2 GB ", want: 2_000_000_000},
		{in: "0.1B", want: 1},
		{in: "256", err: "has no unit"},
		{in: "MiB", err: "does not start with a number"},
		{in: "", err: "does not start with a number"},
		{in: "12XB", err: `unknown unit "XB"`},
		{in: "1.2.3MiB", err: "is not a number"},
		{in: "0MiB", err: "out of range"},
		{in: "2000TiB", err: "out of range"},
		{in: "-5MiB", err: "does not start with a number"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseSize(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseSize(%q) = %d, %v; want error %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
			}
			if back, err := ParseSize(FormatSize(got)); err != nil || back != got {
				t.Fatalf("round trip of %d via %q = %d, %v", got, FormatSize(got), back, err)
			}
		})
	}
}
