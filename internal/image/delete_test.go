package image

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// deleteRegistry is an OCI registry that also answers Cloudflare's PUT /v2/gc/layers and counts it.
func deleteRegistry(t *testing.T) (host string, gc *atomic.Int32) {
	t.Helper()
	gc = &atomic.Int32{}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/gc/layers" && r.Method == http.MethodPut {
			gc.Add(1)
			w.WriteHeader(http.StatusAccepted)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), gc
}

func TestDeleteRepository(t *testing.T) {
	host, gc := deleteRegistry(t)
	ctx := context.Background()
	repo, err := name.NewRepository(host+"/acct/lean-pr-7", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	var digests []string
	for _, tag := range []string{"lean4cf-a", "lean4cf-b"} {
		img, _ := random.Image(64, 1)
		if err := remote.Write(repo.Tag(tag), img); err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		digests = append(digests, d.String())
	}
	keep := digests[1] // another application still runs it
	opts := DeleteOptions{Auth: authn.Anonymous, Keep: func(d string) bool { return d == keep }}

	res, err := DeleteRepository(ctx, repo, opts)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"lean4cf-a@" + digests[0]}; !slices.Equal(res.Deleted, want) {
		t.Errorf("Deleted = %v, want %v", res.Deleted, want)
	}
	if want := []string{"lean4cf-b@" + digests[1]}; !slices.Equal(res.Kept, want) {
		t.Errorf("Kept = %v, want %v", res.Kept, want)
	}
	if _, err := remote.Head(repo.Digest(digests[0])); err == nil {
		t.Errorf("%s is still there", digests[0])
	}
	if _, err := remote.Head(repo.Digest(digests[1])); err != nil {
		t.Errorf("kept %s is gone: %v", digests[1], err)
	}
	if gc.Load() != 1 {
		t.Errorf("gc/layers called %d times, want 1", gc.Load())
	}

	// Again, keeping nothing: the kept one goes; a third time finds nothing and collects nothing.
	opts.Keep = nil
	if res, err = DeleteRepository(ctx, repo, opts); err != nil || len(res.Deleted) != 1 {
		t.Fatalf("second delete = %+v, %v; want one deleted", res, err)
	}
	if res, err = DeleteRepository(ctx, repo, opts); err != nil || len(res.Deleted)+len(res.Kept) != 0 {
		t.Fatalf("third delete = %+v, %v; want nothing found", res, err)
	}
	if gc.Load() != 2 {
		t.Errorf("gc/layers called %d times, want 2 (none when nothing was deleted)", gc.Load())
	}
}

func TestDeleteRepositoryAbsent(t *testing.T) {
	host, gc := deleteRegistry(t)
	repo, _ := name.NewRepository(host+"/acct/never-pushed", name.Insecure)
	res, err := DeleteRepository(context.Background(), repo, DeleteOptions{Auth: authn.Anonymous})
	if err != nil || len(res.Deleted) != 0 || gc.Load() != 0 {
		t.Fatalf("DeleteRepository(absent) = %+v, %v, gc %d; want nothing, no error, no gc", res, err, gc.Load())
	}
}
