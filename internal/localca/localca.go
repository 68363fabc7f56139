// Package localca makes a certificate authority for one run and a server certificate from it, for TLS
// servers that live on this machine only: the sandbox's workers.dev edge and tests. Nothing is written
// to disk; the caller hands the CA's PEM to whoever must trust it.
package localca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// Authority is a CA made for one run and one server certificate it signed.
type Authority struct {
	Cert *x509.Certificate // the CA certificate
	PEM  []byte            // the CA certificate, PEM-encoded (for SSL_CERT_FILE and the like)
	// Leaf is the server certificate for the hosts New was given, with the CA in its chain.
	Leaf tls.Certificate
}

// Options configure New.
type Options struct {
	// Name is the CA's common name. Default "lean4-cf local CA".
	Name string
	// Valid is how long both certificates are valid from an hour ago. Default 7 days.
	Valid time.Duration
}

// New makes a CA and a server certificate for hosts (DNS names, wildcards allowed, or IP addresses; at
// least one).
func New(hosts []string, opts Options) (*Authority, error) {
	if len(hosts) == 0 {
		return nil, errors.New("making a local CA: no host names for its server certificate")
	}
	if opts.Name == "" {
		opts.Name = "lean4-cf local CA"
	}
	if opts.Valid <= 0 {
		opts.Valid = 7 * 24 * time.Hour
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("making the CA key: %w", err)
	}
	from := time.Now().Add(-time.Hour)
	caTmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: opts.Name, Organization: []string{"lean4-cf"}},
		NotBefore: from, NotAfter: from.Add(time.Hour + opts.Valid),
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("making the CA certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("reading the CA certificate back: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("making the server key: %w", err)
	}
	var dns []string
	var ips []net.IP
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			ips = append(ips, ip) // clients match an IP address against IP SANs only
		} else {
			dns = append(dns, h)
		}
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: hosts[0]}, DNSNames: dns, IPAddresses: ips,
		NotBefore: from, NotAfter: from.Add(time.Hour + opts.Valid),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("making the server certificate for %s: %w", hosts[0], err)
	}
	return &Authority{
		Cert: caCert,
		PEM:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		Leaf: tls.Certificate{Certificate: [][]byte{leafDER, caDER}, PrivateKey: key},
	}, nil
}

// Pool returns a certificate pool that trusts the CA alone.
func (a *Authority) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(a.Cert)
	return p
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}
