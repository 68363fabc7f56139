package cfapi_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/org/lean4-cf-action/internal/sandbox/cfapi"
)

func statusOf(err error) int {
	var te *transport.Error
	if errors.As(err, &te) {
		return te.StatusCode
	}
	return 0
}

func TestRegistryAuth(t *testing.T) {
	clock := cfapi.NewFakeClock(time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC))
	srv := newServer(t, cfapi.Options{Clock: clock})
	ref := srv.RegistryHost() + "/" + srv.AccountID() + "/lean:v1"

	if err := push(ref, "v1", "made-up"); statusOf(err) != http.StatusUnauthorized {
		t.Errorf("push with made-up credentials: %v", err)
	}
	pull := credentials(t, srv, 15, "pull")
	if err := push(ref, pull.Username, pull.Password); statusOf(err) != http.StatusForbidden {
		t.Errorf("push with pull-only credentials: %v", err)
	}
	c := credentials(t, srv, 15, "push", "pull")
	if err := push(srv.RegistryHost()+"/0123456789abcdef0123456789abcdef/lean:v1", c.Username, c.Password); statusOf(err) != http.StatusForbidden {
		t.Errorf("push into another account's repository: %v", err)
	}
	// The returned username and wrangler's fixed "v1" both work.
	for _, user := range []string{c.Username, "v1"} {
		if err := push(ref, user, c.Password); err != nil {
			t.Errorf("push as %q: %v", user, err)
		}
	}
	r, _ := name.ParseReference(ref)
	if _, err := remote.Head(r, remote.WithAuth(&authn.Basic{Username: pull.Username, Password: pull.Password})); err != nil {
		t.Errorf("pull-only credentials cannot read: %v", err)
	}
	clock.Advance(15 * time.Minute)
	if err := push(ref, c.Username, c.Password); statusOf(err) != http.StatusUnauthorized {
		t.Errorf("push with expired credentials: %v", err)
	}
	noUnknown(t, srv)
}

func TestRegistryFaults(t *testing.T) {
	srv := newServer(t, cfapi.Options{})
	c := credentials(t, srv, 15, "push", "pull")
	auth := remote.WithAuth(&authn.Basic{Username: c.Username, Password: c.Password})
	ref := func(tag string) string { return srv.RegistryHost() + "/" + srv.AccountID() + "/lean:" + tag }

	t.Run("blob commit fails every time", func(t *testing.T) {
		must(t, srv.Control().InjectRegistry(cfapi.RegistryFault{Kind: cfapi.FailBlobCommit}))
		err := push(ref("commit"), c.Username, c.Password)
		if statusOf(err) != http.StatusInternalServerError || !strings.Contains(err.Error(), "BLOB_UPLOAD_INVALID") {
			t.Errorf("push: %v", err)
		}
		clearRegistry(t, srv)
	})
	t.Run("blob commit fails once, the client retries", func(t *testing.T) {
		must(t, srv.Control().InjectRegistry(cfapi.RegistryFault{Kind: cfapi.FailBlobCommit, Count: 1}))
		if err := push(ref("commit-once"), c.Username, c.Password); err != nil {
			t.Errorf("push: %v", err)
		}
		if !journaled(srv, string(cfapi.FailBlobCommit)) {
			t.Error("the fault never fired")
		}
	})
	t.Run("connection dropped mid-upload", func(t *testing.T) {
		must(t, srv.Control().InjectRegistry(cfapi.RegistryFault{Kind: cfapi.DropBlobUpload}))
		err := push(ref("drop"), c.Username, c.Password)
		if err == nil || statusOf(err) != 0 {
			t.Errorf("push: want a network error, got %v", err)
		}
		clearRegistry(t, srv)
	})
	t.Run("connection dropped mid-download", func(t *testing.T) {
		pushed := pushWith(t, srv, "lean:pull", c.Username, c.Password)
		must(t, srv.Control().InjectRegistry(cfapi.RegistryFault{Kind: cfapi.DropBlobDownload}))
		r, _ := name.ParseReference(pushed)
		img, err := remote.Image(r, auth)
		if err != nil {
			t.Fatal(err)
		}
		layers, _ := img.Layers()
		rc, err := layers[0].Compressed()
		if err == nil {
			_, err = io.Copy(io.Discard, rc)
			rc.Close()
		}
		if err == nil {
			t.Error("reading a dropped blob succeeded")
		}
		clearRegistry(t, srv)
	})
	// Last: it expires every credential issued so far, c's too.
	t.Run("credentials expire mid-push", func(t *testing.T) {
		mine := credentials(t, srv, 15, "push", "pull")
		must(t, srv.Control().InjectRegistry(cfapi.RegistryFault{Kind: cfapi.ExpireCredentials, Count: 1}))
		err := push(ref("expire"), mine.Username, mine.Password)
		if statusOf(err) != http.StatusUnauthorized || !journaled(srv, string(cfapi.ExpireCredentials)) {
			t.Errorf("push: want 401 after the credentials expired, got %v", err)
		}
		// Every credential issued so far is dead now; a new one works.
		if err := push(ref("expire"), mine.Username, mine.Password); statusOf(err) != http.StatusUnauthorized {
			t.Errorf("push with the expired credential: %v", err)
		}
		fresh := credentials(t, srv, 15, "push", "pull")
		if err := push(ref("expire"), fresh.Username, fresh.Password); err != nil {
			t.Errorf("push with fresh credentials: %v", err)
		}
	})
}

func clearRegistry(t *testing.T, srv *cfapi.Server) {
	t.Helper()
	srv.Control().ClearRegistryFaults()
}

func journaled(srv *cfapi.Server, fault string) bool {
	for _, r := range srv.Control().RegistryJournal() {
		if r.Fault == fault {
			return true
		}
	}
	return false
}

// The platform cannot pull an image that is not in the registry: the application degrades.
func TestImageMustExist(t *testing.T) {
	t.Parallel()
	srv := newServer(t, cfapi.Options{})
	dir := project(t, "container", srv.RegistryHost()+"/"+srv.AccountID()+"/lean:missing", 1)
	if res := runWrangler(t, srv, dir, nil, "deploy"); res.Code != 0 {
		t.Fatalf("deploy: %s", res)
	}
	rows := containersList(t, srv, dir)
	if len(rows) != 1 || rows[0].State != "degraded" {
		t.Errorf("containers list with a missing image: %+v", rows)
	}
	if _, err := srv.StartInstance("cftest-lean-leanserver", "lean"); !errors.Is(err, cfapi.ErrNoInstance) {
		t.Errorf("StartInstance with a missing image: %v", err)
	}
	pushImage(t, srv, "lean:missing")
	if rows := containersList(t, srv, dir); rows[0].State != "ready" {
		t.Errorf("containers list once the image exists: %+v", rows)
	}
}
