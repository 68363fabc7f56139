// Package edge is the local Cloudflare edge for tests and `lean4-cf sandbox`: an HTTPS listener that
// answers for <script>.<subdomain>.workers.dev with a certificate from a CA made per run, and runs each
// deployed Worker version for real in workerd. A container Worker's LEAN_ORIGIN points at a gate that
// behaves as the platform does (503 until the application has provisioned, a wait through the cold start)
// and then forwards to a Lean server double (internal/sandbox/leandouble) for the application's image.
package edge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/org/lean4-cf-action/internal/instance"
	"github.com/org/lean4-cf-action/internal/localca"
	"github.com/org/lean4-cf-action/internal/retry"
	"github.com/org/lean4-cf-action/internal/sandbox/cfapi"
	"github.com/org/lean4-cf-action/internal/sandbox/leandouble"
)

// Options configures an Edge.
type Options struct {
	// API is the local Cloudflare whose deployments the edge serves. Required.
	API *cfapi.Server
	// Workerd is the workerd binary (worker/node_modules/workerd/bin/workerd after `make toolchain`). Required.
	Workerd string
	// Addr is the HTTPS listen address. Default "127.0.0.1:0".
	Addr string
	// Dir holds the CA file and one folder per running Worker version. Default: a new temporary folder,
	// removed by Close.
	Dir string
	// StartTimeout is how long a container request waits for its instance to finish starting (the
	// Worker's own wait for port 8000). Default 120 s.
	StartTimeout time.Duration
	// PortTimeout is how long the platform waits for a started container to listen on its port before
	// a request gets 500 "Failed to start container" (TIMEOUT_TO_GET_PORTS_MS). Default 20 s.
	PortTimeout time.Duration
	// RetryAfter is the Retry-After, in seconds, of the 503 a container request gets while no instance
	// can be had. Default 10, as the Worker's own answer.
	RetryAfter int
	// Lean says how the Lean server double of an image behaves (failure modes, version). Default: healthy,
	// with the Budget of the application's instance type (memory and vCPUs each instance has; a named
	// type only) when the options set none.
	Lean func(image string) leandouble.Options
	// Clock paces the platform's pauses: the port-ready wait (PortTimeout) and the Lean doubles' own
	// time (their Options.Clock, unless Lean sets one), so scripts sped up with it wait no real pauses.
	// Bounds (StartTimeout) stay real. Default: real time.
	Clock retry.Clock
	// Logf, when set, receives a line per event (process starts, gate answers). Default: silent.
	Logf func(format string, args ...any)
}

// Edge is a running local edge.
type Edge struct {
	opts    Options
	ln      net.Listener
	srv     *http.Server
	ca      *localca.Authority
	caFile  string
	ownDir  bool
	mu      sync.Mutex
	procs   map[string]*worker            // by version id
	leans   map[string]*leandouble.Server // by image
	closed  bool
	done    chan struct{} // closed by Close
	serving sync.WaitGroup
}

// Start listens and serves until Close.
func Start(opts Options) (*Edge, error) {
	if opts.API == nil || opts.Workerd == "" {
		return nil, errors.New("edge: API and Workerd are required")
	}
	if _, err := os.Stat(opts.Workerd); err != nil {
		return nil, fmt.Errorf("edge: workerd %s is missing: run `make toolchain`", opts.Workerd)
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 120 * time.Second
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = 10
	}
	if opts.PortTimeout <= 0 {
		opts.PortTimeout = 20 * time.Second
	}
	e := &Edge{opts: opts, procs: map[string]*worker{}, leans: map[string]*leandouble.Server{}, done: make(chan struct{})}
	if e.opts.Dir == "" {
		dir, err := os.MkdirTemp("", "lean4cf-edge-")
		if err != nil {
			return nil, fmt.Errorf("edge: creating a work folder: %w", err)
		}
		e.opts.Dir, e.ownDir = dir, true
	} else if err := os.MkdirAll(e.opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("edge: creating %s: %w", e.opts.Dir, err)
	}
	sub := opts.API.Subdomain()
	ca, err := localca.New([]string{"*." + sub + ".workers.dev", sub + ".workers.dev"}, localca.Options{Name: "lean4-cf local edge CA"})
	if err != nil {
		return nil, fmt.Errorf("edge: %w", err)
	}
	e.ca = ca
	e.caFile = filepath.Join(e.opts.Dir, "edge-ca.pem")
	if err := os.WriteFile(e.caFile, ca.PEM, 0o644); err != nil {
		return nil, fmt.Errorf("edge: writing the CA file: %w", err)
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("edge: listening on %s: %w", opts.Addr, err)
	}
	e.ln = ln
	e.srv = &http.Server{Handler: http.HandlerFunc(e.serveHTTP), ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{ca.Leaf}, MinVersion: tls.VersionTLS12}}
	e.serving.Add(1)
	go func() {
		defer e.serving.Done()
		_ = e.srv.ServeTLS(ln, "", "")
	}()
	return e, nil
}

// Port is the HTTPS port.
func (e *Edge) Port() int { return e.ln.Addr().(*net.TCPAddr).Port }

// CAFile is the PEM file of the per-run CA (for SSL_CERT_FILE).
func (e *Edge) CAFile() string { return e.caFile }

// CertPool trusts the per-run CA only.
func (e *Edge) CertPool() *x509.CertPool { return e.ca.Pool() }

// ResolveRule is the curl-style rule that sends host's port 443 to the edge.
func (e *Edge) ResolveRule(host string) string {
	return fmt.Sprintf("%s:443:127.0.0.1:%d", host, e.Port())
}

// WildcardRule sends every <script>.<subdomain>.workers.dev on port 443 to the edge.
func (e *Edge) WildcardRule() string {
	return e.ResolveRule("*." + e.opts.API.Subdomain() + ".workers.dev")
}

// Client is an HTTPS client that reaches every workers.dev host of the account through the edge and
// trusts the per-run CA.
func (e *Edge) Client() *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	suffix := "." + e.opts.API.Subdomain() + ".workers.dev:443"
	return &http.Client{Timeout: 3 * time.Minute, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: e.CertPool(), MinVersion: tls.VersionTLS12},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if strings.HasSuffix(addr, suffix) {
				addr = e.ln.Addr().String()
			}
			return d.DialContext(ctx, network, addr)
		},
	}}
}

// Processes is how many workerd processes run now.
func (e *Edge) Processes() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.procs)
}

// Close stops serving, stops every workerd process and Lean double, and removes its own folder.
func (e *Edge) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	close(e.done)
	procs, leans := e.procs, e.leans
	e.procs, e.leans = map[string]*worker{}, map[string]*leandouble.Server{}
	e.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := e.srv.Shutdown(ctx)
	if err != nil {
		_ = e.srv.Close()
	}
	e.serving.Wait()
	for _, p := range procs {
		p.stop()
	}
	for _, l := range leans {
		_ = l.Close()
	}
	if e.ownDir {
		_ = os.RemoveAll(e.opts.Dir)
	}
	return nil
}

func (e *Edge) logf(format string, args ...any) {
	if e.opts.Logf != nil {
		e.opts.Logf(format, args...)
	}
}

func (e *Edge) serveHTTP(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	wk, ok := e.opts.API.WorkerForHost(host)
	if !ok || wk.Active == nil {
		// What workers.dev answers for a name no Worker serves.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, "There is nothing here yet: no Worker is deployed at %s.\n", host)
		return
	}
	p, err := e.worker(wk.Name, *wk.Active)
	if err != nil {
		e.logf("edge: %s: %v", host, err)
		http.Error(w, "Worker threw exception: "+err.Error(), http.StatusInternalServerError)
		return
	}
	p.proxy.ServeHTTP(w, r)
}

// worker returns the running workerd for a version, starting it when needed.
func (e *Edge) worker(script string, v cfapi.Version) (*worker, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, errors.New("the edge is closing")
	}
	if p, ok := e.procs[v.ID]; ok && p.alive() {
		return p, nil
	}
	var gateURL string
	if len(v.Containers) > 0 {
		app := v.Containers[0].Name
		if app == "" {
			app = script + "-" + strings.ToLower(v.Containers[0].ClassName)
		}
		g, err := e.startGate(app)
		if err != nil {
			return nil, err
		}
		gateURL = g
	}
	p, err := startWorker(e.opts.Workerd, filepath.Join(e.opts.Dir, "v-"+v.ID), v, gateURL)
	if err != nil {
		return nil, fmt.Errorf("starting version %s of %s in workerd: %w", v.ID, script, err)
	}
	e.procs[v.ID] = p
	e.logf("edge: workerd serves %s version %s on %s", script, v.ID, p.addr)
	return p, nil
}

// startGate serves the container side of a Worker: LEAN_ORIGIN points here.
func (e *Edge) startGate(app string) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("listening for the container gate: %w", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { e.gate(app, w, r) }), ReadHeaderTimeout: 10 * time.Second}
	e.serving.Add(1)
	go func() {
		defer e.serving.Done()
		_ = srv.Serve(ln)
	}()
	go func() {
		<-e.done
		_ = srv.Close()
	}()
	return "http://" + ln.Addr().String(), nil
}

// defaultDOName is the Durable Object a gate request is attributed to when the Worker does not name its
// instance (leandouble.InstanceHeader).
const defaultDOName = "lean4-cf-edge"

// gate answers as the platform does for a container request.
func (e *Edge) gate(app string, w http.ResponseWriter, r *http.Request) {
	noInstance := func(why string) {
		e.logf("edge: gate %s: 503: %s", app, why)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Retry-After", fmt.Sprint(e.opts.RetryAfter))
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, `{"ok":false,"error":"no_instance","message":"There is no container instance that can be provided to this Durable Object: %s","retryAfter":%d}`, strings.ReplaceAll(why, `"`, `'`), e.opts.RetryAfter)
	}
	doName := r.Header.Get(leandouble.InstanceHeader)
	if doName == "" {
		doName = defaultDOName
	}
	inst, err := e.opts.API.StartInstance(app, doName)
	if err != nil {
		noInstance(err.Error())
		return
	}
	deadline := time.Now().Add(e.opts.StartTimeout)
	for inst.State != "running" {
		if time.Now().After(deadline) {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprintf(w, `{"ok":false,"error":"container_start_failed","message":"the container did not open port 8000 within %s"}`, e.opts.StartTimeout)
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
		if inst, err = e.opts.API.StartInstance(app, doName); err != nil {
			noInstance(err.Error())
			return
		}
	}
	if e.opts.Lean != nil && e.opts.Lean(inst.Image).Fail == leandouble.FailNoPort {
		// The platform's port-ready wait runs out, and the container class answers 500.
		if e.opts.Clock.Sleep(r.Context(), e.opts.PortTimeout) != nil {
			return
		}
		e.logf("edge: gate %s: 500: %s never listens on port 8000", app, inst.Image)
		http.Error(w, "Failed to start container: the container is not listening in the TCP address 10.0.0.1:8000", http.StatusInternalServerError)
		return
	}
	lean, err := e.lean(app, inst.Image)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	target, _ := url.Parse(lean.URL())
	(&httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
		// A container that dies under a request loses its connection, and the Worker's container class
		// answers 502 container_disconnected (worker/src/failures.ts); the proxy's default would be an
		// empty 502 that no production client ever sees.
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			e.logf("edge: gate %s: 502: %s: %v", app, inst.Image, err)
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprint(w, `{"ok":false,"error":"container_disconnected","message":"The container closed the connection without an answer (it may have restarted or run out of memory)."}`)
		},
	}).ServeHTTP(w, r)
}

// lean returns the Lean double that runs an image, starting it when needed.
func (e *Edge) lean(app, image string) (*leandouble.Server, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if l, ok := e.leans[image]; ok {
		return l, nil
	}
	var opts leandouble.Options
	if e.opts.Lean != nil {
		opts = e.opts.Lean(image)
	}
	if opts.Clock == (retry.Clock{}) {
		opts.Clock = e.opts.Clock
	}
	if a, ok := e.opts.API.Application(app); ok && opts.Budget == nil {
		if t, _, err := instance.Lookup(a.InstanceType); err == nil {
			b := leandouble.BudgetFor(t)
			opts.Budget = &b
		}
	}
	l, err := leandouble.Start(opts)
	if err != nil {
		return nil, fmt.Errorf("starting the Lean double for %s: %w", image, err)
	}
	e.leans[image] = l
	e.logf("edge: Lean double for %s on %s", image, l.URL())
	return l, nil
}
