package leandouble

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
)

// encodeResult writes the POST answer as Python's json.dumps does: keys in this order, ", " and ": "
// separators, ASCII-only strings, floats with a ".0" when integral, no trailing newline.
func encodeResult(r Result) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `{"ok": %t, "stdout": %s, "stderr": %s, "exitCode": %d, "elapsed": %s}`,
		r.ExitCode == 0, pyString(r.Stdout), pyString(r.Stderr), r.ExitCode, pyFloat(r.Elapsed))
	return []byte(b.String())
}

func encodeHealth(version string) []byte {
	return []byte(`{"version": ` + pyString(version) + `}`)
}

// pyString is json.dumps of a str with ensure_ascii: lowercase \uXXXX escapes, surrogate pairs above U+FFFF.
func pyString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, r)
		case r < 0x80:
			b.WriteRune(r)
		case r > 0xffff:
			hi, lo := utf16.EncodeRune(r)
			fmt.Fprintf(&b, `\u%04x\u%04x`, hi, lo)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// pyFloat is Python's repr of a float: shortest round trip, ".0" kept on integral values.
func pyFloat(f float64) string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	return s
}
