// Package cfapi is the local Cloudflare's API: the v4 REST API that wrangler and cloudflare-go call
// (Workers scripts, versions, deployments, workers.dev, Durable Object namespaces, Containers
// applications, rollouts and instances, registry credentials) and a container registry that honours
// the credentials the API issues. It keeps real state; srv.Control() journals every request and injects
// faults for tests.
//
// In the spirit of go-containerregistry's pkg/registry, each resource has its file and declares its
// routes (scripts.go, versions.go, deployments.go, subdomain.go, applications.go, instances.go,
// rollouts.go, credentials.go, registry.go):
//
//	srv, err := cfapi.New(cfapi.Options{})
//	defer srv.Close()
//	env := srv.Env() // CLOUDFLARE_API_BASE_URL, CLOUDFLARE_API_TOKEN, CLOUDFLARE_ACCOUNT_ID, CLOUDFLARE_CONTAINER_REGISTRY
//
// The shapes, statuses and error envelopes follow Cloudflare's published API description
// (https://github.com/cloudflare/api-schemas); docs/platform-facts.md lists the points clients get wrong.
package cfapi

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/org/lean4-cf-action/internal/localca"
)

// Scopes a Token may carry. A token without ScopeContainers is refused on /containers/ calls.
const (
	ScopeWorkers    = "workers_scripts:write" // scripts, versions, deployments, workers.dev, DO namespaces
	ScopeContainers = "containers:write"      // /accounts/{a}/containers/... and registry credentials
)

// Defaults used when an Options field is left at its zero value.
const (
	DefaultAccountID = "c0ffee00c0ffee00c0ffee00c0ffee00"
	DefaultToken     = "cftest-token-0123456789abcdefghijklmnopqrst"
	DefaultSubdomain = "cftest"
)

// Token is an API token the server accepts as "Authorization: Bearer <Value>".
type Token struct {
	Value  string
	Scopes []string  // nil means both ScopeWorkers and ScopeContainers
	Expiry time.Time // zero: never expires; after it the token is refused and verify reports "expired"
}

// Options configures a Server. Every field is optional; zero values mean the documented default.
type Options struct {
	// Tokens accepted by the API. Default: one token DefaultToken with every scope.
	Tokens []Token
	// AccountID is the only account the tokens may use (32 hex). Default DefaultAccountID.
	AccountID string
	// Subdomain is the account's workers.dev subdomain (URLs are https://<script>.<Subdomain>.workers.dev).
	// Default DefaultSubdomain. Set NoSubdomain to start with none registered (GET answers 10007).
	Subdomain   string
	NoSubdomain bool
	// ProvisionDelay is how long a container application (or a rollout) takes to provision after it is
	// created: health shows one "scheduling" instance until then, and no instance can start. Default 0.
	ProvisionDelay time.Duration
	// StartDelay is how long a container instance stays "starting" before it is "active" (cold start).
	// Default 0.
	StartDelay time.Duration
	// Clock gives the time for every time-dependent state. Default: the real clock. Use NewFakeClock to
	// step time by hand or ScaledClock to speed it up.
	Clock Clock
	// Addr and RegistryAddr are the listen addresses of the API and the registry. Default "127.0.0.1:0".
	Addr, RegistryAddr string
	// Logf, when set, receives one line per request. Default: silent.
	Logf func(format string, args ...any)
}

// Server is a running local Cloudflare: the API on one loopback listener and the registry on another.
type Server struct {
	opts Options

	mu     sync.Mutex
	st     *state
	faults []*faultRule
	jr     []Request
	// inflight holds the requests received and not yet answered (journaled once answered).
	inflight map[*Request]struct{}

	regFaults []*registryRule
	regJr     []RegistryRequest

	api, reg   *http.Server
	apiL, regL net.Listener
	registry   *registryFront
	regCA      []byte // PEM of the CA that signed the registry's HTTPS certificate
	wg         sync.WaitGroup
}

// New starts a Server. Close it when done.
func New(opts Options) (*Server, error) {
	if opts.AccountID == "" {
		opts.AccountID = DefaultAccountID
	}
	if !isHex32(opts.AccountID) {
		return nil, fmt.Errorf("starting the local Cloudflare: account id %q is not 32 hex digits", opts.AccountID)
	}
	if len(opts.Tokens) == 0 {
		opts.Tokens = []Token{{Value: DefaultToken}}
	}
	if opts.Subdomain == "" && !opts.NoSubdomain {
		opts.Subdomain = DefaultSubdomain
	}
	if opts.NoSubdomain {
		opts.Subdomain = ""
	}
	if opts.Clock == nil {
		opts.Clock = realClock{}
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.RegistryAddr == "" {
		opts.RegistryAddr = "127.0.0.1:0"
	}
	s := &Server{opts: opts, st: newState(opts), inflight: map[*Request]struct{}{}}
	var err error
	if s.apiL, err = net.Listen("tcp", opts.Addr); err != nil {
		return nil, fmt.Errorf("starting the local Cloudflare API listener: %w", err)
	}
	if s.regL, err = net.Listen("tcp", opts.RegistryAddr); err != nil {
		s.apiL.Close()
		return nil, fmt.Errorf("starting the local Cloudflare registry listener: %w", err)
	}
	ca, err := localca.New([]string{"127.0.0.1", "localhost"}, localca.Options{Name: "lean4-cf local registry CA"})
	if err != nil {
		s.apiL.Close()
		s.regL.Close()
		return nil, fmt.Errorf("starting the registry: %w", err)
	}
	s.regCA = ca.PEM
	s.regL = newEitherListener(s.regL, &tls.Config{Certificates: []tls.Certificate{ca.Leaf}, MinVersion: tls.VersionTLS12})
	s.registry = newRegistryFront(s)
	quiet := log.New(io.Discard, "", 0)
	s.api = &http.Server{Handler: s.routes(), ErrorLog: quiet, ReadHeaderTimeout: 10 * time.Second}
	s.reg = &http.Server{Handler: s.registry, ErrorLog: quiet, ReadHeaderTimeout: 10 * time.Second}
	s.serve(s.api, s.apiL)
	s.serve(s.reg, s.regL)
	return s, nil
}

func (s *Server) serve(hs *http.Server, l net.Listener) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = hs.Serve(l)
	}()
}

// Close stops both listeners and waits for their goroutines.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := errors.Join(shutdown(ctx, s.api), shutdown(ctx, s.reg))
	s.wg.Wait()
	return err
}

func shutdown(ctx context.Context, hs *http.Server) error {
	if err := hs.Shutdown(ctx); err != nil {
		return hs.Close()
	}
	return nil
}

// URL is the API's origin, e.g. http://127.0.0.1:41234.
func (s *Server) URL() string { return "http://" + s.apiL.Addr().String() }

// APIBase is the value for CLOUDFLARE_API_BASE_URL (and cloudflare-go's option.WithBaseURL):
// URL()+"/client/v4".
func (s *Server) APIBase() string { return s.URL() + apiPrefix }

// RegistryHost is the registry's host:port, the value for CLOUDFLARE_CONTAINER_REGISTRY.
func (s *Server) RegistryHost() string { return s.regL.Addr().String() }

// RegistryCA is the PEM of the CA that signed the registry's certificate. The registry answers plain
// HTTP and HTTPS on the same port; wrangler's registry calls use HTTPS and trust this CA through
// NODE_EXTRA_CA_CERTS.
func (s *Server) RegistryCA() []byte { return s.regCA }

// AccountID is the account the server serves.
func (s *Server) AccountID() string { return s.opts.AccountID }

// Token is the first configured token's value.
func (s *Server) Token() string { return s.opts.Tokens[0].Value }

// Env is the environment that points wrangler (and lean4-cf) at this server, using the first token.
// Add CI=true and WRANGLER_SEND_METRICS=false for non-interactive runs.
func (s *Server) Env() map[string]string {
	return map[string]string{
		"CLOUDFLARE_API_BASE_URL":       s.APIBase(),
		"CLOUDFLARE_API_TOKEN":          s.Token(),
		"CLOUDFLARE_ACCOUNT_ID":         s.AccountID(),
		"CLOUDFLARE_CONTAINER_REGISTRY": s.RegistryHost(),
	}
}

func (s *Server) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf(format, args...)
	}
}

func isHex32(v string) bool {
	if len(v) != 32 {
		return false
	}
	for _, c := range v {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
