package verify

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// ClientOptions configures the HTTP client that probes a Worker.
type ClientOptions struct {
	// Resolve sends connections for matching HOST:PORT pairs elsewhere; TLS still checks HOST's certificate.
	Resolve []ResolveRule
	// RootCAs, when set, is the whole trust pool (tests pass the local edge's CA pool here).
	// When nil, the pool is the system roots plus CAFile and the files in CADirs.
	RootCAs *x509.CertPool
	// CAFile is a PEM bundle to trust besides the system roots (SSL_CERT_FILE).
	CAFile string
	// CADirs are folders whose PEM files are trusted besides the system roots (SSL_CERT_DIR, colon-separated).
	CADirs []string
	// Timeout bounds each request, connection and body included. Default 30 s.
	Timeout time.Duration
}

// TrustFromEnv fills CAFile and CADirs from SSL_CERT_FILE and SSL_CERT_DIR, as Go does on Linux.
func (o *ClientOptions) TrustFromEnv(getenv func(string) string) {
	o.CAFile = getenv("SSL_CERT_FILE")
	if d := getenv("SSL_CERT_DIR"); d != "" {
		o.CADirs = filepath.SplitList(d)
	}
}

// CertPool returns the system roots plus the certificates in caFile and caDirs. A named file or folder that
// cannot be read or holds no certificate is an error: a typo there must not silently fall back to the defaults.
func CertPool(caFile string, caDirs []string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if caFile == "" && len(caDirs) == 0 {
		return pool, nil
	}
	// Go's SystemCertPool reads only SSL_CERT_FILE/SSL_CERT_DIR when they are set in the process environment,
	// so the usual Linux bundles are added back to keep the system roots trusted as well.
	for _, f := range []string{
		"/etc/ssl/certs/ca-certificates.crt",
		"/etc/pki/tls/certs/ca-bundle.crt",
		"/etc/ssl/ca-bundle.pem",
		"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
		"/etc/ssl/cert.pem",
	} {
		if pem, err := os.ReadFile(f); err == nil {
			pool.AppendCertsFromPEM(pem)
		}
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("reading CA file (SSL_CERT_FILE) %q: %w; set SSL_CERT_FILE to a PEM file of CA certificates, or unset it", caFile, err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file (SSL_CERT_FILE) %q holds no PEM certificate: set SSL_CERT_FILE to a PEM file of CA certificates, or unset it", caFile)
		}
	}
	for _, dir := range caDirs {
		if dir == "" {
			continue
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("reading CA folder (SSL_CERT_DIR) %q: %w; list only existing folders in SSL_CERT_DIR, or unset it", dir, err)
		}
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			if pem, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil {
				pool.AppendCertsFromPEM(pem)
			}
		}
	}
	return pool, nil
}

// NewClient returns an HTTP client that applies the resolve rules and trusts the configured roots.
// It never skips certificate verification.
func NewClient(opts ClientOptions) (*http.Client, error) {
	pool := opts.RootCAs
	if pool == nil {
		var err error
		if pool, err = CertPool(opts.CAFile, opts.CADirs); err != nil {
			return nil, err
		}
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           withRules(opts.Resolve, dialer.DialContext),
		TLSClientConfig:       &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          16,
		IdleConnTimeout:       30 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{Transport: tr, Timeout: opts.Timeout}, nil
}

// IsCertificateError reports whether err comes from certificate verification, so callers can point the user
// at SSL_CERT_FILE or the resolve rule instead of calling the endpoint down.
func IsCertificateError(err error) bool {
	var unknown x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verr *tls.CertificateVerificationError
	return errors.As(err, &unknown) || errors.As(err, &hostErr) || errors.As(err, &invalid) || errors.As(err, &verr)
}
