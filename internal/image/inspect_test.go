package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/org/lean4-cf-action/internal/instance"
)

var anonymous = SourceOptions{Keychain: authn.NewMultiKeychain()}

func TestMeasureLayer(t *testing.T) {
	files := []tfile{{name: "etc/", dir: true}, {name: "etc/hosts", size: 300}, {name: "bin/lean", size: 200_000},
		{name: "bin/lake", link: "lean"}, {name: "usr/.wh.old", size: 0}, {name: "empty", size: 0}}
	stream, content := tarOf(t, files...)
	for _, tc := range []struct {
		name string
		blob []byte
		mt   types.MediaType
	}{
		{"gzip", gz(t, stream), types.OCILayer},
		{"multi-member gzip", multiGz(t, stream, 3), types.DockerLayer},
		{"zstd with content size", zst(t, stream, true), types.OCILayerZStd},
		{"zstd without content size", zst(t, stream, false), types.OCILayerZStd},
		{"uncompressed", stream, types.OCIUncompressedLayer},
		{"gzip labelled zstd (sniffed)", gz(t, stream), types.OCILayerZStd},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ls, err := MeasureLayer(context.Background(), bytes.NewReader(tc.blob), tc.mt)
			if err != nil {
				t.Fatal(err)
			}
			want := LayerSize{CompressedBytes: int64(len(tc.blob)), UncompressedBytes: int64(len(stream)), ContentBytes: content, Files: 4}
			if ls != want {
				t.Fatalf("got %+v, want %+v", ls, want)
			}
		})
	}
	for _, tc := range []struct {
		name, err string
		blob      []byte
	}{
		{"not a tar", "uncompressed tar stream", bytes.Repeat([]byte("lean"), 300)},
		{"truncated gzip", "unexpected EOF", gz(t, stream)[:500]},
		{"corrupt zstd", "zstd", append(append([]byte{}, zstdMagic...), bytes.Repeat([]byte{0xff}, 40)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := MeasureLayer(context.Background(), bytes.NewReader(tc.blob), types.DockerLayer)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := MeasureLayer(ctx, bytes.NewReader(gz(t, stream)), types.OCILayer); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestGzipTrailerSize(t *testing.T) {
	trailer := func(isize uint32) []byte {
		b := make([]byte, 64)
		b[60], b[61], b[62], b[63] = byte(isize), byte(isize>>8), byte(isize>>16), byte(isize>>24)
		return b
	}
	for _, tc := range []struct {
		name       string
		tail       []byte
		compressed int64
		want       int64
		doubt      string
	}{
		{"plain", trailer(10240), 3000, 10240, ""},
		{"incompressible", trailer(1 << 20), 1<<20 + 300, 1 << 20, ""},
		{"not a multiple of 512", trailer(3146086), 1 << 20, 0, "not a tar stream length"},
		{"too small", trailer(512), 100, 0, "not a tar stream length"},
		{"below compressed: wrapped past 4 GiB", trailer(526848), 4_200_000, 0, "below the compressed size"},
		{"ratio above the bound", trailer(17 * 1000 * 512), 512_000, 0, "more than 16 times"},
		{"large enough to hide 4 GiB", trailer(1 << 30), 300_000_000, 0, "could hold 4 GiB or more"},
		{"estargz footer", append(append(trailer(0)[:13], []byte("\x1f\x8b\x08\x04\x00\x00\x00\x00\x00\xff\x1a\x00SG\x16\x00STARGZ0000000000000000")...), make([]byte, 20)...), 5000, 0, "eStargz"},
		{"short", []byte{1, 2, 3}, 3, 0, "too short"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, doubt := gzipTrailerSize(tc.tail, tc.compressed)
			if got != tc.want || !strings.Contains(doubt, tc.doubt) || (tc.doubt == "") != (doubt == "") {
				t.Fatalf("got %d %q, want %d %q", got, doubt, tc.want, tc.doubt)
			}
		})
	}
}

func TestZstdContentSize(t *testing.T) {
	stream, _ := tarOf(t, tfile{name: "a", size: 100_000})
	withSize := zst(t, stream, true)
	without := zst(t, stream, false)
	for _, tc := range []struct {
		name       string
		head       []byte
		compressed int64
		want       int64
		doubt      string
	}{
		{"EncodeAll records the size", withSize[:zstdHeadLen], int64(len(withSize)), int64(len(stream)), ""},
		{"a stream does not", without[:zstdHeadLen], int64(len(without)), 0, "without a content size"},
		// FHD 0x20: single segment, 1-byte FCS = 0x08 → 8 bytes: not a tar stream.
		{"single segment 1-byte size", []byte{0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x08}, 5, 0, "not a tar stream length"},
		// FHD 0x40: 2-byte FCS (value + 256): 0x0300+256 = 1024.
		{"2-byte size", []byte{0x28, 0xb5, 0x2f, 0xfd, 0x40, 0x00, 0x00, 0x03}, 200, 1024, ""},
		// FHD 0xc3: 8-byte FCS after a window byte and a 4-byte dictionary id.
		{"8-byte size after dictionary id", []byte{0x28, 0xb5, 0x2f, 0xfd, 0xc3, 0x50, 1, 2, 3, 4, 0, 0, 0x10, 0, 0, 0, 0, 0}, 1 << 17, 1 << 20, ""},
		{"first frame is a small part", withSize[:zstdHeadLen], int64(len(stream)) * 2, 0, "below the compressed size"},
		{"not zstd", []byte("hello world, not zstd"), 21, 0, "does not start with a zstd frame"},
		{"cut short", []byte{0x28, 0xb5, 0x2f, 0xfd, 0xc0, 0x50, 1}, 7, 0, "cut short"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, doubt := zstdContentSize(tc.head, tc.compressed)
			if got != tc.want || !strings.Contains(doubt, tc.doubt) || (tc.doubt == "") != (doubt == "") {
				t.Fatalf("got %d %q, want %d %q", got, doubt, tc.want, tc.doubt)
			}
		})
	}
}

// lean-ish layers: every kind of layer the fast mode handles differently.
func mixedLayers(t *testing.T) []layerSpec {
	base := spec(t, types.OCILayer, func(b []byte) []byte { return gz(t, b) },
		tfile{name: "usr/", dir: true}, tfile{name: "usr/lib/libleanshared.so", size: 300_000}, tfile{name: "usr/bin/lean", size: 120_000})
	// A later layer overwrites lean and deletes libleanshared: both still count in their own layers.
	over := spec(t, types.OCILayer, func(b []byte) []byte { return gz(t, b) },
		tfile{name: "usr/bin/lean", size: 150_000}, tfile{name: "usr/lib/.wh.libleanshared.so", size: 0})
	multi := spec(t, types.OCILayer, func(b []byte) []byte { return multiGz(t, b, 3) }, tfile{name: "srv/a", size: 90_000}, tfile{name: "srv/b", size: 50_000})
	zs := spec(t, types.OCILayerZStd, func(b []byte) []byte { return zst(t, b, true) }, tfile{name: "opt/mathlib.olean", size: 70_000})
	zn := spec(t, types.OCILayerZStd, func(b []byte) []byte { return zst(t, b, false) }, tfile{name: "opt/std.olean", size: 60_000})
	raw := spec(t, types.OCIUncompressedLayer, nil, tfile{name: "etc/lean.conf", size: 4_000})
	return []layerSpec{base, over, multi, zs, zn, raw}
}

func TestInspectRegistry(t *testing.T) {
	reg := newRegistry(t, nil)
	mixed := mixedLayers(t)
	dockerLayers := []layerSpec{
		spec(t, types.DockerLayer, func(b []byte) []byte { return gz(t, b) }, tfile{name: "a", size: 40_000}),
		spec(t, types.DockerLayer, func(b []byte) []byte { return gz(t, b) }, tfile{name: "b", size: 80_000}, tfile{name: ".wh.a", size: 0}),
	}
	for _, tc := range []struct {
		name         string
		manifestType types.MediaType
		layers       []layerSpec
		methods      []string // fast-mode method per layer
		sizeMethod   string
	}{
		{"OCI, every layer kind", types.OCIManifestSchema1, mixed,
			[]string{LayerGzipTrailer, LayerGzipTrailer, LayerStreamed, LayerZstdHeader, LayerStreamed, LayerUncompressed}, MethodEstimate},
		{"Docker schema 2", types.DockerManifestSchema2, dockerLayers, []string{LayerGzipTrailer, LayerGzipTrailer}, MethodEstimate},
		{"only layers the fast mode streams", types.OCIManifestSchema1, []layerSpec{mixed[2], mixed[4], mixed[5]},
			[]string{LayerStreamed, LayerStreamed, LayerUncompressed}, MethodExact},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := reg.push(t, repoName(tc.name), imageOf(t, tc.manifestType, amd64, tc.layers...))
			var comp, unc, content int64
			for _, l := range tc.layers {
				comp += int64(len(l.blob))
				unc += l.uncompressed
				content += l.content
			}
			exact := inspect(t, ref, true)
			if exact.SizeMethod != MethodExact || exact.SizeBasis != BasisContent || !exact.ContentMeasured ||
				exact.CompressedBytes != comp || exact.UncompressedBytes != unc || exact.ContentBytes != content {
				t.Fatalf("exact: %+v\nwant compressed %d uncompressed %d content %d", exact, comp, unc, content)
			}
			if want := instance.RequiredDiskBytes(content, len(tc.layers)); exact.RequiredDiskBytes != want {
				t.Fatalf("exact required %d, want %d", exact.RequiredDiskBytes, want)
			}
			fast := inspect(t, ref, false)
			if fast.SizeMethod != tc.sizeMethod || fast.CompressedBytes != comp || fast.UncompressedBytes != unc {
				t.Fatalf("fast: method %s compressed %d uncompressed %d; want %s %d %d", fast.SizeMethod, fast.CompressedBytes, fast.UncompressedBytes, tc.sizeMethod, comp, unc)
			}
			if fast.ContentMeasured || fast.SizeBasis != BasisTarStream || fast.RequiredDiskBytes != instance.RequiredDiskBytes(unc, len(tc.layers)) {
				t.Fatalf("fast basis %s measured %v required %d", fast.SizeBasis, fast.ContentMeasured, fast.RequiredDiskBytes)
			}
			for i, l := range fast.Layers {
				if l.Method != tc.methods[i] {
					t.Errorf("layer %d: method %s (%s), want %s", i, l.Method, l.Doubt, tc.methods[i])
				}
				if l.Method == LayerStreamed && l.Doubt == "" {
					t.Errorf("layer %d streamed without a reason", i)
				}
			}
		})
	}
}

func TestInspectFastModeRequests(t *testing.T) {
	reg := newRegistry(t, nil)
	layers := []layerSpec{
		spec(t, types.OCILayer, func(b []byte) []byte { return gz(t, b) }, tfile{name: "a", size: 100_000}),
		spec(t, types.OCILayerZStd, func(b []byte) []byte { return zst(t, b, true) }, tfile{name: "b", size: 100_000}),
	}
	ref := reg.push(t, "requests", imageOf(t, types.OCIManifestSchema1, amd64, layers...))
	reg.reset()
	inspect(t, ref, false)
	var ranged []string
	for _, r := range reg.requests() {
		if strings.Contains(r, "/blobs/") && !strings.Contains(r, "bytes=") && strings.HasPrefix(r, "GET") {
			if !strings.HasSuffix(r, "/blobs/"+mustConfigDigest(t, ref)) {
				t.Errorf("fast mode fetched a whole layer: %s", r)
			}
		}
		if strings.Contains(r, "bytes=") {
			ranged = append(ranged, r[strings.Index(r, "bytes="):])
		}
	}
	gzLen := int64(len(layers[0].blob))
	want := []string{fmt.Sprintf("bytes=%d-%d", gzLen-64, gzLen-1), "bytes=0-17"}
	if strings.Join(sorted(ranged), ",") != strings.Join(sorted(want), ",") {
		t.Fatalf("ranged requests %v, want %v", ranged, want)
	}
}

func mustConfigDigest(t *testing.T, ref string) string {
	src, err := Open(context.Background(), ref, anonymous)
	if err != nil {
		t.Fatal(err)
	}
	h, err := src.Image.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestInspectRegistryIgnoringRange(t *testing.T) {
	reg := newRegistry(t, ignoreRange)
	layers := mixedLayers(t)
	ref := reg.push(t, "norange", imageOf(t, types.OCIManifestSchema1, amd64, layers...))
	reg.reset()
	in := inspect(t, ref, false)
	var unc int64
	for _, l := range layers {
		unc += l.uncompressed
	}
	if in.UncompressedBytes != unc || in.SizeMethod != MethodExact || !in.ContentMeasured {
		t.Fatalf("got %d (%s, content %v), want %d exact", in.UncompressedBytes, in.SizeMethod, in.ContentMeasured, unc)
	}
	for i, l := range in.Layers {
		if l.Method != LayerStreamed {
			t.Errorf("layer %d: %s", i, l.Method)
		}
	}
	// Each layer was downloaded once: the whole-blob answer to the Range request was measured, not fetched again.
	gets := map[string]int{}
	for _, r := range reg.requests() {
		if strings.HasPrefix(r, "GET") && strings.Contains(r, "/blobs/") {
			gets[strings.Fields(r)[1]]++
		}
	}
	for p, n := range gets {
		if n != 1 {
			t.Errorf("%s fetched %d times", p, n)
		}
	}
}

func TestInspectLayerOver4GiB(t *testing.T) {
	if testing.Short() {
		t.Skip("decompresses 4 GiB")
	}
	zl, err := zerosLayer()
	if err != nil {
		t.Fatal(err)
	}
	small := spec(t, types.DockerLayer, func(b []byte) []byte { return gz(t, b) }, tfile{name: "etc/passwd", size: 2000})
	reg := newRegistry(t, nil)
	ref := reg.push(t, "lastlog", imageOf(t, types.DockerManifestSchema2, amd64, small, zl))
	if isize, doubt := gzipTrailerSize(zl.blob[len(zl.blob)-64:], int64(len(zl.blob))); doubt == "" || isize != 0 {
		t.Fatalf("the trailer of the 4 GiB layer was trusted: %d", isize)
	}
	in := inspect(t, ref, false)
	want := small.uncompressed + zl.uncompressed
	if in.UncompressedBytes != want || in.Layers[1].Method != LayerStreamed {
		t.Fatalf("fast mode reported %d (%s for the big layer: %q), want %d", in.UncompressedBytes, in.Layers[1].Method, in.Layers[1].Doubt, want)
	}
	if in.UncompressedBytes < 1<<32 || in.RequiredDiskBytes < 4_700_000_000 {
		t.Fatalf("under-reported: %d, required %d", in.UncompressedBytes, in.RequiredDiskBytes)
	}
}

func TestOpenChoosesPlatform(t *testing.T) {
	reg := newRegistry(t, nil)
	l := spec(t, types.OCILayer, func(b []byte) []byte { return gz(t, b) }, tfile{name: "a", size: 1000})
	amd := imageOf(t, types.OCIManifestSchema1, amd64, l)
	arm := imageOf(t, types.OCIManifestSchema1, arm64, l)
	armV7 := imageOf(t, types.OCIManifestSchema1, armv7, l)
	amdDigest, _ := amd.Digest()

	for _, tc := range []struct {
		name    string
		ref     string
		want    v1.Hash
		err     error
		errText string
	}{
		{name: "index with arm64 first and an attestation", want: amdDigest,
			ref: reg.pushIndex(t, "multi", indexOf(t, types.OCIImageIndex, platformEntry{img: arm, platform: &arm64}, attestation(t), platformEntry{img: amd, platform: &amd64}))},
		{name: "docker manifest list", want: amdDigest,
			ref: reg.pushIndex(t, "list", indexOf(t, types.DockerManifestList, platformEntry{img: armV7, platform: &armv7}, platformEntry{img: amd, platform: &amd64}))},
		{name: "entry without a platform: the config decides", want: amdDigest,
			ref: reg.pushIndex(t, "noplat", indexOf(t, types.OCIImageIndex, platformEntry{img: arm}, platformEntry{img: amd}))},
		{name: "arm64 only", err: ErrUnusable, errText: "has no linux/amd64 image (it has linux/arm64, linux/arm/v7)",
			ref: reg.pushIndex(t, "armonly", indexOf(t, types.OCIImageIndex, platformEntry{img: arm, platform: &arm64}, attestation(t), platformEntry{img: armV7, platform: &armv7}))},
		{name: "only an attestation", err: ErrUnusable, errText: "(it has no images at all)",
			ref: reg.pushIndex(t, "attonly", indexOf(t, types.OCIImageIndex, attestation(t)))},
		{name: "plain arm64 image", err: ErrUnusable, errText: "is a linux/arm64 image", ref: reg.push(t, "plainarm", arm)},
		{name: "plain amd64 image by digest", want: amdDigest, ref: reg.push(t, "plain", amd) + "@" + amdDigest.String()},
		{name: "missing tag", errText: "reading image", ref: reg.ref("plain:nope")},
		{name: "malformed reference", err: ErrBadReference, errText: "malformed image reference", ref: "Not A Reference"},
		{name: "bad digest", err: ErrBadReference, ref: reg.ref("plain@sha256:1234")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, err := Open(context.Background(), tc.ref, anonymous)
			if tc.err != nil || tc.errText != "" {
				if err == nil || (tc.err != nil && !errors.Is(err, tc.err)) || !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("err = %v, want %v %q", err, tc.err, tc.errText)
				}
				if !strings.Contains(err.Error(), tc.ref) {
					t.Fatalf("error does not name the reference: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if src.Digest != tc.want || src.Platform != "linux/amd64" {
				t.Fatalf("chose %s %s, want %s", src.Digest, src.Platform, tc.want)
			}
		})
	}
}

func TestOpenLocal(t *testing.T) {
	stream1, content1 := tarOf(t, tfile{name: "bin/lean", size: 50_000}, tfile{name: "lib/x.so", size: 20_000})
	stream2, content2 := tarOf(t, tfile{name: "bin/lean", size: 60_000}, tfile{name: "lib/.wh.x.so"})
	l1 := layerSpec{blob: gz(t, stream1), mt: types.OCILayer, uncompressed: int64(len(stream1)), content: content1}
	l2 := layerSpec{blob: zst(t, stream2, true), mt: types.OCILayerZStd, uncompressed: int64(len(stream2)), content: content2}
	amd := imageOf(t, types.OCIManifestSchema1, amd64, l1, l2)
	arm := imageOf(t, types.OCIManifestSchema1, arm64, l1)

	dir := filepath.Join(t.TempDir(), "layout")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(indexOf(t, types.OCIImageIndex, platformEntry{img: arm, platform: &arm64}, platformEntry{img: amd, platform: &amd64})); err != nil {
		t.Fatal(err)
	}
	armDir := filepath.Join(t.TempDir(), "arm")
	pa, _ := layout.Write(armDir, empty.Index)
	if err := pa.AppendImage(arm); err != nil {
		t.Fatal(err)
	}
	uncompressed := int64(len(stream1) + len(stream2))

	t.Run("oci layout, fast", func(t *testing.T) {
		in := inspect(t, "oci:"+dir, false)
		want, _ := amd.Digest()
		if in.Source.Digest != want || in.UncompressedBytes != uncompressed || in.SizeMethod != MethodEstimate ||
			in.Layers[0].Method != LayerGzipTrailer || in.Layers[1].Method != LayerZstdHeader {
			t.Fatalf("got %+v", in)
		}
	})
	t.Run("oci layout, exact", func(t *testing.T) {
		in := inspect(t, "oci:"+dir, true)
		if in.UncompressedBytes != uncompressed || in.ContentBytes != content1+content2 || in.SizeMethod != MethodExact {
			t.Fatalf("got %+v", in)
		}
	})
	t.Run("docker archive", func(t *testing.T) {
		file := dockerArchive(t, amd64, stream1, stream2)
		for _, exact := range []bool{false, true} {
			in := inspect(t, "docker-archive:"+file, exact)
			if in.Source.Kind != KindDockerArchive || in.UncompressedBytes != uncompressed || in.CompressedBytes != uncompressed ||
				in.ContentBytes != content1+content2 || in.SizeMethod != MethodExact || len(in.Layers) != 2 {
				t.Fatalf("exact=%v: got %+v", exact, in)
			}
			if in.Source.Digest.Algorithm != "sha256" {
				t.Fatalf("no image id: %v", in.Source.Digest)
			}
		}
	})
	badArchive := filepath.Join(t.TempDir(), "bad.tar")
	os.WriteFile(badArchive, []byte("not a tarball"), 0o644)
	for _, tc := range []struct {
		ref, err string
		is       error
	}{
		{"oci:" + armDir, "has no linux/amd64 image (it has linux/arm64)", ErrUnusable},
		{"oci:" + filepath.Join(t.TempDir(), "missing"), "reading OCI layout", nil},
		{"oci:", "name the OCI layout directory", ErrBadReference},
		{"docker-archive:", "name the docker save tarball", ErrBadReference},
		{"docker-archive:" + filepath.Join(t.TempDir(), "missing.tar"), "reading docker archive", nil},
		{"docker-archive:" + badArchive, "reading docker archive", nil},
		{"docker-archive:" + dockerArchive(t, arm64, stream1), "is a linux/arm64 image", ErrUnusable},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			_, err := Open(context.Background(), tc.ref, anonymous)
			if err == nil || !strings.Contains(err.Error(), tc.err) || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
		})
	}
}

func TestPreflightFits(t *testing.T) {
	reg := newRegistry(t, nil)
	l := spec(t, types.OCILayer, func(b []byte) []byte { return gz(t, b) }, tfile{name: "a", size: 100_000})
	ref := reg.push(t, "fit", imageOf(t, types.OCIManifestSchema1, amd64, l))
	_, pf, err := Preflight(context.Background(), PreflightOptions{Image: ref, Source: anonymous})
	if err != nil {
		t.Fatal(err)
	}
	if !pf.Fits || pf.InstanceType != "standard-1" || pf.RecommendedInstanceType != "standard-1" || len(pf.Types) != 6 ||
		pf.Platform != "linux/amd64" || pf.Layers != 1 || pf.SizeMethod != MethodEstimate || pf.ContentBytes != 0 {
		t.Fatalf("%+v", pf)
	}
	_, pf, err = Preflight(context.Background(), PreflightOptions{Image: ref, Source: anonymous, InstanceType: "lite", Inspect: InspectOptions{Exact: true}})
	if err != nil {
		t.Fatal(err)
	}
	if pf.Fits || !strings.Contains(pf.Reason, "lite: memory") || !strings.Contains(pf.Reason, "smallest type that fits is standard-1") || pf.ContentBytes != l.content {
		t.Fatalf("%+v", pf)
	}
	if _, _, err := Preflight(context.Background(), PreflightOptions{Image: ref, InstanceType: "huge"}); err == nil {
		t.Fatal("unknown instance type accepted")
	}
}

// repoName makes a repository name of a test name.
func repoName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else if b.Len() > 0 && !strings.HasSuffix(b.String(), "-") {
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-")
}
