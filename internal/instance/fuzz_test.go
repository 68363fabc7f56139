package instance

import (
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
