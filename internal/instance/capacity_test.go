package instance

import (
	"math"
	"strings"
	"testing"
)

func TestCapacityOf(t *testing.T) {
	cases := []struct {
		name                          string
		memoryRuns, cpuRuns, max, que int
	}{
		{"lite", 0, 1, 0, 0},
		{"basic", 3, 1, 1, 2},
		{"standard-1", 15, 2, 2, 4},
		{"standard-2", 23, 4, 4, 8},
		{"standard-3", 31, 8, 8, 16},
		{"standard-4", 47, 16, 16, 32},
	}
	for _, tc := range cases {
		ty, _, err := Lookup(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		c := CapacityOf(ty, 0)
		if c.MemoryRuns != tc.memoryRuns || c.CPURuns != tc.cpuRuns || c.MaxConcurrent != tc.max || c.MaxQueue != tc.que {
			t.Errorf("%s: %+v, want memory %d cpu %d max %d queue %d", tc.name, c, tc.memoryRuns, tc.cpuRuns, tc.max, tc.que)
		}
	}
	// The memory ceiling wins when runs are large.
	s1, _, _ := Lookup("standard-1")
	if c := CapacityOf(s1, 2<<30); c.MemoryRuns != 1 || c.MaxConcurrent != 1 {
		t.Errorf("standard-1 with 2 GiB runs: %+v, want 1", c)
	}
}

func TestCapacitySentence(t *testing.T) {
	s1, _, _ := Lookup("standard-1")
	got := CapacityOf(s1, 0).Sentence()
	for _, want := range []string{"standard-1 runs 2 evaluations at once", "memory allows 15", "up to 4 more wait", "429", "503", "never runs out of memory"} {
		if !strings.Contains(got, want) {
			t.Errorf("sentence %q lacks %q", got, want)
		}
	}
	lite, _, _ := Lookup("lite")
	if got := CapacityOf(lite, 0).Sentence(); !strings.Contains(got, "cannot run") {
		t.Errorf("lite: %q", got)
	}
	custom, _, err := Lookup("custom:vcpu=1,memory=4GiB,disk=8GB")
	if err != nil {
		t.Fatal(err)
	}
	if c := CapacityOf(custom, 0); c.MaxConcurrent != 4 || !strings.HasPrefix(c.Sentence(), custom.Describe()+" runs 4 evaluations at once") {
		t.Errorf("custom: %+v %q", c, c.Sentence())
	}
}

func TestRecommend(t *testing.T) {
	s1, _, _ := Lookup("standard-1")
	s3, _, _ := Lookup("standard-3")
	cases := []struct {
		ty             Type
		rate, run      float64
		per            float64
		instances, max int
		busy           float64
	}{
		// 0.5 vCPU / 0.5 s = 1 evaluation/s; 2/s at 80 % needs 2.5 -> 3.
		{s1, 2, 0.5, 1, 3, 6, 1},
		{s1, 0.1, 0.5, 1, 1, 2, 0.05},
		// 2 vCPU / 0.25 s = 8/s; 20/s at 80 % needs 3.125 -> 4.
		{s3, 20, 0.25, 8, 4, 8, 5},
	}
	for _, tc := range cases {
		p, err := Recommend(CapacityOf(tc.ty, 0), tc.rate, tc.run)
		if err != nil {
			t.Fatal(err)
		}
		if p.PerInstance != tc.per || p.Instances != tc.instances || p.Max != tc.max || math.Abs(p.BusyVCPU-tc.busy) > 1e-9 {
			t.Errorf("%s %v/s × %v s: %+v", tc.ty.Name, tc.rate, tc.run, p)
		}
		if p.USDPerHour <= 0 || p.USDPerHour > p.MaxUSDHour {
			t.Errorf("costs %v <= 0 or above the ceiling %v", p.USDPerHour, p.MaxUSDHour)
		}
		if !strings.Contains(p.Sentence(), "Little's law") {
			t.Errorf("sentence %q", p.Sentence())
		}
	}
	lite, _, _ := Lookup("lite")
	for _, bad := range []struct {
		c         Capacity
		rate, run float64
		want      string
	}{
		{CapacityOf(s1, 0), 0, 1, "target rate"},
		{CapacityOf(s1, 0), math.NaN(), 1, "target rate"},
		{CapacityOf(s1, 0), 1, -1, "run seconds"},
		{CapacityOf(s1, 0), 1, math.Inf(1), "run seconds"},
		{CapacityOf(lite, 0), 1, 1, "more memory"},
	} {
		if _, err := Recommend(bad.c, bad.rate, bad.run); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("Recommend(%v, %v) = %v, want an error about %s", bad.rate, bad.run, err, bad.want)
		}
	}
}
