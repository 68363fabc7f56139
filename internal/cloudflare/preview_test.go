package cloudflare

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestWorkers(t *testing.T) {
	c := api(t, map[string]func(http.ResponseWriter, *http.Request){
		"GET /client/v4/accounts/" + acct + "/workers/scripts": ok(`[{"id":"lean","created_on":"2026-11-28T10:00:00Z"},{"id":"lean-pr-7","created_on":"2026-12-01T09:30:00Z"}]`),
	})
	got, err := c.Workers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []WorkerSummary{{"lean", time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)}, {"lean-pr-7", time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)}}
	if len(got) != len(want) || !got[0].CreatedOn.Equal(want[0].CreatedOn) || got[1].Name != want[1].Name || !got[1].CreatedOn.Equal(want[1].CreatedOn) {
		t.Errorf("Workers = %+v, want %+v", got, want)
	}
}

func TestApplications(t *testing.T) {
	c := api(t, map[string]func(http.ResponseWriter, *http.Request){
		dashApps: paged(`[`+dashApp("lean-leancontainer", `{"active":1}`)+`]`, `[`+dashApp("lean-pr-7-leancontainer", `{"failed":1}`)+`]`),
	})
	got, err := c.Applications(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "lean-leancontainer" || got[0].State != "active" || got[1].Name != "lean-pr-7-leancontainer" || got[1].State != "degraded" {
		t.Errorf("Applications = %+v", got)
	}
}

func TestDeleteApplication(t *testing.T) {
	for _, tc := range []struct {
		name    string
		route   func(http.ResponseWriter, *http.Request)
		wantErr string
	}{
		{"deleted", ok(`{}`), ""},
		{"already gone", fail(404, 1000, "Application id-1 not found"), ""},
		{"refused", fail(403, 10000, "Authentication error"), "deleting container application id-1: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := api(t, map[string]func(http.ResponseWriter, *http.Request){
				"DELETE /client/v4/accounts/" + acct + "/containers/applications/id-1": tc.route,
			})
			err := c.DeleteApplication(context.Background(), "id-1")
			if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.HasPrefix(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
