package cfapi

import (
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"time"
)

// Control is the test side of a Server: the request journals, injected faults, the clock and the
// provisioning delay. Product code (the edge, the sandbox) never needs it; tests and scripts reach it
// with srv.Control().
type Control struct{ s *Server }

// Control returns the server's test controls.
func (s *Server) Control() *Control { return &Control{s: s} }

// Request is one journaled API request.
type Request struct {
	Time     time.Time
	Method   string
	Path     string // without the /client/v4 prefix
	Query    string // raw query
	Status   int
	Write    bool          // any method other than GET and HEAD
	Endpoint string        // the matched endpoint pattern (see Endpoints), "" for an unknown path
	Fault    string        // the injected fault that answered, if any
	Took     time.Duration // real time spent serving it (injected latency included)
}

func (r Request) String() string {
	q := ""
	if r.Query != "" {
		q = "?" + r.Query
	}
	return fmt.Sprintf("%s %s%s -> %d", r.Method, r.Path, q, r.Status)
}

// Journal returns every API request served so far, oldest first.
func (c *Control) Journal() []Request {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.jr)
}

// InFlight returns the API requests received and not yet answered, oldest first (Status and Took
// unset). A test that must act while a request is held, e.g. by a fault's Latency, waits for it here:
// the journal has it only once it is answered.
func (c *Control) InFlight() []Request {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, 0, len(s.inflight))
	for r := range s.inflight {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b Request) int { return a.Time.Compare(b.Time) })
	return out
}

// Writes returns the journaled requests with Write set, as "METHOD path" strings, oldest first.
func (c *Control) Writes() []string {
	var out []string
	for _, r := range c.Journal() {
		if r.Write {
			out = append(out, r.Method+" "+r.Path)
		}
	}
	return out
}

// Unknown returns the requests to paths the server does not serve. Tests fail on them to see drift:
//
//	if u := srv.Unknown(); len(u) > 0 { t.Errorf("unknown API calls: %v", u) }
func (c *Control) Unknown() []Request {
	var out []Request
	for _, r := range c.Journal() {
		if r.Endpoint == "" {
			out = append(out, r)
		}
	}
	return out
}

// ResetJournal forgets the requests journaled so far.
func (c *Control) ResetJournal() {
	s := c.s
	s.mu.Lock()
	s.jr = nil
	s.mu.Unlock()
}

// Endpoints lists the served endpoint patterns, e.g. "POST /accounts/{account}/containers/applications".
// Fault.Endpoint takes one of these.
func (c *Control) Endpoints() []string {
	s := c.s
	var out []string
	for _, e := range s.endpoints() {
		out = append(out, e.pattern)
	}
	return out
}

// Now is the server's clock.
func (c *Control) Now() time.Time { return c.s.opts.Clock.Now() }

// RegistryPasswords returns every registry password the server has issued (POST .../credentials), so a
// test can check that none of them leaked into logs or files.
func (c *Control) RegistryPasswords() []string {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.st.creds))
}

// Fault describes how the API misbehaves on one endpoint.
type Fault struct {
	// Endpoint is one of Endpoints(), e.g. "POST /accounts/{account}/containers/applications".
	Endpoint string
	// Count is how many matching requests are affected; 0 means every one.
	Count int
	// Latency delays the answer (the real one, or the fault's).
	Latency time.Duration
	// Reset closes the connection without a response (a TCP reset): clients see a network error.
	Reset bool
	// Status answers with this HTTP status and a v4 error envelope carrying Errors
	// (default for 429 [{971, "Please wait and consider throttling your request speed"}], otherwise
	// [{10013, "An unknown error has occurred"}]). 0: no error answer (Latency only).
	Status int
	Errors []APIError
	// Body, when set, is written instead of the envelope (e.g. HTML from a proxy: "malformed response").
	Body string
	// Header is added to the fault's answer, e.g. {"Retry-After": "1"}.
	Header map[string]string
}

type faultRule struct {
	Fault
	left uses
}

// uses counts the requests a fault still affects; -1 means every one.
type uses int

// newUses makes the budget of a fault's Count: 0 means every request.
func newUses(count int) uses {
	if count == 0 {
		return -1
	}
	return uses(count)
}

// take spends one use and reports whether there was one.
func (u *uses) take() bool {
	if *u == 0 {
		return false
	}
	if *u > 0 {
		*u--
	}
	return true
}

// Inject adds a fault. It fails on an endpoint the server does not serve, so typos are seen.
func (c *Control) Inject(f Fault) error {
	s := c.s
	if !slices.Contains(c.Endpoints(), f.Endpoint) {
		return fmt.Errorf("injecting fault: unknown endpoint %q (see Server.Endpoints)", f.Endpoint)
	}
	if f.Status == 0 && !f.Reset && f.Latency == 0 {
		return fmt.Errorf("injecting fault on %q: set Status, Reset or Latency", f.Endpoint)
	}
	s.mu.Lock()
	s.faults = append(s.faults, &faultRule{Fault: f, left: newUses(f.Count)})
	s.mu.Unlock()
	return nil
}

// ClearFaults removes every injected fault.
func (c *Control) ClearFaults() {
	s := c.s
	s.mu.Lock()
	s.faults = nil
	s.mu.Unlock()
}

func (s *Server) takeFault(pattern string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.faults {
		if f.Endpoint == pattern && f.left.take() {
			return f.Fault, true
		}
	}
	return Fault{}, false
}

// applyFault answers the request per a matching fault and reports whether it did.
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, pattern string, info *requestInfo) bool {
	f, ok := s.takeFault(pattern)
	if !ok {
		return false
	}
	if f.Latency > 0 {
		select {
		case <-time.After(f.Latency):
		case <-r.Context().Done():
		}
	}
	switch {
	case f.Reset:
		info.fault = "reset"
		resetConn(w)
		return true
	case f.Status != 0:
		info.fault = fmt.Sprintf("status %d", f.Status)
		for k, v := range f.Header {
			w.Header().Set(k, v)
		}
		if f.Body != "" {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(f.Status)
			_, _ = w.Write([]byte(f.Body))
			return true
		}
		errs := f.Errors
		switch {
		case len(errs) > 0:
		case f.Status == http.StatusTooManyRequests:
			errs = []APIError{{Code: codeRateLimited, Message: "Please wait and consider throttling your request speed"}}
		default:
			errs = []APIError{{Code: codeUnknown, Message: "An unknown error has occurred"}}
		}
		writeEnvelope(w, f.Status, envelope{Errors: errs})
		return true
	}
	info.fault = "latency"
	return false
}

// resetConn hijacks the connection and closes it with SO_LINGER 0, so the peer gets a TCP RST.
func resetConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// SetProvisionDelay changes how long new application versions take to provision from now on (a slow
// first provisioning, as the platform's can take minutes).
func (c *Control) SetProvisionDelay(d time.Duration) {
	s := c.s
	s.mu.Lock()
	s.opts.ProvisionDelay = d
	s.mu.Unlock()
}

// InjectRegistry adds a registry fault.
func (c *Control) InjectRegistry(f RegistryFault) error {
	s := c.s
	switch f.Kind {
	case DropBlobUpload, DropBlobDownload, FailBlobCommit, ExpireCredentials:
	default:
		return fmt.Errorf("injecting registry fault: unknown kind %q", f.Kind)
	}
	s.mu.Lock()
	s.regFaults = append(s.regFaults, &registryRule{RegistryFault: f, left: newUses(f.Count)})
	s.mu.Unlock()
	return nil
}

// RegistryJournal returns every registry request served so far, oldest first.
func (c *Control) RegistryJournal() []RegistryRequest {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.regJr)
}

// ClearRegistryFaults removes every registry fault.
func (c *Control) ClearRegistryFaults() {
	s := c.s
	s.mu.Lock()
	s.regFaults = nil
	s.mu.Unlock()
}

func (s *Server) takeRegistryFault(kind RegistryFaultKind) (RegistryFault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.regFaults {
		if f.Kind == kind && f.left.take() {
			return f.RegistryFault, true
		}
	}
	return RegistryFault{}, false
}
