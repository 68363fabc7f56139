package image

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"
)

func TestReadings(t *testing.T) {
	const g = int64(wrap)
	for _, tc := range []struct {
		name           string
		isize, c       int64
		ratio          float64
		low, high      int64
		ok             bool
		wantReadingsOf int
	}{
		{"small layer: one reading", 3_000_000, 1_000_000, 20, 3_000_000, 3_000_000, true, 1},
		{"ratio over the bound", 30_000_000, 1_000_000, 20, 0, 0, false, 0},
		{"large layer: the trailer or 4 GiB more", 1_300_000_000, 407_000_000, 20, 1_300_000_000, 1_300_000_000 + g, true, 2},
		{"just under the bound for k = 1", 1_000_000_000, (1_000_000_000 + g) / 20, 20, 1_000_000_000, 1_000_000_000, true, 1},
		{"at the bound for k = 1", 1_000_000_000, (1_000_000_000 + g) / 20, 20.0000001, 1_000_000_000, 1_000_000_000 + g, true, 2},
		{"wrapped: below the compressed size, k = 1 is the least", 100_000_000, 300_000_000, 20, 100_000_000 + g, 100_000_000 + g, true, 1},
		{"wrapped and beyond the bound", 100_000_000, 200_000_000, 20, 0, 0, false, 0},
		{"three readings", 2_000_000, 1_100_000, 10_000, 2_000_000, 2_000_000 + 2*g, true, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			low, high, ok := readings(tc.isize, tc.c, tc.ratio)
			if low != tc.low || high != tc.high || ok != tc.ok {
				t.Fatalf("readings(%d, %d, %v) = %d, %d, %v; want %d, %d, %v", tc.isize, tc.c, tc.ratio, low, high, ok, tc.low, tc.high, tc.ok)
			}
			if !ok {
				return
			}
			rep := Report{Layers: []Layer{{Uncompressed: low, UncompressedHigh: high}}}
			rep.sum()
			if n := len(rep.Readings()); n != tc.wantReadingsOf {
				t.Fatalf("%d readings %v, want %d", n, rep.Readings(), tc.wantReadingsOf)
			}
			if wantMethod := map[bool]string{true: "bounds", false: "estimate"}[tc.wantReadingsOf > 1]; rep.SizeMethod != wantMethod {
				t.Fatalf("size method %s, want %s", rep.SizeMethod, wantMethod)
			}
		})
	}
}

// Two bounded layers: their readings add up, so the image's readings are the low total plus K × 4 GiB.
func TestReportReadingsAddUp(t *testing.T) {
	const g = int64(wrap)
	rep := Report{Layers: []Layer{
		{Method: "gzip-trailer", Uncompressed: 10, UncompressedHigh: 10 + g},
		{Method: "stream", Uncompressed: 5},
		{Method: "gzip-trailer", Uncompressed: 20, UncompressedHigh: 20 + 2*g},
	}}
	rep.sum()
	want := []int64{35, 35 + g, 35 + 2*g, 35 + 3*g}
	got := rep.Readings()
	if len(got) != len(want) || rep.UncompressedBytes != 35 || rep.UncompressedBytesHigh != 35+3*g {
		t.Fatalf("readings %v (low %d, high %d), want %v", got, rep.UncompressedBytes, rep.UncompressedBytesHigh, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("readings %v, want %v", got, want)
		}
	}
	if b := rep.Bounded(); len(b) != 2 || b[0] != 0 || b[1] != 2 {
		t.Fatalf("bounded %v", b)
	}
}

// A layer whose trailer allows several sizes within the ratio bound (made small here by raising the
// bound) is not streamed when the caller's decision is the same under every reading, and is streamed,
// exactly, when it is not or when nobody decides.
func TestFastModeBoundsLargeLayers(t *testing.T) {
	rec := &recorder{}
	host := startCDNRegistry(t, rec)
	small, _ := tarOf(t, entry{Name: "etc/os-release", Size: 20_000})
	large, content := tarOf(t, entry{Name: "opt/lean/bin/lean", Size: 2_000_000})
	smallBlob, largeBlob := gz(t, small, 1), gz(t, large, 1)
	img := imageOf(t, "amd64", true, layerOf(t, smallBlob, types.OCILayer), layerOf(t, largeBlob, types.OCILayer))
	ref := pushImage(t, host, "bounds/img", img)
	const ratio = 10_000 // the large layer's ~2 MB could then hold its size + k × 4 GiB for a few k
	truth := int64(len(small) + len(large))
	wantHigh := int64(len(large))
	for float64(wantHigh+wrap) <= float64(len(largeBlob))*ratio {
		wantHigh += wrap
	}
	if wantHigh == int64(len(large)) {
		t.Fatalf("the fixture is not bounded: %d compressed bytes", len(largeBlob))
	}
	largeDigest := func() string {
		m, _ := img.Manifest()
		return m.Layers[1].Digest.String()
	}()
	wholeGets := func() int {
		n := 0
		for _, r := range rec.blobGets() {
			if f := strings.Fields(r); len(f) == 2 && strings.HasSuffix(f[1], largeDigest) {
				n++
			}
		}
		return n
	}

	for _, tc := range []struct {
		name      string
		decided   func(Report) bool
		wantBound bool
	}{
		{"the decision is the same at every reading", func(Report) bool { return true }, true},
		{"the decision depends on the reading", func(Report) bool { return false }, false},
		{"nobody decides", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec.mu.Lock()
			rec.reqs = nil
			rec.mu.Unlock()
			var asked []int64
			decided := tc.decided
			if decided != nil {
				decided = func(r Report) bool { asked = r.Readings(); return tc.decided(r) }
			}
			rep, err := Inspect(context.Background(), ref, Options{MaxRatio: ratio, Decided: decided})
			if err != nil {
				t.Fatal(err)
			}
			l := rep.Layers[1]
			if tc.decided != nil && (len(asked) < 2 || asked[0] != truth) {
				t.Fatalf("Decided saw readings %v; the truth %d must be the first", asked, truth)
			}
			if !tc.wantBound {
				if l.Method != "stream" || l.Uncompressed != int64(len(large)) || l.Content != content || rep.UncompressedBytes != truth ||
					rep.UncompressedBytesHigh != 0 || rep.SizeMethod == "bounds" || wholeGets() != 1 || rep.Streamed != 1 {
					t.Fatalf("layer %+v, report %s %d-%d, %d whole GETs; want it streamed once, exactly", l, rep.SizeMethod,
						rep.UncompressedBytes, rep.UncompressedBytesHigh, wholeGets())
				}
				if !strings.Contains(l.Why, "modulo 4 GiB") || !strings.Contains(l.Why, "streamed: the fit depends") {
					t.Fatalf("why = %q", l.Why)
				}
				return
			}
			if n := wholeGets(); n != 0 {
				t.Fatalf("the bounded layer was fetched whole %d times", n)
			}
			if rep.SizeMethod != "bounds" || l.Method != "gzip-trailer" || l.Uncompressed != int64(len(large)) || l.UncompressedHigh != wantHigh ||
				rep.UncompressedBytes != truth || rep.UncompressedBytesHigh != truth+wantHigh-int64(len(large)) || rep.Streamed != 0 {
				t.Fatalf("layer %+v, report %s %d-%d streamed %d; want the range %d-%d", l, rep.SizeMethod, rep.UncompressedBytes,
					rep.UncompressedBytesHigh, rep.Streamed, len(large), wantHigh)
			}
			if !strings.Contains(l.Why, "modulo 4 GiB") || !strings.Contains(l.Why, fmt.Sprintf("k = 0 to %d", (wantHigh-int64(len(large)))/wrap)) {
				t.Fatalf("why = %q", l.Why)
			}
			if rep.Layers[0].UncompressedHigh != 0 || len(rep.Bounded()) != 1 {
				t.Fatalf("the small layer is bounded: %+v", rep.Layers[0])
			}
		})
	}
}
