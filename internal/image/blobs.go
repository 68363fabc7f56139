package image

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// blobRanger reads a byte range of a compressed blob.
type blobRanger interface {
	// readRange returns length bytes of blob d (of size bytes) from off. When the source ignores the range
	// and sends the whole blob, it returns that stream as full instead (data is then nil): the caller reads it
	// whole rather than asking again.
	readRange(ctx context.Context, d v1.Hash, size, off, length int64) (data []byte, full io.ReadCloser, err error)
}

// registryBlobs makes closed Range requests for blobs (ggcr's remote package has no ranged read), through
// ggcr's authenticating transport. Redirects to a storage backend keep the Range header and drop
// Authorization, as net/http and ggcr's bearer transport do.
type registryBlobs struct {
	repo      name.Repository
	auth      authn.Authenticator
	transport http.RoundTripper

	once   sync.Once
	client *http.Client
	err    error
}

func (b *registryBlobs) init(ctx context.Context) error {
	b.once.Do(func() {
		tr, err := transport.NewWithContext(ctx, b.repo.Registry, b.auth,
			transport.NewUserAgent(transport.NewRetry(b.transport), "lean4-cf"),
			[]string{b.repo.Scope(transport.PullScope)})
		if err != nil {
			b.err = fmt.Errorf("authenticating to %s: %w", b.repo.RegistryStr(), err)
			return
		}
		b.client = &http.Client{Transport: tr}
	})
	return b.err
}

func (b *registryBlobs) readRange(ctx context.Context, d v1.Hash, size, off, length int64) ([]byte, io.ReadCloser, error) {
	if err := b.init(ctx); err != nil {
		return nil, nil, err
	}
	u := fmt.Sprintf("%s://%s/v2/%s/blobs/%s", b.repo.Scheme(), b.repo.RegistryStr(), b.repo.RepositoryStr(), d)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("requesting blob %s: %w", d, err)
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+length-1))
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("requesting bytes %d-%d of blob %s: %w", off, off+length-1, d, err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return nil, resp.Body, nil
	case http.StatusPartialContent:
		defer resp.Body.Close()
		if err := checkContentRange(resp.Header.Get("Content-Range"), off, length, size); err != nil {
			return nil, nil, fmt.Errorf("reading bytes %d-%d of blob %s: %w", off, off+length-1, d, err)
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, length+1))
		if err != nil {
			return nil, nil, fmt.Errorf("reading bytes %d-%d of blob %s: %w", off, off+length-1, d, err)
		}
		if int64(len(data)) != length {
			return nil, nil, fmt.Errorf("reading bytes %d-%d of blob %s: got %d bytes", off, off+length-1, d, len(data))
		}
		return data, nil, nil
	default:
		defer resp.Body.Close()
		return nil, nil, fmt.Errorf("requesting bytes %d-%d of blob %s: %w", off, off+length-1, d, transport.CheckError(resp, http.StatusPartialContent))
	}
}

// checkContentRange accepts "bytes OFF-END/SIZE" (or "/*") for exactly the range asked.
func checkContentRange(h string, off, length, size int64) error {
	want := fmt.Sprintf("bytes %d-%d/", off, off+length-1)
	if !strings.HasPrefix(h, want) {
		return fmt.Errorf("the answer's Content-Range %q is not the range asked (%s...)", h, want)
	}
	if total := strings.TrimPrefix(h, want); total != "*" {
		if n, err := strconv.ParseInt(total, 10, 64); err != nil || n != size {
			return fmt.Errorf("the answer's Content-Range %q does not match the blob size %d", h, size)
		}
	}
	return nil
}

func (b layoutBlobs) readRange(_ context.Context, d v1.Hash, _, off, length int64) ([]byte, io.ReadCloser, error) {
	f, err := os.Open(b.path(d))
	if err != nil {
		return nil, nil, fmt.Errorf("opening blob %s: %w", d, err)
	}
	defer f.Close()
	data := make([]byte, length)
	if _, err := f.ReadAt(data, off); err != nil {
		return nil, nil, fmt.Errorf("reading bytes %d-%d of blob %s: %w", off, off+length-1, d, err)
	}
	return data, nil, nil
}
