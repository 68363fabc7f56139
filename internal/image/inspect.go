package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/org/lean4-cf-action/internal/instance"
)

// Size methods.
const (
	MethodExact    = "exact"    // every layer's size was read from its whole stream (or it is stored uncompressed)
	MethodEstimate = "estimate" // some layers' sizes come from gzip trailers or zstd frame headers
)

// Size bases: which figure the required disk is computed from.
const (
	BasisContent   = "content"    // Σ tar header sizes of regular files (needs every layer streamed)
	BasisTarStream = "tar-stream" // Σ decompressed tar-stream lengths: a little larger, so conservative
)

// How a layer's uncompressed size was found.
const (
	LayerStreamed     = "streamed"     // the whole layer was read and decompressed
	LayerGzipTrailer  = "gzip-trailer" // the gzip ISIZE trailer, from a closed Range request
	LayerZstdHeader   = "zstd-header"  // the zstd Frame_Content_Size, from a closed Range request
	LayerUncompressed = "uncompressed" // an uncompressed tar layer: its size is the blob's
	annoEstargzTOC    = "containerd.io/snapshot/stargz/toc.digest"
	annoZstdChunked   = "io.github.containers.zstd-chunked.manifest-checksum"
	annoZstdChunked2  = "io.github.containers.zstd-chunked.manifest-position"
	defaultEstimators = 8
)

// InspectOptions tunes Inspect.
type InspectOptions struct {
	// Exact streams every layer and measures content too. Default false: the fast mode, which reads gzip
	// trailers and zstd frame headers with Range requests and streams only the layers it doubts.
	Exact bool
	// Jobs is how many layers stream at once. Default max(4, runtime.NumCPU()).
	Jobs int
	// Progress, when set, hears how far streaming is, at most every 100 ms and once at the end of each layer.
	// It is never called concurrently and must not block.
	Progress func(Progress)
}

// Progress reports streamed bytes.
type Progress struct {
	BytesDone  int64 // compressed bytes read so far
	BytesTotal int64 // compressed bytes of the layers being streamed (grows as the fast mode finds doubtful layers)
	LayersDone int   // layers streamed
	LayersToDo int   // layers to stream
	Elapsed    time.Duration
}

// LayerFigures is one layer's measurement.
type LayerFigures struct {
	Digest            v1.Hash         `json:"digest"`
	MediaType         types.MediaType `json:"mediaType"`
	CompressedBytes   int64           `json:"compressedBytes"`
	UncompressedBytes int64           `json:"uncompressedBytes"`
	ContentBytes      int64           `json:"contentBytes,omitempty"` // when streamed
	Method            string          `json:"method"`                 // streamed, gzip-trailer, zstd-header or uncompressed
	Doubt             string          `json:"doubt,omitempty"`        // why the fast mode streamed it
}

// Inspection is what Inspect measured.
type Inspection struct {
	Source            *Source
	Layers            []LayerFigures
	CompressedBytes   int64 // Σ layer blob sizes (for a docker-archive, as the archive stores them)
	UncompressedBytes int64 // Σ tar-stream lengths
	ContentBytes      int64 // Σ regular-file sizes; valid when ContentMeasured
	ContentMeasured   bool  // every layer was streamed
	SizeMethod        string
	SizeBasis         string // BasisContent when ContentMeasured, else BasisTarStream
	RequiredDiskBytes int64  // ceil(S × 1.1 + layers × 16 MiB), S from SizeBasis
	Duration          time.Duration
}

// Inspect measures src's layers. See InspectOptions for the two modes.
func Inspect(ctx context.Context, src *Source, opts InspectOptions) (*Inspection, error) {
	start := time.Now()
	if opts.Jobs <= 0 {
		opts.Jobs = max(4, runtime.NumCPU())
	}
	layers, err := src.Image.Layers()
	if err != nil {
		return nil, fmt.Errorf("reading layers of %q: %w", src.Ref, err)
	}
	figs := make([]LayerFigures, len(layers))
	var descs []v1.Descriptor
	if src.Kind != KindDockerArchive {
		m, err := src.Image.Manifest()
		if err != nil {
			return nil, fmt.Errorf("reading manifest of %q: %w", src.Ref, err)
		}
		if len(m.Layers) != len(layers) {
			return nil, fmt.Errorf("reading manifest of %q: %d layer descriptors for %d layers", src.Ref, len(m.Layers), len(layers))
		}
		descs = m.Layers
		for i, d := range descs {
			figs[i] = LayerFigures{Digest: d.Digest, MediaType: d.MediaType, CompressedBytes: d.Size}
		}
	} else {
		for i, l := range layers {
			d, err := l.DiffID()
			if err != nil {
				return nil, fmt.Errorf("reading layers of %q: %w", src.Ref, err)
			}
			figs[i] = LayerFigures{Digest: d, MediaType: layerMediaType(l)}
		}
	}

	ins := &inspector{src: src, layers: layers, figs: figs, opts: opts, start: start,
		sem: make(chan struct{}, opts.Jobs)}
	if opts.Exact || src.blobs == nil {
		for i := range layers {
			ins.toStream(i, "")
		}
	} else {
		if err := ins.estimateAll(ctx, descs); err != nil {
			return nil, err
		}
	}
	if err := ins.streamAll(ctx); err != nil {
		return nil, err
	}

	in := &Inspection{Source: src, Layers: figs, ContentMeasured: true, SizeMethod: MethodExact}
	for _, f := range figs {
		in.CompressedBytes += f.CompressedBytes
		in.UncompressedBytes += f.UncompressedBytes
		in.ContentBytes += f.ContentBytes
		if f.Method != LayerStreamed {
			in.ContentMeasured = false
		}
		if f.Method != LayerStreamed && f.Method != LayerUncompressed {
			in.SizeMethod = MethodEstimate
		}
	}
	s := in.UncompressedBytes
	in.SizeBasis = BasisTarStream
	if in.ContentMeasured {
		s, in.SizeBasis = in.ContentBytes, BasisContent
	} else {
		in.ContentBytes = 0
	}
	in.RequiredDiskBytes = instance.RequiredDiskBytes(s, len(figs))
	in.Duration = time.Since(start)
	return in, nil
}

type inspector struct {
	src    *Source
	layers []v1.Layer
	figs   []LayerFigures
	opts   InspectOptions
	start  time.Time
	sem    chan struct{} // bounds concurrent streams

	mu        sync.Mutex
	pending   []int // layers to stream
	total     int64
	done      atomic.Int64
	doneLy    int
	lastTick  time.Time
	estimated int
}

func (in *inspector) toStream(i int, why string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.figs[i].Doubt = why
	in.pending = append(in.pending, i)
	in.total += in.figs[i].CompressedBytes
}

// estimateAll reads each layer's trailer or header, at most defaultEstimators at once; layers it doubts are
// queued for streaming, and a layer whose Range request was answered with the whole blob is measured from it.
func (in *inspector) estimateAll(ctx context.Context, descs []v1.Descriptor) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(descs))
	lim := make(chan struct{}, defaultEstimators)
	for i, d := range descs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lim <- struct{}{}
			defer func() { <-lim }()
			if err := in.estimate(ctx, i, d); err != nil {
				errs[i] = err
				cancel()
			}
		}()
	}
	wg.Wait()
	return firstError(ctx, errs)
}

func (in *inspector) estimate(ctx context.Context, i int, d v1.Descriptor) error {
	c := d.Size
	var off, n int64
	var judge func([]byte) (int64, string)
	method := ""
	switch {
	case d.Annotations[annoEstargzTOC] != "":
		in.toStream(i, "eStargz layer (several gzip members)")
		return nil
	case d.Annotations[annoZstdChunked] != "" || d.Annotations[annoZstdChunked2] != "":
		in.toStream(i, "zstd:chunked layer (several frames)")
		return nil
	case c <= 0:
		in.toStream(i, "no size in the manifest")
		return nil
	case isUncompressedMedia(d.MediaType):
		// Check that the blob really is a tar stream and not a mislabelled compressed one.
		off, n, method = 0, min(c, 512), LayerUncompressed
		judge = func(b []byte) (int64, string) {
			if sniff(b) != None {
				return 0, "labelled uncompressed but compressed"
			}
			return c, ""
		}
	case isZstdMedia(d.MediaType):
		off, n, method = 0, min(c, zstdHeadLen), LayerZstdHeader
		judge = func(b []byte) (int64, string) { return zstdContentSize(b, c) }
	case isGzipMedia(d.MediaType):
		n = min(c, tailLen)
		off, method = c-n, LayerGzipTrailer
		judge = func(b []byte) (int64, string) { return gzipTrailerSize(b, c) }
	default:
		in.toStream(i, fmt.Sprintf("media type %s has no size trailer", d.MediaType))
		return nil
	}
	data, full, err := in.src.blobs.readRange(ctx, d.Digest, c, off, n)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		in.toStream(i, "range request failed: "+oneLine(err.Error()))
		return nil
	}
	if full != nil {
		// The registry ignored Range and is sending the whole blob: measure it now instead of asking twice.
		in.mu.Lock()
		in.total += c
		in.figs[i].Doubt = "the registry ignored the Range request"
		in.mu.Unlock()
		return in.measure(ctx, i, full, true)
	}
	size, why := judge(data)
	if why != "" {
		in.toStream(i, why)
		return nil
	}
	in.mu.Lock()
	in.figs[i].UncompressedBytes = size
	in.figs[i].Method = method
	in.estimated++
	in.mu.Unlock()
	return nil
}

// streamAll streams the queued layers, largest first, Jobs at once.
func (in *inspector) streamAll(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	order := append([]int(nil), in.pending...)
	sort.SliceStable(order, func(a, b int) bool { return in.figs[order[a]].CompressedBytes > in.figs[order[b]].CompressedBytes })
	errs := make([]error, len(in.layers))
	var wg sync.WaitGroup
	for _, i := range order {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := in.streamLayer(ctx, i); err != nil {
				errs[i] = err
				cancel()
			}
		}()
	}
	wg.Wait()
	return firstError(ctx, errs)
}

func (in *inspector) streamLayer(ctx context.Context, i int) error {
	select {
	case in.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-in.sem }()
	l := in.layers[i]
	var (
		rc  io.ReadCloser
		err error
	)
	if in.src.Kind == KindDockerArchive {
		rc, err = l.Uncompressed() // the archive's own bytes (docker save stores layers uncompressed)
	} else {
		rc, err = l.Compressed() // a registry's blob is verified against its digest at EOF
	}
	if err != nil {
		return fmt.Errorf("reading layer %s of %q: %w", in.figs[i].Digest, in.src.Ref, err)
	}
	return in.measure(ctx, i, rc, false)
}

// measure streams rc (closing it) into MeasureLayer; verify checks the digest and size as it goes.
func (in *inspector) measure(ctx context.Context, i int, rc io.ReadCloser, verify bool) error {
	defer rc.Close()
	f := in.figs[i]
	var r io.Reader = rc
	var vr *verifyingReader
	if verify {
		vr = &verifyingReader{r: rc, h: sha256.New()}
		r = vr
	}
	cr := &countReader{r: r, onRead: in.tick}
	ls, err := MeasureLayer(ctx, cr, f.MediaType)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("measuring layer %s of %q: %w", f.Digest, in.src.Ref, err)
	}
	if vr != nil {
		if got := "sha256:" + hex.EncodeToString(vr.h.Sum(nil)); f.Digest.Algorithm == "sha256" && got != f.Digest.String() {
			return fmt.Errorf("measuring layer %s of %q: the blob's digest is %s", f.Digest, in.src.Ref, got)
		}
		if f.CompressedBytes > 0 && vr.n != f.CompressedBytes {
			return fmt.Errorf("measuring layer %s of %q: the blob has %d bytes, the manifest says %d", f.Digest, in.src.Ref, vr.n, f.CompressedBytes)
		}
	}
	in.mu.Lock()
	fp := &in.figs[i]
	if in.src.Kind == KindDockerArchive {
		fp.CompressedBytes = ls.CompressedBytes
	}
	fp.UncompressedBytes, fp.ContentBytes, fp.Method = ls.UncompressedBytes, ls.ContentBytes, LayerStreamed
	in.doneLy++
	in.mu.Unlock()
	in.report(true)
	return nil
}

func (in *inspector) tick(n int) {
	in.done.Add(int64(n))
	in.report(false)
}

func (in *inspector) report(force bool) {
	if in.opts.Progress == nil {
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	now := time.Now()
	if !force && now.Sub(in.lastTick) < 100*time.Millisecond {
		return
	}
	in.lastTick = now
	in.opts.Progress(Progress{BytesDone: in.done.Load(), BytesTotal: in.total, LayersDone: in.doneLy,
		LayersToDo: len(in.pending) + countStreamedInline(in), Elapsed: now.Sub(in.start)})
}

// countStreamedInline counts layers measured from a whole-blob answer to a Range request (not in pending).
func countStreamedInline(in *inspector) int {
	n := 0
	for _, f := range in.figs {
		if f.Doubt == "the registry ignored the Range request" {
			n++
		}
	}
	return n
}

type verifyingReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	return n, err
}

func firstError(ctx context.Context, errs []error) error {
	var ctxErr error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			ctxErr = err // a sibling's failure cancelled this one: report the sibling's
			continue
		}
		return err
	}
	return ctxErr
}

func isGzipMedia(mt types.MediaType) bool {
	switch mt {
	case types.DockerLayer, types.OCILayer, types.DockerForeignLayer, types.OCIRestrictedLayer:
		return true
	}
	return false
}

func isZstdMedia(mt types.MediaType) bool { return mt == types.OCILayerZStd }

func isUncompressedMedia(mt types.MediaType) bool {
	return mt == types.DockerUncompressedLayer || mt == types.OCIUncompressedLayer || mt == types.OCIUncompressedRestrictedLayer
}

func oneLine(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if r == '\n' || r == '\r' {
			r = ' '
		}
		out = append(out, r)
	}
	return string(out)
}
