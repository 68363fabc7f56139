package image

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// MaxTrustedRatio bounds the compression ratio (uncompressed / compressed) that the fast mode believes a
// layer can have without reading it. Ordinary filesystem trees compress 2:1 to 5:1 with gzip and text-heavy
// ones up to about 10:1; deflate itself can reach about 1032:1 (runs of zeros). A gzip trailer holds the
// size modulo 4 GiB, so a trailer is trusted only when even this ratio cannot make the layer 4 GiB or more
// (compressed × 16 < 4 GiB, i.e. layers under 268 MB compressed) and the trailer's own ratio is between
// about 1:1 and 16:1. Anything else is streamed. What remains possible, and is why the fast mode reports
// sizeMethod "estimate": a layer that compresses better than 16:1 overall while hiding whole multiples of
// 4 GiB behind a plausible-looking trailer; --exact rules it out.
const MaxTrustedRatio = 16

const fourGiB = 1 << 32

// tailLen is how much of a gzip blob's end is read: the 8-byte trailer, and room for an eStargz footer.
const tailLen = 64

// estargzFooterLen is the length of the eStargz footer, a gzip member that ends the blob.
const estargzFooterLen = 51

// minTarStream is the smallest tar stream: two zero blocks.
const minTarStream = 1024

// gzipTrailerSize reads the uncompressed size from the end of a gzip blob of compressed bytes, or says why the
// trailer cannot be trusted.
func gzipTrailerSize(tail []byte, compressed int64) (int64, string) {
	if len(tail) < 18 {
		return 0, "too short for a gzip stream"
	}
	if n := min(len(tail), estargzFooterLen); bytes.Contains(tail[len(tail)-n:], []byte("STARGZ")) {
		return 0, "eStargz footer (several gzip members)"
	}
	isize := int64(binary.LittleEndian.Uint32(tail[len(tail)-4:]))
	return plausible(isize, compressed, "gzip trailer", true)
}

// plausible applies the doubt rules shared by gzip trailers and zstd frame headers.
// wraps says the size is recorded modulo 4 GiB.
func plausible(size, compressed int64, what string, wraps bool) (int64, string) {
	switch {
	case size%512 != 0 || size < minTarStream:
		return 0, fmt.Sprintf("%s size %d is not a tar stream length (several members or frames?)", what, size)
	case size+size/256+minTarStream < compressed:
		return 0, fmt.Sprintf("%s size %d is below the compressed size %d (a layer of 4 GiB or more, or several members)", what, size, compressed)
	case float64(size) > MaxTrustedRatio*float64(compressed):
		return 0, fmt.Sprintf("%s size %d is more than %d times the compressed size %d", what, size, MaxTrustedRatio, compressed)
	case wraps && MaxTrustedRatio*compressed >= fourGiB:
		return 0, fmt.Sprintf("%d compressed bytes could hold 4 GiB or more at %d:1, beyond what a gzip trailer records", compressed, MaxTrustedRatio)
	}
	return size, ""
}

// zstdHeadLen is how much of a zstd blob's start is read: the largest frame header (RFC 8878) is 18 bytes.
const zstdHeadLen = 18

// zstdContentSize reads Frame_Content_Size from the first frame header of a zstd blob, or says why it cannot
// be used.
func zstdContentSize(head []byte, compressed int64) (int64, string) {
	if len(head) < 5 || !bytes.HasPrefix(head, zstdMagic) {
		return 0, "does not start with a zstd frame"
	}
	fhd := head[4]
	fcsFlag := fhd >> 6
	single := fhd&0x20 != 0
	pos := 5
	if !single {
		pos++ // Window_Descriptor
	}
	pos += [4]int{0, 1, 2, 4}[fhd&0x3] // Dictionary_ID
	fcsLen := [4]int{0, 2, 4, 8}[fcsFlag]
	if fcsFlag == 0 && single {
		fcsLen = 1
	}
	if fcsLen == 0 {
		return 0, "zstd frame without a content size"
	}
	if len(head) < pos+fcsLen {
		return 0, "zstd frame header cut short"
	}
	b := head[pos : pos+fcsLen]
	var size uint64
	switch fcsLen {
	case 1:
		size = uint64(b[0])
	case 2:
		size = uint64(binary.LittleEndian.Uint16(b)) + 256
	case 4:
		size = uint64(binary.LittleEndian.Uint32(b))
	case 8:
		size = binary.LittleEndian.Uint64(b)
	}
	if size > 1<<50 {
		return 0, fmt.Sprintf("zstd content size %d is not believable", size)
	}
	// Only the first frame's size is visible: the compressed-size rule catches a first frame that is a small
	// part of the layer.
	return plausible(int64(size), compressed, "zstd content", false)
}
