package wrangler

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/tailscale/hujson"

	"github.com/org/lean4-cf-action/internal/instance"
)

// customInstanceType is instance_type in its object form, as the pinned wrangler's configuration schema
// takes it (containers[].instance_type: {vcpu, memory_mib, disk_mb}); wrangler sends it to the API as
// configuration.vcpu, configuration.memory_mib and configuration.disk.size_mb.
type customInstanceType struct {
	VCPU      float64 `json:"vcpu"`
	MemoryMiB int64   `json:"memory_mib"`
	DiskMB    int64   `json:"disk_mb"`
}

// checkInstanceType validates an Options.InstanceType: a name, or an explicit custom configuration
// (see instance.Type.Spec) within Cloudflare's limits.
func checkInstanceType(spec string) error {
	if canonical, ok := instance.Aliases()[spec]; ok {
		return fieldErrorf(FieldInstanceType, " %q is a deprecated alias: use %q", spec, canonical)
	}
	if spec == instance.CustomName {
		return fieldErrorf(FieldInstanceType, " %q must be fitted to an image first: give custom:vcpu=V,memory=M,disk=D (lean4-cf preflight prints the cheapest)", spec)
	}
	if _, _, err := instance.Lookup(spec); err != nil {
		var le *instance.LimitError
		if errors.As(err, &le) {
			return fieldErrorf(FieldInstanceType, " %q: %w", spec, err)
		}
		return fieldErrorf(FieldInstanceType, " %q: use one of %s, or custom:vcpu=V,memory=M,disk=D", spec, strings.Join(instance.Names(), ", "))
	}
	return nil
}

// instanceTypeValue is the instance_type to write for a checked spec: the name, or the object form.
func instanceTypeValue(spec string) any {
	t, _, err := instance.Lookup(spec)
	if err != nil || !t.IsCustom() {
		return spec
	}
	return customInstanceType{VCPU: t.VCPU, MemoryMiB: t.MemoryMiB, DiskMB: t.DiskMB}
}

// userInstanceType reads a user's containers[].instance_type (a name, or the object form with wrangler's
// defaults for missing fields) as a spec instance.Lookup reads, checked like an option.
func userInstanceType(src string, v any) (string, error) {
	switch it := v.(type) {
	case string:
		if canonical, ok := instance.Aliases()[it]; ok {
			return canonical, nil // wrangler still takes the old name, with a warning
		}
		if err := checkInstanceType(it); err != nil {
			return "", subjectErrorf(FieldUserConfig, src, ": %w", err)
		}
		return it, nil
	case map[string]any:
		// A partial object deploys wrangler's defaults for the rest, so it is checked with them.
		vals := map[string]float64{"vcpu": instance.DefaultCustomVCPU, "memory_mib": instance.DefaultCustomMemoryMiB, "disk_mb": instance.DefaultCustomDiskMB}
		for k, x := range it {
			if _, known := vals[k]; !known {
				return "", subjectErrorf(FieldUserConfig, src, ": instance_type has %q; the object form takes vcpu, memory_mib and disk_mb", k)
			}
			n, ok := x.(float64)
			if !ok {
				return "", subjectErrorf(FieldUserConfig, src, ": instance_type.%s is %v; give a number", k, x)
			}
			vals[k] = n
		}
		mem, disk := vals["memory_mib"], vals["disk_mb"]
		if mem != float64(int64(mem)) || disk != float64(int64(disk)) {
			return "", subjectErrorf(FieldUserConfig, src, ": instance_type memory_mib %v and disk_mb %v must be whole numbers", mem, disk)
		}
		t, err := instance.Custom(vals["vcpu"], int64(mem), int64(disk))
		if err != nil {
			return "", subjectErrorf(FieldUserConfig, src, ": %w", err)
		}
		return t.Spec(), nil
	}
	return "", subjectErrorf(FieldUserConfig, src, ": instance_type is %v; give a name like %q or an object {vcpu, memory_mib, disk_mb}", v, DefaultInstanceType)
}

// UserInstanceType returns the instance type a user's wrangler.jsonc gives lean4-cf's container class, as
// a spec instance.Lookup reads (custom objects become custom:vcpu=…), and whether it gives one. src names
// the file in errors. A file that is not JSONC, or an instance type out of bounds, is an error.
func UserInstanceType(cfg []byte, src string) (string, bool, error) {
	v, err := hujson.Parse(bytes.Clone(cfg))
	if err != nil {
		return "", false, subjectErrorf(FieldUserConfig, src, " is not JSONC (JSON with comments): %w; fix the syntax there", oneLine{err})
	}
	v.Standardize()
	var u struct {
		Containers []map[string]any `json:"containers"`
	}
	if err := json.Unmarshal(v.Pack(), &u); err != nil {
		return "", false, nil // patch reports the shape problem with its own words
	}
	i := slices.IndexFunc(u.Containers, func(c map[string]any) bool { return c["class_name"] == ClassName })
	if i < 0 {
		return "", false, nil
	}
	it, ok := u.Containers[i]["instance_type"]
	if !ok {
		return "", false, nil
	}
	spec, err := userInstanceType(src, it)
	return spec, err == nil, err
}
