package image

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// catalogRegistry serves Cloudflare's GET /v2/_catalog?tags=true behind Basic auth: pages of two
// repositories, the next one named by a Link header (`repeat` makes every page point at the same cursor).
func catalogRegistry(t *testing.T, repos []string, repeat bool) name.Registry {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "v1" || p != "pw" {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.URL.Path == "/v2/" {
			return
		}
		if r.URL.Path != "/v2/_catalog" || r.URL.Query().Get("tags") != "true" {
			t.Errorf("unexpected %s %s", r.Method, r.URL)
			w.WriteHeader(http.StatusNotFound)
			return
		}
		i := 0
		if last := r.URL.Query().Get("last"); last != "" {
			i = slices.Index(repos, last) + 1
		}
		page := repos[i:min(i+2, len(repos))]
		if i+2 < len(repos) {
			cursor := page[len(page)-1]
			if repeat {
				cursor = repos[0]
			}
			w.Header().Set("Link", `</v2/_catalog?tags=true&n=2&last=`+url.QueryEscape(cursor)+`>; rel="next"`)
		}
		out := map[string][]string{}
		for _, r := range page {
			out[r] = []string{"v1", "sha256-00"}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"repositories": out})
	}))
	t.Cleanup(srv.Close)
	reg, err := name.NewRegistry(strings.TrimPrefix(srv.URL, "http://"), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func TestRepositories(t *testing.T) {
	repos := []string{"acct/a", "acct/b", "acct/c", "acct/d", "acct/e"}
	auth := authn.FromConfig(authn.AuthConfig{Username: "v1", Password: "pw"})
	for _, tc := range []struct {
		name    string
		repos   []string
		repeat  bool
		auth    authn.Authenticator
		want    []string
		wantErr string
	}{
		{"every page", repos, false, auth, repos, ""},
		{"one page", repos[:1], false, auth, repos[:1], ""},
		{"empty", nil, false, auth, nil, ""},
		{"repeated cursor", repos, true, auth, nil, "repeated the page"},
		{"wrong password", repos, false, authn.FromConfig(authn.AuthConfig{Username: "v1", Password: "no"}), nil, "401"},
		{"no credentials", repos, false, nil, nil, "no credentials"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Repositories(context.Background(), catalogRegistry(t, tc.repos, tc.repeat), CatalogOptions{Auth: tc.auth})
			if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("repositories = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseLinks(t *testing.T) {
	got := parseLinks([]string{`</v2/_catalog?last=b>; rel="next", <https://x/y>; rel=prev`, `no-brackets; rel=next`, `</z>; title="a"; REL="next last"`})
	want := []link{{"/v2/_catalog?last=b", []string{"next"}}, {"https://x/y", []string{"prev"}}, {"/z", []string{"next", "last"}}}
	if len(got) != len(want) {
		t.Fatalf("links = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].target != want[i].target || !slices.Equal(got[i].rels, want[i].rels) {
			t.Errorf("link %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}
