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
	// implies more is streamed, and a layer whose compressed size times MaxRatio reaches 4 GiB past its
	// trailer (the 32-bit size could have wrapped) gets every size the trailer allows within the ratio, its
	// readings. Default 20; tar layers rarely compress better than 10:1.
	MaxRatio float64
	// Decided is asked, when some layers have several readings, whether the caller's decision is the same
	// under every reading of the image (see Report.Readings). If it is, those layers are not streamed and
	// the report gives the sizes as a range (SizeMethod "bounds"); if not, or when Decided is nil, they are
	// streamed for exact figures.
	Decided func(Report) bool
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
	// UncompressedHigh, for a bounded layer, is its largest reading; Uncompressed is then the smallest,
	// and every ISIZE + k × 4 GiB between them is possible.
	UncompressedHigh int64 `json:"uncompressedBytesHigh,omitempty"`
	Content          int64 `json:"contentBytes,omitempty"` // only when streamed
	// Method says how Uncompressed was found: stream, gzip-trailer, zstd-header or annotation.
	Method string `json:"method"`
	// Why explains why a layer was streamed in the fast mode, or why its size is a range.
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
	// UncompressedBytesHigh is the largest reading when SizeMethod is bounds (UncompressedBytes is then
	// the smallest); 0 otherwise.
	UncompressedBytesHigh int64  `json:"uncompressedBytesHigh,omitempty"`
	ContentBytes          int64  `json:"contentBytes,omitempty"` // with Exact only
	SizeMethod            string `json:"sizeMethod"`             // exact, estimate or bounds
	Streamed              int    `json:"streamedLayers"`
	StreamedBytes         int64  `json:"streamedBytes"`
}

// wrap is the period of a gzip trailer's size field (RFC 1952 ISIZE: the size modulo 2^32).
const wrap = 1 << 32

// Readings lists every total uncompressed size the report allows, smallest first: one when the sizes
// are exact or estimates, and when layers are bounded the low total plus K × 4 GiB for each K up to the
// sum of the bounded layers' spans (the layers' readings add up, and only their sum matters).
func (r Report) Readings() []int64 {
	if r.UncompressedBytesHigh <= r.UncompressedBytes {
		return []int64{r.UncompressedBytes}
	}
	var out []int64
	for v := r.UncompressedBytes; v <= r.UncompressedBytesHigh; v += wrap {
		out = append(out, v)
	}
	return out
}

// Bounded lists the indexes of the layers whose size is a range.
func (r Report) Bounded() []int {
	var out []int
	for i, l := range r.Layers {
		if l.UncompressedHigh > l.Uncompressed {
			out = append(out, i)
		}
	}
	return out
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
	// The trailer and header reads are latency-bound: make them all at once (up to 8 in flight).
	ests := make([]estimate, len(layers))
	if ranged != nil && !opts.Exact {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 8)
		for i := range layers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				ests[i] = ranged.estimate(ctx, m.Layers[i], opts.MaxRatio)
			}()
		}
		wg.Wait()
		if err := ctx.Err(); err != nil {
			return rep, fmt.Errorf("measuring %s: %w", ref.Raw, err)
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
			e := ests[i]
			lr.Method, lr.Uncompressed, lr.UncompressedHigh, lr.Why = e.method, e.size, e.high, e.why
			if lr.Method == "gzip-trailer" && float64(lr.Compressed)*maxDeflateRatio >= wrap {
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
	rep.Streamed = len(stream)
	rep.StreamedBytes = compressedOf(rep.Layers, stream)
	rep.sum()
	// Bounded layers are streamed only when the caller's decision depends on which reading is true.
	if bounded := rep.Bounded(); len(bounded) > 0 && (opts.Decided == nil || !opts.Decided(rep)) {
		for _, i := range bounded {
			l := &rep.Layers[i]
			l.Method, l.UncompressedHigh, l.Assumes = "stream", 0, ""
			l.Why += "; streamed: the fit depends on which size is true"
		}
		if err := streamLayers(ctx, layers, bounded, rep.Layers, opts); err != nil {
			return rep, fmt.Errorf("measuring %s: %w", ref.Raw, err)
		}
		rep.Streamed += len(bounded)
		rep.StreamedBytes += compressedOf(rep.Layers, bounded)
		rep.sum()
	}
	return rep, nil
}

func compressedOf(layers []Layer, idx []int) int64 {
	var n int64
	for _, i := range idx {
		n += layers[i].Compressed
	}
	return n
}

// sum totals the layers' figures and names the size method: exact when every layer was streamed, bounds
// when a layer's size is a range, estimate otherwise.
func (r *Report) sum() {
	r.CompressedBytes, r.UncompressedBytes, r.UncompressedBytesHigh, r.ContentBytes = 0, 0, 0, 0
	r.SizeMethod = "exact"
	bounded := false
	for _, l := range r.Layers {
		r.CompressedBytes += l.Compressed
		r.UncompressedBytes += l.Uncompressed
		r.UncompressedBytesHigh += max(l.UncompressedHigh, l.Uncompressed)
		r.ContentBytes += l.Content
		if l.Method != "stream" {
			r.SizeMethod = "estimate"
		}
		bounded = bounded || l.UncompressedHigh > l.Uncompressed
	}
	if bounded {
		r.SizeMethod = "bounds"
	} else {
		r.UncompressedBytesHigh = 0
	}
	if r.SizeMethod != "exact" {
		r.ContentBytes = 0 // a partial sum would mislead
	}
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

// estimate is how a layer's uncompressed size was found without streaming it.
type estimate struct {
	method string // stream (it must be streamed), gzip-trailer, zstd-header or annotation
	size   int64  // the estimate, or the smallest reading of a bounded layer
	high   int64  // the largest reading of a bounded layer, else 0
	why    string // why it must be streamed, or why it is bounded
}

func streamBecause(why string) estimate { return estimate{method: "stream", why: why} }

// estimate reads a layer's size hint.
func (r *rangeReader) estimate(ctx context.Context, desc v1.Descriptor, maxRatio float64) estimate {
	if v, ok := desc.Annotations["io.containers.estargz.uncompressed-size"]; ok {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
			return estimate{method: "annotation", size: n}
		}
	}
	if _, ok := desc.Annotations["io.github.containers.zstd-chunked.manifest-position"]; ok {
		return streamBecause("zstd:chunked layers hold many frames")
	}
	switch desc.MediaType {
	case types.DockerLayer, types.OCILayer:
		return r.gzipTrailer(ctx, desc, maxRatio)
	case types.OCILayerZStd:
		return r.zstdHeader(ctx, desc)
	}
	return streamBecause(fmt.Sprintf("media type %s has no size hint", desc.MediaType))
}

func (r *rangeReader) gzipTrailer(ctx context.Context, desc v1.Descriptor, maxRatio float64) estimate {
	c := desc.Size
	if c < 64 {
		return streamBecause("too small for a trailer")
	}
	tail, ok, err := r.readRange(ctx, desc.Digest, c, c-64, c-1)
	if err != nil || !ok {
		return streamBecause("the registry did not answer the Range request with 206")
	}
	if isEStargzFooter(tail[64-51:]) {
		return streamBecause("eStargz layers end in a footer member")
	}
	isize := int64(binary.LittleEndian.Uint32(tail[60:]))
	if isize < 1024 || isize%512 != 0 {
		return streamBecause(fmt.Sprintf("the gzip trailer (%d) is not a tar stream size: several gzip members", isize))
	}
	low, high, ok := readings(isize, c, maxRatio)
	switch {
	case !ok && isize < leastUncompressed(c):
		return streamBecause(fmt.Sprintf("the gzip trailer (%d) is below the compressed size: the layer is over 4 GiB, and compresses over %.0f:1", isize, maxRatio))
	case !ok:
		return streamBecause(fmt.Sprintf("the trailer implies a ratio over %.0f:1, too compressible to rule out a layer over 4 GiB", maxRatio))
	case high == low:
		return estimate{method: "gzip-trailer", size: low}
	}
	return estimate{method: "gzip-trailer", size: low, high: high, why: fmt.Sprintf(
		"its gzip trailer gives the size modulo 4 GiB, and at up to %.0f:1 its %s could unpack to %s",
		maxRatio, decimal(c), spanText(low, high))}
}

// readings is the range of sizes a gzip trailer allows: isize + k × 4 GiB for every k ≥ 0 that is at
// least the least a blob of c bytes can hold and at most c × maxRatio. ok is false when no size qualifies.
func readings(isize, c int64, maxRatio float64) (low, high int64, ok bool) {
	low = isize
	for low < leastUncompressed(c) {
		low += wrap
	}
	limit := float64(c) * maxRatio
	if float64(low) > limit {
		return 0, 0, false
	}
	high = low
	for float64(high+wrap) <= limit {
		high += wrap
	}
	return low, high, true
}

// leastUncompressed is the smallest stream a gzip blob of c bytes can hold: deflate expands
// incompressible data only by its block framing (zlib's deflateBound allows about c/4096 + c/16384 + 13
// bytes), and gzip adds 18 bytes of header and trailer. The margin here is wider than that.
func leastUncompressed(c int64) int64 {
	return c - c>>11 - 64
}

// spanText names the readings from low to high, 4 GiB apart.
func spanText(low, high int64) string {
	if n := (high - low) / wrap; n > 1 {
		return fmt.Sprintf("%s + k × 4 GiB for k = 0 to %d", decimal(low), n)
	}
	return fmt.Sprintf("%s or %s (+ 4 GiB)", decimal(low), decimal(high))
}

// decimal formats bytes in decimal units, as the reports do.
func decimal(n int64) string {
	if n >= 1e9 {
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}

// isEStargzFooter recognises the 51-byte eStargz footer: an empty gzip member (FEXTRA set) whose extra
// field carries the TOC offset in 16 hex digits followed by "STARGZ".
func isEStargzFooter(b []byte) bool {
	return len(b) == 51 && b[0] == 0x1f && b[1] == 0x8b && b[3]&0x04 != 0 && bytes.Contains(b[12:], []byte("STARGZ"))
}

func (r *rangeReader) zstdHeader(ctx context.Context, desc v1.Descriptor) estimate {
	if desc.Size < 18 {
		return streamBecause("too small for a frame header")
	}
	h, ok, err := r.readRange(ctx, desc.Digest, desc.Size, 0, 17)
	if err != nil || !ok {
		return streamBecause("the registry did not answer the Range request with 206")
	}
	n, ok := zstdContentSize(h)
	if !ok {
		return streamBecause("the zstd frame header has no content size")
	}
	return estimate{method: "zstd-header", size: n}
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
