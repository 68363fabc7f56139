package cfapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

const apiPrefix = "/client/v4"

// APIError is one entry of a v4 envelope's "errors".
type APIError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// envelope is Cloudflare's v4 response body.
type envelope struct {
	Success    bool       `json:"success"`
	Errors     []APIError `json:"errors"`
	Messages   []APIError `json:"messages"`
	Result     any        `json:"result"`
	ResultInfo any        `json:"result_info,omitempty"`
}

// apiErr is returned by handlers to answer a v4 error.
type apiErr struct {
	status int
	errs   []APIError
}

func (e *apiErr) Error() string { return fmt.Sprintf("%d %v", e.status, e.errs) }

func fail(status, code int, format string, args ...any) *apiErr {
	return &apiErr{status: status, errs: []APIError{{Code: code, Message: fmt.Sprintf(format, args...)}}}
}

// Error codes the server answers with (Cloudflare's, where known).
const (
	codeNotFound        = 10007 // script, version, deployment or subdomain not found
	codeServiceNotFound = 10090 // GET services of a new Worker
	codeValidation      = 10021 // upload validation
	codeAuth            = 10000 // Authentication error
	codeNoRoute         = 7000  // No route for that URI
	codeBadAccount      = 7003  // Could not route ... object identifier invalid
	codeSecretsChanged  = 10220 // rollback to a version with different secrets
	codeBadRequest      = 10001
	codeUnknown         = 10013 // An unknown error has occurred (used by injected faults)
	codeRateLimited     = 971   // Please wait and consider throttling your request speed (injected 429s)
)

// reply is a handler's successful answer: result, and result_info for list endpoints.
type reply struct {
	status int // default 200
	result any
	info   any
	raw    []byte // when set, written as is with rawType
	rawTyp string
	msgs   []APIError // the envelope's "messages"
}

type handlerFunc func(r *http.Request) (*reply, *apiErr)

// endpoint is a registered route: its pattern (as listed by Endpoints), the scope it needs, its handler.
type endpoint struct {
	pattern string
	scope   string
	h       handlerFunc
}

// requestInfo is filled in while a request is served, then journaled.
type requestInfo struct {
	endpoint string
	fault    string
}

type ctxKey struct{}

// Paths the resources' routes share.
const (
	acctPath       = "/accounts/{account}"
	scriptPath     = acctPath + "/workers/scripts/{script}"
	containersPath = acctPath + "/containers"
)

// endpoints are every resource's routes, each declared in the resource's file (as go-containerregistry's
// pkg/registry splits blobs and manifests).
func (s *Server) endpoints() []endpoint {
	return slices.Concat(s.accountRoutes(), s.subdomainRoutes(), s.scriptRoutes(), s.versionRoutes(), s.deploymentRoutes(),
		s.applicationRoutes(), s.instanceRoutes(), s.rolloutRoutes(), s.credentialRoutes())
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	for _, e := range s.endpoints() {
		method, path, _ := strings.Cut(e.pattern, " ")
		mux.Handle(method+" "+apiPrefix+path, s.wrap(e))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeEnvelope(w, http.StatusNotFound, envelope{Errors: []APIError{{Code: codeNoRoute, Message: "No route for that URI"}}})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start, wall := s.opts.Clock.Now(), time.Now()
		path := strings.TrimPrefix(r.URL.Path, apiPrefix)
		arrived := &Request{Time: start, Method: r.Method, Path: path, Query: r.URL.RawQuery}
		s.mu.Lock()
		s.inflight[arrived] = struct{}{}
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			delete(s.inflight, arrived)
			s.mu.Unlock()
		}()
		info := &requestInfo{}
		rec := &statusRecorder{ResponseWriter: w}
		mux.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), ctxKey{}, info)))
		req := *arrived
		req.Status, req.Write = rec.status, r.Method != http.MethodGet && r.Method != http.MethodHead
		req.Endpoint, req.Fault, req.Took = info.endpoint, info.fault, time.Since(wall)
		s.mu.Lock()
		s.jr = append(s.jr, req)
		s.mu.Unlock()
		s.logf("cfapi: %s %s?%s -> %d %s", r.Method, path, r.URL.RawQuery, rec.status, info.fault)
	})
}

// wrap applies, in order: the journal's endpoint name, faults, auth and account checks, the handler.
func (s *Server) wrap(e endpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := r.Context().Value(ctxKey{}).(*requestInfo)
		info.endpoint = e.pattern
		if s.applyFault(w, r, e.pattern, info) {
			return
		}
		if err := s.authorize(r, e.scope); err != nil {
			writeEnvelope(w, err.status, envelope{Errors: err.errs})
			return
		}
		rep, err := e.h(r)
		if err != nil {
			writeEnvelope(w, err.status, envelope{Errors: err.errs})
			return
		}
		if rep.raw != nil {
			w.Header().Set("Content-Type", rep.rawTyp)
			w.WriteHeader(cmpOr(rep.status, http.StatusOK))
			_, _ = w.Write(rep.raw)
			return
		}
		writeEnvelope(w, cmpOr(rep.status, http.StatusOK), envelope{Success: true, Result: rep.result, ResultInfo: rep.info, Messages: rep.msgs})
	})
}

func ok(result any) (*reply, *apiErr) { return &reply{result: result}, nil }

// created answers 201 Created, as Cloudflare's API description has it for creating a container
// application, a rollout or registry credentials.
func created(result any) (*reply, *apiErr) {
	return &reply{status: http.StatusCreated, result: result}, nil
}

// onFound serves h with what find looks up from the request, holding the server's lock; find's error
// is the answer when it fails.
func onFound[T any](s *Server, find func(*http.Request) (T, *apiErr), h func(*http.Request, T) (*reply, *apiErr)) handlerFunc {
	return func(r *http.Request) (*reply, *apiErr) {
		s.mu.Lock()
		defer s.mu.Unlock()
		v, err := find(r)
		if err != nil {
			return nil, err
		}
		return h(r, v)
	}
}

func cmpOr(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func writeEnvelope(w http.ResponseWriter, status int, env envelope) {
	if env.Errors == nil {
		env.Errors = []APIError{}
	}
	if env.Messages == nil {
		env.Messages = []APIError{}
	}
	b, err := json.Marshal(env)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"success":false,"errors":[{"code":10013,"message":"encoding the response failed"}],"messages":[],"result":null}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// authorize checks the bearer token, its scopes and expiry, and the account id in the path.
func (s *Server) authorize(r *http.Request, scope string) *apiErr {
	auth := r.Header.Get("Authorization")
	value, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || value == "" {
		return &apiErr{status: http.StatusBadRequest, errs: []APIError{{Code: 6003, Message: "Invalid request headers"}}}
	}
	tok, found := s.token(value)
	if !found || (!tok.Expiry.IsZero() && !s.opts.Clock.Now().Before(tok.Expiry)) {
		if strings.HasSuffix(r.URL.Path, "/tokens/verify") {
			return fail(http.StatusUnauthorized, 1000, "Invalid API Token")
		}
		return fail(http.StatusUnauthorized, codeAuth, "Authentication error")
	}
	if a := r.PathValue("account"); a != "" && a != s.opts.AccountID {
		if !isHex32(a) {
			return fail(http.StatusNotFound, codeBadAccount, "Could not route to %s, perhaps your object identifier is invalid?", strings.TrimPrefix(r.URL.Path, apiPrefix))
		}
		return fail(http.StatusForbidden, codeAuth, "Authentication error")
	}
	if scope != "" && !tok.has(scope) {
		if scope == ScopeContainers {
			return fail(http.StatusUnauthorized, codeAuth, "Unauthorized: the API token lacks the %s permission", ScopeContainers)
		}
		return fail(http.StatusForbidden, codeAuth, "Authentication error")
	}
	return nil
}

func (s *Server) token(value string) (Token, bool) {
	for _, t := range s.opts.Tokens {
		if t.Value == value {
			return t, true
		}
	}
	return Token{}, false
}

func (t Token) has(scope string) bool {
	if t.Scopes == nil {
		return true
	}
	for _, s := range t.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (for hijacking on connection resets).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func decodeJSON(r *http.Request, v any) *apiErr {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		return fail(http.StatusBadRequest, codeBadRequest, "Invalid JSON body: %v", err)
	}
	return nil
}

func iso(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func pageInfo(page, per, count, total int) map[string]any {
	pages := 1
	if per > 0 {
		pages = max(1, (total+per-1)/per)
	}
	return map[string]any{"page": page, "per_page": per, "count": count, "total_count": total, "total_pages": pages}
}

func atoiOr(v string, def int) int {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return def
	}
	return n
}

// page cuts items per the containers API's per_page / page_token paging.
func page[T any](r *http.Request, items []T) ([]T, map[string]any) {
	q := r.URL.Query()
	per := atoiOr(q.Get("per_page"), 25)
	from := 0
	if t := q.Get("page_token"); t != "" {
		from = min(atoiOr(t, 0), len(items))
	}
	to := min(from+per, len(items))
	info := map[string]any{"per_page": per}
	if to < len(items) {
		info["next_page_token"] = strconv.Itoa(to)
	}
	return items[from:to], info
}
