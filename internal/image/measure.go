package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// LayerSize is what streaming one layer found.
type LayerSize struct {
	// CompressedBytes is how many bytes were read from the compressed stream.
	CompressedBytes int64
	// UncompressedBytes is the length of the decompressed tar stream (headers, padding and end blocks included).
	UncompressedBytes int64
	// ContentBytes is the sum of the tar header sizes of the regular files in the layer, whiteouts and files
	// that a later layer overwrites included (they occupy this layer's disk).
	ContentBytes int64
	// Files is the number of regular files.
	Files int
}

// Compression names what MeasureLayer found at the start of a stream.
type Compression string

// Compressions MeasureLayer recognises by their magic bytes.
const (
	Gzip Compression = "gzip"
	Zstd Compression = "zstd"
	None Compression = "uncompressed"
)

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// sniff tells the compression from the first bytes; the media type is only a fallback for empty streams.
func sniff(head []byte) Compression {
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		return Gzip
	case bytes.HasPrefix(head, zstdMagic):
		return Zstd
	default:
		return None
	}
}

// readBufSize is the read-ahead on compressed streams: large reads keep the decompressor fed.
const readBufSize = 1 << 20

// MeasureLayer reads one layer's compressed stream to its end and measures it: the tar-stream length and
// the sum of regular files' sizes. The compression is recognised by its magic bytes (gzip, multi-member
// included, and zstd, multi-frame included, with klauspost/compress; anything else is read as a plain tar),
// so mediaType only names the layer in errors. It stops early when ctx is cancelled.
func MeasureLayer(ctx context.Context, r io.Reader, mediaType types.MediaType) (LayerSize, error) {
	cr := &countReader{r: ctxReader{ctx: ctx, r: r}}
	br := bufio.NewReaderSize(cr, readBufSize)
	head, _ := br.Peek(4)
	var (
		dec io.Reader
		cls func()
	)
	comp := sniff(head)
	switch comp {
	case Gzip:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return LayerSize{}, fmt.Errorf("reading the gzip stream of a %s layer: %w", mediaType, err)
		}
		dec, cls = zr, func() { zr.Close() }
	case Zstd:
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(1<<31))
		if err != nil {
			return LayerSize{}, fmt.Errorf("reading the zstd stream of a %s layer: %w", mediaType, err)
		}
		dec, cls = zr, zr.Close
	default:
		dec, cls = br, func() {}
	}
	defer cls()
	ur := &countReader{r: dec}
	var ls LayerSize
	tr := tar.NewReader(ur)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return LayerSize{}, cerr
			}
			return LayerSize{}, fmt.Errorf("reading the %s tar stream of a %s layer after %d bytes: %w", comp, mediaType, ur.n, err)
		}
		if hdr.Typeflag == tar.TypeReg { // archive/tar reports old-style '\x00' entries as TypeReg too
			ls.ContentBytes += hdr.Size
			ls.Files++
		}
	}
	// The end-of-archive blocks and any record padding belong to the tar stream, and the compressed stream
	// may hold more after them (gzip members, zstd frames): read everything.
	if _, err := io.Copy(io.Discard, ur); err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return LayerSize{}, cerr
		}
		return LayerSize{}, fmt.Errorf("decompressing the %s stream of a %s layer after %d bytes: %w", comp, mediaType, ur.n, err)
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		return LayerSize{}, fmt.Errorf("reading %s layer: %w", mediaType, err)
	}
	ls.UncompressedBytes = ur.n
	ls.CompressedBytes = cr.n
	return ls, nil
}

// countReader counts the bytes read through it; onRead, when set, hears each read's size.
type countReader struct {
	r      io.Reader
	n      int64
	onRead func(int)
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if n > 0 && c.onRead != nil {
		c.onRead(n)
	}
	return n, err
}

// ctxReader fails reads once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
