package cloudflare

import (
	"context"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

var dashApps = "GET /client/v4/accounts/" + acct + "/containers/dash/applications"

// paged answers page_token "" with first and page_token "2" with second, the way the containers API pages.
func paged(first, second string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("page_token") {
		case "":
			io.WriteString(w, `{"success":true,"errors":[],"messages":[],"result":`+first+`,"result_info":{"per_page":1,"next_page_token":"2"}}`)
		case "2":
			io.WriteString(w, `{"success":true,"errors":[],"messages":[],"result":`+second+`,"result_info":{"per_page":1}}`)
		default:
			w.WriteHeader(http.StatusBadRequest)
		}
	}
}

// A DashApplication as the API returns it (fields per workers-sdk's containers-shared client models).
func dashApp(name, health string) string {
	return `{"id":"id-` + name + `","created_at":"2026-11-28T10:00:00Z","updated_at":"2026-11-28T10:06:00Z","name":"` + name +
		`","version":3,"instances":1,"image":"registry.cloudflare.com/acct/lean@sha256:00","health":{"instances":` + health + `}}`
}

func TestApplication(t *testing.T) {
	for _, tc := range []struct {
		name    string
		route   func(http.ResponseWriter, *http.Request)
		want    Application
		found   bool
		wantErr string
	}{
		{"on the second page, active", paged(`[`+dashApp("other-leancontainer", `{}`)+`]`, `[`+dashApp("lean-leancontainer", `{"active":1,"healthy":1}`)+`]`),
			Application{ID: "id-lean-leancontainer", Name: "lean-leancontainer", State: "active", Instances: 1, Image: "registry.cloudflare.com/acct/lean@sha256:00",
				Version: 3, UpdatedAt: "2026-11-28T10:06:00Z", CreatedAt: "2026-11-28T10:00:00Z"}, true, ""},
		{"failed wins over active", ok(`[` + dashApp("lean-leancontainer", `{"active":1,"failed":1,"starting":1}`) + `]`), Application{State: "degraded"}, true, ""},
		{"starting is provisioning", ok(`[` + dashApp("lean-leancontainer", `{"active":1,"scheduling":1}`) + `]`), Application{State: "provisioning"}, true, ""},
		{"no instance is ready", ok(`[` + dashApp("lean-leancontainer", `{"active":0}`) + `]`), Application{State: "ready"}, true, ""},
		{"absent", paged(`[]`, `[`+dashApp("other-leancontainer", `{}`)+`]`), Application{}, false, ""},
		{"refused", fail(403, 10000, "Authentication error"), Application{}, false, "reading container application lean-leancontainer: Cloudflare API 403: Authentication error [code 10000]: check CLOUDFLARE_API_TOKEN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := api(t, map[string]func(http.ResponseWriter, *http.Request){dashApps: tc.route})
			app, found, err := c.Application(context.Background(), "lean-leancontainer")
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to start with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || found != tc.found {
				t.Fatalf("found %v, err %v; want found %v", found, err, tc.found)
			}
			if tc.want.ID == "" {
				app = Application{State: app.State} // the case is about the state alone
			}
			if app != tc.want {
				t.Fatalf("app = %+v, want %+v", app, tc.want)
			}
		})
	}
}

// A DashApplicationInstance as the API returns it.
func dashInstance(id string, version int, placement string) string {
	s := `{"id":"` + id + `","created_at":"2026-11-28T10:00:00Z","location":"sfo06","region":"WNAM","app_version":` + itoa(version)
	if placement != "" {
		s += `,"current_placement":{"id":"p-` + id + `","created_at":"2026-11-28T10:00:00Z","deployment_id":"` + id + `","deployment_version":` + itoa(version) +
			`,"terminate":false,"status":` + placement + `}`
	}
	return s + `}`
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestInstances(t *testing.T) {
	path := "GET /client/v4/accounts/" + acct + "/containers/dash/applications/app-1/instances"
	for _, tc := range []struct {
		name  string
		route func(http.ResponseWriter, *http.Request)
		want  []Instance
	}{
		{"instances, every page, states as wrangler names them",
			paged(`{"instances":[`+dashInstance("i1", 2, `{"health":"running","container_status":"running"}`)+`,`+dashInstance("i2", 3, `{"health":"placed"}`)+`]}`,
				`{"instances":[`+dashInstance("i3", 3, ``)+`,`+dashInstance("i4", 3, `{"health":"weird"}`)+`]}`),
			[]Instance{{ID: "i1", State: "running", Location: "sfo06", Version: 2}, {ID: "i2", State: "provisioning", Location: "sfo06", Version: 3},
				{ID: "i3", State: "unknown", Location: "sfo06", Version: 3}, {ID: "i4", State: "unknown", Location: "sfo06", Version: 3}}},
		{"one row per Durable Object, inactive without an instance",
			ok(`{"instances":[` + dashInstance("i1", 2, `{"health":"running"}`) + `],"durable_objects":[` +
				`{"id":"do1","deployment_id":"i1","placement_id":"p-i1","assigned_at":"x","name":"cf-singleton-container"},{"id":"do2","assigned_at":"x","name":"two"}]}`),
			[]Instance{{ID: "do1", Name: "cf-singleton-container", State: "running", Location: "sfo06", Version: 2}, {ID: "do2", Name: "two", State: "inactive"}}},
		{"none", ok(`{"instances":[],"durable_objects":[]}`), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := api(t, map[string]func(http.ResponseWriter, *http.Request){path: tc.route})
			rows, err := c.Instances(context.Background(), "app-1")
			if err != nil || !reflect.DeepEqual(rows, tc.want) {
				t.Fatalf("rows = %+v, %v; want %+v", rows, err, tc.want)
			}
		})
	}
}

func TestFillInstanceType(t *testing.T) {
	path := "GET /client/v4/accounts/" + acct + "/containers/applications/a1"
	for _, tc := range []struct {
		name, result, want, wantConfig, wantErr string
	}{
		{"named", `{"id": "a1", "configuration": {"image": "x", "instance_type": "standard-1"}}`, "standard-1", "", ""},
		{"custom", `{"id": "a1", "configuration": {"image": "x", "vcpu": 2, "memory_mib": 6144, "disk": {"size_mb": 12000}}}`, "custom:vcpu=2,memory=6144MiB,disk=12000MB", "custom (2 vCPU, 6144 MiB, 12 GB)", ""},
		{"none", `{"id": "a1", "configuration": {"image": "x"}}`, "", "", ""},
		{"out of bounds", `{"id": "a1", "configuration": {"vcpu": 8, "memory_mib": 12288}}`, "", "", "the application's custom instance type: vcpu 8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := api(t, map[string]func(http.ResponseWriter, *http.Request){path: ok(tc.result)})
			app := Application{ID: "a1"}
			err := c.FillInstanceType(context.Background(), &app)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || app.InstanceType != tc.want || (tc.wantConfig != "" && app.InstanceConfig != tc.wantConfig) {
				t.Fatalf("got %q %q, %v; want %q %q", app.InstanceType, app.InstanceConfig, err, tc.want, tc.wantConfig)
			}
		})
	}
}
