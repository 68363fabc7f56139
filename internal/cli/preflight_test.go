package cli

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// preflightRegistry serves one linux/amd64 image (repo "lean") and one arm64-only index (repo "arm").
func preflightRegistry(t *testing.T) (host string) {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host = strings.TrimPrefix(srv.URL, "http://")

	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	var text bytes.Buffer
	for i := 0; text.Len() < 150_000; i++ {
		fmt.Fprintf(&text, "theorem t%d : %d + %d = %d := rfl\n", i, i, i%13, i+i%13)
	}
	body := text.Bytes()[:150_000]
	tw.WriteHeader(&tar.Header{Name: "app/Main.lean", Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
	tw.Write(body)
	tw.Close()
	var gb bytes.Buffer
	gw := gzip.NewWriter(&gb)
	gw.Write(tb.Bytes())
	gw.Close()

	mk := func(p v1.Platform) v1.Image {
		img, err := mutate.AppendLayers(empty.Image, static.NewLayer(gb.Bytes(), types.DockerLayer))
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := img.ConfigFile()
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = p.OS, p.Architecture
		img, err = mutate.ConfigFile(img, cf)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	ref, _ := name.ParseReference(host + "/lean:v1")
	if err := remote.Write(ref, mk(v1.Platform{OS: "linux", Architecture: "amd64"})); err != nil {
		t.Fatal(err)
	}
	arm := v1.Platform{OS: "linux", Architecture: "arm64"}
	idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: mk(arm), Descriptor: v1.Descriptor{Platform: &arm}})
	aref, _ := name.ParseReference(host + "/arm:v1")
	if err := remote.WriteIndex(aref, idx); err != nil {
		t.Fatal(err)
	}
	return host
}

func TestPreflightTable(t *testing.T) {
	host := preflightRegistry(t)
	code, out, errOut := runCLI(t, nil, "preflight", "--image", host+"/lean:v1")
	if code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	for _, want := range []string{"platform       linux/amd64", "sizeMethod", "TYPE", "standard-1 *", "lite ", "memory: needs 1280 MiB (256 MiB + 4 × 256MiB), has 256 MiB",
		"estimate: 1 gzip-trailer", "* instance type standard-1: fits", "0.0740"} {
		if want == "sizeMethod" {
			continue
		}
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if errOut != "" {
		t.Errorf("stderr %q", errOut)
	}

	code, out, errOut = runCLI(t, nil, "preflight", "--image", host+"/lean:v1", "--exact", "--instance-type", "basic", "--concurrency", "2", "--memory-per-run", "384MiB")
	if code != 0 || !strings.Contains(out, "basic *") || !strings.Contains(out, "content ") || !strings.Contains(out, "exact: every layer streamed") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	if !strings.Contains(errOut, "preflight: streamed") || !strings.Contains(errOut, "(1 of 1 layers)") {
		t.Fatalf("no progress on stderr: %q", errOut)
	}
}

func TestPreflightJSON(t *testing.T) {
	host := preflightRegistry(t)
	for _, tc := range []struct {
		name  string
		args  []string
		code  int
		keys  string
		check func(t *testing.T, m map[string]any)
	}{
		{name: "fast", args: []string{"--json"}, code: 0,
			keys: "compressedBytes digest fits image instanceType instanceTypes layers platform recommendedInstanceType requiredDiskBytes sizeMethod uncompressedBytes",
			check: func(t *testing.T, m map[string]any) {
				if m["sizeMethod"] != "estimate" || m["instanceType"] != "standard-1" || m["fits"] != true || m["platform"] != "linux/amd64" {
					t.Fatalf("%v", m)
				}
			}},
		{name: "exact", args: []string{"--json", "--exact"}, code: 0,
			keys: "compressedBytes contentBytes digest fits image instanceType instanceTypes layers platform recommendedInstanceType requiredDiskBytes sizeMethod uncompressedBytes",
			check: func(t *testing.T, m map[string]any) {
				if m["sizeMethod"] != "exact" || m["contentBytes"].(float64) != 150000 {
					t.Fatalf("%v", m)
				}
			}},
		{name: "does not fit", args: []string{"--json", "--instance-type", "dev"}, code: 1,
			keys: "compressedBytes digest fits image instanceType instanceTypes layers platform recommendedInstanceType requiredDiskBytes sizeMethod uncompressedBytes",
			check: func(t *testing.T, m map[string]any) {
				if m["instanceType"] != "lite" || m["fits"] != false || m["recommendedInstanceType"] != "standard-1" {
					t.Fatalf("%v", m)
				}
				types := m["instanceTypes"].([]any)
				lite := types[0].(map[string]any)
				if len(types) != 6 || lite["name"] != "lite" || len(lite["reasons"].([]any)) != 1 || lite["usdPerHour"].(float64) <= 0 {
					t.Fatalf("%v", types)
				}
				var keys []string
				for k := range lite {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				if strings.Join(keys, " ") != "diskMB fits memoryMiB name reasons usdPerHour vcpu" {
					t.Fatalf("row keys %v", keys)
				}
			}},
		{name: "nothing fits", args: []string{"--json", "--concurrency", "100"}, code: 1,
			keys: "compressedBytes digest fits image instanceType instanceTypes layers platform recommendedInstanceType requiredDiskBytes sizeMethod uncompressedBytes",
			check: func(t *testing.T, m map[string]any) {
				if m["recommendedInstanceType"] != nil || m["instanceType"] != "standard-4" {
					t.Fatalf("%v", m)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, nil, append([]string{"preflight", "--image", host + "/lean:v1"}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, tc.code, errOut)
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(out), &m); err != nil {
				t.Fatalf("stdout is not one JSON object: %v\n%s", err, out)
			}
			var keys []string
			for k := range m {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			if strings.Join(keys, " ") != tc.keys {
				t.Fatalf("keys %v, want %s", keys, tc.keys)
			}
			tc.check(t, m)
			if tc.code == 0 && errOut != "" {
				t.Fatalf("stderr not silent: %q", errOut)
			}
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			if tc.code != 0 && !strings.Contains(lines[len(lines)-1], "does not fit") {
				t.Fatalf("stderr %q", errOut)
			}
			if tc.name == "does not fit" && !strings.Contains(errOut, `lean4-cf: warning: instance type "dev" is deprecated and means "lite"`) {
				t.Fatalf("no deprecation warning: %q", errOut)
			}
		})
	}
}

func TestPreflightFailures(t *testing.T) {
	host := preflightRegistry(t)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown instance type", []string{"--instance-type", "standard-9"}, ExitUsage, `unknown instance type "standard-9"`},
		{"size without a unit", []string{"--memory-per-run", "256"}, ExitUsage, "--memory-per-run: size \"256\" has no unit"},
		{"bad size", []string{"--memory-per-run", "lots"}, ExitUsage, "--memory-per-run"},
		{"no concurrency", []string{"--concurrency", "0"}, ExitUsage, "--concurrency 0"},
		{"malformed reference", []string{"--image", "Not A Ref"}, ExitUsage, `--image "Not A Ref" is not an image reference`},
		{"bad digest", []string{"--image", host + "/lean@sha256:abc"}, ExitUsage, "is not an image reference"},
		{"empty oci dir", []string{"--image", "oci:"}, ExitUsage, "name the OCI layout directory"},
		{"arm64 only", []string{"--image", host + "/arm:v1"}, ExitFailure, "has no linux/amd64 image (it has linux/arm64)"},
		{"missing tag", []string{"--image", host + "/lean:v9"}, ExitFailure, `reading image "` + host + `/lean:v9"`},
		{"unreachable registry", []string{"--image", "127.0.0.1:1/lean:v1"}, ExitFailure, `reading image "127.0.0.1:1/lean:v1"`},
		{"missing archive", []string{"--image", "docker-archive:/nonexistent/x.tar"}, ExitFailure, "reading docker archive"},
		{"extra argument", []string{"extra"}, ExitUsage, "unknown command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, nil, append([]string{"preflight"}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, tc.code, errOut)
			}
			if out != "" {
				t.Fatalf("stdout %q", out)
			}
			if strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "lean4-cf: ") || !strings.Contains(errOut, tc.want) {
				t.Fatalf("stderr is not one line with %q: %q", tc.want, errOut)
			}
		})
	}
}
