package image

import (
	"archive/tar"
	"bytes"
	"compress/flate"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
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
	"github.com/klauspost/compress/zstd"
)

// tfile is one tar entry of a synthetic layer.
type tfile struct {
	name string
	size int64
	dir  bool
	link string // a symlink target
}

// text returns n bytes of compressible, deterministic text (never random data: compression matters here).
func text(seed string, n int64) []byte {
	var b bytes.Buffer
	for i := 0; int64(b.Len()) < n; i++ {
		fmt.Fprintf(&b, "theorem %s_%d : %d + %d = %d := by simp\n", seed, i, i, i%7, i+i%7)
	}
	return b.Bytes()[:n]
}

// tarOf builds a tar stream and returns it with the sum of its regular files' sizes.
func tarOf(t testing.TB, files ...tfile) (stream []byte, content int64) {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: 0o644, Size: f.size, Typeflag: tar.TypeReg}
		switch {
		case f.dir:
			h = &tar.Header{Name: f.name, Mode: 0o755, Typeflag: tar.TypeDir}
		case f.link != "":
			h = &tar.Header{Name: f.name, Mode: 0o777, Typeflag: tar.TypeSymlink, Linkname: f.link}
		default:
			content += f.size
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(text(f.name, f.size)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), content
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// multiGz compresses b as parts concatenated gzip members, split at arbitrary (unaligned) offsets.
func multiGz(t testing.TB, b []byte, parts int) []byte {
	t.Helper()
	var out []byte
	step := len(b)/parts + 7
	for off := 0; off < len(b); off += step {
		out = append(out, gz(t, b[off:min(off+step, len(b))])...)
	}
	return out
}

// zst compresses b as one zstd frame, with its content size in the header (EncodeAll) or without (a stream).
func zst(t testing.TB, b []byte, withSize bool) []byte {
	t.Helper()
	if withSize {
		enc, err := zstd.NewWriter(nil)
		if err != nil {
			t.Fatal(err)
		}
		defer enc.Close()
		return enc.EncodeAll(b, nil)
	}
	var out bytes.Buffer
	w, err := zstd.NewWriter(&out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	// Flushing before Close makes the encoder write the frame header before it knows the size, as
	// streaming encoders (containerd, BuildKit) do.
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// layerSpec is a synthetic layer: its blob, media type and the truth about it.
type layerSpec struct {
	blob         []byte
	mt           types.MediaType
	uncompressed int64
	content      int64
	annotations  map[string]string
}

func (s layerSpec) layer() v1.Layer { return static.NewLayer(s.blob, s.mt) }

// spec compresses a tar of files with compress (nil = uncompressed).
func spec(t testing.TB, mt types.MediaType, compress func([]byte) []byte, files ...tfile) layerSpec {
	t.Helper()
	stream, content := tarOf(t, files...)
	blob := stream
	if compress != nil {
		blob = compress(stream)
	}
	return layerSpec{blob: blob, mt: mt, uncompressed: int64(len(stream)), content: content}
}

// imageOf builds an image of the given manifest media type and platform from layers.
func imageOf(t testing.TB, manifestType types.MediaType, platform v1.Platform, layers ...layerSpec) v1.Image {
	t.Helper()
	var adds []mutate.Addendum
	for _, l := range layers {
		adds = append(adds, mutate.Addendum{Layer: l.layer(), Annotations: l.annotations, MediaType: l.mt})
	}
	img, err := mutate.Append(empty.Image, adds...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = platform.OS, platform.Architecture, platform.Variant
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.MediaType(img, manifestType)
	if manifestType == types.DockerManifestSchema2 {
		img = mutate.ConfigMediaType(img, types.DockerConfigJSON)
	} else {
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	}
	return img
}

var (
	amd64   = v1.Platform{OS: "linux", Architecture: "amd64"}
	arm64   = v1.Platform{OS: "linux", Architecture: "arm64"}
	armv7   = v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}
	unknown = v1.Platform{OS: "unknown", Architecture: "unknown"}
)

// platformEntry is one child of a test index.
type platformEntry struct {
	img         v1.Image
	platform    *v1.Platform
	annotations map[string]string
}

func indexOf(t testing.TB, indexType types.MediaType, entries ...platformEntry) v1.ImageIndex {
	t.Helper()
	var adds []mutate.IndexAddendum
	for _, e := range entries {
		adds = append(adds, mutate.IndexAddendum{Add: e.img, Descriptor: v1.Descriptor{Platform: e.platform, Annotations: e.annotations}})
	}
	return mutate.IndexMediaType(mutate.AppendManifests(empty.Index, adds...), indexType)
}

// attestation is a buildx-style attestation entry.
func attestation(t testing.TB) platformEntry {
	l := spec(t, "application/vnd.in-toto+json", nil, tfile{name: "provenance.json", size: 100})
	img := imageOf(t, types.OCIManifestSchema1, unknown, l)
	return platformEntry{img: img, platform: &unknown,
		annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest"}}
}

// testRegistry is an in-process registry; wrap, when set, sits in front of it.
type testRegistry struct {
	host string
	mu   sync.Mutex
	reqs []string // "METHOD path range"
}

func newRegistry(t testing.TB, wrap func(http.Handler) http.Handler) *testRegistry {
	t.Helper()
	tr := &testRegistry{}
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tr.mu.Lock()
		tr.reqs = append(tr.reqs, strings.TrimSpace(r.Method+" "+r.URL.Path+" "+r.Header.Get("Range")))
		tr.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	tr.host = strings.TrimPrefix(srv.URL, "http://")
	return tr
}

func (r *testRegistry) ref(repo string) string { return r.host + "/" + repo }

func (r *testRegistry) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.reqs...)
}

func (r *testRegistry) reset() {
	r.mu.Lock()
	r.reqs = nil
	r.mu.Unlock()
}

func (r *testRegistry) push(t testing.TB, repo string, img v1.Image) string {
	t.Helper()
	ref, err := name.ParseReference(r.ref(repo))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	return ref.String()
}

func (r *testRegistry) pushIndex(t testing.TB, repo string, idx v1.ImageIndex) string {
	t.Helper()
	ref, err := name.ParseReference(r.ref(repo))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	return ref.String()
}

// ignoreRange drops the Range header of blob requests, as some proxies and registries do.
func ignoreRange(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Del("Range")
		h.ServeHTTP(w, r)
	})
}

// zerosLayer is a gzip layer holding one file of 4 GiB + 512 KiB of zeros: its ISIZE trailer is 4 GiB short.
// The deflate stream is assembled from one sync-flushed encoding of 1 MiB of zeros repeated, so building it
// costs a CRC pass instead of compressing 4 GiB; it is built once per test binary.
var zerosLayer = sync.OnceValues(func() (layerSpec, error) {
	const fileSize = 4<<30 + 512<<10
	var hdr bytes.Buffer
	tw := tar.NewWriter(&hdr)
	if err := tw.WriteHeader(&tar.Header{Name: "var/log/lastlog", Mode: 0o644, Size: fileSize, Typeflag: tar.TypeReg}); err != nil {
		return layerSpec{}, err
	}
	header := hdr.Bytes()[:512]
	zerosAfter := int64(fileSize + 1024) // the file (a multiple of 512: no padding), then the two end blocks
	total := int64(len(header)) + zerosAfter

	deflate := func(b []byte, final bool) []byte {
		var out bytes.Buffer
		fw, _ := flate.NewWriter(&out, flate.BestCompression)
		fw.Write(b)
		if final {
			fw.Close()
		} else {
			fw.Flush()
		}
		return out.Bytes()
	}
	const chunk = 1 << 20
	zchunk := deflate(make([]byte, chunk), false)
	var blob bytes.Buffer
	blob.Write([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	blob.Write(deflate(header, false))
	n := zerosAfter / chunk
	for range n {
		blob.Write(zchunk)
	}
	blob.Write(deflate(make([]byte, zerosAfter-n*chunk), true))
	crc := crc32.Update(0, crc32.IEEETable, header)
	zero := make([]byte, chunk)
	for left := zerosAfter; left > 0; left -= chunk {
		crc = crc32.Update(crc, crc32.IEEETable, zero[:min(left, chunk)])
	}
	var trailer [8]byte
	binary.LittleEndian.PutUint32(trailer[:4], crc)
	binary.LittleEndian.PutUint32(trailer[4:], uint32(total))
	blob.Write(trailer[:])
	return layerSpec{blob: blob.Bytes(), mt: types.DockerLayer, uncompressed: total, content: fileSize}, nil
})

// dockerArchive writes a `docker save`-shaped tarball (uncompressed layers, manifest.json) and returns its path.
func dockerArchive(t testing.TB, platform v1.Platform, layers ...[]byte) string {
	t.Helper()
	var diffIDs []string
	var paths []string
	for i, l := range layers {
		sum := sha256.Sum256(l)
		diffIDs = append(diffIDs, "sha256:"+hex.EncodeToString(sum[:]))
		paths = append(paths, fmt.Sprintf("layer%d/layer.tar", i))
	}
	cfg, _ := json.Marshal(map[string]any{"architecture": platform.Architecture, "os": platform.OS,
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs}, "config": map[string]any{}})
	csum := sha256.Sum256(cfg)
	cfgName := hex.EncodeToString(csum[:]) + ".json"
	man, _ := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{"lean:test"}, "Layers": paths}})
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	add := func(name string, data []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	add(cfgName, cfg)
	for i, l := range layers {
		add(paths[i], l)
	}
	add("manifest.json", man)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "image.tar")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func inspect(t testing.TB, ref string, exact bool) *Inspection {
	t.Helper()
	src, err := Open(context.Background(), ref, anonymous)
	if err != nil {
		t.Fatalf("Open(%q): %v", ref, err)
	}
	in, err := Inspect(context.Background(), src, InspectOptions{Exact: exact})
	if err != nil {
		t.Fatalf("Inspect(%q, exact=%v): %v", ref, exact, err)
	}
	return in
}
