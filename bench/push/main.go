// Command push benchmarks lean4-cf's push stage against go-containerregistry's plain remote.Write.
//
// It serves a synthetic Lean-shaped image (internal/sandbox/sampleimage) from one in-process registry and, in
// one run, times copying it into a fresh second registry:
//
//   - plain:    remote.Write of the source image (blobs streamed from the source, nothing measured)
//   - lean4-cf: image.Push with the same jobs, measuring every layer's uncompressed size from the uploaded
//     stream (image.MeasureLayer through PushOptions.Measure)
//   - redeploy: image.Push of the same image into the registry that already has it
//
// Each runs -runs times (default 3), interleaved; medians are printed with the ratios and the targets:
// lean4-cf no slower than plain (within 5 %), and a redeploy that uploads no blob in under 2 s.
// Run it with `make bench-push`.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/org/lean4-cf-action/internal/image"
	"github.com/org/lean4-cf-action/internal/sandbox/sampleimage"
)

func main() {
	layers := flag.Int("layers", 12, "layers in the synthetic image")
	mib := flag.Int64("mib", 8, "MiB of file content per layer (one layer has three times this)")
	runs := flag.Int("runs", 3, "runs of each method")
	mbps := flag.Float64("mbps", 100, "upload bandwidth to the destination in MB/s (0: unlimited loopback)")
	flag.Parse()
	if err := run(*layers, *mib<<20, *runs, *mbps*1e6); err != nil {
		fmt.Fprintln(os.Stderr, "bench-push:", err)
		os.Exit(1)
	}
}

func newRegistry() *httptest.Server {
	return httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
}

// limited is a registry whose uploads share a link of bytesPerSec (as a push to Cloudflare's registry
// shares the runner's uplink); 0 means no limit.
func limited(bytesPerSec float64) *httptest.Server {
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if bytesPerSec <= 0 {
		return httptest.NewServer(reg)
	}
	link := &link{rate: bytesPerSec, start: time.Now()}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			r.Body = &throttled{rc: r.Body, link: link}
		}
		reg.ServeHTTP(w, r)
	}))
}

// link paces bytes to a rate, shared by every connection.
type link struct {
	mu    sync.Mutex
	rate  float64
	start time.Time
	sent  float64
}

func (l *link) wait(n int) {
	l.mu.Lock()
	l.sent += float64(n)
	due := l.start.Add(time.Duration(l.sent / l.rate * float64(time.Second)))
	l.mu.Unlock()
	if d := time.Until(due); d > 0 {
		time.Sleep(d)
	}
}

type throttled struct {
	rc   io.ReadCloser
	link *link
}

func (t *throttled) Read(p []byte) (int, error) {
	if len(p) > 64<<10 {
		p = p[:64<<10]
	}
	n, err := t.rc.Read(p)
	t.link.wait(n)
	return n, err
}

func (t *throttled) Close() error { return t.rc.Close() }

func tag(srv *httptest.Server, repo string) name.Tag {
	t, _ := name.NewTag(strings.TrimPrefix(srv.URL, "http://") + "/" + repo + ":v1")
	return t
}

func anonymous(context.Context) (authn.AuthConfig, time.Time, error) {
	return authn.AuthConfig{}, time.Now().Add(time.Hour), nil
}

func run(layers int, content int64, runs int, rate float64) error {
	ctx := context.Background()
	img, err := sampleimage.LeanShaped(sampleimage.Shape{Layers: layers, LayerContent: content})
	if err != nil {
		return err
	}
	source := newRegistry()
	defer source.Close()
	src := tag(source, "ldct/lean4-server")
	if err := remote.Write(src, img); err != nil {
		return err
	}
	var compressed int64
	ls, _ := img.Layers()
	for _, l := range ls {
		n, _ := l.Size()
		compressed += n
	}
	fmt.Printf("image: %d layers, %.1f MB compressed; upload link %.0f MB/s (0 = unlimited); %d runs each\n", layers, float64(compressed)/1e6, rate/1e6, runs)

	var plain, ours, again []time.Duration
	var measured, pushedBlobs, againBlobs atomic.Int64
	for i := 0; i < runs; i++ {
		// Each copy reads from the source registry, as a push from ghcr.io streams from ghcr.io.
		from, err := remote.Image(src)
		if err != nil {
			return err
		}
		dst := limited(rate)
		start := time.Now()
		if err := remote.Write(tag(dst, "acct/lean4-server"), from, remote.WithJobs(4)); err != nil {
			return err
		}
		plain = append(plain, time.Since(start))
		dst.Close()

		dst = limited(rate)
		measured.Store(0)
		start = time.Now()
		res, err := image.Push(ctx, from, tag(dst, "acct/lean4-server"), image.PushOptions{
			Credentials: anonymous, Jobs: 4,
			Measure: func(ctx context.Context, _ v1.Hash, _ types.MediaType, r io.Reader) error {
				sz, err := image.MeasureLayer(ctx, r)
				measured.Add(sz.Uncompressed)
				return err
			},
		})
		if err != nil {
			return err
		}
		ours = append(ours, time.Since(start))
		pushedBlobs.Store(int64(res.BlobsPushed))

		start = time.Now()
		res, err = image.Push(ctx, from, tag(dst, "acct/lean4-server"), image.PushOptions{Credentials: anonymous, Jobs: 4})
		if err != nil {
			return err
		}
		again = append(again, time.Since(start))
		againBlobs.Store(int64(res.BlobsPushed))
		dst.Close()
	}
	p, o, a := median(plain), median(ours), median(again)
	fmt.Printf("plain remote.Write:      %8s\n", p.Round(time.Millisecond))
	fmt.Printf("lean4-cf push+measure:   %8s  (%.2fx plain; %d blobs; %.1f MB uncompressed measured from the stream)\n",
		o.Round(time.Millisecond), float64(o)/float64(p), pushedBlobs.Load(), float64(measured.Load())/1e6)
	fmt.Printf("redeploy, same image:    %8s  (%d blobs uploaded)\n", a.Round(time.Millisecond), againBlobs.Load())
	verdict := func(ok bool) string {
		if ok {
			return "PASS"
		}
		return "FAIL"
	}
	fmt.Printf("target push no slower than plain (<= 1.05x): %s\n", verdict(float64(o) <= 1.05*float64(p)))
	fmt.Printf("target redeploy uploads nothing, under 2 s:  %s\n", verdict(againBlobs.Load() == 0 && a < 2*time.Second))
	return nil
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
