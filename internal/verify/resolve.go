// Package verify probes a deployed Worker over HTTP(S): resolve overrides, trusted roots, readiness and latency.
package verify

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// ResolveRule sends connections for Host:Port to Addr (on AddrPort when it is not 0), like curl's
// --resolve HOST:PORT:ADDR with the port of its --connect-to. TLS still checks the certificate for Host.
// Host may be "*" (any host) or "*.example.com" (any name under example.com), as curl allows.
type ResolveRule struct {
	Host     string // the name in the URL, lower-cased
	Port     int    // the port in the URL (443 for https by default)
	Addr     string // the IP address to connect to instead (IPv6 without brackets)
	AddrPort int    // the port to connect to; 0 keeps Port
}

// ParseResolveRule parses HOST:PORT:ADDR[:ADDRPORT]. IPv6 addresses are written in brackets: [::1].
func ParseResolveRule(s string) (ResolveRule, error) {
	const form = "use HOST:PORT:ADDR[:ADDRPORT], e.g. lean4-server.example.workers.dev:443:127.0.0.1:8443"
	var r ResolveRule
	host, rest, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || host == "" {
		return r, fmt.Errorf("resolve rule %q: missing HOST or PORT; %s", s, form)
	}
	if strings.ContainsAny(host, "[]/ @") || (strings.Contains(host, "*") && host != "*" && (!strings.HasPrefix(host, "*.") || strings.Count(host, "*") > 1)) {
		return r, fmt.Errorf("resolve rule %q: HOST %q is not a host name; %s", s, host, form)
	}
	portStr, rest, ok := strings.Cut(rest, ":")
	if !ok {
		return r, fmt.Errorf("resolve rule %q: missing ADDR; %s", s, form)
	}
	port, err := parsePort(portStr)
	if err != nil {
		return r, fmt.Errorf("resolve rule %q: PORT %w; %s", s, err, form)
	}
	var addr, addrPortStr string
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]")
		if end < 0 {
			return r, fmt.Errorf("resolve rule %q: unclosed [ in ADDR; %s", s, form)
		}
		addr, rest = rest[1:end], rest[end+1:]
		if net.ParseIP(addr) == nil || !strings.Contains(addr, ":") {
			return r, fmt.Errorf("resolve rule %q: [%s] is not an IPv6 address; %s", s, addr, form)
		}
		if rest != "" {
			if rest[0] != ':' {
				return r, fmt.Errorf("resolve rule %q: unexpected %q after ]; %s", s, rest, form)
			}
			addrPortStr = rest[1:]
		}
	} else {
		addr, addrPortStr, _ = strings.Cut(rest, ":")
		if strings.Contains(addrPortStr, ":") {
			return r, fmt.Errorf("resolve rule %q: write IPv6 addresses in brackets, like [::1]; %s", s, form)
		}
		if addr == "" || strings.ContainsAny(addr, "/ @") {
			return r, fmt.Errorf("resolve rule %q: ADDR %q is not an address; %s", s, addr, form)
		}
		// As with curl's --resolve, ADDR is an address, not a name to look up in its turn.
		if net.ParseIP(addr) == nil {
			return r, fmt.Errorf("resolve rule %q: ADDR %q is not an IP address: give the address to connect to, like 127.0.0.1 or [::1]; %s", s, addr, form)
		}
	}
	r = ResolveRule{Host: strings.ToLower(host), Port: port, Addr: addr}
	if addrPortStr != "" {
		if r.AddrPort, err = parsePort(addrPortStr); err != nil {
			return ResolveRule{}, fmt.Errorf("resolve rule %q: ADDRPORT %w; %s", s, err, form)
		}
	}
	return r, nil
}

// ParseResolveRules parses each rule; blank entries are ignored (the Action input takes one rule a line).
// An entry may hold several rules separated by newlines, commas or spaces (as LEAN4CF_RESOLVE does).
func ParseResolveRules(lines []string) ([]ResolveRule, error) {
	var rules []ResolveRule
	var split []string
	for _, l := range lines {
		split = append(split, strings.FieldsFunc(l, func(r rune) bool { return r == '\n' || r == ',' || r == ' ' || r == '\t' })...)
	}
	for _, l := range split {
		if strings.TrimSpace(l) == "" {
			continue
		}
		r, err := ParseResolveRule(l)
		if err != nil {
			return nil, err
		}
		rules = append(rules, r)
	}
	return rules, nil
}

func parsePort(s string) (int, error) {
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("%q is not a port number (1-65535)", s)
	}
	return p, nil
}

// String gives the rule back in its HOST:PORT:ADDR[:ADDRPORT] form.
func (r ResolveRule) String() string {
	addr := r.Addr
	if strings.Contains(addr, ":") {
		addr = "[" + addr + "]"
	}
	s := fmt.Sprintf("%s:%d:%s", r.Host, r.Port, addr)
	if r.AddrPort != 0 {
		s += ":" + strconv.Itoa(r.AddrPort)
	}
	return s
}

// target returns where a connection for hostport should go, and whether a rule matched.
func target(rules []ResolveRule, hostport string) (string, bool) {
	host, portStr, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", false
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return "", false
	}
	host = strings.ToLower(host)
	for _, r := range rules {
		if r.Port == port && (r.Host == host || r.Host == "*" || strings.HasPrefix(r.Host, "*.") && strings.HasSuffix(host, r.Host[1:])) {
			p := r.AddrPort
			if p == 0 {
				p = r.Port
			}
			return net.JoinHostPort(r.Addr, strconv.Itoa(p)), true
		}
	}
	return "", false
}

// dialFunc is the signature of net.Dialer.DialContext.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// withRules wraps dial so that connections matching a rule go to the rule's address instead.
func withRules(rules []ResolveRule, dial dialFunc) dialFunc {
	if len(rules) == 0 {
		return dial
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if to, ok := target(rules, addr); ok {
			addr = to
		}
		return dial(ctx, network, addr)
	}
}
