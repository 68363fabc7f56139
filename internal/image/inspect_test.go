package image

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// entry is a tar entry of a synthetic layer; Size bytes of a repeating text pattern (compressible, not zeros).
type entry struct {
	Name string
	Size int64
	Dir  bool
}

// tarOf builds a layer's tar stream and returns it with its content size (Σ regular file sizes).
func tarOf(t testing.TB, entries ...entry) ([]byte, int64) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	var content int64
	for _, e := range entries {
		h := &tar.Header{Name: e.Name, Mode: 0o644, Size: e.Size, Typeflag: tar.TypeReg}
		if e.Dir {
			h = &tar.Header{Name: e.Name, Mode: 0o755, Typeflag: tar.TypeDir}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if !e.Dir {
			content += e.Size
			if _, err := io.CopyN(tw, pattern{}, e.Size); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), content
}

// pattern is an endless byte stream that compresses about 2:1, like real files (16 letters, pseudo-random).
type pattern struct{}

func (pattern) Read(p []byte) (int, error) {
	x := uint32(2463534242)
	for i := range p {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		p[i] = "abcdefghijklmnop"[x%16]
	}
	return len(p), nil
}

// gz compresses b into members gzip members, split at points that are not multiples of 512.
func gz(t testing.TB, b []byte, members int) []byte {
	t.Helper()
	var out bytes.Buffer
	step := len(b)/members + 1
	for off := 0; off < len(b); off += step {
		end := min(off+step, len(b))
		zw, _ := gzip.NewWriterLevel(&out, gzip.BestSpeed)
		zw.Write(b[off:end])
		zw.Close()
	}
	return out.Bytes()
}

func zst(t testing.TB, b []byte, withSize bool) []byte {
	t.Helper()
	if withSize {
		enc, _ := zstd.NewWriter(nil)
		return enc.EncodeAll(b, nil) // one-shot: the frame header carries the content size
	}
	var out bytes.Buffer
	// Streaming with a window smaller than the input: the encoder cannot know the size up front.
	enc, _ := zstd.NewWriter(&out, zstd.WithWindowSize(1<<16))
	io.Copy(enc, bytes.NewReader(b))
	enc.Close()
	return out.Bytes()
}

func layerOf(t testing.TB, blob []byte, mt types.MediaType) v1.Layer {
	t.Helper()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(blob)), nil }, tarball.WithMediaType(mt))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func imageOf(t testing.TB, arch string, oci bool, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	if oci {
		img = mutate.MediaType(img, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	}
	return img
}

// truth is what a synthetic image really holds.
type truth struct{ uncompressed, content int64 }

func sumTruth(parts ...truth) truth {
	var s truth
	for _, p := range parts {
		s.uncompressed += p.uncompressed
		s.content += p.content
	}
	return s
}

func startRegistry(t testing.TB, ignoreRange bool) string {
	t.Helper()
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	h := http.Handler(reg)
	if ignoreRange {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Header.Del("Range")
			reg.ServeHTTP(w, r)
		})
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func pushImage(t testing.TB, host, repo string, img v1.Image) Ref {
	t.Helper()
	ref, err := ParseRef(host + "/" + repo + ":v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref.Name, img); err != nil {
		t.Fatal(err)
	}
	return ref
}

// fixture is a small image of four layers: gzip (docker type), gzip (OCI type), multi-member gzip, zstd.
type fixture struct {
	img   v1.Image
	truth truth
}

func newFixture(t testing.TB, arch string, zstdWithSize bool) fixture {
	t.Helper()
	a, ca := tarOf(t, entry{Name: "usr/", Dir: true}, entry{Name: "usr/bin/lean", Size: 300_000}, entry{Name: "etc/passwd", Size: 1000})
	b, cb := tarOf(t, entry{Name: "lib/a.olean", Size: 200_000}, entry{Name: "lib/b.olean", Size: 123_457})
	// Overwrites usr/bin/lean and whites out etc/passwd: both still occupy their lower layer.
	c, cc := tarOf(t, entry{Name: "usr/bin/lean", Size: 150_000}, entry{Name: "etc/.wh.passwd", Size: 0})
	d, cd := tarOf(t, entry{Name: "srv/lean_server.py", Size: 200_000})
	img := imageOf(t, arch, false,
		layerOf(t, gz(t, a, 1), types.DockerLayer),
		layerOf(t, gz(t, b, 1), types.OCILayer),
		layerOf(t, gz(t, c, 3), types.DockerLayer),
		layerOf(t, zst(t, d, zstdWithSize), types.OCILayerZStd),
	)
	return fixture{img: img, truth: sumTruth(
		truth{int64(len(a)), ca}, truth{int64(len(b)), cb}, truth{int64(len(c)), cc}, truth{int64(len(d)), cd})}
}

func TestInspectRegistry(t *testing.T) {
	host := startRegistry(t, false)
	amd := newFixture(t, "amd64", true)
	arm := newFixture(t, "arm64", true)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: arm.img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
		mutate.IndexAddendum{Add: amd.img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm.img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"},
			Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest"}}},
	)
	ref, _ := ParseRef(host + "/ldct/lean4-server:multi")
	if err := remote.WriteIndex(ref.Name, idx); err != nil {
		t.Fatal(err)
	}
	want, _ := amd.img.Digest()
	for _, exact := range []bool{false, true} {
		t.Run(map[bool]string{false: "fast", true: "exact"}[exact], func(t *testing.T) {
			rep, err := Inspect(context.Background(), ref, Options{Exact: exact})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Digest != want.String() || rep.Platform != "linux/amd64" || len(rep.Layers) != 4 {
				t.Fatalf("picked %s %s with %d layers, want %s", rep.Digest, rep.Platform, len(rep.Layers), want)
			}
			if rep.UncompressedBytes != amd.truth.uncompressed {
				t.Fatalf("uncompressed = %d, want %d (layers %+v)", rep.UncompressedBytes, amd.truth.uncompressed, rep.Layers)
			}
			methods := []string{}
			for _, l := range rep.Layers {
				methods = append(methods, l.Method)
			}
			if exact {
				if rep.SizeMethod != "exact" || rep.ContentBytes != amd.truth.content {
					t.Fatalf("exact: method %s, content %d, want %d", rep.SizeMethod, rep.ContentBytes, amd.truth.content)
				}
				return
			}
			// gzip (docker), gzip (OCI), multi-member (streamed), zstd with a content size.
			if got := strings.Join(methods, ","); got != "gzip-trailer,gzip-trailer,stream,zstd-header" || rep.SizeMethod != "estimate" {
				t.Fatalf("methods = %s (%s), layer 3 why %q", got, rep.SizeMethod, rep.Layers[2].Why)
			}
			if !strings.Contains(rep.Layers[2].Why, "several gzip members") || rep.ContentBytes != 0 {
				t.Fatalf("multi-member layer: %+v, content %d", rep.Layers[2], rep.ContentBytes)
			}
		})
	}
}

func TestInspectZstdWithoutSizeIsStreamed(t *testing.T) {
	host := startRegistry(t, false)
	f := newFixture(t, "amd64", false)
	rep, err := Inspect(context.Background(), pushImage(t, host, "z/nosize", f.img), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if l := rep.Layers[3]; l.Method != "stream" || !strings.Contains(l.Why, "no content size") || rep.UncompressedBytes != f.truth.uncompressed {
		t.Fatalf("zstd layer = %+v, total %d want %d", l, rep.UncompressedBytes, f.truth.uncompressed)
	}
}

func TestInspectRegistryIgnoringRange(t *testing.T) {
	host := startRegistry(t, true)
	f := newFixture(t, "amd64", true)
	rep, err := Inspect(context.Background(), pushImage(t, host, "norange/img", f.img), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.SizeMethod != "exact" || rep.Streamed != 4 || rep.UncompressedBytes != f.truth.uncompressed || rep.ContentBytes != f.truth.content {
		t.Fatalf("report = %+v", rep)
	}
	if !strings.Contains(rep.Layers[0].Why, "Range") {
		t.Fatalf("why = %q", rep.Layers[0].Why)
	}
}

func TestInspectArm64OnlyIsUnusable(t *testing.T) {
	host := startRegistry(t, false)
	arm := newFixture(t, "arm64", true)
	v7 := imageOf(t, "arm", false, layerOf(t, gz(t, must(tarOf(t, entry{Name: "x", Size: 10})), 1), types.DockerLayer))
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: arm.img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
		mutate.IndexAddendum{Add: v7, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}}},
	)
	ref, _ := ParseRef(host + "/only/arm:v1")
	if err := remote.WriteIndex(ref.Name, idx); err != nil {
		t.Fatal(err)
	}
	_, err := Inspect(context.Background(), ref, Options{})
	var ue *UnusableError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "it has linux/arm/v7, linux/arm64") {
		t.Fatalf("err = %v", err)
	}
	// A single arm64 manifest is refused from its config.
	_, err = Inspect(context.Background(), pushImage(t, host, "single/arm", arm.img), Options{})
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "linux/arm64") {
		t.Fatalf("single arm64: %v", err)
	}
}

func must(b []byte, _ int64) []byte { return b }

var (
	zerosOnce sync.Once
	zerosBlob []byte
	zerosSize int64
)

// zerosLayer is a gzip layer holding one file of 4 GiB + 1 MiB of zeros: its 32-bit gzip trailer is
// 4 GiB short. Built once per test binary (a few seconds of CPU).
func zerosLayer(t testing.TB) ([]byte, int64) {
	zerosOnce.Do(func() {
		var out bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&out, gzip.BestSpeed)
		tw := tar.NewWriter(zw)
		size := int64(4<<30 + 1<<20)
		tw.WriteHeader(&tar.Header{Name: "var/log/lastlog", Mode: 0o644, Size: size, Typeflag: tar.TypeReg})
		io.CopyN(tw, zeroReader{}, size)
		tw.Close()
		zw.Close()
		zerosBlob = out.Bytes()
		zerosSize = size + 512 + 1024 // header, no padding (size is a multiple of 512), end blocks
	})
	return zerosBlob, zerosSize
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestInspectLayerOver4GiBIsNotUnderReported(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 4 GiB layer")
	}
	blob, size := zerosLayer(t)
	host := startRegistry(t, false)
	img := imageOf(t, "amd64", true, layerOf(t, blob, types.OCILayer))
	rep, err := Inspect(context.Background(), pushImage(t, host, "zeros/img", img), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.UncompressedBytes != size || rep.Layers[0].Method != "stream" {
		t.Fatalf("uncompressed = %d (method %s, why %q), want %d; the trailer says %d", rep.UncompressedBytes,
			rep.Layers[0].Method, rep.Layers[0].Why, size, size%(1<<32))
	}
}

func TestInspectLocalInputs(t *testing.T) {
	f := newFixture(t, "amd64", true)
	dir := t.TempDir()
	// OCI layout holding an index with the image as linux/amd64.
	p, err := layout.Write(filepath.Join(dir, "layout"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(f.img, layout.WithPlatform(v1.Platform{OS: "linux", Architecture: "amd64"})); err != nil {
		t.Fatal(err)
	}
	// docker save tarball.
	tag, _ := name.NewTag("lean4-server:local")
	archive := filepath.Join(dir, "image.tar")
	if err := tarball.WriteToFile(archive, tag, f.img); err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{"oci:" + filepath.Join(dir, "layout"), "docker-archive:" + archive} {
		t.Run(strings.SplitN(raw, ":", 2)[0], func(t *testing.T) {
			ref, err := ParseRef(raw)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := Inspect(context.Background(), ref, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.SizeMethod != "exact" || rep.UncompressedBytes != f.truth.uncompressed || rep.ContentBytes != f.truth.content || rep.CompressedBytes <= 0 {
				t.Fatalf("report = %+v, want uncompressed %d content %d", rep, f.truth.uncompressed, f.truth.content)
			}
		})
	}
}

func TestParseRefAndBadInputs(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"UPPER/Case:tag", "is not a reference"},
		{"ghcr.io/x/y:bad tag", "is not a reference"},
		{"oci:", "oci: needs a directory"},
		{"docker-archive:", "docker-archive: needs a file"},
	} {
		if _, err := ParseRef(tt.in); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseRef(%q) = %v, want %q", tt.in, err, tt.want)
		}
	}
	ctx := context.Background()
	for _, raw := range []string{"oci:/nonexistent/layout", "docker-archive:/nonexistent.tar", "127.0.0.1:1/none/here:v1"} {
		ref, err := ParseRef(raw)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Inspect(ctx, ref, Options{}); err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(strings.TrimPrefix(raw, "oci:"), "docker-archive:")) {
			t.Errorf("Inspect(%s) = %v, want an error naming it", raw, err)
		}
	}
}

func TestZstdContentSize(t *testing.T) {
	// Hand-made headers: single segment with a 1-byte size; 2-byte size (+256) with a window byte.
	if n, ok := zstdContentSize([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x07}); !ok || n != 7 {
		t.Fatalf("1-byte size: %d, %v", n, ok)
	}
	if n, ok := zstdContentSize([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x40, 0x58, 0x10, 0x00}); !ok || n != 16+256 {
		t.Fatalf("2-byte size: %d, %v", n, ok)
	}
	big := zst(t, bytes.Repeat([]byte("lean"), 100_000), true)
	if n, ok := zstdContentSize(big); !ok || n != 400_000 {
		t.Fatalf("400 kB frame: %d, %v", n, ok)
	}
	if _, ok := zstdContentSize(zst(t, []byte("streamed"), false)); ok {
		t.Fatal("a streamed frame has no content size")
	}
	if _, ok := zstdContentSize([]byte("not zstd at all!!")); ok {
		t.Fatal("garbage parsed")
	}
}
