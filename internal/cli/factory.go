package cli

import (
	"net/http"
	"os"

	"github.com/org/lean4-cf-action/internal/retry"
	"github.com/org/lean4-cf-action/internal/verify"
)

// Factory is what every command is built from (cli/cli's cmdutil.Factory): the process's streams and
// environment, and constructors for the clients a command may need. The constructors run only when a
// command calls them, so a missing credential or wrangler never fails a command that does not use them
// (version, render, preflight). Tests replace any field.
type Factory struct {
	Env // streams, Getenv, Environ and the clock

	// Retry is the policy wrangler runs are repeated with. Default (zero): wrangler.DefaultRetry.
	Retry retry.Policy

	// Cloud returns the Cloudflare API client, the wrangler runner and the account, from the
	// environment's credentials; wranglerFlag is --wrangler. Default: newCloud.
	Cloud func(wranglerFlag string) (*cloud, error)
	// APICloud is Cloud without wrangler (so without Node.js), for commands that only read the API.
	// Default: newAPICloud.
	APICloud func() (*cloud, error)
	// VerifyClient returns the HTTP client of the verification probes: rules first, then LEAN4CF_RESOLVE's;
	// roots from SSL_CERT_FILE/SSL_CERT_DIR. Default: newVerifyClient.
	VerifyClient func(rules []verify.ResolveRule) (*http.Client, error)
}

// NewFactory returns the Factory of a process with env. An unset Getenv reads nothing; an unset Environ
// is the process environment (the base of wrangler's).
func NewFactory(env Env) *Factory {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	if env.Environ == nil {
		env.Environ = os.Environ
	}
	f := &Factory{Env: env}
	f.Cloud = func(wranglerFlag string) (*cloud, error) {
		c, err := newCloud(f.Env, wranglerFlag)
		if err == nil {
			c.wr.Retry = f.Retry
		}
		return c, err
	}
	f.APICloud = func() (*cloud, error) { return newAPICloud(f.Env) }
	f.VerifyClient = func(rules []verify.ResolveRule) (*http.Client, error) { return newVerifyClient(f.Env, rules) }
	return f
}

// with returns a copy of f that runs with env instead (the Action's environment, the sandbox's); its
// constructors read the new environment.
func (f *Factory) with(env Env) *Factory {
	g := NewFactory(env)
	g.Retry = f.Retry
	return g
}

// newVerifyClient is the default Factory.VerifyClient.
func newVerifyClient(env Env, rules []verify.ResolveRule) (*http.Client, error) {
	envRules, err := verify.ParseResolveRules([]string{env.Getenv("LEAN4CF_RESOLVE")})
	if err != nil {
		return nil, usagef("LEAN4CF_RESOLVE: %v", err)
	}
	vopts := verify.ClientOptions{Resolve: append(append([]verify.ResolveRule(nil), rules...), envRules...)} // the flags' rules match first
	vopts.TrustFromEnv(env.Getenv)
	client, err := verify.NewClient(vopts)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return client, nil
}
