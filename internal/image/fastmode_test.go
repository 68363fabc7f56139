package image

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// recorder keeps "METHOD PATH RANGE" of every request a handler sees.
type recorder struct {
	mu   sync.Mutex
	reqs []string
}

func (rec *recorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, strings.TrimSpace(r.Method+" "+r.URL.Path+" "+r.Header.Get("Range")))
		rec.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func (rec *recorder) blobGets() []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []string
	for _, r := range rec.reqs {
		if strings.HasPrefix(r, "GET ") && strings.Contains(r, "/blobs/") {
			out = append(out, r)
		}
	}
	return out
}

// cdnBlobs answers every blob GET with a 307 to a storage server (as ghcr.io does), which serves the bytes
// with http.ServeContent, so Range is honoured there and not by the registry.
type cdnBlobs struct {
	registry.BlobStatHandler
	registry.BlobPutHandler
	inner registry.BlobHandler
	cdn   string
}

func (c *cdnBlobs) Get(_ context.Context, _ string, h v1.Hash) (io.ReadCloser, error) {
	return nil, registry.RedirectError{Location: c.cdn + "/" + h.String(), Code: http.StatusTemporaryRedirect}
}

// startCDNRegistry starts a registry whose blobs are served by a second server; rec sees both.
func startCDNRegistry(t *testing.T, rec *recorder) string {
	t.Helper()
	mem := registry.NewInMemoryBlobHandler()
	cdn := httptest.NewServer(rec.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			http.Error(w, "presigned URLs take no Authorization", http.StatusBadRequest)
			return
		}
		h, err := v1.NewHash(strings.TrimPrefix(r.URL.Path, "/"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		rc, err := mem.Get(r.Context(), "", h)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer rc.Close()
		b, _ := io.ReadAll(rc)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
	})))
	t.Cleanup(cdn.Close)
	blobs := &cdnBlobs{BlobStatHandler: mem.(registry.BlobStatHandler), BlobPutHandler: mem.(registry.BlobPutHandler), inner: mem, cdn: cdn.URL}
	reg := httptest.NewServer(rec.wrap(registry.New(registry.Logger(log.New(io.Discard, "", 0)), registry.WithBlobHandler(blobs))))
	t.Cleanup(reg.Close)
	return strings.TrimPrefix(reg.URL, "http://")
}

// The fast mode reads only the ends of gzip layers and the starts of zstd layers, with closed ranges
// computed from the descriptor sizes, and follows a storage redirect with the Range header kept.
func TestFastModeReadsOnlyTrailersThroughRedirects(t *testing.T) {
	rec := &recorder{}
	host := startCDNRegistry(t, rec)
	f := newFixture(t, "amd64", true)
	ref := pushImage(t, host, "cdn/img", f.img)
	rec.mu.Lock()
	rec.reqs = nil
	rec.mu.Unlock()

	rep, err := Inspect(context.Background(), ref, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.UncompressedBytes != f.truth.uncompressed {
		t.Fatalf("uncompressed %d, want %d", rep.UncompressedBytes, f.truth.uncompressed)
	}
	m, _ := f.img.Manifest()
	cfg, _ := f.img.ConfigName()
	closed := regexp.MustCompile(`^bytes=\d+-\d+$`)
	whole := map[string]int{}
	for _, r := range rec.blobGets() {
		fields := strings.Fields(r)
		digest := fields[1][strings.LastIndex(fields[1], "/")+1:]
		if len(fields) == 2 {
			whole[digest]++
			continue
		}
		if !closed.MatchString(fields[2]) {
			t.Errorf("not a closed range: %s", r)
		}
	}
	// The multi-member layer (index 2) is the one streamed; the config is read whole, by Open.
	for i, l := range m.Layers {
		n := whole[l.Digest.String()]
		if i == 2 && n == 0 {
			t.Errorf("multi-member layer was not streamed")
		}
		if i != 2 && n != 0 {
			t.Errorf("layer %d (%s) was fetched whole %d times in the fast mode", i, rep.Layers[i].Method, n)
		}
	}
	if whole[cfg.String()] == 0 {
		t.Errorf("config not read: %v", rec.blobGets())
	}
}

// estargzFooter builds the 51-byte eStargz footer: an empty gzip member whose extra field holds the TOC
// offset in 16 hex digits and "STARGZ".
func estargzFooter(tocOffset int64) []byte {
	var b bytes.Buffer
	b.Write([]byte{0x1f, 0x8b, 8, 0x04, 0, 0, 0, 0, 0, 0xff}) // FLG = FEXTRA
	extra := []byte(fmt.Sprintf("SG\x16\x00%016xSTARGZ", tocOffset))
	binary.Write(&b, binary.LittleEndian, uint16(len(extra)))
	b.Write(extra)
	b.Write([]byte{1, 0, 0, 0xff, 0xff}) // an empty final stored block
	binary.Write(&b, binary.LittleEndian, crc32.ChecksumIEEE(nil))
	binary.Write(&b, binary.LittleEndian, uint32(0))
	return b.Bytes()
}

func TestEStargzFooterIsStreamed(t *testing.T) {
	tarball, content := tarOf(t, entry{Name: "usr/bin/lean", Size: 250_000}, entry{Name: "stargz.index.json", Size: 300})
	body := gz(t, tarball, 1)
	footer := estargzFooter(int64(len(body)))
	if len(footer) != 51 {
		t.Fatalf("footer is %d bytes", len(footer))
	}
	host := startRegistry(t, false)
	img := imageOf(t, "amd64", true, layerOf(t, append(body, footer...), types.OCILayer))
	ref := pushImage(t, host, "estargz/img", img)
	for _, exact := range []bool{false, true} {
		rep, err := Inspect(context.Background(), ref, Options{Exact: exact})
		if err != nil {
			t.Fatal(err)
		}
		l := rep.Layers[0]
		if l.Method != "stream" || rep.UncompressedBytes != int64(len(tarball)) || rep.ContentBytes != content || rep.SizeMethod != "exact" {
			t.Fatalf("exact=%v: layer %+v, total %d content %d (%s); want %d %d", exact, l, rep.UncompressedBytes, rep.ContentBytes, rep.SizeMethod, len(tarball), content)
		}
		if !exact && !strings.Contains(l.Why, "eStargz") {
			t.Fatalf("why = %q", l.Why)
		}
	}
}
