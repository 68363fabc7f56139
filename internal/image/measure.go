package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// LayerSize is what streaming a layer measured.
type LayerSize struct {
	Compressed   int64 // bytes of the blob as stored
	Uncompressed int64 // bytes of the decompressed tar stream (headers, padding and end blocks included)
	Content      int64 // Σ tar header sizes of regular files: what the layer's files occupy
}

var (
	magicGzip = []byte{0x1f, 0x8b}
	magicZstd = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// MeasureLayer reads one layer blob from r to its end and measures it: gzip and zstd are decompressed
// with klauspost/compress, anything else is read as a plain tar. Cancelling ctx stops it between reads.
func MeasureLayer(ctx context.Context, r io.Reader) (LayerSize, error) {
	var sz LayerSize
	in := &counter{r: r, ctx: ctx}
	br := bufio.NewReaderSize(in, 1<<20)
	head, _ := br.Peek(4)
	var plain io.Reader = br
	switch {
	case bytes.HasPrefix(head, magicGzip):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return sz, fmt.Errorf("opening gzip layer: %w", err)
		}
		defer zr.Close()
		plain = zr
	case bytes.HasPrefix(head, magicZstd):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(1<<30))
		if err != nil {
			return sz, fmt.Errorf("opening zstd layer: %w", err)
		}
		defer zr.Close()
		plain = zr
	}
	out := &counter{r: plain, ctx: ctx}
	tr := tar.NewReader(out)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return sz, fmt.Errorf("reading the layer's tar stream: %w", err)
		}
		if hdr.Typeflag == tar.TypeReg || hdr.Typeflag == '\x00' {
			sz.Content += hdr.Size
		}
	}
	// The end-of-archive blocks and any padding after them are part of the stream that is unpacked.
	if _, err := io.Copy(io.Discard, out); err != nil {
		return sz, fmt.Errorf("reading the layer's tar stream: %w", err)
	}
	if _, err := io.Copy(io.Discard, br); err != nil { // a trailing gzip member or garbage is still stored
		return sz, fmt.Errorf("reading the layer: %w", err)
	}
	sz.Compressed, sz.Uncompressed = in.n, out.n
	return sz, nil
}

// counter counts what passes through and stops when ctx ends.
type counter struct {
	r   io.Reader
	ctx context.Context
	n   int64
}

func (c *counter) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
