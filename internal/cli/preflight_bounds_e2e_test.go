package cli

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"

	"github.com/org/lean4-cf-action/internal/instance"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// wholeGets counts the blob GETs without a Range header (a layer streamed) that a registry answered.
type wholeGets struct {
	mu sync.Mutex
	n  map[string]int
}

func (w *wholeGets) count(digest string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n[digest]
}

// boundsRegistry serves the named images and counts whole blob GETs.
func boundsRegistry(t *testing.T, images map[string]v1.Image) (string, *wholeGets) {
	t.Helper()
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	gets := &wholeGets{n: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if i := strings.Index(r.URL.Path, "/blobs/sha256:"); r.Method == http.MethodGet && i >= 0 && r.Header.Get("Range") == "" {
			gets.mu.Lock()
			gets.n[r.URL.Path[i+len("/blobs/"):]]++
			gets.mu.Unlock()
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	for repo, img := range images {
		ref, err := name.NewTag(host + "/" + repo + ":v1")
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
	}
	return host, gets
}

// forgedGzip is a blob of size bytes that ends like a gzip member holding isize bytes modulo 4 GiB. It
// does not decompress: streaming it fails, which is how the tests see that it was not streamed.
func forgedGzip(seed byte, size int, isize uint32) []byte {
	b := make([]byte, size)
	copy(b, []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, seed})
	binary.LittleEndian.PutUint32(b[size-4:], isize)
	return b
}

// realGzip is a gzip layer holding one file of n bytes that barely compress.
func realGzip(t *testing.T, n int, seed byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	data := make([]byte, n)
	x := uint32(seed) + 1
	for i := range data {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		data[i] = byte(x)
	}
	if err := tw.WriteHeader(&tar.Header{Name: "opt/lean/lib/Init.olean", Mode: 0o644, Size: int64(n), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write(data)
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func imageOfBlobs(t *testing.T, blobs ...[]byte) v1.Image {
	t.Helper()
	img := empty.Image
	for _, b := range blobs {
		var err error
		if img, err = mutate.AppendLayers(img, static.NewLayer(b, types.OCILayer)); err != nil {
			t.Fatal(err)
		}
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	img, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func digestOf(t *testing.T, b []byte) string {
	t.Helper()
	d, err := static.NewLayer(b, types.OCILayer).Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// The Lean image's shape, shrunk by raising the ratio bound: a toolchain layer whose trailer allows
// 1.30 GB or 1.30 GB + 4 GiB, and either way standard-1 is the only choice (basic lacks the memory).
// preflight reports the range and streams nothing; with one Lean run basic's disk would decide, so the
// layer is streamed.
func TestPreflightReportsBoundsAndStreamsNothing(t *testing.T) {
	const ratio = 6000 // 1 MB could unpack to at most 6 GB
	base := realGzip(t, 300_000, 1)
	toolchain := forgedGzip(2, 1_000_000, 1_300_000_256)
	smallReal := realGzip(t, 1_000_000, 3) // 1 MB: 1 MB or 1 MB + 4 GiB
	host, gets := boundsRegistry(t, map[string]v1.Image{
		"lean":   imageOfBlobs(t, base, toolchain),
		"onerun": imageOfBlobs(t, base, smallReal),
	})
	run := func(repo string, concurrency int, asJSON bool) (string, string, error) {
		var out, errb bytes.Buffer
		env := Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
		o := &PreflightOptions{f: NewFactory(env), image: host + "/" + repo + ":v1", instanceType: "auto", concurrency: concurrency, memoryPerRun: "256MiB", json: asJSON}
		if err := o.validate(); err != nil {
			t.Fatal(err)
		}
		o.maxRatio = ratio
		err := runPreflight(context.Background(), o)
		return out.String(), errb.String(), err
	}

	out, errOut, err := run("lean", 4, false)
	if err != nil {
		t.Fatalf("%v\n%s%s", err, out, errOut)
	}
	if n := gets.count(digestOf(t, toolchain)); n != 0 {
		t.Fatalf("the bounded layer was streamed %d times", n)
	}
	golden(t, "preflight-bounds.txt", strings.ReplaceAll(out, host, "REGISTRY"))
	if !strings.Contains(errOut, "the uncompressed size is a range (1 of 2 layers bounded by their gzip trailers), and the fit is the same at each of its 2 readings") {
		t.Fatalf("stderr %q", errOut)
	}

	out, _, err = run("lean", 4, true)
	if err != nil {
		t.Fatal(err)
	}
	var js struct {
		SizeMethod            string `json:"sizeMethod"`
		UncompressedBytes     int64  `json:"uncompressedBytes"`
		UncompressedBytesHigh int64  `json:"uncompressedBytesHigh"`
		RequiredDiskBytes     int64  `json:"requiredDiskBytes"`
		RequiredDiskBytesHigh int64  `json:"requiredDiskBytesHigh"`
		InstanceType          string `json:"instanceType"`
		Fits                  bool   `json:"fits"`
		BoundedLayers         []struct {
			Index                 int    `json:"index"`
			Digest                string `json:"digest"`
			UncompressedBytes     int64  `json:"uncompressedBytes"`
			UncompressedBytesHigh int64  `json:"uncompressedBytesHigh"`
			Why                   string `json:"why"`
		} `json:"boundedLayers"`
	}
	if err := json.Unmarshal([]byte(out), &js); err != nil {
		t.Fatal(err)
	}
	low := js.UncompressedBytes
	if js.SizeMethod != "bounds" || js.UncompressedBytesHigh != low+gib4 || js.InstanceType != "standard-1" || !js.Fits ||
		js.RequiredDiskBytes != instance.RequiredDiskBytes(low, 2) || js.RequiredDiskBytesHigh != instance.RequiredDiskBytes(low+gib4, 2) ||
		len(js.BoundedLayers) != 1 || js.BoundedLayers[0].Index != 1 || js.BoundedLayers[0].Digest != digestOf(t, toolchain) ||
		js.BoundedLayers[0].UncompressedBytes != 1_300_000_256 || js.BoundedLayers[0].UncompressedBytesHigh != 1_300_000_256+gib4 ||
		!strings.Contains(js.BoundedLayers[0].Why, "modulo 4 GiB") {
		t.Fatalf("json: %s", out)
	}

	// One run: basic has the memory and its disk is straddled, so the layer is streamed (a real one here).
	out, _, err = run("onerun", 1, true)
	if err != nil {
		t.Fatal(err)
	}
	js.UncompressedBytesHigh, js.SizeMethod = 0, ""
	if err := json.Unmarshal([]byte(out), &js); err != nil {
		t.Fatal(err)
	}
	if js.SizeMethod == "bounds" || js.UncompressedBytesHigh != 0 || js.InstanceType != "basic" || gets.count(digestOf(t, smallReal)) != 1 {
		t.Fatalf("json: %s (%d whole GETs of the layer)", out, gets.count(digestOf(t, smallReal)))
	}
}

// deploy fails its preflight, before any write and without streaming, when no reading fits; and passes
// it without streaming when every reading fits the same type.
func TestDeployPreflightUsesBounds(t *testing.T) {
	const ratio = 9000 // 1 MB could unpack to at most 9 GB: 4.0 GB or 4.0 GB + 4 GiB
	var huge [][]byte
	for i := range 5 {
		huge = append(huge, forgedGzip(byte(10+i), 1_000_000, 4_000_000_000))
	}
	fitting := forgedGzip(20, 1_000_000, 1_300_000_256)
	host, gets := boundsRegistry(t, map[string]v1.Image{
		"huge": imageOfBlobs(t, huge...),
		"lean": imageOfBlobs(t, realGzip(t, 100_000, 4), fitting),
	})
	env := Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }}

	ports, err := imagePortsFor(env, &DeployOptions{image: host + "/huge:v1", instanceType: "auto", json: true, maxRatio: ratio})
	if err != nil {
		t.Fatal(err)
	}
	pf, err := ports.preflight(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if pf.Fits || pf.SizeMethod != "bounds" || pf.InstanceType != "standard-4" || !strings.Contains(pf.Reason, "disk: needs 22.") ||
		pf.UncompressedBytes != 20_000_000_000 || pf.UncompressedBytesHigh != 20_000_000_000+5*gib4 {
		t.Fatalf("preflight %+v", pf)
	}
	for _, b := range huge {
		if n := gets.count(digestOf(t, b)); n != 0 {
			t.Fatalf("a bounded layer was streamed %d times", n)
		}
	}

	ports, err = imagePortsFor(env, &DeployOptions{image: host + "/lean:v1", instanceType: "auto", json: true, maxRatio: ratio})
	if err != nil {
		t.Fatal(err)
	}
	if pf, err = ports.preflight(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !pf.Fits || pf.SizeMethod != "bounds" || pf.InstanceType != "standard-1" || pf.RequiredDiskBytesHigh <= pf.RequiredDiskBytes ||
		gets.count(digestOf(t, fitting)) != 0 {
		t.Fatalf("preflight %+v, %d whole GETs", pf, gets.count(digestOf(t, fitting)))
	}
}

func golden(t *testing.T, file, got string) {
	t.Helper()
	path := filepath.Join("testdata", file)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if string(want) != got {
		t.Fatalf("output differs from %s (-update rewrites it):\n%s", path, got)
	}
}
