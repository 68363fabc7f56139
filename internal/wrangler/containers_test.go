package wrangler

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseContainersList(t *testing.T) {
	tests := []struct {
		name, in string
		want     int
		wantErr  string
	}{
		{name: "wrangler's 4-space array", in: `[
    {
        "id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "name": "lean4-server-leancontainer",
        "state": "active",
        "instances": 1,
        "image": "registry.cloudflare.com/acct/lean4-server@sha256:00",
        "version": 2,
        "updated_at": "2026-11-28T10:06:00Z",
        "created_at": "2026-11-28T10:00:00Z"
    }
]`, want: 1},
		{name: "empty", in: "[]\n", want: 0},
		{name: "error object", in: `{"error": "Unauthorized"}`, wantErr: "wrangler containers list: Unauthorized"},
		{name: "garbage", in: "No containers found.", wantErr: "parsing wrangler containers list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			apps, err := ParseContainersList([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(apps) != tt.want {
				t.Fatalf("apps = %+v, err = %v", apps, err)
			}
			if tt.want == 1 && (apps[0].State != "active" || apps[0].Version != 2 || apps[0].Instances != 1) {
				t.Fatalf("app = %+v", apps[0])
			}
		})
	}
}

func TestApplicationName(t *testing.T) {
	if got := ApplicationName("lean-worker", "LeanServer"); got != "lean-worker-leanserver" {
		t.Fatal(got)
	}
}

func TestContainersListAndRollbackArgs(t *testing.T) {
	argsFile := filepath.Join(t.TempDir(), "args")
	tool := fakeWrangler(t, `echo "$*" >> `+argsFile+`
case "$1" in
containers) echo '[{"id":"a1","name":"other-leancontainer","state":"ready","instances":0,"image":"x","version":1},{"id":"a2","name":"lean-leancontainer","state":"provisioning","instances":1,"image":"y","version":3}]';;
esac
`)
	r := Runner{Tool: tool, Env: os.Environ()}
	app, ok, err := r.ContainersList(context.Background(), "lean-leancontainer")
	if err != nil || !ok || app.ID != "a2" || app.State != "provisioning" {
		t.Fatalf("app = %+v, %v, %v", app, ok, err)
	}
	if _, ok, _ := r.ContainersList(context.Background(), "missing"); ok {
		t.Fatal("found an application that is not there")
	}
	if err := r.Rollback(context.Background(), "lean", "v-1", ""); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(argsFile)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if lines[0] != "containers list --json" || lines[2] != "rollback v-1 --name lean --message lean4-cf rollback --yes" {
		t.Fatalf("args = %q", lines)
	}
}

func TestParseInstances(t *testing.T) {
	rows, err := ParseInstances([]byte(`[{"id": "i1", "state": "running", "location": "sfo06", "version": 2, "created": "x"},
    {"id": "i2", "name": "cf-singleton-container", "state": "inactive", "location": "", "version": 1, "created": "x"}]`))
	if err != nil || len(rows) != 2 || rows[0].Version != 2 || rows[1].Name != "cf-singleton-container" {
		t.Fatalf("rows = %+v, %v", rows, err)
	}
	rows, err = ParseInstances([]byte(`{"instances": [{"id": "i1", "state": "provisioning", "version": 3}], "result_info": {"per_page": 25}}`))
	if err != nil || len(rows) != 1 || rows[0].State != "provisioning" {
		t.Fatalf("paged rows = %+v, %v", rows, err)
	}
	if _, err := ParseInstances([]byte(`{"error": "Not found"}`)); err == nil || !strings.Contains(err.Error(), "Not found") {
		t.Fatalf("error object: %v", err)
	}
	if _, err := ParseInstances([]byte(`garbage`)); err == nil {
		t.Fatal("garbage parsed")
	}
}

func TestParseContainersInfo(t *testing.T) {
	tests := []struct {
		name, out, want, wantErr string
	}{
		{"named", `{"id": "a1", "configuration": {"image": "x", "instance_type": "standard-1"}}`, "standard-1", ""},
		{"custom", `{"id": "a1", "configuration": {"image": "x", "vcpu": 2, "memory_mib": 6144, "disk": {"size_mb": 12000}}}`, "custom:vcpu=2,memory=6144MiB,disk=12000MB", ""},
		{"none", `{"id": "a1", "configuration": {"image": "x"}}`, "", ""},
		{"error", `{"error": "not found"}`, "", "wrangler containers info: not found"},
		{"not JSON", `Container: ...`, "", "parsing wrangler containers info --json output"},
		{"out of bounds", `{"configuration": {"vcpu": 8, "memory_mib": 12288}}`, "", "the application's custom instance type: vcpu 8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseContainersInfo([]byte(tt.out))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || (got.Name != "") != (tt.want != "") || (tt.want != "" && got.Spec() != tt.want) {
				t.Fatalf("got %q, %v; want %q", got.Spec(), err, tt.want)
			}
		})
	}
}
