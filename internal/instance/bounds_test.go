package instance

import (
	"slices"
	"strings"
	"testing"
)

// Decide agrees exactly when every reading gives the same fits and choice, and then gives what each
// reading gives: checked at every type's disk boundary, with the readings on one side and straddling it.
func TestDecideAtEachDiskBoundary(t *testing.T) {
	for _, typ := range Catalog() {
		d := typ.DiskBytes()
		for _, tc := range []struct {
			name     string
			disks    []int64
			straddle bool
		}{
			{"both at or under", []int64{d - 1, d}, false},
			{"both over", []int64{d + 1, d + 2}, false},
			{"straddling", []int64{d, d + 1}, true},
			{"straddling, three readings", []int64{d - 1, d, d + 1}, true},
		} {
			for _, mem := range []struct {
				name        string
				concurrency int
				perRun      int64
			}{{"every type has the memory", 1, 0}, {"default workload", 0, 0}} {
				for _, want := range []string{"auto", typ.Name} {
					t.Run(typ.Name+"/"+tc.name+"/"+mem.name+"/"+want, func(t *testing.T) {
						needs := make([]Need, len(tc.disks))
						for i, disk := range tc.disks {
							needs[i] = Need{DiskBytes: disk, Concurrency: mem.concurrency, MemoryPerRun: mem.perRun}
						}
						if mem.concurrency == 1 {
							needs = onlyDisk(needs)
						}
						dec, err := Decide(needs, want)
						if err != nil {
							t.Fatal(err)
						}
						// The oracle: fit each reading on its own, as an exact size would be fitted.
						same := true
						var first []Fit
						var firstChoice Fit
						var firstOK bool
						for i, n := range needs {
							fits := FitAll(n)
							chosen, ok, _ := Choose(fits, want)
							if i == 0 {
								first, firstChoice, firstOK = fits, chosen, ok
								continue
							}
							if chosen.Type.Name != firstChoice.Type.Name || ok != firstOK {
								same = false
							}
							for j := range fits {
								same = same && fits[j].Fits == first[j].Fits
							}
						}
						if dec.Agree != same {
							t.Fatalf("Agree = %v, but the readings %s (depends %v)", dec.Agree, map[bool]string{true: "agree", false: "differ"}[same], dec.Depends)
						}
						if !dec.Agree {
							if len(dec.Depends) == 0 {
								t.Fatal("no type named as depending on the reading")
							}
							return
						}
						if len(dec.Depends) != 0 || dec.Chosen.Type.Name != firstChoice.Type.Name || dec.OK != firstOK {
							t.Fatalf("decision %s ok=%v (depends %v), exact %s ok=%v", dec.Chosen.Type.Name, dec.OK, dec.Depends, firstChoice.Type.Name, firstOK)
						}
						for j := range first {
							if dec.Fits[j].Fits != first[j].Fits {
								t.Fatalf("%s fits=%v, exact %v", first[j].Type.Name, dec.Fits[j].Fits, first[j].Fits)
							}
						}
					})
				}
			}
			// With only the disk deciding (every type but lite has the memory), a straddled boundary
			// leaves the decision open; lite, which has no memory to spare, fits under no reading.
			if tc.straddle && typ.MemoryBytes() > BaseMemory {
				dec, _ := Decide(onlyDisk([]Need{{DiskBytes: d}, {DiskBytes: d + 1}}), "auto")
				if dec.Agree || !slices.Contains(dec.Depends, typ.Name) {
					t.Errorf("%s: straddling its disk agrees (depends %v)", typ.Name, dec.Depends)
				}
			}
		}
	}
}

// onlyDisk gives needs whose memory every type has except lite's (256 MiB, all of it the base), so
// the disk alone decides from basic up.
func onlyDisk(needs []Need) []Need {
	for i := range needs {
		needs[i].Concurrency, needs[i].MemoryPerRun = 1, 1
	}
	return needs
}

// The table of a bounded decision states the disk need as the range the readings span.
func TestDecideStatesTheDiskRange(t *testing.T) {
	dec, err := Decide([]Need{{DiskBytes: 2_950_000_000}, {DiskBytes: 7_680_000_000}}, "auto")
	if err != nil {
		t.Fatal(err)
	}
	if !dec.Agree || dec.Chosen.Type.Name != "standard-1" || !dec.OK {
		t.Fatalf("decision %+v", dec)
	}
	basic := dec.Fits[1]
	if basic.Fits || strings.Join(basic.Reasons, "; ") != "disk: needs 2.95 GB to 7.68 GB, has 4.00 GB; memory: needs 1280 MiB, has 1024 MiB" {
		t.Fatalf("basic: %+v", basic)
	}
	if w := strings.Join(dec.Chosen.Warnings, "; "); !strings.HasPrefix(w, "at the largest reading, only 0.32 GB of 8.00 GB disk left") {
		t.Fatalf("standard-1 warnings %q", w)
	}
	if _, err := Decide(nil, "auto"); err == nil {
		t.Fatal("no readings accepted")
	}
}
