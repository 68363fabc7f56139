package localca

import (
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"
)

func TestLeafVerifiesAgainstTheCAOnly(t *testing.T) {
	ca, err := New([]string{"*.sub.workers.dev", "lean.example.com"}, Options{Valid: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(ca.Leaf.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		host    string
		roots   *x509.CertPool
		wantErr string
	}{
		{"lean4-server.sub.workers.dev", ca.Pool(), ""},
		{"lean.example.com", ca.Pool(), ""},
		{"other.example.com", ca.Pool(), "not other.example.com"},
		{"lean.example.com", x509.NewCertPool(), "unknown authority"},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			_, err := leaf.Verify(x509.VerifyOptions{DNSName: tt.host, Roots: tt.roots})
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("verify %s: %v, want %q", tt.host, err, tt.wantErr)
			}
		})
	}
	if leaf.NotAfter.After(time.Now().Add(time.Hour + time.Minute)) {
		t.Errorf("leaf valid until %s, want about an hour", leaf.NotAfter)
	}
	if b, _ := pem.Decode(ca.PEM); b == nil || b.Type != "CERTIFICATE" {
		t.Errorf("PEM is not a certificate: %q", ca.PEM)
	}
	if ca.Leaf.PrivateKey == nil || len(ca.Leaf.Certificate) != 2 {
		t.Errorf("leaf has key %v and a chain of %d", ca.Leaf.PrivateKey != nil, len(ca.Leaf.Certificate))
	}
}

func TestNoHosts(t *testing.T) {
	if _, err := New(nil, Options{}); err == nil || !strings.Contains(err.Error(), "no host names") {
		t.Fatalf("New(nil) = %v", err)
	}
}
