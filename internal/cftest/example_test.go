package cftest_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/org/lean4-cf-action/internal/cftest"
)

func ExampleNew() {
	srv, err := cftest.New(cftest.Options{})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	env := srv.Env()
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	fmt.Println(keys)
	fmt.Println(env["CLOUDFLARE_API_BASE_URL"] == srv.URL()+"/client/v4", env["CLOUDFLARE_ACCOUNT_ID"])

	req, _ := http.NewRequest(http.MethodGet, srv.APIBase()+"/accounts/"+srv.AccountID()+"/workers/subdomain", nil)
	req.Header.Set("Authorization", "Bearer "+srv.Token())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(srv.Journal()[0], len(srv.Writes()), len(srv.Unknown()))
	// Output:
	// [CLOUDFLARE_ACCOUNT_ID CLOUDFLARE_API_BASE_URL CLOUDFLARE_API_TOKEN CLOUDFLARE_CONTAINER_REGISTRY]
	// true c0ffee00c0ffee00c0ffee00c0ffee00
	// GET /accounts/c0ffee00c0ffee00c0ffee00c0ffee00/workers/subdomain -> 200 0 0
}

func TestClocks(t *testing.T) {
	start := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	fc := cftest.NewFakeClock(start)
	fc.Advance(90 * time.Second)
	if got := fc.Now().Sub(start); got != 90*time.Second {
		t.Errorf("FakeClock moved %v", got)
	}
	sc := cftest.ScaledClock(1000)
	t0 := sc.Now()
	time.Sleep(20 * time.Millisecond)
	if got := sc.Now().Sub(t0); got < 20*time.Second {
		t.Errorf("ScaledClock(1000) moved %v in 20 ms of real time", got)
	}
}

func TestNewRejectsBadAccount(t *testing.T) {
	if _, err := cftest.New(cftest.Options{AccountID: "acct"}); err == nil {
		t.Error("New accepted a non-hex account id")
	}
}
