package verify

import (
	"strings"
	"testing"
)

func TestParseResolveRule(t *testing.T) {
	tests := []struct {
		in      string
		want    ResolveRule
		wantErr string
	}{
		{in: "lean.example.workers.dev:443:127.0.0.1", want: ResolveRule{Host: "lean.example.workers.dev", Port: 443, Addr: "127.0.0.1"}},
		{in: "Lean.Example.workers.dev:443:127.0.0.1:8443", want: ResolveRule{Host: "lean.example.workers.dev", Port: 443, Addr: "127.0.0.1", AddrPort: 8443}},
		{in: "lean.example.workers.dev:443:[::1]", want: ResolveRule{Host: "lean.example.workers.dev", Port: 443, Addr: "::1"}},
		{in: "lean.example.workers.dev:443:[::1]:9000", want: ResolveRule{Host: "lean.example.workers.dev", Port: 443, Addr: "::1", AddrPort: 9000}},
		{in: " h:80:10.0.0.7:3128 ", want: ResolveRule{Host: "h", Port: 80, Addr: "10.0.0.7", AddrPort: 3128}},
		{in: "h:80:proxy.internal:3128", wantErr: `ADDR "proxy.internal" is not an IP address`},
		{in: "*.acct.workers.dev:443:127.0.0.1:8443", want: ResolveRule{Host: "*.acct.workers.dev", Port: 443, Addr: "127.0.0.1", AddrPort: 8443}},
		{in: "*:443:127.0.0.1", want: ResolveRule{Host: "*", Port: 443, Addr: "127.0.0.1"}},
		{in: "a*.example.com:443:127.0.0.1", wantErr: "is not a host name"},
		{in: "*.*.example.com:443:127.0.0.1", wantErr: "is not a host name"},
		{in: "", wantErr: "missing HOST"},
		{in: "hostonly", wantErr: "missing HOST or PORT"},
		{in: "h:443", wantErr: "missing ADDR"},
		{in: "h:https:127.0.0.1", wantErr: "PORT \"https\" is not a port number"},
		{in: "h:0:127.0.0.1", wantErr: "is not a port number"},
		{in: "h:65536:127.0.0.1", wantErr: "is not a port number"},
		{in: "h:443:", wantErr: "ADDR \"\" is not an address"},
		{in: "h:443:::1", wantErr: "brackets"},
		{in: "h:443:[::1", wantErr: "unclosed ["},
		{in: "h:443:[127.0.0.1]", wantErr: "is not an IPv6 address"},
		{in: "h:443:[::1]x", wantErr: "unexpected"},
		{in: "h:443:127.0.0.1:x", wantErr: "ADDRPORT \"x\" is not a port number"},
		{in: "https://h:443:127.0.0.1", wantErr: `PORT "//h" is not a port number`},
		{in: "[::1]:443:127.0.0.1", wantErr: "is not a host name"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseResolveRule(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseResolveRule(%q) error = %v, want it to contain %q", tt.in, err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), "HOST:PORT:ADDR[:ADDRPORT]") {
					t.Errorf("error %q does not show the expected form", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseResolveRule(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseResolveRule(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			back, err := ParseResolveRule(got.String())
			if err != nil || back != got {
				t.Fatalf("round trip of %q through %q = %+v, %v", tt.in, got.String(), back, err)
			}
		})
	}
}

func TestParseResolveRulesSkipsBlankLines(t *testing.T) {
	rules, err := ParseResolveRules([]string{"", "a:443:127.0.0.1", "  ", "b:80:[::1]:81\nc:443:127.0.0.1, d:443:127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 4 || rules[0].Host != "a" || rules[1].AddrPort != 81 || rules[3].Host != "d" {
		t.Fatalf("rules = %+v", rules)
	}
	if _, err := ParseResolveRules([]string{"a:443:127.0.0.1", "bad"}); err == nil {
		t.Fatal("a bad second rule was accepted")
	}
}

func TestTarget(t *testing.T) {
	rules := []ResolveRule{
		{Host: "a.workers.dev", Port: 443, Addr: "127.0.0.1", AddrPort: 8443},
		{Host: "b.workers.dev", Port: 443, Addr: "::1"},
		{Host: "*.acct.workers.dev", Port: 443, Addr: "127.0.0.2", AddrPort: 9443},
		{Host: "*", Port: 443, Addr: "127.0.0.3"},
	}
	tests := []struct {
		addr, want string
		ok         bool
	}{
		{"a.workers.dev:443", "127.0.0.1:8443", true},
		{"A.WORKERS.DEV:443", "127.0.0.1:8443", true},
		{"a.workers.dev:80", "", false},
		{"b.workers.dev:443", "[::1]:443", true},
		{"c.workers.dev:443", "127.0.0.3:443", true},
		{"garbage", "", false},
		{"lean.acct.workers.dev:443", "127.0.0.2:9443", true},
		{"acct.workers.dev:443", "127.0.0.3:443", true}, // not under *.acct.workers.dev: the catch-all rule
		{"lean.other.dev:443", "127.0.0.3:443", true},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			got, ok := target(rules, tt.addr)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("target(%q) = %q, %v; want %q, %v", tt.addr, got, ok, tt.want, tt.ok)
			}
		})
	}
}
