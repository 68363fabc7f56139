package cfapi_test

import (
	"fmt"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/org/lean4-cf-action/internal/sandbox/cfapi"
)

func ExampleNew() {
	srv, err := cfapi.New(cfapi.Options{})
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
	fmt.Println(srv.Control().Journal()[0], len(srv.Control().Writes()), len(srv.Control().Unknown()))
	// Output:
	// [CLOUDFLARE_ACCOUNT_ID CLOUDFLARE_API_BASE_URL CLOUDFLARE_API_TOKEN CLOUDFLARE_CONTAINER_REGISTRY]
	// true c0ffee00c0ffee00c0ffee00c0ffee00
	// GET /accounts/c0ffee00c0ffee00c0ffee00c0ffee00/workers/subdomain -> 200 0 0
}

func TestClocks(t *testing.T) {
	start := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	fc := cfapi.NewFakeClock(start)
	fc.Advance(90 * time.Second)
	if got := fc.Now().Sub(start); got != 90*time.Second {
		t.Errorf("FakeClock moved %v", got)
	}
	sc := cfapi.ScaledClock(1000)
	t0 := sc.Now()
	time.Sleep(20 * time.Millisecond)
	if got := sc.Now().Sub(t0); got < 20*time.Second {
		t.Errorf("ScaledClock(1000) moved %v in 20 ms of real time", got)
	}
}

func TestNewRejectsBadAccount(t *testing.T) {
	if _, err := cfapi.New(cfapi.Options{AccountID: "acct"}); err == nil {
		t.Error("New accepted a non-hex account id")
	}
}

func TestCloseStopsEverything(t *testing.T) {
	before := runtime.NumGoroutine()
	srv, err := cfapi.New(cfapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for _, u := range []string{srv.APIBase() + "/user/tokens/verify", "http://" + srv.RegistryHost() + "/v2/"} {
		resp, err := hc.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{strings.TrimPrefix(srv.URL(), "http://"), srv.RegistryHost()} {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after Close", addr)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after Close, %d before New", n, before)
	}
}
