package cfapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/org/lean4-cf-action/internal/sandbox/cfapi"
)

type creds struct {
	AccountID    string `json:"account_id"`
	RegistryHost string `json:"registry_host"`
	Username     string `json:"username"`
	Password     string `json:"password"`
}

// credentials asks the API for registry credentials, as wrangler and lean4-cf do.
func credentials(t testing.TB, srv *cfapi.Server, minutes int, perms ...string) creds {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"expiration_minutes": minutes, "permissions": perms})
	url := fmt.Sprintf("%s/accounts/%s/containers/registries/%s/credentials", srv.APIBase(), srv.AccountID(), srv.RegistryHost())
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+srv.Token())
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		Success bool  `json:"success"`
		Result  creds `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil || !env.Success {
		t.Fatalf("credentials: status %d, success %v, %v", resp.StatusCode, env.Success, err)
	}
	return env.Result
}

// pushImage pushes a small random image to <registry>/<account>/<repoTag> and returns the reference.
func pushImage(t testing.TB, srv *cfapi.Server, repoTag string) string {
	t.Helper()
	c := credentials(t, srv, 15, "push", "pull")
	return pushWith(t, srv, repoTag, c.Username, c.Password)
}

func pushWith(t testing.TB, srv *cfapi.Server, repoTag, user, pass string) string {
	t.Helper()
	ref := srv.RegistryHost() + "/" + srv.AccountID() + "/" + repoTag
	if err := push(ref, user, pass); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	return ref
}

func push(ref, user, pass string) error {
	r, err := name.ParseReference(ref)
	if err != nil {
		return err
	}
	img, err := random.Image(2048, 2)
	if err != nil {
		return err
	}
	return remote.Write(r, img, remote.WithAuth(&authn.Basic{Username: user, Password: pass}),
		remote.WithRetryBackoff(remote.Backoff{Duration: 10 * time.Millisecond, Factor: 1, Steps: 3}))
}
