package sandbox_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/org/lean4-cf-action/internal/sandbox"
	"github.com/org/lean4-cf-action/internal/sandbox/edge"
)

func workerd(t *testing.T) string {
	wd, _ := os.Getwd()
	root := edge.FindRoot(wd)
	if root == "" {
		t.Fatal("no worker/node_modules/workerd above the test: run `make toolchain`")
	}
	return edge.WorkerdPath(root)
}

// Start brings up everything Env names; Close takes it all down and removes its folder.
func TestStartEnvClose(t *testing.T) {
	sb, err := sandbox.Start(context.Background(), sandbox.Options{Workerd: workerd(t)})
	if err != nil {
		t.Fatal(err)
	}
	env := sb.Env()
	for _, tc := range []struct {
		key   string
		check func(v string) bool
	}{
		{"CLOUDFLARE_API_BASE_URL", func(v string) bool { return strings.HasSuffix(v, "/client/v4") }},
		{"CLOUDFLARE_API_TOKEN", func(v string) bool { return v != "" }},
		{"CLOUDFLARE_ACCOUNT_ID", func(v string) bool { return len(v) == 32 }},
		{"CLOUDFLARE_CONTAINER_REGISTRY", func(v string) bool { return strings.HasPrefix(v, "127.0.0.1:") }},
		{"LEAN4CF_RESOLVE", func(v string) bool { return strings.HasPrefix(v, "*.") && strings.Contains(v, ":443:127.0.0.1:") }},
		{"SSL_CERT_FILE", func(v string) bool {
			b, err := os.ReadFile(v)
			return err == nil && bytes.Count(b, []byte("BEGIN CERTIFICATE")) == 1
		}},
		{"NODE_EXTRA_CA_CERTS", func(v string) bool {
			b, err := os.ReadFile(v)
			return err == nil && bytes.Count(b, []byte("BEGIN CERTIFICATE")) == 2
		}},
		{"LEAN4CF_SOURCE_IMAGE", func(v string) bool {
			return strings.HasSuffix(v, "/"+sandbox.SourceRepository+":"+sandbox.DefaultSourceTag)
		}},
	} {
		if v, ok := env[tc.key]; !ok || !tc.check(v) {
			t.Errorf("%s = %q", tc.key, v)
		}
	}
	if len(env) != 8 {
		t.Errorf("Env has %d variables, want the 8 checked: %v", len(env), env)
	}
	ref, err := name.ParseReference(env["LEAN4CF_SOURCE_IMAGE"])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Head(ref); err != nil {
		t.Errorf("the source image is not served: %v", err)
	}
	dir := filepath.Dir(env["NODE_EXTRA_CA_CERTS"])
	if err := sb.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := http.Get(env["CLOUDFLARE_API_BASE_URL"] + "/user"); err == nil {
		t.Error("the API still answers after Close")
	}
	if _, err := remote.Head(ref); err == nil {
		t.Error("the source registry still answers after Close")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the sandbox folder %s remains: %v", dir, err)
	}
}

func TestStartRefusesMissingWorkerd(t *testing.T) {
	for _, wd := range []string{"", filepath.Join(t.TempDir(), "no-workerd")} {
		if sb, err := sandbox.Start(context.Background(), sandbox.Options{Workerd: wd}); err == nil {
			sb.Close()
			t.Errorf("Start with workerd %q succeeded", wd)
		}
	}
}
