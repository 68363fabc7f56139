package cli

import (
	"fmt"
	"slices"
	"sort"
	"testing"

	"github.com/org/lean4-cf-action/internal/image"
	"github.com/org/lean4-cf-action/internal/instance"
)

const gib4 = int64(1) << 32 // the period of a gzip trailer's size

// largestFitting is the largest image size whose required disk is at most disk.
func largestFitting(disk int64, layers int) int64 {
	return int64(sort.Search(int(disk), func(s int) bool { return instance.RequiredDiskBytes(int64(s), layers) > disk })) - 1
}

// boundedImage is three synthetic layers: two measured exactly and a large gzip layer whose trailer
// allows every size from low to low + spans × 4 GiB.
func boundedImage(low int64, spans int) image.Report {
	rep := image.Report{Image: "synthetic", SizeMethod: "bounds", Layers: []image.Layer{
		{Method: "stream", Compressed: 30_000_000, Uncompressed: 80_000_000},
		{Method: "gzip-trailer", Compressed: 400_000_000, Uncompressed: low - 100_000_000, UncompressedHigh: low - 100_000_000 + int64(spans)*gib4},
		{Method: "stream", Compressed: 10_000_000, Uncompressed: 20_000_000},
	}, Streamed: 2}
	for _, l := range rep.Layers {
		rep.CompressedBytes += l.Compressed
		rep.UncompressedBytes += l.Uncompressed
		rep.UncompressedBytesHigh += max(l.UncompressedHigh, l.Uncompressed)
	}
	return rep
}

// atReading is the same image with the bounded layer's size known: what --exact would find if that
// reading were the truth (its tar stream, the basis every non-exact figure uses).
func atReading(rep image.Report, total int64) image.Report {
	exact := rep
	exact.Layers = slices.Clone(rep.Layers)
	l := &exact.Layers[1]
	l.Uncompressed, l.UncompressedHigh = l.Uncompressed+total-rep.UncompressedBytes, 0
	exact.UncompressedBytes, exact.UncompressedBytesHigh, exact.SizeMethod = total, 0, "estimate"
	return exact
}

// With bounds reported, the fit of every type, the auto choice, the recommendation and the exit status
// are exactly what the true size gives, whichever reading is true; when the readings straddle a
// boundary that matters, the fit is not decided by the bounds (and the layer is streamed).
func TestBoundedFitIsTheExactFit(t *testing.T) {
	disk := map[string]int64{}
	for _, typ := range instance.Catalog() {
		disk[typ.Name] = largestFitting(typ.DiskBytes(), 3) // the largest size that fits the type's disk
	}
	type row struct {
		name        string
		low         int64
		spans       int
		want        string
		concurrency int
		agree       bool
		chosen      string // when agree
		ok          bool   // when agree: the exit status is 0
	}
	rows := []row{
		// The default workload (4 runs × 256 MiB) rules lite and basic out on memory.
		{"straddles lite's and basic's disks, both out on memory", disk["lite"], 1, "auto", 4, true, "standard-1", true},
		{"the Lean image: high reading exactly at standard-1's disk", disk["standard-1"] - gib4, 1, "auto", 4, true, "standard-1", true},
		{"high reading one byte past standard-1's disk", disk["standard-1"] - gib4 + 1, 1, "auto", 4, false, "", false},
		{"low reading exactly at standard-1's disk", disk["standard-1"], 1, "auto", 4, false, "", false},
		{"low reading one byte past standard-1's disk", disk["standard-1"] + 1, 1, "auto", 4, false, "", false},
		{"high reading exactly at standard-4's disk", disk["standard-4"] - gib4, 1, "auto", 4, false, "", false},
		{"low reading one byte past standard-4's disk: nothing fits", disk["standard-4"] + 1, 1, "auto", 4, true, "standard-4", false},
		{"named standard-1, both readings fit it", disk["standard-1"] - gib4, 1, "standard-1", 4, true, "standard-1", true},
		{"named standard-1, low reading past it", disk["standard-1"] + 1, 2, "standard-1", 4, false, "", false},
		{"named basic, out on memory at every reading", disk["standard-1"] - gib4, 1, "basic", 4, true, "basic", false},
		{"named basic, out on memory, but the recommendation depends", disk["basic"], 1, "basic", 4, false, "", false},
		// One run: basic has the memory, so its disk decides.
		{"one run: straddles basic's disk", disk["basic"], 1, "auto", 1, false, "", false},
		{"one run: past basic's disk, straddles standard-1's", disk["basic"] + 1, 1, "auto", 1, false, "", false},
		{"one run, named basic: high reading at its disk", disk["basic"] - gib4 + 1_000_000_000, 1, "basic", 1, false, "", false},
		// custom is sized to the need, so its configuration differs between readings; an explicit
		// configuration is a fixed type like a named one.
		{"custom: sized differently at each reading", disk["standard-1"] - gib4, 1, "custom", 4, false, "", false},
		{"explicit custom configuration, both readings fit it", disk["standard-1"] - gib4, 1, "custom:vcpu=1,memory=3GiB,disk=8GB", 4, true, "custom", true},
		{"explicit custom configuration, straddled", disk["basic"], 1, "custom:vcpu=1,memory=3GiB,disk=8GB", 4, false, "", false},
		// No type has 64 runs' memory: no reading fits, whatever the disk.
		{"64 runs, three readings: nothing fits", disk["lite"], 2, "auto", 64, true, "standard-4", false},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			rep := boundedImage(r.low, r.spans)
			if got := len(rep.Readings()); got != r.spans+1 {
				t.Fatalf("%d readings, want %d", got, r.spans+1)
			}
			fr, err := fitImage(rep, r.want, r.concurrency, instance.DefaultMemoryPerRun)
			if err != nil {
				t.Fatal(err)
			}
			if fr.agree != r.agree {
				t.Fatalf("agree = %v (depends %v), want %v; required %d to %d", fr.agree, fr.depends, r.agree, fr.required, fr.requiredHigh)
			}
			// Each reading taken as the truth, fitted on its own: the oracle.
			same := true
			var exacts []fitResult
			for _, total := range rep.Readings() {
				ex, err := fitImage(atReading(rep, total), r.want, r.concurrency, instance.DefaultMemoryPerRun)
				if err != nil {
					t.Fatal(err)
				}
				exacts = append(exacts, ex)
				same = same && decisionOf(ex) == decisionOf(exacts[0])
			}
			if same != fr.agree {
				t.Fatalf("agree = %v, but the exact fits at each reading %s: %v", fr.agree, map[bool]string{true: "agree", false: "differ"}[same], decisions(exacts))
			}
			if !fr.agree {
				if len(fr.depends) == 0 {
					t.Fatal("nothing named as depending on the reading")
				}
				return
			}
			if fr.chosen.Type.Name != r.chosen || fr.ok != r.ok {
				t.Fatalf("chose %s ok=%v, want %s ok=%v", fr.chosen.Type.Name, fr.ok, r.chosen, r.ok)
			}
			for _, ex := range exacts {
				if decisionOf(fr) != decisionOf(ex) {
					t.Fatalf("bounds decide %s, the exact size %d decides %s", decisionOf(fr), ex.rep.UncompressedBytes, decisionOf(ex))
				}
			}
		})
	}
}

// decisionOf is everything the sizes decide: each type's fit, the choice, the recommendation and the
// exit status.
func decisionOf(fr fitResult) string {
	s := ""
	for _, f := range fr.fits {
		s += fmt.Sprintf("%s=%v ", f.Type.Name, f.Fits)
	}
	exit := ExitOK
	if !fr.ok {
		exit = ExitFailure
	}
	return s + fmt.Sprintf("chosen=%s recommended=%q exit=%d", fr.chosen.Type.Spec(), fr.recommended, exit)
}

func decisions(frs []fitResult) []string {
	var out []string
	for _, fr := range frs {
		out = append(out, decisionOf(fr))
	}
	return out
}
