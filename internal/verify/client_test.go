package verify

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/org/lean4-cf-action/internal/localca"
)

func newTestCA(t *testing.T, hosts ...string) *localca.Authority {
	t.Helper()
	ca, err := localca.New(hosts, localca.Options{Name: "lean4-cf test CA", Valid: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// startTLS serves "hello from <host>" over TLS on network ("tcp4" or "tcp6") loopback.
func startTLS(t *testing.T, ca *localca.Authority, network string) *httptest.Server {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "tcp6" {
		addr = "[::1]:0"
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Skipf("no %s loopback here: %v", network, err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s", r.Host)
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Leaf}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshake failures are expected in some tests
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func port(t *testing.T, srv *httptest.Server) int {
	_, p, _ := net.SplitHostPort(srv.Listener.Addr().String())
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func get(t *testing.T, c *http.Client, url string) (string, error) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

const host = "lean4-server.example.workers.dev"

func TestResolveRuleReachesTLSServerWithPerTestCA(t *testing.T) {
	ca := newTestCA(t, host)
	for _, network := range []string{"tcp4", "tcp6"} {
		t.Run(network, func(t *testing.T) {
			srv := startTLS(t, ca, network)
			addr := "127.0.0.1"
			if network == "tcp6" {
				addr = "[::1]"
			}
			rule, err := ParseResolveRule(fmt.Sprintf("%s:443:%s:%d", host, addr, port(t, srv)))
			if err != nil {
				t.Fatal(err)
			}
			c, err := NewClient(ClientOptions{Resolve: []ResolveRule{rule}, RootCAs: ca.Pool()})
			if err != nil {
				t.Fatal(err)
			}
			body, err := get(t, c, "https://"+host+"/health")
			if err != nil {
				t.Fatal(err)
			}
			if body != "hello from "+host {
				t.Fatalf("body = %q", body)
			}
		})
	}
}

func TestCertificateStillCheckedForHost(t *testing.T) {
	ca := newTestCA(t, "other.example.workers.dev")
	srv := startTLS(t, ca, "tcp4")
	rule := ResolveRule{Host: host, Port: 443, Addr: "127.0.0.1", AddrPort: port(t, srv)}
	c, err := NewClient(ClientOptions{Resolve: []ResolveRule{rule}, RootCAs: ca.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = get(t, c, "https://"+host+"/")
	if err == nil || !IsCertificateError(err) {
		t.Fatalf("want a certificate error for a certificate of another host, got %v", err)
	}
}

func TestTrustFromCAFileAndDir(t *testing.T) {
	ca := newTestCA(t, host)
	srv := startTLS(t, ca, "tcp4")
	rule := ResolveRule{Host: host, Port: 443, Addr: "127.0.0.1", AddrPort: port(t, srv)}
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.pem")
	if err := os.WriteFile(empty, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	tests := []struct {
		name    string
		getenv  func(string) string
		wantErr bool // from NewClient, which must then say what to do with the variable
		wantTLS bool // a certificate error on the request
	}{
		{name: "SSL_CERT_FILE", getenv: env(map[string]string{"SSL_CERT_FILE": caFile})},
		{name: "SSL_CERT_DIR with a missing folder", getenv: env(map[string]string{"SSL_CERT_DIR": filepath.Join(dir, "nope") + ":" + dir}), wantErr: true},
		{name: "SSL_CERT_DIR only", getenv: env(map[string]string{"SSL_CERT_DIR": dir})},
		{name: "system roots only", getenv: env(nil), wantTLS: true},
		{name: "missing file", getenv: env(map[string]string{"SSL_CERT_FILE": filepath.Join(dir, "nope.pem")}), wantErr: true},
		{name: "file without certificates", getenv: env(map[string]string{"SSL_CERT_FILE": empty}), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := ClientOptions{Resolve: []ResolveRule{rule}}
			opts.TrustFromEnv(tt.getenv)
			c, err := NewClient(opts)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "or unset it") {
					t.Fatalf("NewClient = %v, want an error for the trust settings that says what to do", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			_, err = get(t, c, "https://"+host+"/")
			if tt.wantTLS != (err != nil && IsCertificateError(err)) || (!tt.wantTLS && err != nil) {
				t.Fatalf("request error = %v, want certificate error: %v", err, tt.wantTLS)
			}
		})
	}
}
