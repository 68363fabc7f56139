package instance

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

// FuzzParseSize: a size either parses to a positive byte count of at most 1 TiB that reads back the same
// when written in bytes, or fails with a one-line error.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"256MiB", "1GiB", "1.5 GB", "4G", "512Mi", "0.5KB", "100", "-1GiB", "1e3MB", "  2 gib ", "1099511627776B", "NaNGiB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		if n <= 0 || n > 1<<40 {
			t.Fatalf("ParseSize(%q) = %d, outside (0, 1 TiB]", s, n)
		}
		back, err := ParseSize(strconv.FormatInt(n, 10) + "B")
		if err != nil || back != n {
			t.Fatalf("ParseSize(%q) = %d, but %dB reads back as %d, %v", s, n, n, back, err)
		}
	})
}

// FuzzLookup: an --instance-type either fails with a one-line error, or is a named type, or a custom
// configuration within Cloudflare's limits whose Spec reads back as the same type.
func FuzzLookup(f *testing.F) {
	for _, s := range []string{"standard-1", "dev", "custom", "custom:vcpu=1,memory=3072,disk=2000", "custom:vcpu=4,memory=12GiB,disk=20GB",
		"custom:vcpu=1.5,memory=4608MiB,disk=3.5GB", "custom:vcpu=0.5,memory=3GiB,disk=8GB", "custom:memory=1e3,vcpu=2,disk=4000", "custom:vcpu=1,vcpu=1", "custom:,,,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ty, _, err := Lookup(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		if !ty.IsCustom() {
			if !slices.Contains(Names(), ty.Name) {
				t.Fatalf("Lookup(%q) = unknown named type %q", s, ty.Name)
			}
			return
		}
		if err := ty.checkCustom(); err != nil {
			t.Fatalf("Lookup(%q) = %+v, outside the limits: %v", s, ty, err)
		}
		back, _, err := Lookup(ty.Spec())
		if err != nil || back != ty {
			t.Fatalf("Lookup(%q) = %+v, but its spec %q reads back as %+v, %v", s, ty, ty.Spec(), back, err)
		}
	})
}
