package instance_test

import (
	"fmt"

	"github.com/org/lean4-cf-action/internal/instance"
)

// The named and the custom choice, with $/hour awake (CPU busy, the fit table's figure) and idle, for the
// default image (about 2.5 GB unpacked in 12 layers) and for a Lean image with Mathlib (about 10 GB
// unpacked), both with the default workload (4 runs of 256 MiB).
func ExampleCheapestCustom() {
	for _, img := range []struct {
		name   string
		size   int64
		layers int
	}{{"default image, 2.5 GB unpacked", 2_500_000_000, 12}, {"Mathlib image, 10 GB unpacked", 10_000_000_000, 12}} {
		need := instance.Need{DiskBytes: instance.RequiredDiskBytes(img.size, img.layers)}
		named, _ := instance.CheapestNamed(instance.FitAll(need))
		custom := instance.CheapestCustom(need)
		fmt.Printf("%s, needs %s disk and %d MiB:\n", img.name, instance.GB(need.DiskBytes), need.MemoryBytes()>>20)
		for _, f := range []instance.Fit{named, custom} {
			fmt.Printf("  %-42s $%.4f/hour awake, $%.4f idle\n", f.Type.Spec(), f.Type.USDPerHour(), f.Type.IdleUSDPerHour())
		}
	}
	// Output:
	// default image, 2.5 GB unpacked, needs 2.95 GB disk and 1280 MiB:
	//   standard-1                                 $0.0740/hour awake, $0.0380 idle
	//   custom:vcpu=1,memory=3072MiB,disk=4000MB   $0.1000/hour awake, $0.0280 idle
	// Mathlib image, 10 GB unpacked, needs 11.20 GB disk and 1280 MiB:
	//   standard-2                                 $0.1290/hour awake, $0.0570 idle
	//   custom:vcpu=1,memory=3072MiB,disk=15000MB  $0.1028/hour awake, $0.0308 idle
}
