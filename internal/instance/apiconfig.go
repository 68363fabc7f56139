package instance

import (
	"errors"
	"fmt"
	"slices"
)

// The container application's configuration, as the Containers API stores and returns it, carries the
// type either as instance_type (a name) or, for a custom type, as the resources wrangler sends for the
// object form: vcpu, memory_mib and disk {size_mb}.
var apiResourceFields = []string{"vcpu", "memory_mib", "disk"}

// Defaults for a custom resource left out: what wrangler 4.164 fills in for a partial object form
// (normalizeContainers), the account defaults GET /containers/me reports, and lite's size.
const (
	DefaultCustomVCPU      = 0.0625
	DefaultCustomMemoryMiB = 256
	DefaultCustomDiskMB    = 2000
)

// FromAPIConfiguration reads the instance type of an application configuration (decoded JSON). ok is
// false when it gives none. A custom configuration is checked against the limits.
func FromAPIConfiguration(cfg map[string]any) (t Type, ok bool, err error) {
	it, named := cfg["instance_type"]
	custom := slices.ContainsFunc(apiResourceFields, func(k string) bool { _, ok := cfg[k]; return ok })
	switch {
	case named && custom:
		return Type{}, true, errors.New("configuration sets both instance_type and custom resources (vcpu, memory_mib, disk); set one")
	case named:
		name, _ := it.(string)
		t, _, err := Lookup(name)
		if err != nil || t.IsCustom() {
			return Type{}, true, fmt.Errorf("unknown instance_type %v", it)
		}
		return t, true, nil
	case !custom:
		return Type{}, false, nil
	}
	vcpu, mem, disk := DefaultCustomVCPU, float64(DefaultCustomMemoryMiB), float64(DefaultCustomDiskMB)
	num := func(v any, field string, into *float64) error {
		if v == nil {
			return nil
		}
		n, isNum := v.(float64)
		if !isNum {
			return fmt.Errorf("configuration.%s must be a number", field)
		}
		*into = n
		return nil
	}
	if err := num(cfg["vcpu"], "vcpu", &vcpu); err != nil {
		return Type{}, true, err
	}
	if err := num(cfg["memory_mib"], "memory_mib", &mem); err != nil {
		return Type{}, true, err
	}
	if d, given := cfg["disk"]; given {
		dm, isObj := d.(map[string]any)
		if !isObj {
			return Type{}, true, errors.New("configuration.disk must be an object {size_mb}")
		}
		if err := num(dm["size_mb"], "disk.size_mb", &disk); err != nil {
			return Type{}, true, err
		}
	}
	if mem != float64(int64(mem)) || disk != float64(int64(disk)) {
		return Type{}, true, errors.New("configuration.memory_mib and disk.size_mb must be whole numbers")
	}
	t, err = Custom(vcpu, int64(mem), int64(disk))
	return t, true, err
}
