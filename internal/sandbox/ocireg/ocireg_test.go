package ocireg_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/org/lean4-cf-action/internal/sandbox/ocireg"
)

func do(t *testing.T, method, url, body string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// go-containerregistry pushes and pulls through it, and the distribution protocol's other paths
// (chunks with Content-Range, Range reads, mounts, bad digests, paging) answer per the spec.
func TestProtocol(t *testing.T) {
	reg := ocireg.New()
	srv := httptest.NewServer(reg)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	img, _ := random.Image(1000, 2)
	for _, tag := range []string{"a", "b", "c"} {
		ref, _ := name.NewTag(host + "/acct/lean:" + tag)
		if err := remote.Write(ref, img); err != nil {
			t.Fatalf("push %s: %v", tag, err)
		}
	}
	ref, _ := name.NewTag(host + "/acct/lean:b")
	got, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	if d1, _ := img.Digest(); func() bool { d2, _ := got.Digest(); return d1 != d2 }() {
		t.Error("pulled another image than pushed")
	}
	layers, _ := img.Layers()
	ld, _ := layers[0].Digest()
	blob := "/v2/acct/lean/blobs/" + ld.String()
	data := "hello, registry"
	dd := ocireg.Digest([]byte(data))

	resp, _ := do(t, http.MethodPost, srv.URL+"/v2/acct/up/blobs/uploads/", "", nil)
	loc := resp.Header.Get("Location")
	for _, tc := range []struct {
		name, method, path, body string
		hdr                      map[string]string
		want                     int
		check                    func(*http.Response, string) bool
	}{
		{"range read", http.MethodGet, blob, "", map[string]string{"Range": "bytes=0-9"}, http.StatusPartialContent,
			func(r *http.Response, b string) bool { return len(b) == 10 && r.Header.Get("Content-Range") != "" }},
		{"suffix range read", http.MethodGet, blob, "", map[string]string{"Range": "bytes=-4"}, http.StatusPartialContent,
			func(_ *http.Response, b string) bool { return len(b) == 4 }},
		{"first chunk", http.MethodPatch, loc, data[:5], map[string]string{"Content-Range": "0-4"}, http.StatusAccepted,
			func(r *http.Response, _ string) bool { return r.Header.Get("Range") == "0-4" }},
		{"chunk out of order", http.MethodPatch, loc, data[5:], map[string]string{"Content-Range": "3-9"}, http.StatusRequestedRangeNotSatisfiable, nil},
		{"wrong digest", http.MethodPut, loc + "?digest=" + ocireg.Digest([]byte("x")), data[5:], nil, http.StatusBadRequest, nil},
		{"mount a known blob", http.MethodPost, "/v2/acct/other/blobs/uploads/?mount=" + ld.String() + "&from=acct/lean", "", nil, http.StatusCreated, nil},
		{"mount an unknown blob starts an upload", http.MethodPost, "/v2/acct/other/blobs/uploads/?mount=" + dd + "&from=acct/lean", "", nil, http.StatusAccepted, nil},
		{"monolithic upload", http.MethodPost, "/v2/acct/other/blobs/uploads/?digest=" + dd, data, nil, http.StatusCreated, nil},
		{"tags paged", http.MethodGet, "/v2/acct/lean/tags/list?n=2", "", nil, http.StatusOK,
			func(r *http.Response, b string) bool {
				return strings.Contains(b, `["a","b"]`) && strings.Contains(r.Header.Get("Link"), "last=b")
			}},
		{"next page", http.MethodGet, "/v2/acct/lean/tags/list?n=2&last=b", "", nil, http.StatusOK,
			func(_ *http.Response, b string) bool { return strings.Contains(b, `["c"]`) }},
		{"bad repository name", http.MethodGet, "/v2/Acct/lean/tags/list", "", nil, http.StatusBadRequest, nil},
		{"unknown manifest", http.MethodGet, "/v2/acct/lean/manifests/nope", "", nil, http.StatusNotFound, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := tc.path
			if !strings.HasPrefix(url, "http") {
				url = srv.URL + url
			}
			resp, body := do(t, tc.method, url, tc.body, tc.hdr)
			if resp.StatusCode != tc.want || tc.check != nil && !tc.check(resp, body) {
				t.Errorf("%s %s: %d %q %v, want %d", tc.method, tc.path, resp.StatusCode, body, resp.Header, tc.want)
			}
		})
	}
	if repos := reg.Repositories(); strings.Join(repos, ",") != "acct/lean" {
		t.Errorf("repositories %v: blobs alone make no repository", repos)
	}
	// The mounted and the uploaded blob are stored, and unreferenced by any manifest until GC.
	if un := reg.Unreferenced(); len(un) != 1 || un[0] != dd {
		t.Errorf("unreferenced %v, want %s", un, dd)
	}
	if gone := reg.GC(); len(gone) != 1 || len(reg.Unreferenced()) != 0 {
		t.Errorf("GC removed %v", gone)
	}
}
