package instance

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// sizeUnits maps a unit (lower case) to its bytes. Decimal (SI) units are powers of 1000 and binary (IEC)
// units powers of 1024, as in Kubernetes quantities: M and MB are 1,000,000 bytes, Mi and MiB 1,048,576.
var sizeUnits = map[string]float64{
	"b": 1,
	"k": 1e3, "kb": 1e3, "ki": 1 << 10, "kib": 1 << 10,
	"m": 1e6, "mb": 1e6, "mi": 1 << 20, "mib": 1 << 20,
	"g": 1e9, "gb": 1e9, "gi": 1 << 30, "gib": 1 << 30,
	"t": 1e12, "tb": 1e12, "ti": 1 << 40, "tib": 1 << 40,
}

// ParseSize reads a size such as 256MiB, 1GiB, 512MB, 300M, 1.5Gi or 4096B into bytes (rounded up).
//
// Units are case-insensitive: B; K, KB, M, MB, G, GB, T, TB are decimal (1 MB = 1,000,000 bytes); Ki, KiB, Mi,
// MiB, Gi, GiB, Ti, TiB are binary (1 MiB = 1,048,576 bytes). A unit is required: a bare number is refused,
// because people mean bytes, KiB or MiB by it, and a silent guess would be off by a factor of a million.
// The size must be positive and below 1 PiB.
func ParseSize(s string) (int64, error) {
	in := strings.TrimSpace(s)
	i := 0
	for i < len(in) && (in[i] >= '0' && in[i] <= '9' || in[i] == '.') {
		i++
	}
	num, unit := in[:i], strings.ToLower(strings.TrimSpace(in[i:]))
	if num == "" {
		return 0, fmt.Errorf("size %q does not start with a number: write e.g. 256MiB, 1GiB or 512MB", s)
	}
	if unit == "" {
		return 0, fmt.Errorf("size %q has no unit: write e.g. %sMiB or %sMB (bare numbers are refused)", s, num, num)
	}
	mult, ok := sizeUnits[unit]
	if !ok {
		return 0, fmt.Errorf("size %q has an unknown unit %q: use B, KB, MB, GB (decimal) or KiB, MiB, GiB (binary)", s, in[i:])
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q is not a number followed by a unit: write e.g. 256MiB", s)
	}
	b := math.Ceil(v * mult)
	if b <= 0 || b >= 1<<50 {
		return 0, fmt.Errorf("size %q is out of range: it must be more than 0 and less than 1 PiB", s)
	}
	return int64(b), nil
}

// FormatSize writes bytes with the largest binary unit that divides them exactly, else in bytes
// (256MiB, 1GiB, 300000000B), so that ParseSize(FormatSize(n)) == n.
func FormatSize(n int64) string {
	for _, u := range []struct {
		name string
		v    int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n > 0 && n%u.v == 0 {
			return strconv.FormatInt(n/u.v, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}
