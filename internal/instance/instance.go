// Package instance is the catalog of Cloudflare Containers instance types, the rules that decide whether an
// image fits one, and what an hour awake costs. It is pure: no network, no processes, no files.
package instance

import (
	"fmt"
	"math"
	"strings"
)

// Type is one instance type: vCPU, memory in MiB (binary) and disk in MB (decimal, 1 MB = 1,000,000 bytes).
type Type struct {
	Name      string
	VCPU      float64
	MemoryMiB int
	DiskMB    int
}

// MemoryBytes is the memory in bytes (MiB × 1,048,576).
func (t Type) MemoryBytes() int64 { return int64(t.MemoryMiB) << 20 }

// DiskBytes is the disk in bytes (MB × 1,000,000), the unit wrangler compares the required disk against.
func (t Type) DiskBytes() int64 { return int64(t.DiskMB) * 1_000_000 }

// catalog lists the six instance types, smallest first (cloudflare-containers.md §1).
var catalog = [...]Type{
	{"lite", 1.0 / 16, 256, 2000},
	{"basic", 0.25, 1024, 4000},
	{"standard-1", 0.5, 4096, 8000},
	{"standard-2", 1, 6144, 12000},
	{"standard-3", 2, 8192, 16000},
	{"standard-4", 4, 12288, 20000},
}

// aliases are the deprecated names wrangler still accepts, with the type they now mean.
var aliases = map[string]string{"dev": "lite", "standard": "standard-1"}

// Auto is the instance-type choice that picks the smallest type that fits.
const Auto = "auto"

// Types returns the six instance types, smallest first.
func Types() []Type { return append([]Type(nil), catalog[:]...) }

// Names returns the six canonical names, smallest first.
func Names() []string {
	out := make([]string, len(catalog))
	for i, t := range catalog {
		out[i] = t.Name
	}
	return out
}

// Lookup finds a type by its canonical name or a deprecated alias. For an alias, warning says what it now means.
func Lookup(name string) (t Type, warning string, err error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if canon, ok := aliases[n]; ok {
		warning = fmt.Sprintf("instance type %q is deprecated and means %q now; use %q", n, canon, canon)
		n = canon
	}
	for _, t := range catalog {
		if t.Name == n {
			return t, warning, nil
		}
	}
	return Type{}, "", fmt.Errorf("unknown instance type %q: use auto, %s", name, strings.Join(Names(), ", "))
}

// Fit rule constants (cloudflare-containers.md §3; wrangler's limits.ts).
const (
	// PerLayerBytes is wrangler's per-layer (devmapper) allowance: 16 MiB.
	PerLayerBytes = 16 << 20
	// BaseMemoryBytes is what the server itself is allowed before runs: 256 MiB.
	BaseMemoryBytes = 256 << 20
	// DefaultConcurrency is how many Lean runs are assumed at once.
	DefaultConcurrency = 4
	// DefaultMemoryPerRun is the memory one Lean run is assumed to need: 256 MiB.
	DefaultMemoryPerRun = 256 << 20
	// LowDiskFraction: a fitting type with less than this share of its disk left earns a warning.
	LowDiskFraction = 0.20
)

// RequiredDiskBytes is wrangler's rule: ceil(size × 1.1 + layers × 16 MiB), computed exactly in integers.
func RequiredDiskBytes(size int64, layers int) int64 {
	// ceil(size*11/10) without float rounding.
	return (size*11+9)/10 + int64(layers)*PerLayerBytes
}

// Needs is what an image and its workload ask of an instance.
type Needs struct {
	// RequiredDiskBytes is from RequiredDiskBytes.
	RequiredDiskBytes int64
	// Concurrency is how many runs at once. Default DefaultConcurrency.
	Concurrency int
	// MemoryPerRun is bytes per run. Default DefaultMemoryPerRun.
	MemoryPerRun int64
}

func (n Needs) withDefaults() Needs {
	if n.Concurrency <= 0 {
		n.Concurrency = DefaultConcurrency
	}
	if n.MemoryPerRun <= 0 {
		n.MemoryPerRun = DefaultMemoryPerRun
	}
	return n
}

// MemoryBytes is 256 MiB + concurrency × memory per run.
func (n Needs) MemoryBytes() int64 {
	n = n.withDefaults()
	return BaseMemoryBytes + int64(n.Concurrency)*n.MemoryPerRun
}

// Row is one type's verdict.
type Row struct {
	Type
	Fits bool
	// Reasons says why it does not fit (empty when it fits).
	Reasons []string
	// DiskLeftFraction is the share of the disk left after the image: (disk - required) / disk.
	DiskLeftFraction float64
	// USDPerHour is USDPerHour(Type).
	USDPerHour float64
}

// Fit judges every type, smallest first.
func Fit(n Needs) []Row {
	n = n.withDefaults()
	mem := n.MemoryBytes()
	rows := make([]Row, len(catalog))
	for i, t := range catalog {
		r := Row{Type: t, USDPerHour: USDPerHour(t)}
		r.DiskLeftFraction = float64(t.DiskBytes()-n.RequiredDiskBytes) / float64(t.DiskBytes())
		if n.RequiredDiskBytes > t.DiskBytes() {
			r.Reasons = append(r.Reasons, fmt.Sprintf("disk: needs %s, has %s", mb(n.RequiredDiskBytes), mb(t.DiskBytes())))
		}
		if mem > t.MemoryBytes() {
			r.Reasons = append(r.Reasons, fmt.Sprintf("memory: needs %d MiB (256 MiB + %d × %s), has %d MiB",
				ceilMiB(mem), n.Concurrency, FormatSize(n.MemoryPerRun), t.MemoryMiB))
		}
		r.Fits = len(r.Reasons) == 0
		rows[i] = r
	}
	return rows
}

// Choice is the outcome of choosing a type for an image.
type Choice struct {
	Rows []Row
	// Chosen is the requested type, or for auto the smallest that fits (the largest when none does).
	Chosen Row
	// Recommended is the smallest type that fits; empty when none does.
	Recommended string
	// Warnings: a deprecated alias, little disk left.
	Warnings []string
}

// Choose fits every type and picks one: requested is auto (or empty), a type name, or a deprecated alias.
func Choose(requested string, n Needs) (Choice, error) {
	c := Choice{Rows: Fit(n)}
	for _, r := range c.Rows {
		if r.Fits {
			c.Recommended = r.Name
			break
		}
	}
	req := strings.ToLower(strings.TrimSpace(requested))
	switch {
	case req == "" || req == Auto:
		c.Chosen = c.Rows[len(c.Rows)-1]
		for _, r := range c.Rows {
			if r.Fits {
				c.Chosen = r
				break
			}
		}
	default:
		t, warn, err := Lookup(req)
		if err != nil {
			return Choice{}, err
		}
		if warn != "" {
			c.Warnings = append(c.Warnings, warn)
		}
		for _, r := range c.Rows {
			if r.Name == t.Name {
				c.Chosen = r
			}
		}
	}
	if c.Chosen.Fits && c.Chosen.DiskLeftFraction < LowDiskFraction {
		c.Warnings = append(c.Warnings, fmt.Sprintf("%s has only %.0f %% of its disk left after the image (%s of %s)",
			c.Chosen.Name, 100*c.Chosen.DiskLeftFraction, mb(c.Chosen.DiskBytes()-n.RequiredDiskBytes), mb(c.Chosen.DiskBytes())))
	}
	return c, nil
}

// Published rates (cloudflare-containers.md §7), per second.
const (
	USDPerGiBSecond  = 0.0000025  // memory, provisioned
	USDPerGBSecond   = 0.00000007 // disk, provisioned
	USDPerVCPUSecond = 0.000020   // CPU, active use only
)

// USDPerHour is what one hour awake costs at the published overage rates, before the monthly included amounts:
// memory GiB × 3600 × $0.0000025 + disk GB × 3600 × $0.00000007 + vCPU × 3600 × $0.000020. CPU is billed on
// active use, so this assumes every vCPU busy the whole hour: an upper bound (an idle hour costs memory and
// disk only).
func USDPerHour(t Type) float64 {
	gib := float64(t.MemoryMiB) / 1024
	gb := float64(t.DiskMB) / 1000
	return gib*3600*USDPerGiBSecond + gb*3600*USDPerGBSecond + t.VCPU*3600*USDPerVCPUSecond
}

func mb(n int64) string {
	return fmt.Sprintf("%d MB", int64(math.Ceil(float64(n)/1e6)))
}

func ceilMiB(n int64) int64 { return (n + 1<<20 - 1) >> 20 }
