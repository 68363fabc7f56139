package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// dest is a registry behind Basic auth; each credentials call issues a new password that works until it expires.
type dest struct {
	srv      *httptest.Server
	mu       sync.Mutex
	password string               // the newest
	valid    map[string]time.Time // password -> expiry
	issued   int
	fault    func(w http.ResponseWriter, r *http.Request) bool // returns true when it answered
	requests atomic.Int64
}

func newDest(t *testing.T) *dest {
	t.Helper()
	d := &dest{valid: map[string]time.Time{}}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	d.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.requests.Add(1)
		user, p, ok := r.BasicAuth()
		d.mu.Lock()
		exp, known := d.valid[p]
		fault := d.fault
		d.mu.Unlock()
		if !ok || user != "v1" || !known || time.Now().After(exp) {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if fault != nil && fault(w, r) {
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(d.srv.Close)
	return d
}

// creds issues a fresh password valid for ttl.
func (d *dest) creds(ttl time.Duration) func(context.Context) (authn.AuthConfig, time.Time, error) {
	return func(context.Context) (authn.AuthConfig, time.Time, error) {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.issued++
		d.password = fmt.Sprintf("pw-%d", d.issued)
		exp := time.Now().Add(ttl)
		d.valid[d.password] = exp
		return authn.AuthConfig{Username: "v1", Password: d.password}, exp, nil
	}
}

func (d *dest) tag(t *testing.T, repo string) name.Tag {
	t.Helper()
	tag, err := name.NewTag(strings.TrimPrefix(d.srv.URL, "http://") + "/" + repo + ":v1")
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

func testImage(t *testing.T) (v1.Image, int64) {
	t.Helper()
	img, err := random.Image(64*1024, 5)
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := img.Layers()
	var total int64
	for _, l := range ls {
		n, _ := l.Size()
		total += n
	}
	return img, total
}

func quick(d *dest, ttl time.Duration) PushOptions {
	return PushOptions{Credentials: d.creds(ttl), Backoff: time.Millisecond, RefreshBefore: time.Second}
}

func TestPushCopiesThenSkips(t *testing.T) {
	d := newDest(t)
	img, total := testImage(t)
	var measured sync.Map
	opts := quick(d, 15*time.Minute)
	opts.Measure = func(_ context.Context, h v1.Hash, mt types.MediaType, r io.Reader) error {
		n, err := io.Copy(io.Discard, r)
		measured.Store(h, n)
		return err
	}
	var lastProgress atomic.Value
	opts.Progress = func(p PushProgress) { lastProgress.Store(p) }
	res, err := Push(context.Background(), img, d.tag(t, "acct/lean"), opts)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	if res.Digest != want || res.BlobsPushed != 5 || res.BlobsSkipped != 0 || res.BytesPushed != total || res.Attempts != 1 {
		t.Fatalf("result = %+v, want 5 blobs, %d bytes", res, total)
	}
	if !strings.HasSuffix(res.Reference, "/acct/lean@"+want.String()) {
		t.Fatalf("reference = %s", res.Reference)
	}
	ls, _ := img.Layers()
	for _, l := range ls {
		h, _ := l.Digest()
		size, _ := l.Size()
		if n, ok := measured.Load(h); !ok || n.(int64) != size {
			t.Errorf("layer %s measured %v bytes, want %d", h, n, size)
		}
	}
	if p, _ := lastProgress.Load().(PushProgress); p.LayersDone != 5 || p.BytesDone != total {
		t.Errorf("last progress = %+v", p)
	}
	// The destination really has it.
	got, err := remote.Image(d.tag(t, "acct/lean"), remote.WithAuth(&authn.Basic{Username: "v1", Password: d.password}))
	if err != nil {
		t.Fatal(err)
	}
	if gd, _ := got.Digest(); gd != want {
		t.Fatalf("destination digest %s, want %s", gd, want)
	}

	again, err := Push(context.Background(), img, d.tag(t, "acct/lean"), quick(d, 15*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if again.BlobsPushed != 0 || again.BytesPushed != 0 || again.BlobsSkipped != 5 {
		t.Fatalf("second push = %+v, want nothing uploaded", again)
	}
}

func TestPushRenewsCredentialsBeforeExpiry(t *testing.T) {
	d := newDest(t)
	img, _ := testImage(t)
	// Credentials that are always within RefreshBefore of expiring are renewed on every request.
	res, err := Push(context.Background(), img, d.tag(t, "acct/renew"), quick(d, 500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if d.issued < 3 || res.Attempts != 1 {
		t.Fatalf("credentials issued %d times, attempts %d; want several renewals and one attempt", d.issued, res.Attempts)
	}
}

func TestPushRetriesTransientFaults(t *testing.T) {
	// Each fault strikes `times` times: once is absorbed by go-containerregistry's per-request retry;
	// five times outlasts it, so the whole-image attempt is repeated (uploaded blobs are then skipped).
	tests := []struct {
		name         string
		times        int64
		wantAttempts int
		fault        func(n int64) func(w http.ResponseWriter, r *http.Request) bool
	}{
		{name: "connection dropped mid-blob, once", times: 1, wantAttempts: 1, fault: dropMidBlob},
		{name: "connection dropped mid-blob, five times", times: 5, wantAttempts: 2, fault: dropMidBlob},
		{name: "blob commit fails, once", times: 1, wantAttempts: 1, fault: failCommit},
		{name: "blob commit fails, five times", times: 5, wantAttempts: 2, fault: failCommit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDest(t)
			d.fault = tt.fault(tt.times)
			img, _ := testImage(t)
			opts := quick(d, 15*time.Minute)
			opts.Jobs = 1 // the faults strike one request after another, not spread over parallel blobs
			res, err := Push(context.Background(), img, d.tag(t, "acct/retry"), opts)
			if err != nil {
				t.Fatal(err)
			}
			if res.Attempts != tt.wantAttempts {
				t.Fatalf("result = %+v, want %d attempts", res, tt.wantAttempts)
			}
			got, err := remote.Image(d.tag(t, "acct/retry"), remote.WithAuth(&authn.Basic{Username: "v1", Password: d.password}))
			if err != nil {
				t.Fatal(err)
			}
			if gd, _ := got.Digest(); gd != res.Digest {
				t.Fatalf("destination digest %s, want %s", gd, res.Digest)
			}
		})
	}
}

// dropMidBlob closes the connection after 1000 bytes of a blob upload, n times.
func dropMidBlob(n int64) func(w http.ResponseWriter, r *http.Request) bool {
	var left atomic.Int64
	left.Store(n)
	return func(w http.ResponseWriter, r *http.Request) bool {
		if (r.Method == http.MethodPatch || r.Method == http.MethodPut) && strings.Contains(r.URL.Path, "/blobs/uploads/") && r.ContentLength != 0 && left.Add(-1) >= 0 {
			io.CopyN(io.Discard, r.Body, 1000)
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return true
		}
		return false
	}
}

// failCommit answers 500 to the PUT that commits a blob, n times.
func failCommit(n int64) func(w http.ResponseWriter, r *http.Request) bool {
	var left atomic.Int64
	left.Store(n)
	return func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut && r.URL.Query().Get("digest") != "" && left.Add(-1) >= 0 {
			io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"errors":[{"code":"UNKNOWN","message":"commit failed"}]}`)
			return true
		}
		return false
	}
}

func TestPushStopsOnPermanentFailure(t *testing.T) {
	d := newDest(t)
	d.fault = func(w http.ResponseWriter, r *http.Request) bool {
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `{"errors":[{"code":"DENIED","message":"quota exceeded"}]}`)
		return true
	}
	img, _ := testImage(t)
	res, err := Push(context.Background(), img, d.tag(t, "acct/denied"), quick(d, 15*time.Minute))
	if err == nil || !strings.Contains(err.Error(), "403 Forbidden") || res.Attempts != 1 {
		t.Fatalf("err = %v, attempts %d; want a single attempt failing with the registry's status", err, res.Attempts)
	}
}

// transient is both go-containerregistry's per-request predicate and the whole attempt's.
func TestTransient(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"503", &transport.Error{StatusCode: http.StatusServiceUnavailable}, true},
		{"Cloudflare 522", &transport.Error{StatusCode: 522}, true},
		{"401 renews the credentials", &transport.Error{StatusCode: http.StatusUnauthorized}, true},
		{"403", &transport.Error{StatusCode: http.StatusForbidden}, false},
		{"reset", fmt.Errorf("PATCH: %w", syscall.ECONNRESET), true},
		{"unexpected EOF", fmt.Errorf("reading: %w", io.ErrUnexpectedEOF), true},
		{"a dial error", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, true},
		{"cancelled inside a url.Error", &url.Error{Op: "Put", URL: "x", Err: context.Canceled}, false},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), false},
		{"other", errors.New("manifest invalid"), false},
	} {
		if got := transient(tc.err); got != tc.want {
			t.Errorf("%s: transient(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
