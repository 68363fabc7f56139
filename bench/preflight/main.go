// Command preflight benchmarks how lean4-cf measures an image's uncompressed size, against the naive way.
//
// It builds a synthetic image shaped like ghcr.io/ldct/lean4-server (12 layers; one large toolchain layer,
// a few medium ones, many small ones; text-like data that gzip compresses about 3.7:1) at a fraction of the
// real size (-scale, default 0.25 of 672 MB compressed / 2.5 GB uncompressed), serves it from
// go-containerregistry's in-process registry behind a bandwidth-limited front (-mbps, default 100 MB/s shared
// by all connections, and -latency, default 20 ms added to every request), and times in one run:
//
//   - naive:   go-containerregistry's layer.Uncompressed() read to the end, layer by layer
//   - exact:   lean4-cf preflight --exact (every layer streamed once, in parallel, klauspost decompressors)
//   - default: lean4-cf preflight (gzip trailers / zstd headers by Range request; doubtful layers streamed;
//     a layer whose trailer allows several sizes within 20:1 streamed only if the fit, for the default
//     workload and auto, depends on which size is true)
//
// At -scale 1 the toolchain layer is large enough (about 400 MB compressed) for its trailer to allow two
// sizes, 4 GiB apart, so the default mode reports a range there.
//
// Each method runs -runs times (default 3), interleaved; the median is reported with the ratios and targets.
// Run it with `make bench-preflight`.
package main

import (
	"archive/tar"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"

	"github.com/org/lean4-cf-action/internal/image"
	"github.com/org/lean4-cf-action/internal/instance"
)

// leanShape is the share of the compressed size each layer has, largest (the Lean toolchain) third, as in
// a Debian base + apt packages + elan/Lean + the server image.
var leanShape = []float64{0.045, 0.09, 0.52, 0.12, 0.07, 0.04, 0.035, 0.03, 0.02, 0.015, 0.01, 0.005}

func main() {
	scale := flag.Float64("scale", 0.25, "fraction of the real image (672 MB compressed, 2.5 GB uncompressed)")
	mbps := flag.Float64("mbps", 100, "link bandwidth in MB/s (1 MB = 1e6 bytes), shared by all connections")
	latency := flag.Duration("latency", 20*time.Millisecond, "latency added to every request")
	runs := flag.Int("runs", 3, "runs of each method (the median is reported)")
	flag.Parse()
	if err := run(*scale, (*mbps)*1e6, *latency, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "bench-preflight:", err)
		os.Exit(1)
	}
}

func run(scale, bytesPerSec float64, latency time.Duration, runs int) error {
	ctx := context.Background()
	fmt.Printf("building a Lean-shaped image at scale %.2f (%d layers) ...\n", scale, len(leanShape))
	img, comp, uncomp, err := buildImage(int64(2.5e9 * scale))
	if err != nil {
		return err
	}
	fmt.Printf("image: %.1f MB compressed, %.1f MB uncompressed (ratio %.2f), GOMAXPROCS %d\n",
		float64(comp)/1e6, float64(uncomp)/1e6, float64(uncomp)/float64(comp), runtime.GOMAXPROCS(0))

	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	link := &link{rate: bytesPerSec}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(latency)
		reg.ServeHTTP(&limitedWriter{ResponseWriter: w, link: link}, r)
	}))
	defer srv.Close()
	refStr := strings.TrimPrefix(srv.URL, "http://") + "/ldct/lean4-server:bench"
	ref, err := name.ParseReference(refStr)
	if err != nil {
		return err
	}
	if err := remote.Write(ref, img); err != nil {
		return fmt.Errorf("pushing the image: %w", err)
	}
	limit := time.Duration(float64(comp) / bytesPerSec * float64(time.Second))
	fmt.Printf("link: %.0f MB/s, %v per request; link limit for the compressed bytes: %v\n\n", bytesPerSec/1e6, latency, limit.Round(time.Millisecond))

	iref, err := image.ParseRef(refStr)
	if err != nil {
		return err
	}
	src := image.SourceOptions{Keychain: authn.NewMultiKeychain()}
	defaultStreamed := 0           // layers the default mode streamed in its last run
	boundedWhy := map[int]string{} // why the default mode bounded a layer
	methods := []struct {
		name string
		run  func() (int64, string, error)
	}{
		{"naive", func() (int64, string, error) { n, err := naive(ctx, ref); return n, "exact", err }},
		{"exact", func() (int64, string, error) {
			rep, err := image.Inspect(ctx, iref, image.Options{Exact: true, Source: src})
			return rep.UncompressedBytes, rep.SizeMethod, err
		}},
		{"default", func() (int64, string, error) {
			rep, err := image.Inspect(ctx, iref, image.Options{Source: src, Decided: sameFitAtEveryReading})
			defaultStreamed = rep.Streamed
			if err != nil || rep.SizeMethod != "bounds" {
				return rep.UncompressedBytes, rep.SizeMethod + fmt.Sprintf(", %d of %d layers streamed", rep.Streamed, len(rep.Layers)), err
			}
			// A range is right when the truth is one of its readings.
			for _, i := range rep.Bounded() {
				l := rep.Layers[i]
				boundedWhy[i] = fmt.Sprintf("layer %d of %d, %.1f MB compressed: %s", i+1, len(rep.Layers), float64(l.Compressed)/1e6, l.Why)
			}
			for _, r := range rep.Readings() {
				if r == uncomp {
					return uncomp, fmt.Sprintf("bounds %.1f to %.1f MB, %d of %d layers streamed", float64(rep.UncompressedBytes)/1e6,
						float64(rep.UncompressedBytesHigh)/1e6, rep.Streamed, len(rep.Layers)), nil
				}
			}
			return 0, "", fmt.Errorf("the readings %v miss the truth %d", rep.Readings(), uncomp)
		}},
	}
	times := map[string][]time.Duration{}
	notes := map[string]string{}
	for r := 0; r < runs; r++ {
		for _, m := range methods {
			runtime.GC()
			start := time.Now()
			n, note, err := m.run()
			d := time.Since(start)
			if err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			if n != uncomp {
				return fmt.Errorf("%s measured %d uncompressed bytes, the truth is %d", m.name, n, uncomp)
			}
			times[m.name] = append(times[m.name], d)
			notes[m.name] = note
			fmt.Printf("  run %d  %-8s %8v\n", r+1, m.name, d.Round(time.Millisecond))
		}
	}
	med := func(m string) time.Duration {
		ts := append([]time.Duration(nil), times[m]...)
		sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
		return ts[len(ts)/2]
	}
	naiveT, exactT, defT := med("naive"), med("exact"), med("default")
	fmt.Printf("\n%-8s %10s %10s %12s  %s\n", "method", "median", "vs naive", "MB/s (comp)", "figure")
	for _, m := range []string{"naive", "exact", "default"} {
		t := med(m)
		fmt.Printf("%-8s %10v %9.1fx %12.1f  %s\n", m, t.Round(time.Millisecond), naiveT.Seconds()/t.Seconds(),
			float64(comp)/1e6/t.Seconds(), notes[m])
	}
	for _, why := range boundedWhy {
		fmt.Printf("bounded: %s\n", why)
	}
	fmt.Println()
	check := func(ok bool, what string) {
		mark := "PASS"
		if !ok {
			mark = "FAIL"
		}
		fmt.Printf("%s  %s\n", mark, what)
	}
	check(naiveT.Seconds()/exactT.Seconds() >= 1.3, fmt.Sprintf("exact is %.2fx faster than naive (target >= 1.3x)", naiveT.Seconds()/exactT.Seconds()))
	check(exactT.Seconds() <= 1.2*limit.Seconds(), fmt.Sprintf("exact takes %.2fx the link limit %v (target <= 1.20x)", exactT.Seconds()/limit.Seconds(), limit.Round(time.Millisecond)))
	check(naiveT.Seconds()/defT.Seconds() >= 20, fmt.Sprintf("default is %.1fx faster than naive (target >= 20x)", naiveT.Seconds()/defT.Seconds()))
	check(defaultStreamed == 0, fmt.Sprintf("default streams no layer (it streamed %d)", defaultStreamed))
	return nil
}

// sameFitAtEveryReading is what lean4-cf preflight decides with its defaults (auto, 4 runs of 256 MiB):
// whether every reading of the size gives the same fit.
func sameFitAtEveryReading(rep image.Report) bool {
	var needs []instance.Need
	for _, size := range rep.Readings() {
		needs = append(needs, instance.Need{DiskBytes: instance.RequiredDiskBytes(size, len(rep.Layers))})
	}
	dec, err := instance.Decide(needs, "auto")
	return err == nil && dec.Agree
}

// naive reads every layer through go-containerregistry's Uncompressed(), one after another.
func naive(ctx context.Context, ref name.Reference) (int64, error) {
	img, err := remote.Image(ref, remote.WithContext(ctx), remote.WithPlatform(v1.Platform{OS: "linux", Architecture: "amd64"}))
	if err != nil {
		return 0, err
	}
	layers, err := img.Layers()
	if err != nil {
		return 0, err
	}
	var total int64
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			return 0, err
		}
		n, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// buildImage makes the layers in parallel: tar streams of text-like files compressed with gzip.
func buildImage(uncompressed int64) (v1.Image, int64, int64, error) {
	blobs := make([][]byte, len(leanShape))
	sizes := make([]int64, len(leanShape))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	errs := make([]error, len(leanShape))
	for i, share := range leanShape {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			blobs[i], sizes[i], errs[i] = buildLayer(i, int64(share*float64(uncompressed)))
		}()
	}
	wg.Wait()
	img := empty.Image
	var comp, uncomp int64
	for i := range blobs {
		if errs[i] != nil {
			return nil, 0, 0, errs[i]
		}
		var err error
		img, err = mutate.AppendLayers(img, static.NewLayer(blobs[i], types.DockerLayer))
		if err != nil {
			return nil, 0, 0, err
		}
		comp += int64(len(blobs[i]))
		uncomp += sizes[i]
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, 0, 0, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	img, err = mutate.ConfigFile(img, cf)
	return img, comp, uncomp, err
}

// buildLayer writes files of 4 KiB to 4 MiB until the layer holds about size bytes, and gzips the tar.
func buildLayer(seed int, size int64) ([]byte, int64, error) {
	rng := rand.New(rand.NewPCG(uint64(seed), 42))
	var out bytes.Buffer
	zw, err := gzip.NewWriterLevel(&out, gzip.DefaultCompression)
	if err != nil {
		return nil, 0, err
	}
	cw := &countWriter{w: zw}
	tw := tar.NewWriter(cw)
	var written int64
	for f := 0; written < size; f++ {
		n := min(int64(4<<10)<<rng.IntN(11), size-written+1)
		if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("lib/lean/Mathlib/File%d_%d.olean", seed, f), Mode: 0o644, Size: n, Typeflag: tar.TypeReg}); err != nil {
			return nil, 0, err
		}
		if _, err := tw.Write(leanText(rng, n)); err != nil {
			return nil, 0, err
		}
		written += n
	}
	if err := tw.Close(); err != nil {
		return nil, 0, err
	}
	if err := zw.Close(); err != nil {
		return nil, 0, err
	}
	return out.Bytes(), cw.n, nil
}

var words = strings.Fields(`theorem lemma def instance structure where by simp exact intro apply rfl Nat List Array
	induction cases with fun match omega decide linarith ring norm_num calc have show Mathlib Std Lean Meta Elab
	Tactic Term Expr Syntax Name Environment IO Unit String Bool true false succ zero add mul le lt eq ne`)

// leanText is source-like text with random identifiers and numbers, plus a little binary noise, so that
// gzip compresses it about 3-4:1, as real toolchain layers compress.
func leanText(rng *rand.Rand, n int64) []byte {
	b := make([]byte, 0, n+64)
	for int64(len(b)) < n {
		switch rng.IntN(64) {
		case 0:
			for range 5 {
				b = append(b, byte(rng.Uint32()))
			}
		case 1, 2, 3:
			b = fmt.Appendf(b, "_%x ", rng.Uint32())
		default:
			b = append(b, words[rng.IntN(len(words))]...)
			b = append(b, ' ')
		}
		if rng.IntN(12) == 0 {
			b = append(b, '\n')
		}
	}
	return b[:n]
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// link is a shared bandwidth budget: each write waits for its slot on a virtual clock.
type link struct {
	mu   sync.Mutex
	next time.Time
	rate float64 // bytes per second
}

func (l *link) wait(n int) {
	l.mu.Lock()
	now := time.Now()
	if l.next.Before(now) {
		l.next = now
	}
	l.next = l.next.Add(time.Duration(float64(n) / l.rate * float64(time.Second)))
	until := l.next
	l.mu.Unlock()
	// Sleeping is coarse (about a millisecond): let small debts build up on the virtual clock instead, so
	// that the long-run rate is exact.
	if d := time.Until(until); d > 2*time.Millisecond {
		time.Sleep(d)
	}
}

// limitedWriter sends a response through the link in 32 KiB pieces.
type limitedWriter struct {
	http.ResponseWriter
	link *link
}

func (w *limitedWriter) Write(p []byte) (int, error) {
	var done int
	for len(p) > 0 {
		k := min(len(p), 32<<10)
		w.link.wait(k)
		n, err := w.ResponseWriter.Write(p[:k])
		done += n
		if err != nil {
			return done, err
		}
		p = p[k:]
	}
	return done, nil
}
