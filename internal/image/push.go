package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/org/lean4-cf-action/internal/retry"
)

// PushOptions configures Push.
type PushOptions struct {
	// Credentials returns registry credentials and when they expire; Push asks again when they are within
	// RefreshBefore of expiring, and after a 401. Required.
	Credentials func(ctx context.Context) (authn.AuthConfig, time.Time, error)
	// RefreshBefore is how long before expiry credentials are renewed. Default 2 minutes.
	RefreshBefore time.Duration
	// Jobs is how many blobs upload at once. Default 4.
	Jobs int
	// Attempts bounds whole-image attempts after transient failures (a dropped connection, a failed blob
	// commit, 429/5xx, an expired credential). Blobs already uploaded are skipped on the next attempt. Default 4.
	Attempts int
	// Backoff is the pause before a request is retried (go-containerregistry retries each request up to
	// 3 times) and before the second whole attempt; it doubles each time. Default 1 s.
	Backoff time.Duration
	// Clock paces those pauses. Default: real time.
	Clock retry.Clock
	// Measure, when set, reads each uploaded layer's compressed stream as it is uploaded (no second read);
	// it must consume r to EOF or return early (the rest is drained for it).
	Measure func(ctx context.Context, layer v1.Hash, mediaType types.MediaType, r io.Reader) error
	// Progress, when set, hears about uploaded bytes and finished layers. It must not block.
	Progress func(PushProgress)
	// Transport carries registry requests. Default remote.DefaultTransport.
	Transport http.RoundTripper
}

// PushProgress is a progress report.
type PushProgress struct {
	BytesDone, BytesTotal int64 // uploaded bytes of blobs that are uploaded (skipped blobs count in neither)
	LayersDone            int   // layers uploaded or found already there
	LayersTotal           int
	Attempt               int
}

// PushResult is what Push did.
type PushResult struct {
	Reference    string  // <repository>@<digest>: what to deploy
	Digest       v1.Hash // the image manifest digest
	BytesPushed  int64   // compressed bytes uploaded (0 when every blob was already there)
	BlobsPushed  int     // layers uploaded
	BlobsSkipped int     // layers already in the registry
	Attempts     int
	Duration     time.Duration
}

// Push copies img (one platform's image) to dst, streaming blobs from the source, skipping blobs the
// destination has, retrying transient failures, and renewing credentials before they expire.
func Push(ctx context.Context, img v1.Image, dst name.Tag, opts PushOptions) (PushResult, error) {
	start := time.Now()
	if opts.Credentials == nil {
		return PushResult{}, errors.New("pushing image: no credentials source")
	}
	if opts.RefreshBefore <= 0 {
		opts.RefreshBefore = 2 * time.Minute
	}
	if opts.Jobs <= 0 {
		opts.Jobs = 4
	}
	if opts.Attempts <= 0 {
		opts.Attempts = 4
	}
	if opts.Backoff <= 0 {
		opts.Backoff = time.Second
	}
	if opts.Transport == nil {
		opts.Transport = remote.DefaultTransport
	}
	digest, err := img.Digest()
	if err != nil {
		return PushResult{}, fmt.Errorf("reading image digest: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return PushResult{}, fmt.Errorf("reading image layers: %w", err)
	}
	auth := &refreshingAuth{get: opts.Credentials, before: opts.RefreshBefore}
	st := &pushState{opts: opts, total: len(layers), uploaded: map[v1.Hash]int64{}}
	res := PushResult{Digest: digest, Reference: dst.Context().Digest(digest.String()).String()}

	// Each request is retried by go-containerregistry, and the whole image again after that gives up
	// (blobs already uploaded are skipped); both levels use the same predicate, statuses and pacing.
	policy := retry.Policy{Initial: opts.Backoff, Multiplier: 2, Tries: uint(opts.Attempts)}
	_, err = retry.Do(ctx, policy, opts.Clock, nil, func() (struct{}, error) {
		res.Attempts++
		st.attempt = res.Attempts
		st.seen = 0
		err := remote.Write(dst, &countingImage{Image: img, st: st},
			remote.WithContext(ctx), remote.WithAuth(auth), remote.WithJobs(opts.Jobs),
			remote.WithTransport(opts.Transport), remote.WithUserAgent("lean4-cf"),
			remote.WithRetryPredicate(transient), remote.WithRetryStatusCodes(retryStatusCodes...),
			remote.WithRetryBackoff(remote.Backoff{Duration: opts.Clock.Pause(opts.Backoff), Factor: 2, Jitter: 0.1, Steps: 3}))
		switch {
		case err == nil:
			return struct{}{}, nil
		case ctx.Err() != nil || !transient(err):
			return struct{}{}, retry.Permanent(err)
		case isUnauthorized(err):
			auth.invalidate()
		}
		return struct{}{}, err
	})
	if err != nil {
		return res, fmt.Errorf("pushing %s (attempt %d of %d): %w", dst, res.Attempts, opts.Attempts, err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	res.BlobsPushed = len(st.uploaded)
	for _, n := range st.uploaded {
		res.BytesPushed += n
	}
	res.BlobsSkipped = len(layers) - res.BlobsPushed
	res.Duration = time.Since(start)
	return res, nil
}

// pushState counts what the uploads do across attempts.
type pushState struct {
	opts     PushOptions
	total    int
	attempt  int
	seen     int
	done     atomic.Int64 // bytes read by uploads this run
	mu       sync.Mutex
	uploaded map[v1.Hash]int64 // layer digest -> bytes, for layers whose upload reached EOF
}

func (s *pushState) progress() {
	if s.opts.Progress == nil {
		return
	}
	s.mu.Lock()
	n := len(s.uploaded)
	s.mu.Unlock()
	s.opts.Progress(PushProgress{BytesDone: s.done.Load(), LayersDone: n, LayersTotal: s.total, Attempt: s.attempt})
}

// countingImage wraps the source so that each layer's upload is counted, measured and reported.
type countingImage struct {
	v1.Image
	st *pushState
}

func (c *countingImage) Layers() ([]v1.Layer, error) {
	ls, err := c.Image.Layers()
	if err != nil {
		return nil, err
	}
	out := make([]v1.Layer, len(ls))
	for i, l := range ls {
		out[i] = &countingLayer{Layer: l, st: c.st}
	}
	return out, nil
}

func (c *countingImage) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	l, err := c.Image.LayerByDigest(h)
	if err != nil {
		return nil, err
	}
	return &countingLayer{Layer: l, st: c.st}, nil
}

type countingLayer struct {
	v1.Layer
	st *pushState
}

// Compressed is called only for blobs the destination does not have.
func (l *countingLayer) Compressed() (io.ReadCloser, error) {
	rc, err := l.Layer.Compressed()
	if err != nil {
		return nil, err
	}
	d, err := l.Layer.Digest()
	if err != nil {
		rc.Close()
		return nil, err
	}
	mt, _ := l.Layer.MediaType()
	cr := &countingReader{rc: rc, st: l.st, digest: d}
	if m := l.st.opts.Measure; m != nil {
		pr, pw := io.Pipe()
		cr.pw = pw
		cr.measured = make(chan error, 1)
		go func() {
			err := m(context.Background(), d, mt, pr)
			_, _ = io.Copy(io.Discard, pr) // never block the upload on a measurer that stopped early
			cr.measured <- err
		}()
	}
	return cr, nil
}

type countingReader struct {
	rc       io.ReadCloser
	st       *pushState
	digest   v1.Hash
	n        int64
	eof      bool
	pw       *io.PipeWriter
	measured chan error
	lastTick time.Time
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	if n > 0 {
		r.n += int64(n)
		r.st.done.Add(int64(n))
		if r.pw != nil {
			if _, werr := r.pw.Write(p[:n]); werr != nil {
				r.pw = nil // the measurer failed; the upload goes on
			}
		}
		if time.Since(r.lastTick) > 200*time.Millisecond {
			r.lastTick = time.Now()
			r.st.progress()
		}
	}
	if err == io.EOF {
		r.eof = true
	}
	return n, err
}

func (r *countingReader) Close() error {
	err := r.rc.Close()
	if r.measured != nil {
		if r.pw != nil {
			if r.eof {
				r.pw.Close()
			} else {
				r.pw.CloseWithError(errors.New("upload ended before the layer's end"))
			}
		}
		<-r.measured
	}
	if r.eof {
		r.st.mu.Lock()
		r.st.uploaded[r.digest] = r.n
		r.st.mu.Unlock()
		r.st.progress()
	}
	return err
}

// refreshingAuth hands out registry credentials, renewing them before they expire or after a 401.
type refreshingAuth struct {
	get     func(ctx context.Context) (authn.AuthConfig, time.Time, error)
	before  time.Duration
	mu      sync.Mutex
	cfg     authn.AuthConfig
	expires time.Time
}

func (a *refreshingAuth) Authorization() (*authn.AuthConfig, error) {
	return a.AuthorizationContext(context.Background())
}

func (a *refreshingAuth) AuthorizationContext(ctx context.Context) (*authn.AuthConfig, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.expires.IsZero() || time.Until(a.expires) < a.before {
		cfg, exp, err := a.get(ctx)
		if err != nil {
			return nil, fmt.Errorf("getting registry credentials: %w", err)
		}
		a.cfg, a.expires = cfg, exp
	}
	cfg := a.cfg
	return &cfg, nil
}

func (a *refreshingAuth) invalidate() {
	a.mu.Lock()
	a.expires = time.Time{}
	a.mu.Unlock()
}

// retryStatusCodes are the registry answers worth another request or attempt: go-containerregistry's
// own default list (remote's defaultRetryStatusCodes, Cloudflare's 522 among them).
var retryStatusCodes = []int{http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
	http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout, 499, 522}

// transient reports failures worth another attempt: go-containerregistry passes it the errors of single
// requests (dropped, reset or refused connections), and Push the error of a whole attempt, where a
// status above or a 401 (the credentials are renewed first) is worth another one too.
func transient(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false // the run is over, not the registry flaky
	}
	var te *transport.Error
	if errors.As(err, &te) {
		return te.StatusCode == http.StatusUnauthorized || slices.Contains(retryStatusCodes, te.StatusCode) || te.Temporary()
	}
	var ne net.Error
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed) || errors.As(err, &ne)
}

func isUnauthorized(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusUnauthorized
}
