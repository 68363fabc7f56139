package verify

import (
	"strings"
	"testing"
)

// FuzzParseResolveRule: a rule either fails with a one-line error, or parses into a lower-case host, ports in
// range and an address, and its String form parses back to the same rule.
func FuzzParseResolveRule(f *testing.F) {
	for _, s := range []string{
		"lean.acct.workers.dev:443:127.0.0.1:8443", "lean.acct.workers.dev:443:127.0.0.1", "H:443:[::1]:9",
		"h:0:1.2.3.4", "h:443:::1", "h:443:[1.2.3.4]", ":443:a", "h:443:a:b:c", "*.acct.workers.dev:443:127.0.0.1:1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseResolveRule(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		if r.Host == "" || r.Host != strings.ToLower(r.Host) || r.Addr == "" {
			t.Fatalf("ParseResolveRule(%q) = %+v", s, r)
		}
		if r.Port < 1 || r.Port > 65535 || r.AddrPort < 0 || r.AddrPort > 65535 {
			t.Fatalf("ParseResolveRule(%q): ports out of range: %+v", s, r)
		}
		again, err := ParseResolveRule(r.String())
		if err != nil || again != r {
			t.Fatalf("ParseResolveRule(%q) = %+v; its String %q reads back as %+v, %v", s, r, r.String(), again, err)
		}
	})
}
