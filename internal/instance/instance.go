// Package instance is the Cloudflare Containers instance catalog, the rules that fit an image to it,
// and what an instance costs while awake. It is pure: no I/O.
package instance

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
)

// Type is one instance type: a named one (https://developers.cloudflare.com/containers/platform/limits/)
// or a custom configuration (Name "custom", see Custom). Disk is decimal, memory binary.
type Type struct {
	Name      string // lite … standard-4, or custom
	VCPU      float64
	MemoryMiB int64
	DiskMB    int64
}

// DiskBytes is the disk in bytes (decimal: disk_mb × 1,000,000).
func (t Type) DiskBytes() int64 { return t.DiskMB * 1_000_000 }

// MemoryBytes is the memory in bytes (binary: memory_mib × 1,048,576).
func (t Type) MemoryBytes() int64 { return t.MemoryMiB << 20 }

// Catalog returns the six instance types, smallest first.
func Catalog() []Type {
	return []Type{
		{"lite", 1.0 / 16, 256, 2000},
		{"basic", 0.25, 1024, 4000},
		{"standard-1", 0.5, 4096, 8000},
		{"standard-2", 1, 6144, 12000},
		{"standard-3", 2, 8192, 16000},
		{"standard-4", 4, 12288, 20000},
	}
}

// Lookup finds a type by name, or reads an explicit custom configuration (custom:vcpu=V,memory=M,disk=D,
// see Type.Spec) and checks it against Cloudflare's limits (a *LimitError names the one violated). The
// deprecated aliases dev (lite) and standard (standard-1) are accepted and reported in deprecated so
// callers can warn, as wrangler does. "custom" alone is not a type but a search: see Select.
func Lookup(name string) (t Type, deprecated string, err error) {
	if strings.HasPrefix(name, CustomName+":") {
		t, err := parseCustom(name)
		return t, "", err
	}
	if name == CustomName {
		return Type{}, "", fmt.Errorf("instance type %q is a search, not a type: fit it with Select, or give custom:vcpu=V,memory=M,disk=D", name)
	}
	canonical := name
	if c, ok := Aliases()[name]; ok {
		canonical = c
		deprecated = fmt.Sprintf("instance type %q is deprecated: it is now %q", name, c)
		if name == "standard" {
			deprecated += " (8 GB disk, not the old 4 GB)"
		}
	}
	for _, t := range Catalog() {
		if t.Name == canonical {
			return t, deprecated, nil
		}
	}
	return Type{}, "", fmt.Errorf("unknown instance type %q: use %s", name, Choices())
}

// Aliases maps each deprecated name wrangler still accepts (and warns about) to the type it now means.
func Aliases() map[string]string { return map[string]string{"dev": "lite", "standard": "standard-1"} }

// Choices lists what an --instance-type may be, for usage text and errors.
func Choices() string {
	return "auto, " + strings.Join(Names(), ", ") + ", custom (the cheapest custom configuration that fits) or custom:vcpu=V,memory=M,disk=D"
}

// Check validates a wanted instance type without fitting it: auto, custom, a name or alias, or an explicit
// custom configuration within the limits.
func Check(want string) error {
	switch want {
	case "":
		return fmt.Errorf("instance type is empty: use %s", Choices())
	case "auto", CustomName:
		return nil
	}
	_, _, err := Lookup(want)
	return err
}

// Names lists the type names, smallest first.
func Names() []string {
	var out []string
	for _, t := range Catalog() {
		out = append(out, t.Name)
	}
	return out
}

// Published rates (https://developers.cloudflare.com/containers/pricing/), in USD.
const (
	USDPerGiBSecond  = 0.0000025  // memory, billed on the type's provisioned memory while running
	USDPerGBSecond   = 0.00000007 // disk, billed on the type's provisioned disk while running
	USDPerVCPUSecond = 0.000020   // CPU, billed on active use; the hourly figure assumes full use
)

// USDPerHour is the cost of one hour awake: provisioned memory and disk, plus every vCPU fully busy
// (an upper bound; idle CPU costs nothing). The monthly included allowances are not subtracted.
func (t Type) USDPerHour() float64 {
	memGiB := float64(t.MemoryMiB) / 1024
	diskGB := float64(t.DiskMB) / 1000
	return 3600 * (memGiB*USDPerGiBSecond + diskGB*USDPerGBSecond + t.VCPU*USDPerVCPUSecond)
}

// IdleUSDPerHour is the cost of one hour awake with the CPU idle: provisioned memory and disk only.
func (t Type) IdleUSDPerHour() float64 {
	return 3600 * (float64(t.MemoryMiB)/1024*USDPerGiBSecond + float64(t.DiskMB)/1000*USDPerGBSecond)
}

// Defaults for the memory rule.
const (
	BaseMemory           = 256 << 20 // the server, the OS and the runtime
	DefaultConcurrency   = 4         // Lean runs at once
	DefaultMemoryPerRun  = 256 << 20 // one Lean process evaluating a small program
	LayerOverheadBytes   = 16 << 20  // wrangler's per-layer devmapper allowance
	HeadroomWarnFraction = 0.20      // warn when less than this share of the disk is left
)

// RequiredDiskBytes is wrangler's rule: ceil(S × 1.1 + layers × 16 MiB), with S the image size.
func RequiredDiskBytes(size int64, layers int) int64 {
	return int64(math.Ceil(float64(size)*1.1 + float64(layers)*LayerOverheadBytes))
}

// Need is what an image and its workload ask of an instance.
type Need struct {
	DiskBytes    int64 // RequiredDiskBytes of the image
	Concurrency  int   // Lean runs at once; default DefaultConcurrency
	MemoryPerRun int64 // bytes per run; default DefaultMemoryPerRun
}

// MemoryBytes is BaseMemory + concurrency × memory per run.
func (n Need) MemoryBytes() int64 {
	c, m := n.Concurrency, n.MemoryPerRun
	if c <= 0 {
		c = DefaultConcurrency
	}
	if m <= 0 {
		m = DefaultMemoryPerRun
	}
	return BaseMemory + int64(c)*m
}

// Fit is how one type fits a need.
type Fit struct {
	Type     Type
	Fits     bool
	Reasons  []string // why it does not fit
	Warnings []string // fits, but tightly
}

// FitAll fits the need against every named type, smallest first.
func FitAll(n Need) []Fit {
	var out []Fit
	for _, t := range Catalog() {
		out = append(out, fitType(n, t))
	}
	return out
}

// FitType fits the need against one type, named or custom.
func FitType(n Need, t Type) Fit { return fitType(n, t) }

func fitType(n Need, t Type) Fit {
	f := Fit{Type: t, Fits: true}
	most := ""
	if t.IsCustom() {
		most = " (the most a custom type may have)"
	}
	if n.DiskBytes > t.DiskBytes() {
		f.Fits = false
		has := GB(t.DiskBytes())
		if t.DiskMB == CustomMaxDiskMB {
			has += most
		}
		f.Reasons = append(f.Reasons, fmt.Sprintf("disk: needs %s, has %s", GB(n.DiskBytes), has))
	} else if left := t.DiskBytes() - n.DiskBytes; float64(left) < HeadroomWarnFraction*float64(t.DiskBytes()) {
		f.Warnings = append(f.Warnings, fmt.Sprintf("only %s of %s disk left (less than 20 %%)", GB(left), GB(t.DiskBytes())))
	}
	if need := n.MemoryBytes(); need > t.MemoryBytes() {
		f.Fits = false
		has := fmt.Sprintf("%d MiB", t.MemoryMiB)
		if t.MemoryMiB == CustomMaxMemoryMiB {
			has += most
		}
		f.Reasons = append(f.Reasons, fmt.Sprintf("memory: needs %d MiB, has %s", ceilDiv(need, 1<<20), has))
	}
	return f
}

// Choose picks among named fits for want ("auto" or a name): auto is the smallest type that fits.
// It returns the chosen fit; ok is false when nothing fits (auto) or the named type does not fit.
// Custom types need the need itself: see Select.
func Choose(fits []Fit, want string) (Fit, bool, error) {
	if want == "" || want == "auto" {
		for _, f := range fits {
			if f.Fits {
				return f, true, nil
			}
		}
		return fits[len(fits)-1], false, nil
	}
	t, _, err := Lookup(want)
	if err != nil {
		return Fit{}, false, err
	}
	if t.IsCustom() {
		return Fit{}, false, fmt.Errorf("instance type %q is custom: fit it with Select", want)
	}
	for _, f := range fits {
		if f.Type.Name == t.Name {
			return f, f.Fits, nil
		}
	}
	return Fit{}, false, fmt.Errorf("instance type %q is missing from the fit table", want)
}

// Select fits the need for any wanted instance type: auto (the smallest named type that fits), a name or
// alias, custom (CheapestCustom) or an explicit custom configuration. ok is false when the choice does
// not hold the need.
func Select(n Need, want string) (Fit, bool, error) {
	switch want {
	case "", "auto":
		return Choose(FitAll(n), want)
	case CustomName:
		f := CheapestCustom(n)
		return f, f.Fits, nil
	}
	t, _, err := Lookup(want)
	if err != nil {
		return Fit{}, false, err
	}
	f := fitType(n, t)
	return f, f.Fits, nil
}

// CheapestNamed is the named type that fits at the lowest $/hour awake; ok is false when none fits.
func CheapestNamed(fits []Fit) (Fit, bool) {
	var best Fit
	ok := false
	for _, f := range fits {
		if f.Fits && (!ok || f.Type.USDPerHour() < best.Type.USDPerHour()) {
			best, ok = f, true
		}
	}
	return best, ok
}

// GB formats bytes in decimal gigabytes, as Cloudflare states disk sizes.
func GB(n int64) string { return strconv.FormatFloat(float64(n)/1e9, 'f', 2, 64) + " GB" }

// ParseSize reads a memory size: a number with a unit B, KB/MB/GB (decimal), KiB/MiB/GiB (binary), or
// K/M/G (binary, as in Kubernetes' Ki/Mi/Gi and docker's -m). A bare number is refused: the unit matters.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return !unicode.IsDigit(r) && r != '.' })
	if i <= 0 {
		return 0, fmt.Errorf("size %q needs a number and a unit, like 256MiB or 1GiB", s)
	}
	num, unit := t[:i], strings.TrimSpace(t[i:])
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("size %q: %q is not a positive number", s, num)
	}
	mult := map[string]float64{
		"b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30,
		"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "ki": 1 << 10, "mi": 1 << 20, "gi": 1 << 30,
	}[strings.ToLower(unit)]
	if mult == 0 {
		return 0, fmt.Errorf("size %q: unknown unit %q; use B, KB, MB, GB, KiB, MiB or GiB", s, unit)
	}
	n := v * mult
	if n > 1<<40 {
		return 0, fmt.Errorf("size %q is over 1 TiB", s)
	}
	return int64(math.Ceil(n)), nil
}
