package instance

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Custom instance types: an instance_type given as {vcpu, memory_mib, disk_mb} instead of a name.
// The limits are Cloudflare's, from https://developers.cloudflare.com/containers/platform/limits/#custom-instance-types
// (read December 2026). The disk-to-memory limit (at most 2 GB of disk per GiB of memory) was removed on
// 2026-09-29: https://developers.cloudflare.com/changelog/post/2026-09-29-remove-disk-to-memory-ratio/
// The page names bounds only, no step: vCPU is any number from the minimum to the maximum, memory a
// whole number of MiB, disk a whole number of MB (the units of the configuration's fields).
const (
	CustomName = "custom"

	CustomMinVCPU             = 1.0                 // "For workloads requiring less than 1 vCPU, use the predefined instance types"
	CustomMaxVCPU             = 4.0                 // the size of standard-4
	CustomMaxMemoryMiB        = 12 << 10            // 12 GiB
	CustomMinMemoryMiBPerVCPU = 3 << 10             // at least 3 GiB of memory per vCPU
	CustomMaxDiskMB           = 20_000              // 20 GB
	CustomMinDiskMB           = DefaultCustomDiskMB // lean4-cf's floor, see below
	CustomDiskStepMB          = 1_000               // the search sizes disk in whole GB, see CheapestCustom
	limitsURL                 = "https://developers.cloudflare.com/containers/platform/limits/#custom-instance-types"
)

// CustomMinDiskMB is not a documented limit: Cloudflare names no lower bound for disk. It is the disk of
// lite, the smallest named type, and the disk wrangler 4.164 sends for a custom type without disk_mb, so
// lean4-cf never asks for a disk smaller than one the platform is known to provision.

// LimitError is a custom configuration outside Cloudflare's limits; Limit names the violated limit.
type LimitError struct {
	Field string // vcpu, memory or disk
	Limit string // e.g. "the maximum of 4 vCPU"
	Value string // the value given, with its unit
	Fix   string
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("custom instance type: %s %s is outside %s (%s); %s", e.Field, e.Value, e.Limit, limitsURL, e.Fix)
}

// Custom returns the custom configuration, checked against Cloudflare's limits.
func Custom(vcpu float64, memoryMiB, diskMB int64) (Type, error) {
	t := Type{Name: CustomName, VCPU: vcpu, MemoryMiB: memoryMiB, DiskMB: diskMB}
	return t, t.checkCustom()
}

// IsCustom reports whether t is a custom configuration rather than a named type.
func (t Type) IsCustom() bool { return t.Name == CustomName }

// Spec is how the type is written on the command line and carried between stages: its name, or for a
// custom configuration custom:vcpu=V,memory=MMiB,disk=DMB, which Lookup reads back.
func (t Type) Spec() string {
	if !t.IsCustom() {
		return t.Name
	}
	return fmt.Sprintf("custom:vcpu=%s,memory=%dMiB,disk=%dMB", formatVCPU(t.VCPU), t.MemoryMiB, t.DiskMB)
}

// Describe is a short human description: "standard-1" or "custom (1 vCPU, 3072 MiB, 4 GB)".
func (t Type) Describe() string {
	if !t.IsCustom() {
		return t.Name
	}
	return fmt.Sprintf("custom (%s vCPU, %d MiB, %s)", formatVCPU(t.VCPU), t.MemoryMiB, formatDiskMB(t.DiskMB))
}

func formatVCPU(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func formatDiskMB(mb int64) string {
	if mb%1000 == 0 {
		return strconv.FormatInt(mb/1000, 10) + " GB"
	}
	return strconv.FormatInt(mb, 10) + " MB"
}

func (t Type) checkCustom() error {
	v := formatVCPU(t.VCPU)
	mem, disk := fmt.Sprintf("%d MiB", t.MemoryMiB), fmt.Sprintf("%d MB", t.DiskMB)
	switch {
	case math.IsNaN(t.VCPU) || t.VCPU < CustomMinVCPU:
		return &LimitError{Field: "vcpu", Value: v, Limit: fmt.Sprintf("the minimum of %s vCPU", formatVCPU(CustomMinVCPU)),
			Fix: fmt.Sprintf("use vcpu=%s or more, or a named type (lite, basic, standard-1) for less", formatVCPU(CustomMinVCPU))}
	case t.VCPU > CustomMaxVCPU:
		return &LimitError{Field: "vcpu", Value: v, Limit: fmt.Sprintf("the maximum of %s vCPU", formatVCPU(CustomMaxVCPU)),
			Fix: fmt.Sprintf("use vcpu=%s or less", formatVCPU(CustomMaxVCPU))}
	case t.MemoryMiB > CustomMaxMemoryMiB:
		return &LimitError{Field: "memory", Value: mem, Limit: fmt.Sprintf("the maximum of %d MiB (%d GiB)", CustomMaxMemoryMiB, CustomMaxMemoryMiB>>10),
			Fix: fmt.Sprintf("use memory=%dGiB or less", CustomMaxMemoryMiB>>10)}
	case float64(t.MemoryMiB) < CustomMinMemoryMiBPerVCPU*t.VCPU:
		least := int64(math.Ceil(CustomMinMemoryMiBPerVCPU * t.VCPU))
		return &LimitError{Field: "memory", Value: mem, Limit: fmt.Sprintf("the minimum of %d GiB per vCPU (%d MiB for %s vCPU)", CustomMinMemoryMiBPerVCPU>>10, least, v),
			Fix: fmt.Sprintf("use memory=%d or more, or fewer vCPU", least)}
	case t.DiskMB > CustomMaxDiskMB:
		return &LimitError{Field: "disk", Value: disk, Limit: fmt.Sprintf("the maximum of %d MB (%s)", CustomMaxDiskMB, formatDiskMB(CustomMaxDiskMB)),
			Fix: fmt.Sprintf("use disk=%dGB or less", CustomMaxDiskMB/1000)}
	case t.DiskMB < CustomMinDiskMB:
		return &LimitError{Field: "disk", Value: disk, Limit: fmt.Sprintf("lean4-cf's minimum of %d MB (the smallest disk Cloudflare provisions for a named type)", CustomMinDiskMB),
			Fix: fmt.Sprintf("use disk=%dGB or more", CustomMinDiskMB/1000)}
	}
	return nil
}

// parseCustom reads custom:vcpu=V,memory=M,disk=D. Memory is in MiB and disk in MB when bare (the units
// of memory_mib and disk_mb), or a size with a unit (3GiB, 3072MiB; 8GB, 8000MB). All three are required:
// a default would be a guess the user did not make.
func parseCustom(s string) (Type, error) {
	body, ok := strings.CutPrefix(s, CustomName+":")
	if !ok {
		return Type{}, fmt.Errorf("instance type %q: write a custom type as custom:vcpu=1,memory=3GiB,disk=8GB, or custom alone for the cheapest that fits", s)
	}
	var (
		t    = Type{Name: CustomName}
		seen = map[string]bool{}
	)
	for part := range strings.SplitSeq(body, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		if !ok || v == "" {
			return Type{}, fmt.Errorf("instance type %q: %q is not key=value; write custom:vcpu=1,memory=3GiB,disk=8GB", s, part)
		}
		if seen[k] {
			return Type{}, fmt.Errorf("instance type %q: %s is given twice; give each of vcpu, memory and disk once", s, k)
		}
		seen[k] = true
		var err error
		switch k {
		case "vcpu":
			t.VCPU, err = strconv.ParseFloat(v, 64)
			if err != nil || math.IsInf(t.VCPU, 0) || math.IsNaN(t.VCPU) {
				err = fmt.Errorf("vcpu %q is not a number; use one like 1 or 2", v)
			}
		case "memory":
			t.MemoryMiB, err = parseUnits(v, 1<<20, "memory", "MiB", "3072 or 3GiB")
		case "disk":
			t.DiskMB, err = parseUnits(v, 1_000_000, "disk", "MB", "8000 or 8GB")
		default:
			err = fmt.Errorf("%q is not a custom type field; use vcpu, memory and disk", k)
		}
		if err != nil {
			return Type{}, fmt.Errorf("instance type %q: %w", s, err)
		}
	}
	for _, k := range []string{"vcpu", "memory", "disk"} {
		if !seen[k] {
			return Type{}, fmt.Errorf("instance type %q: %s is missing; give vcpu, memory and disk, like custom:vcpu=1,memory=3GiB,disk=8GB", s, k)
		}
	}
	return t, t.checkCustom()
}

// parseUnits reads a bare whole number of unit, or a size with a unit that is a whole number of unit.
func parseUnits(v string, unit int64, field, unitName, example string) (int64, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 || n > 1<<40/unit {
			return 0, fmt.Errorf("%s %q is out of range; use a size like %s", field, v, example)
		}
		return n, nil
	}
	b, err := ParseSize(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", field, err)
	}
	if b%unit != 0 {
		return 0, fmt.Errorf("%s %q is not a whole number of %s; use a size like %s", field, v, unitName, example)
	}
	return b / unit, nil
}

// CheapestCustom is the cheapest custom configuration that holds the need, fitted like a named type.
// Every resource is billed while awake, and more vCPU only raises the memory floor (3 GiB per vCPU), so
// the cheapest has the minimum vCPU, the least memory the need and that floor allow, and the least disk
// that leaves the headroom whose absence FitAll warns about (HeadroomWarnFraction), in whole GB, at least
// CustomMinDiskMB. When that headroom does not fit under the maximum disk, the maximum is used (it still
// fits, with the warning). Fits is false when the need is over the limits; the type is then clamped to them.
func CheapestCustom(n Need) Fit {
	vcpu := CustomMinVCPU
	mem := ceilDiv(n.MemoryBytes(), 1<<20)
	mem = max(mem, int64(math.Ceil(CustomMinMemoryMiBPerVCPU*vcpu)))
	disk := ceilDiv(int64(math.Ceil(float64(n.DiskBytes)/(1-HeadroomWarnFraction))), CustomDiskStepMB*1_000_000) * CustomDiskStepMB
	disk = max(disk, CustomMinDiskMB)
	if disk > CustomMaxDiskMB {
		disk = CustomMaxDiskMB
	}
	t := Type{Name: CustomName, VCPU: vcpu, MemoryMiB: min(mem, CustomMaxMemoryMiB), DiskMB: disk}
	return fitType(n, t)
}

func ceilDiv(a, b int64) int64 {
	if a <= 0 {
		return 0
	}
	return (a + b - 1) / b
}
