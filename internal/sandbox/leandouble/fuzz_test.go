package leandouble

import (
	"strconv"
	"strings"
	"testing"
)

// FuzzParseTimeout: X-Lean-Timeout never panics the double; a value it takes is what strconv reads from
// the header once Python's extra whitespace and digit separators are removed, and it is below the
// 2147484 s limit where the real server drops the connection.
func FuzzParseTimeout(f *testing.F) {
	for _, s := range []string{"10", " -3 ", "+2", "1_0", "1.5", "abc", "0x10", "", "2147484", "\u00a05\u0085", "\x1c5", "1__0", "_1", "-"} {
		f.Add(s)
	}
	const def = 30
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := parseTimeout([]string{s}, def)
		if !ok {
			return
		}
		if n >= 2147484 || n <= -2147484 {
			t.Fatalf("parseTimeout(%q) = %d, beyond what the real server answers", s, n)
		}
		if n == def {
			return // the value or the fallback
		}
		clean := strings.ReplaceAll(strings.Trim(s, " \t\n\r\v\f\u0085\u00a0"), "_", "")
		want, err := strconv.Atoi(clean)
		if err != nil || want != n {
			t.Fatalf("parseTimeout(%q) = %d, but strconv reads %q as %d, %v", s, n, clean, want, err)
		}
	})
}
