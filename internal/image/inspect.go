package image

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Options configures Inspect.
type Options struct {
	// Exact streams every layer once and reports exact figures (and the content size).
	// Otherwise gzip trailers and zstd frame headers are read with closed Range requests, and only layers
	// whose estimate is in doubt are streamed.
	Exact bool
	// Jobs is how many layers stream at once. Default: the number of CPUs, at least 2.
	Jobs int
	// MaxRatio is the compression ratio above which a gzip trailer is not trusted: a layer whose trailer
	// implies more, or whose compressed size times MaxRatio reaches 4 GiB (where the 32-bit trailer could
	// have wrapped), is streamed instead. Default 20; tar layers rarely compress better than 10:1.
	MaxRatio float64
	// Source says how to reach the registry.
	Source SourceOptions
	// Progress, when set, hears about streamed bytes about twice a second. It must not block.
	Progress func(Progress)
}

// Progress is a streaming progress report.
type Progress struct {
	Done, Total int64 // compressed bytes streamed so far, and of the layers being streamed
	Layers      int   // layers being streamed
	Elapsed     time.Duration
}

// Layer is one layer's figures.
type Layer struct {
	Digest       string `json:"digest"`
	MediaType    string `json:"mediaType"`
	Compressed   int64  `json:"compressedBytes"`
	Uncompressed int64  `json:"uncompressedBytes"`
	Content      int64  `json:"contentBytes,omitempty"` // only when streamed
	// Method says how Uncompressed was found: stream, gzip-trailer, zstd-header or annotation.
	Method string `json:"method"`
	// Why explains why a layer was streamed in the fast mode.
	Why string `json:"why,omitempty"`
	// Assumes states what a trailer estimate takes for granted: a gzip layer of 4.16 MB or more could
	// hold k × 4 GiB more than its trailer says if it compressed better than MaxRatio (deflate allows
	// 1032:1). --exact removes the assumption.
	Assumes string `json:"assumes,omitempty"`
}

// Report is what Inspect found for the linux/amd64 image.
type Report struct {
	Image             string  `json:"image"`
	Digest            string  `json:"digest"`
	Platform          string  `json:"platform"`
	Layers            []Layer `json:"layers"`
	CompressedBytes   int64   `json:"compressedBytes"`
	UncompressedBytes int64   `json:"uncompressedBytes"`
	ContentBytes      int64   `json:"contentBytes,omitempty"` // with Exact only
	SizeMethod        string  `json:"sizeMethod"`             // exact or estimate
	Streamed          int     `json:"streamedLayers"`
	StreamedBytes     int64   `json:"streamedBytes"`
}

// DiskBasis is the size the disk rule uses: the content (Σ tar header sizes) when it was measured for
// every layer, otherwise the tar-stream size, which is larger and so on the safe side.
func (r Report) DiskBasis() (int64, string) {
	if r.ContentBytes > 0 && r.Streamed == len(r.Layers) {
		return r.ContentBytes, "content"
	}
	return r.UncompressedBytes, "uncompressed"
}

// Inspect opens REF, picks linux/amd64 and measures it.
func Inspect(ctx context.Context, ref Ref, opts Options) (Report, error) {
	img, err := Open(ctx, ref, opts.Source)
	if err != nil {
		return Report{}, err
	}
	return Measure(ctx, ref, img, opts)
}

// maxDeflateRatio is the most deflate can expand: a gzip layer smaller than 2^32/1032 bytes cannot hide
// a size over 4 GiB behind its 32-bit trailer.
const maxDeflateRatio = 1032

// Measure measures img, which REF named.
func Measure(ctx context.Context, ref Ref, img v1.Image, opts Options) (Report, error) {
	if opts.Jobs <= 0 {
		opts.Jobs = max(runtime.NumCPU(), 2)
	}
	if opts.MaxRatio <= 0 {
		opts.MaxRatio = 20
	}
	rep := Report{Image: ref.Raw, Platform: wantOS + "/" + wantArch}
	d, err := img.Digest()
	if err != nil {
		return rep, fmt.Errorf("reading the digest of %s: %w", ref.Raw, err)
	}
	rep.Digest = d.String()
	m, err := img.Manifest()
	if err != nil {
		return rep, fmt.Errorf("reading the manifest of %s: %w", ref.Raw, err)
	}
	layers, err := img.Layers()
	if err != nil {
		return rep, fmt.Errorf("reading the layers of %s: %w", ref.Raw, err)
	}
	rep.Layers = make([]Layer, len(layers))
	var ranged *rangeReader
	if ref.Kind == KindRegistry && !opts.Exact {
		if ranged, err = newRangeReader(ctx, ref, opts.Source); err != nil {
			return rep, err
		}
	}
	var stream []int
	for i := range layers {
		desc := m.Layers[i]
		lr := Layer{Digest: desc.Digest.String(), MediaType: string(desc.MediaType), Compressed: desc.Size}
		if ref.Kind == KindDockerArchive {
			// A docker save tarball holds uncompressed layers; their size on the wire is whatever the push
			// compresses them to, so the stored (uncompressed) size is reported.
			lr.Compressed = 0
		}
		switch {
		case opts.Exact || ranged == nil:
			lr.Method = "stream"
		default:
			lr.Method, lr.Uncompressed, lr.Why = ranged.estimate(ctx, desc, opts.MaxRatio)
			if lr.Method == "gzip-trailer" && float64(lr.Compressed)*maxDeflateRatio >= 1<<32 {
				lr.Assumes = fmt.Sprintf("compresses at most %.0f:1", opts.MaxRatio)
			}
		}
		rep.Layers[i] = lr
		if lr.Method == "stream" {
			stream = append(stream, i)
		}
	}
	if err := streamLayers(ctx, layers, stream, rep.Layers, opts); err != nil {
		return rep, fmt.Errorf("measuring %s: %w", ref.Raw, err)
	}
	rep.SizeMethod = "exact"
	for _, l := range rep.Layers {
		rep.CompressedBytes += l.Compressed
		rep.UncompressedBytes += l.Uncompressed
		rep.ContentBytes += l.Content
		if l.Method != "stream" {
			rep.SizeMethod = "estimate"
		}
	}
	rep.Streamed = len(stream)
	if rep.SizeMethod != "exact" {
		rep.ContentBytes = 0 // a partial sum would mislead
	}
	return rep, nil
}

// streamLayers measures the layers at idx, opts.Jobs at a time.
func streamLayers(ctx context.Context, layers []v1.Layer, idx []int, out []Layer, opts Options) error {
	if len(idx) == 0 {
		return nil
	}
	var total int64
	for _, i := range idx {
		total += out[i].Compressed
	}
	var done atomic.Int64
	start := time.Now()
	stop := make(chan struct{})
	var ticker sync.WaitGroup
	if opts.Progress != nil {
		ticker.Add(1)
		go func() {
			defer ticker.Done()
			t := time.NewTicker(500 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stop:
					opts.Progress(Progress{Done: done.Load(), Total: total, Layers: len(idx), Elapsed: time.Since(start)})
					return
				case <-t.C:
					opts.Progress(Progress{Done: done.Load(), Total: total, Layers: len(idx), Elapsed: time.Since(start)})
				}
			}
		}()
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Jobs)
	for _, i := range idx {
		g.Go(func() error {
			rc, err := layers[i].Compressed()
			if err != nil {
				return fmt.Errorf("opening layer %s: %w", out[i].Digest, err)
			}
			defer rc.Close()
			sz, err := MeasureLayer(gctx, &progressReader{r: rc, n: &done})
			if err != nil {
				return fmt.Errorf("layer %s: %w", out[i].Digest, err)
			}
			out[i].Uncompressed, out[i].Content = sz.Uncompressed, sz.Content
			if out[i].Compressed == 0 {
				out[i].Compressed = sz.Compressed
			}
			return nil
		})
	}
	err := g.Wait()
	close(stop)
	ticker.Wait()
	return err
}

type progressReader struct {
	r io.Reader
	n *atomic.Int64
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n.Add(int64(n))
	return n, err
}

// rangeReader reads parts of blobs with closed HTTP Range requests through go-containerregistry's
// authenticating transport (its remote package has no ranged read).
type rangeReader struct {
	client *http.Client
	base   string // scheme://registry/v2/repo/blobs/
}

func newRangeReader(ctx context.Context, ref Ref, opts SourceOptions) (*rangeReader, error) {
	repo := ref.Name.Context()
	auth, err := authn.Resolve(ctx, opts.keychain(), repo)
	if err != nil {
		return nil, fmt.Errorf("resolving credentials for %s: %w", repo, err)
	}
	rt, err := transport.NewWithContext(ctx, repo.Registry, auth, transport.NewRetry(opts.transport()), []string{repo.Scope(transport.PullScope)})
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", repo.Registry, err)
	}
	return &rangeReader{
		client: &http.Client{Transport: rt, Timeout: 60 * time.Second},
		base:   fmt.Sprintf("%s://%s/v2/%s/blobs/", repo.Registry.Scheme(), repo.RegistryStr(), repo.RepositoryStr()),
	}, nil
}

// readRange returns bytes [from, to] of a blob; ok is false when the registry did not honour the range.
func (r *rangeReader) readRange(ctx context.Context, digest v1.Hash, size, from, to int64) ([]byte, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+digest.String(), nil)
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", from, to))
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent {
		return nil, false, nil // 200 (range ignored) or an error: the caller streams the layer
	}
	want := to - from + 1
	b, err := io.ReadAll(io.LimitReader(resp.Body, want+1))
	if err != nil {
		return nil, false, err
	}
	if int64(len(b)) != want {
		return nil, false, nil
	}
	return b, true, nil
}

// estimate returns how a layer's uncompressed size was found ("stream" when it must be streamed), the
// estimate, and why a layer is streamed.
func (r *rangeReader) estimate(ctx context.Context, desc v1.Descriptor, maxRatio float64) (method string, size int64, why string) {
	if v, ok := desc.Annotations["io.containers.estargz.uncompressed-size"]; ok {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
			return "annotation", n, ""
		}
	}
	if _, ok := desc.Annotations["io.github.containers.zstd-chunked.manifest-position"]; ok {
		return "stream", 0, "zstd:chunked layers hold many frames"
	}
	switch desc.MediaType {
	case types.DockerLayer, types.OCILayer:
		return r.gzipTrailer(ctx, desc, maxRatio)
	case types.OCILayerZStd:
		return r.zstdHeader(ctx, desc)
	}
	return "stream", 0, fmt.Sprintf("media type %s has no size hint", desc.MediaType)
}

func (r *rangeReader) gzipTrailer(ctx context.Context, desc v1.Descriptor, maxRatio float64) (string, int64, string) {
	c := desc.Size
	if c < 64 {
		return "stream", 0, "too small for a trailer"
	}
	tail, ok, err := r.readRange(ctx, desc.Digest, c, c-64, c-1)
	if err != nil || !ok {
		return "stream", 0, "the registry did not answer the Range request with 206"
	}
	if isEStargzFooter(tail[64-51:]) {
		return "stream", 0, "eStargz layers end in a footer member"
	}
	isize := int64(binary.LittleEndian.Uint32(tail[60:]))
	switch {
	case isize < 1024 || isize%512 != 0:
		return "stream", 0, fmt.Sprintf("the gzip trailer (%d) is not a tar stream size: several gzip members", isize)
	case isize < c:
		// Deflate never shrinks a tar stream below its compressed size: the 32-bit size wrapped.
		return "stream", 0, fmt.Sprintf("the gzip trailer (%d) is below the compressed size: the layer is over 4 GiB", isize)
	case float64(isize) > float64(c)*maxRatio:
		return "stream", 0, fmt.Sprintf("the trailer implies a ratio over %.0f:1, too compressible to rule out a layer over 4 GiB", maxRatio)
	case float64(isize)+(1<<32) <= float64(c)*maxRatio:
		return "stream", 0, fmt.Sprintf("at up to %.0f:1 a layer of %d compressed bytes could also be %d + 4 GiB", maxRatio, c, isize)
	}
	return "gzip-trailer", isize, ""
}

// isEStargzFooter recognises the 51-byte eStargz footer: an empty gzip member (FEXTRA set) whose extra
// field carries the TOC offset in 16 hex digits followed by "STARGZ".
func isEStargzFooter(b []byte) bool {
	return len(b) == 51 && b[0] == 0x1f && b[1] == 0x8b && b[3]&0x04 != 0 && bytes.Contains(b[12:], []byte("STARGZ"))
}

func (r *rangeReader) zstdHeader(ctx context.Context, desc v1.Descriptor) (string, int64, string) {
	if desc.Size < 18 {
		return "stream", 0, "too small for a frame header"
	}
	h, ok, err := r.readRange(ctx, desc.Digest, desc.Size, 0, 17)
	if err != nil || !ok {
		return "stream", 0, "the registry did not answer the Range request with 206"
	}
	n, ok := zstdContentSize(h)
	if !ok {
		return "stream", 0, "the zstd frame header has no content size"
	}
	return "zstd-header", n, ""
}

// zstdContentSize parses Frame_Content_Size from the first frame header (RFC 8878 §3.1.1.1).
func zstdContentSize(h []byte) (int64, bool) {
	if len(h) < 6 || string(h[:4]) != string(magicZstd) {
		return 0, false
	}
	fhd := h[4]
	fcsFlag, single, dictFlag := fhd>>6, fhd&0x20 != 0, fhd&0x03
	pos := 5
	if !single {
		pos++ // Window_Descriptor
	}
	pos += [4]int{0, 1, 2, 4}[dictFlag]
	size := [4]int{0, 2, 4, 8}[fcsFlag]
	if fcsFlag == 0 {
		if !single {
			return 0, false
		}
		size = 1
	}
	if len(h) < pos+size {
		return 0, false
	}
	b := h[pos : pos+size]
	switch size {
	case 1:
		return int64(b[0]), true
	case 2:
		return int64(binary.LittleEndian.Uint16(b)) + 256, true
	case 4:
		return int64(binary.LittleEndian.Uint32(b)), true
	}
	return int64(binary.LittleEndian.Uint64(b)), true
}
