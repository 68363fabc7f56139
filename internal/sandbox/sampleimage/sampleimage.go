// Package sampleimage builds synthetic images shaped like the Lean server image (ghcr.io/ldct/lean4-server):
// linux/amd64, several gzip layers of files whose contents compress about 2.5:1 like a real toolchain.
// The sandbox deploys one; tests and benchmarks measure them.
package sampleimage

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Shape says how big an image to build.
type Shape struct {
	Layers       int   // number of layers
	LayerContent int64 // bytes of file content per layer (the largest layer gets three times this)
}

// Small is a few megabytes: fast enough for a sandbox run or a unit test.
var Small = Shape{Layers: 5, LayerContent: 512 << 10}

// LeanShaped builds a linux/amd64 image of the given shape. Layer i holds files of pseudo-random text over
// a 16-letter alphabet (about 2:1 under gzip), seeded by i, so the same shape always gives the same image.
func LeanShaped(s Shape) (v1.Image, error) {
	var layers []v1.Layer
	for i := 0; i < s.Layers; i++ {
		size := s.LayerContent
		if i == s.Layers/2 {
			size *= 3 // one big layer, like the toolchain's
		}
		blob, err := gzipLayer(uint32(i+1), size)
		if err != nil {
			return nil, err
		}
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(blob)), nil },
			tarball.WithMediaType(types.DockerLayer))
		if err != nil {
			return nil, err
		}
		layers = append(layers, l)
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Cmd = []string{"python3", "/lean_server.py"}
	cf.Config.ExposedPorts = map[string]struct{}{"8000/tcp": {}}
	return mutate.ConfigFile(img, cf)
}

// gzipLayer writes a tar of files totalling size bytes (1 MiB files at most) and gzips it.
func gzipLayer(seed uint32, size int64) ([]byte, error) {
	var out bytes.Buffer
	zw, err := gzip.NewWriterLevel(&out, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	src := &text{x: seed*2654435761 + 1}
	for n := 0; size > 0; n++ {
		f := min(size, 1<<20)
		if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("root/.elan/toolchains/lean4/lib/%d/%d.olean", seed, n), Mode: 0o644, Size: f, Typeflag: tar.TypeReg}); err != nil {
			return nil, err
		}
		if _, err := io.CopyN(tw, src, f); err != nil {
			return nil, err
		}
		size -= f
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// text is an endless xorshift stream of 16 letters.
type text struct{ x uint32 }

func (t *text) Read(p []byte) (int, error) {
	for i := range p {
		t.x ^= t.x << 13
		t.x ^= t.x >> 17
		t.x ^= t.x << 5
		p[i] = "abcdefghijklmnop"[t.x&15]
	}
	return len(p), nil
}
