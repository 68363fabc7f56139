package instance

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Decision is the fit of an image whose size is known only as a set of readings (a gzip trailer gives a
// layer's size modulo 4 GiB, so a large layer may hold several sizes), decided under every reading.
type Decision struct {
	// Fits is the fit table. When Agree, every type's Fits is what any reading gives; the reasons and
	// warnings are those of the largest reading, with the disk need stated as a range.
	Fits   []Fit
	Chosen Fit  // what want picks
	OK     bool // whether Chosen fits
	// Agree is true when every reading gives the same answer for every type and the same choice, so the
	// decision (and the exit status) is what the exact size would give, whichever reading is true.
	Agree bool
	// Depends names the types whose answer, or the choice, differs between readings, when not Agree.
	Depends []string
}

// Decide fits each reading's need (the same workload, one required disk per reading) and compares the
// answers. want is anything Select takes: auto, a name or alias, custom, or an explicit configuration.
func Decide(needs []Need, want string) (Decision, error) {
	if len(needs) == 0 {
		return Decision{}, fmt.Errorf("deciding a fit: no readings")
	}
	byNeed := slices.Clone(needs)
	slices.SortFunc(byNeed, func(a, b Need) int { return cmp.Compare(a.DiskBytes, b.DiskBytes) })
	low, high := byNeed[0], byNeed[len(byNeed)-1]

	d := Decision{Agree: true}
	var first []Fit
	var firstChoice Type
	var firstOK bool
	for i, n := range byNeed {
		fits := FitAll(n)
		chosen, ok, err := Select(n, want)
		if err != nil {
			return Decision{}, err
		}
		if i == 0 {
			first, firstChoice, firstOK = fits, chosen.Type, ok
		} else {
			// A custom choice is sized to the need, so its configuration, not only its name, must hold.
			if (chosen.Type != firstChoice || ok != firstOK) && !slices.Contains(d.Depends, "the "+want+" choice") {
				d.Agree = false
				d.Depends = append(d.Depends, "the "+want+" choice")
			}
			for j, f := range fits {
				if f.Fits != first[j].Fits && !slices.Contains(d.Depends, f.Type.Name) {
					d.Agree = false
					d.Depends = append(d.Depends, f.Type.Name)
				}
			}
		}
		if i == len(byNeed)-1 {
			d.Fits, d.Chosen, d.OK = fits, chosen, ok
		}
	}
	if low.DiskBytes == high.DiskBytes {
		return d, nil
	}
	// State the disk need as the range it spans wherever the largest reading's table names it.
	lowNeed, highNeed := GB(low.DiskBytes), GB(high.DiskBytes)
	asRange := func(f Fit) Fit {
		f.Reasons = slices.Clone(f.Reasons)
		for j, r := range f.Reasons {
			if strings.HasPrefix(r, "disk: ") {
				f.Reasons[j] = strings.Replace(r, "needs "+highNeed, "needs "+lowNeed+" to "+highNeed, 1)
			}
		}
		f.Warnings = slices.Clone(f.Warnings)
		for j, w := range f.Warnings {
			f.Warnings[j] = "at the largest reading, " + w
		}
		return f
	}
	for i := range d.Fits {
		d.Fits[i] = asRange(d.Fits[i])
	}
	d.Chosen = asRange(d.Chosen)
	return d, nil
}
