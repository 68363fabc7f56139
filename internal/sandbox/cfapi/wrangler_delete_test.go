package cfapi_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/org/lean4-cf-action/internal/sandbox/cfapi"
)

// A preview's whole teardown with the real wrangler: images list and delete against the registry,
// delete of the container Worker (which leaves its application, as on Cloudflare), containers delete;
// then nothing is left under the preview's name, and the production Worker and image are untouched.
func TestWranglerTeardown(t *testing.T) {
	t.Parallel()
	clock := cfapi.NewFakeClock(time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC))
	srv := newServer(t, cfapi.Options{Clock: clock})
	prodImg := pushImage(t, srv, "lean:v1")
	dir := project(t, "container", pushImage(t, srv, "cftest-lean:pr"), 1)
	if res := runWrangler(t, srv, dir, nil, "deploy"); res.Code != 0 {
		t.Fatalf("deploy: %s", res)
	}
	app, ok := srv.Application("cftest-lean-leanserver")
	if !ok {
		t.Fatalf("no application: %v", srv.Applications())
	}

	type image struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}
	list := func() []image {
		t.Helper()
		res := runWrangler(t, srv, dir, nil, "containers", "images", "list", "--json")
		var got []image
		if err := json.Unmarshal([]byte(res.Stdout), &got); res.Code != 0 || err != nil {
			t.Fatalf("images list --json: %v %s", err, res)
		}
		slices.SortFunc(got, func(a, b image) int { return strings.Compare(a.Name, b.Name) })
		return got
	}
	if got := list(); len(got) != 2 || got[0].Name != "cftest-lean" || !slices.Equal(got[0].Tags, []string{"pr"}) || got[1].Name != "lean" {
		t.Errorf("images list before the teardown: %+v", got)
	}

	for _, step := range []struct {
		what string
		args []string
		want string // in stdout or stderr
	}{
		{"delete the Worker", []string{"delete", "--name", "cftest-lean"}, "Successfully deleted"},
		{"delete its application", []string{"containers", "delete", app.ID}, ""},
		{"delete its image", []string{"containers", "images", "delete", "cftest-lean:pr"}, "Deleted cftest-lean:pr"},
	} {
		res := runWrangler(t, srv, dir, nil, step.args...)
		if res.Code != 0 || !strings.Contains(res.Stdout+res.Stderr, step.want) {
			t.Fatalf("%s: %s", step.what, res)
		}
		if step.what == "delete the Worker" {
			if !strings.Contains(res.Stdout+res.Stderr, "keeps running and billing") {
				t.Errorf("wrangler delete did not warn about the application left running: %s", res)
			}
			if _, ok := srv.Application(app.ID); !ok {
				t.Error("deleting the Worker deleted its application; Cloudflare keeps it")
			}
		}
	}
	if got := list(); len(got) != 1 || got[0].Name != "lean" {
		t.Errorf("images list after the teardown: %+v", got)
	}
	// wrangler deletes the tag and collects layers; the manifest, untagged, is what remains of it.
	l := srv.Leftovers("cftest-lean")
	if len(l.Workers)+len(l.Applications)+len(l.Untagged)+len(l.Blobs) != 0 || len(l.Images) != 1 || !strings.HasPrefix(l.Images[0], "cftest-lean@sha256:") {
		t.Errorf("left behind: %v; want only the untagged manifest", l)
	}
	if _, ok := srv.Application(app.ID); ok {
		t.Error("the application remains after containers delete")
	}
	if repos := srv.RegistryRepositories(); len(repos) != 2 || repos[1].Name != srv.AccountID()+"/lean" || len(repos[1].Tags) != 1 {
		t.Errorf("the production image was touched: %+v (want %s kept)", repos, prodImg)
	}
	noUnknown(t, srv)
}
