package cli

import (
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// testRegistry serves a linux/amd64 image at /lean:v1 and an arm64-only index at /arm:v1.
func testRegistry(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	withArch := func(arch string) v1.Image {
		img, err := random.Image(200_000, 3)
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := img.ConfigFile()
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = "linux", arch
		img, err = mutate.ConfigFile(img, cf)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	lean, _ := name.NewTag(host + "/lean:v1")
	if err := remote.Write(lean, withArch("amd64")); err != nil {
		t.Fatal(err)
	}
	arm, _ := name.NewTag(host + "/arm:v1")
	idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: withArch("arm64"), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	if err := remote.WriteIndex(arm, idx); err != nil {
		t.Fatal(err)
	}
	return host
}

func TestPreflightJSON(t *testing.T) {
	host := testRegistry(t)
	wantKeys := []string{"compressedBytes", "customType", "digest", "fits", "image", "instanceType", "instanceTypes", "layers", "platform",
		"recommendedInstanceType", "requiredDiskBytes", "sizeMethod", "uncompressedBytes", "concurrentEvaluations", "capacity"}
	for _, exact := range []bool{false, true} {
		t.Run(map[bool]string{false: "fast", true: "exact"}[exact], func(t *testing.T) {
			args := []string{"preflight", "--image", host + "/lean:v1", "--json"}
			keys := slices.Clone(wantKeys)
			if exact {
				args = append(args, "--exact")
				keys = append(keys, "contentBytes")
			}
			code, out, errOut := runCLI(t, nil, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if errOut != "" {
				t.Fatalf("--json must keep stderr quiet, got %q", errOut)
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(out), &m); err != nil {
				t.Fatal(err)
			}
			var got []string
			for k := range m {
				got = append(got, k)
			}
			slices.Sort(got)
			slices.Sort(keys)
			if !slices.Equal(got, keys) {
				t.Fatalf("keys = %v, want %v", got, keys)
			}
			if m["recommendedInstanceType"] != "standard-1" || m["instanceType"] != "standard-1" || m["fits"] != true || m["layers"] != float64(3) || m["platform"] != "linux/amd64" {
				t.Fatalf("object = %v", m)
			}
			types := m["instanceTypes"].([]any)
			if len(types) != 6 {
				t.Fatalf("instanceTypes has %d entries", len(types))
			}
			lite := types[0].(map[string]any)
			for _, k := range []string{"name", "vcpu", "memoryMiB", "diskMB", "fits", "reasons", "usdPerHour"} {
				if _, ok := lite[k]; !ok {
					t.Errorf("instance type entry lacks %q: %v", k, lite)
				}
			}
			if lite["fits"] != false || !strings.Contains(lite["reasons"].([]any)[0].(string), "memory") {
				t.Fatalf("lite = %v", lite)
			}
			// The cheapest custom configuration: 1 vCPU, the 3 GiB floor, 2 GB disk for this small image;
			// against standard-1 it saves idle and costs more with its (double) vCPU busy.
			c := m["customType"].(map[string]any)
			if c["spec"] != "custom:vcpu=1,memory=3072MiB,disk=2000MB" || c["fits"] != true || c["comparedWith"] != "standard-1" ||
				c["usdPerHour"] != 0.0995 || c["idleUsdPerHour"] != 0.0275 || c["savingUsdPerHour"] != -0.0255 || c["savingIdleUsdPerHour"] != 0.0105 {
				t.Fatalf("customType = %v", c)
			}
		})
	}
}

func TestPreflightTextAndFailures(t *testing.T) {
	host := testRegistry(t)
	code, out, errOut := runCLI(t, nil, "preflight", "--image", host+"/lean:v1", "--exact")
	if code != 0 || !strings.Contains(out, "recommended: standard-1") || !strings.Contains(out, "*standard-1") || !strings.Contains(errOut, "streaming 3 layers") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	t.Logf("preflight:\n%s", out)
	for _, want := range []string{
		"\n custom      1       3072 MiB   2 GB   yes   0.0995",
		"\ncustom:      --instance-type custom:vcpu=1,memory=3072MiB,disk=2000MB (or custom) at $0.0995/hour awake, $0.0275 idle\n",
		"\n             against standard-1: costs $0.0255/hour more awake, saves $0.0105/hour (28 %) idle\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("preflight output lacks %q", want)
		}
	}
	// An explicit configuration is marked, beside the cheapest.
	if code, out, _ := runCLI(t, nil, "preflight", "--image", host+"/lean:v1", "--instance-type", "custom:vcpu=2,memory=6GiB,disk=3.5GB"); code != 0 ||
		!strings.Contains(out, "\n custom      1 ") || !strings.Contains(out, "\n*custom      2       6144 MiB   3.5 GB") {
		t.Errorf("explicit custom: exit %d\n%s", code, out)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"named type too small", []string{"--image", host + "/lean:v1", "--instance-type", "basic"}, 1, "does not fit basic (memory: needs 1280 MiB, has 1024 MiB): choose --instance-type standard-1 or auto"},
		{"a light workload fits basic", []string{"--image", host + "/lean:v1", "--instance-type", "basic", "--concurrency", "1", "--memory-per-run", "512MiB", "--json"}, 0, ""},
		{"nothing fits", []string{"--image", host + "/lean:v1", "--concurrency", "64", "--memory-per-run", "1GiB"}, 1, "fits no instance type"},
		{"arm64 only", []string{"--image", host + "/arm:v1"}, 1, "has no linux/amd64 image (it has linux/arm64)"},
		{"unreachable", []string{"--image", "127.0.0.1:1/lean:v1"}, 1, "127.0.0.1:1/lean:v1"},
		{"malformed reference", []string{"--image", "not a ref"}, 2, "is not a reference"},
		{"unknown type", []string{"--instance-type", "mega"}, 2, "unknown instance type \"mega\""},
		{"custom fits", []string{"--image", host + "/lean:v1", "--instance-type", "custom", "--json"}, 0, ""},
		{"explicit custom fits", []string{"--image", host + "/lean:v1", "--instance-type", "custom:vcpu=2,memory=6GiB,disk=3GB"}, 0, ""},
		{"custom over the memory limit", []string{"--image", host + "/lean:v1", "--instance-type", "custom", "--concurrency", "64", "--memory-per-run", "1GiB"}, 1, "fits no custom configuration (memory: needs 65792 MiB, has 12288 MiB (the most a custom type may have))"},
		{"explicit custom out of bounds", []string{"--instance-type", "custom:vcpu=8,memory=24GiB,disk=8GB"}, 2, "--instance-type: custom instance type: vcpu 8 is outside the maximum of 4 vCPU"},
		{"explicit custom does not fit", []string{"--image", host + "/lean:v1", "--instance-type", "custom:vcpu=1,memory=3GiB,disk=2GB", "--concurrency", "12"}, 2, "--instance-type custom:vcpu=1,memory=3GiB,disk=2GB does not fit image " + host + "/lean:v1: memory: needs 3328 MiB, has 3072 MiB; give more, or use custom for the cheapest that fits (custom:vcpu=1,memory=3328MiB,disk=2000MB)"},
		{"bad size", []string{"--memory-per-run", "lots"}, 2, "--memory-per-run"},
		{"bad concurrency", []string{"--concurrency", "0"}, 2, "--concurrency 0 is out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, nil, append([]string{"preflight"}, tt.args...)...)
			last := strings.TrimSpace(errOut)
			if i := strings.LastIndex(last, "\n"); i >= 0 {
				last = last[i+1:]
			}
			if tt.code == 0 {
				if code != 0 {
					t.Fatalf("exit %d: %s", code, errOut)
				}
				return
			}
			if code != tt.code || !strings.Contains(last, tt.want) || !strings.HasPrefix(last, "lean4-cf: ") {
				t.Fatalf("exit %d, last stderr line %q; want exit %d and %q", code, last, tt.code, tt.want)
			}
		})
	}
}
