package cli

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"unicode"

	gname "github.com/google/go-containerregistry/pkg/name"

	"github.com/org/lean4-cf-action/internal/cloudflare"
	"github.com/org/lean4-cf-action/internal/wrangler"
)

// apiAccount is the API client as the pipeline's Account.
type apiAccount struct{ *cloudflare.Client }

// HasContainers reports whether the version binds the class that runs the Lean server's container.
func (a apiAccount) HasContainers(ctx context.Context, name, version string) (bool, error) {
	return a.VersionBindsClass(ctx, name, version, wrangler.ClassName)
}

// cloud is what the account commands share: the API client, the wrangler runner, and the account.
type cloud struct {
	api     *cloudflare.Client
	wr      wrangler.Runner
	account string
}

// newCloud reads the credentials from the environment only (never from flags) and finds wrangler.
// A missing credential or wrangler is a usage error: nothing has been contacted yet.
func newCloud(env Env, wranglerFlag string) (*cloud, error) {
	c, err := newAPICloud(env)
	if err != nil {
		return nil, err
	}
	tool, err := wrangler.Locate(wrangler.LocateOptions{Flag: wranglerFlag, Getenv: env.Getenv})
	if err != nil && wranglerFlag != "" { // the flag's (or the Action input's) wrangler is unusable
		return nil, flagErrorf("wrangler", ": %v", err)
	}
	if err != nil {
		return nil, usagef("%v", err)
	}
	if w := tool.Warning(); w != "" {
		fmt.Fprintln(env.Stderr, w)
	}
	c.wr = wrangler.Runner{Tool: tool, Env: environ(env), AccountID: c.account, Clock: env.Clock}
	return c, nil
}

// newAPICloud is newCloud for the commands that only read the API (status): no wrangler, so no Node.js,
// is needed to run them.
func newAPICloud(env Env) (*cloud, error) {
	token, account := env.Getenv("CLOUDFLARE_API_TOKEN"), env.Getenv("CLOUDFLARE_ACCOUNT_ID")
	if strings.TrimSpace(token) == "" {
		return nil, usagef("CLOUDFLARE_API_TOKEN is not set: export a token with Workers Scripts edit and Containers write (never pass it as a flag)")
	}
	if err := checkSecret("CLOUDFLARE_API_TOKEN", token); err != nil {
		return nil, err
	}
	if account == "" {
		return nil, usagef("CLOUDFLARE_ACCOUNT_ID is not set: export your account id (the 32 hex digits in the dashboard's Workers overview)")
	}
	if !isHex32(account) {
		return nil, usagef("CLOUDFLARE_ACCOUNT_ID %q is not an account id: set it to the 32 hex digits in the dashboard's Workers overview", account)
	}
	if base := env.Getenv("CLOUDFLARE_API_BASE_URL"); base != "" {
		if u, err := url.Parse(base); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, usagef("CLOUDFLARE_API_BASE_URL %q is not an http(s) URL: unset it for Cloudflare's API, or set it like https://api.cloudflare.com/client/v4", base)
		}
	}
	if reg := env.Getenv("CLOUDFLARE_CONTAINER_REGISTRY"); reg != "" {
		if _, err := gname.NewRegistry(reg, gname.StrictValidation); err != nil || strings.ContainsAny(reg, "/ ") {
			return nil, usagef("CLOUDFLARE_CONTAINER_REGISTRY %q is not a registry host: set it to a host[:port] like registry.cloudflare.com (no scheme or path), or unset it", reg)
		}
	}
	api, err := cloudflare.New(cloudflare.Options{Token: token, AccountID: account, BaseURL: env.Getenv("CLOUDFLARE_API_BASE_URL")})
	if err != nil {
		return nil, usagef("%v", err)
	}
	return &cloud{api: api, account: account}, nil
}

// environ is the process environment for child processes, read through env.Getenv for the keys that
// matter so tests can inject them.
func environ(env Env) []string {
	base := os.Environ()
	if env.Environ != nil {
		base = env.Environ()
	}
	out := make([]string, 0, len(base))
	seen := map[string]bool{}
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		seen[k] = true
		if v := env.Getenv(k); v != "" {
			out = append(out, k+"="+v)
		}
	}
	for _, k := range []string{"CLOUDFLARE_API_TOKEN", "CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_API_BASE_URL", "CLOUDFLARE_CONTAINER_REGISTRY",
		"SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS", "HOME", "PATH", "LEAN4CF_NODE"} {
		if v := env.Getenv(k); v != "" && !seen[k] {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// checkSecret refuses a secret from the environment that holds spaces, line breaks or other control
// characters (a token read from a file keeps its trailing newline): it cannot go in an HTTP header, and
// sending it fails late, far from the cause. The value is never shown.
func checkSecret(name, value string) error {
	if strings.IndexFunc(value, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return usagef("%s holds spaces or line breaks: set it to the secret alone (strip the newline a file or echo adds)", name)
	}
	return nil
}

// leanAPIKey is LEAN_API_KEY, the Worker's API key that verification sends, checked where it is read.
func leanAPIKey(env Env) (string, error) {
	key := env.Getenv("LEAN_API_KEY")
	return key, checkSecret("LEAN_API_KEY", key)
}

func isHex32(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}
