// Package cloudflare reads and changes account state through Cloudflare's v4 API with cloudflare-go:
// token verification, a Worker's live version, deleting a Worker, and managed-registry credentials.
// wrangler does the deploys; this package does what lean4-cf needs around them.
package cloudflare

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	cf "github.com/cloudflare/cloudflare-go/v6"
	"github.com/cloudflare/cloudflare-go/v6/accounts"
	"github.com/cloudflare/cloudflare-go/v6/option"
	"github.com/cloudflare/cloudflare-go/v6/user"
	"github.com/cloudflare/cloudflare-go/v6/workers"
)

// DefaultBaseURL is Cloudflare's API; CLOUDFLARE_API_BASE_URL replaces it, as it does for wrangler.
const DefaultBaseURL = "https://api.cloudflare.com/client/v4"

// Options configures a Client.
type Options struct {
	Token     string // CLOUDFLARE_API_TOKEN; required
	AccountID string // CLOUDFLARE_ACCOUNT_ID; required
	// BaseURL is the API root. Default DefaultBaseURL.
	BaseURL string
	// HTTPClient carries the requests. Default: a client with a 60 s timeout.
	HTTPClient *http.Client
	// MaxRetries for 429/5xx and connection errors (cloudflare-go's own backoff). Default 3; negative
	// means none.
	MaxRetries int
}

// Client is a thin facade over cloudflare-go for the calls lean4-cf makes itself.
type Client struct {
	api     *cf.Client
	account string
	base    string // the API root, named when it cannot be reached
}

// New returns a Client. It reads nothing from the process environment.
func New(opts Options) (*Client, error) {
	if opts.Token == "" {
		return nil, errors.New("CLOUDFLARE_API_TOKEN is not set: create a token with Workers Scripts edit and Containers write")
	}
	if opts.AccountID == "" {
		return nil, errors.New("CLOUDFLARE_ACCOUNT_ID is not set: copy it from the Cloudflare dashboard's Workers overview")
	}
	if opts.BaseURL == "" {
		opts.BaseURL = DefaultBaseURL
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 60 * time.Second}
	}
	switch {
	case opts.MaxRetries == 0:
		opts.MaxRetries = 3
	case opts.MaxRetries < 0:
		opts.MaxRetries = 0
	}
	api := cf.NewClient(
		option.WithBaseURL(strings.TrimSuffix(opts.BaseURL, "/")+"/"),
		option.WithAPIToken(opts.Token),
		option.WithHTTPClient(opts.HTTPClient),
		option.WithMaxRetries(opts.MaxRetries),
		option.WithHeader("User-Agent", "lean4-cf"),
	)
	base := opts.BaseURL
	if u, err := url.Parse(base); err == nil {
		base = u.Redacted() // a password in the URL is never printed
	}
	return &Client{api: api, account: opts.AccountID, base: base}, nil
}

// VerifyToken checks that the token is valid and active (account-owned tokens verify under the account,
// user tokens under /user; either passing is enough), and that it may use Containers on the account, so
// that a token missing that scope is refused before anything is deployed.
func (c *Client) VerifyToken(ctx context.Context) error {
	res, err := c.api.Accounts.Tokens.Verify(ctx, accounts.TokenVerifyParams{AccountID: cf.F(c.account)})
	if err == nil && res.Status == accounts.TokenVerifyResponseStatusActive {
		return c.checkContainers(ctx)
	}
	ures, uerr := c.api.User.Tokens.Verify(ctx)
	if uerr == nil && ures.Status == user.TokenVerifyResponseStatusActive {
		return c.checkContainers(ctx)
	}
	const renew = "create an active token (Workers Scripts edit, Containers write) and set CLOUDFLARE_API_TOKEN to it"
	switch {
	case uerr == nil:
		return fmt.Errorf("verifying the API token: it is %s, not active: %s", ures.Status, renew)
	case err == nil:
		return fmt.Errorf("verifying the API token: it is %s, not active: %s", res.Status, renew)
	}
	e := c.explainDenied(uerr)
	if ae := (*APIError)(nil); !errors.As(e, &ae) && ctx.Err() == nil {
		// No answer at all (refused, reset, DNS, TLS): the token is not the thing to check.
		return fmt.Errorf("verifying the API token: %w: check the network, and CLOUDFLARE_API_BASE_URL (the API is %s)", e, c.base)
	}
	return fmt.Errorf("verifying the API token: %w", e)
}

// checkContainers reads the account's Containers limits: a token without Containers access is refused here.
func (c *Client) checkContainers(ctx context.Context) error {
	var env struct {
		Result map[string]any `json:"result"`
	}
	if err := c.api.Get(ctx, fmt.Sprintf("accounts/%s/containers/me", c.account), nil, &env); err != nil {
		e := Explain(err)
		if !isDenied(e) {
			return fmt.Errorf("reading the account's Containers limits: %w", e)
		}
		// Refused: a token without Containers access, or an account the token does not reach at all.
		// A Workers read on the same account tells them apart (a missing subdomain still answers 404).
		if _, serr := c.api.Workers.Subdomains.Get(ctx, workers.SubdomainGetParams{AccountID: cf.F(c.account)}); serr != nil && isDenied(Explain(serr)) {
			return fmt.Errorf("the API token cannot use account %s (%v): check CLOUDFLARE_ACCOUNT_ID, and that the token has Workers Scripts edit and Containers write on that account", c.account, e)
		}
		return fmt.Errorf("the API token cannot use Containers on account %s (%v): add the Containers write permission to the token", c.account, e)
	}
	return nil
}

// isDenied reports an API error that refuses the credentials (401 or 403).
func isDenied(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && (ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden)
}

// explainDenied explains err and, when the API refused the credentials, says which ones to check.
func (c *Client) explainDenied(err error) error {
	e := Explain(err)
	if isDenied(e) {
		return fmt.Errorf("%w: check CLOUDFLARE_API_TOKEN (valid, with Workers Scripts edit) and CLOUDFLARE_ACCOUNT_ID (%s)", e, c.account)
	}
	return e
}

// Worker returns the version serving the Worker now (the newest deployment's main version) and whether
// the Worker exists.
func (c *Client) Worker(ctx context.Context, name string) (string, bool, error) {
	res, err := c.api.Workers.Scripts.Deployments.List(ctx, name, workers.ScriptDeploymentListParams{AccountID: cf.F(c.account)})
	if err != nil {
		if IsNotFound(err) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("reading Worker %q deployments: %w", name, c.explainDenied(err))
	}
	if len(res.Deployments) == 0 {
		return "", true, nil
	}
	var best workers.DeploymentVersion
	for _, v := range res.Deployments[0].Versions {
		if v.Percentage > best.Percentage {
			best = v
		}
	}
	return best.VersionID, true, nil
}

// HasVersion reports whether the Worker has a version with this id.
func (c *Client) HasVersion(ctx context.Context, name, id string) (bool, error) {
	if _, err := c.api.Workers.Scripts.Versions.Get(ctx, name, id, workers.ScriptVersionGetParams{AccountID: cf.F(c.account)}); err != nil {
		if IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("reading version %s of Worker %q: %w", id, name, c.explainDenied(err))
	}
	return true, nil
}

// VersionBindsClass reports whether a version of the Worker binds the Durable Object class: a container
// Worker's versions bind their container class (a durable_object_namespace binding), a stub's bind none.
func (c *Client) VersionBindsClass(ctx context.Context, name, version, class string) (bool, error) {
	v, err := c.api.Workers.Scripts.Versions.Get(ctx, name, version, workers.ScriptVersionGetParams{AccountID: cf.F(c.account)})
	if err != nil {
		return false, fmt.Errorf("reading version %s of Worker %q: %w", version, name, c.explainDenied(err))
	}
	for _, b := range v.Resources.Bindings {
		if b.Type == workers.ScriptVersionGetResponseResourcesBindingsTypeDurableObjectNamespace && b.ClassName == class {
			return true, nil
		}
	}
	return false, nil
}

// DeleteWorker deletes a Worker and what is bound only to it. A Worker that is already gone is not an error.
func (c *Client) DeleteWorker(ctx context.Context, name string) error {
	_, err := c.api.Workers.Scripts.Delete(ctx, name, workers.ScriptDeleteParams{AccountID: cf.F(c.account), Force: cf.F(true)})
	if err != nil && !IsNotFound(err) {
		return fmt.Errorf("deleting Worker %q: %w", name, Explain(err))
	}
	return nil
}

// EnsureRollout creates the rollout a container application's latest version is missing, and reports
// whether it had to. That happens when a deploy changed the application (PATCH) but its rollout POST
// failed: another `wrangler deploy` then sees "no changes" and creates none, and the instances keep the
// old image for good. The rollout is the one wrangler sends: rolling, full_auto, 100 % in one step.
func (c *Client) EnsureRollout(ctx context.Context, appID string) (bool, error) {
	base := fmt.Sprintf("accounts/%s/containers/applications/%s", c.account, appID)
	var app struct {
		Result struct {
			Version       int            `json:"version"`
			Configuration map[string]any `json:"configuration"`
		} `json:"result"`
	}
	if err := c.api.Get(ctx, base, nil, &app); err != nil {
		return false, fmt.Errorf("reading container application %s: %w", appID, Explain(err))
	}
	var ros struct {
		Result []struct {
			TargetVersion int `json:"target_version"`
		} `json:"result"`
	}
	if err := c.api.Get(ctx, base+"/rollouts", nil, &ros); err != nil {
		return false, fmt.Errorf("reading the rollouts of container application %s: %w", appID, Explain(err))
	}
	covered := 1 // version 1 is the application as created, deployed without a rollout
	for _, ro := range ros.Result {
		covered = max(covered, ro.TargetVersion)
	}
	if app.Result.Version <= covered {
		return false, nil
	}
	target := map[string]any{}
	for _, k := range []string{"image", "instance_type", "vcpu", "memory_mib", "disk"} {
		if v, ok := app.Result.Configuration[k]; ok {
			target[k] = v
		}
	}
	body := map[string]any{
		"description": fmt.Sprintf("lean4-cf: roll out version %d (its deploy's rollout failed)", app.Result.Version),
		"strategy":    "rolling", "kind": "full_auto", "step_percentage": 100, "target_configuration": target,
	}
	if err := c.api.Post(ctx, base+"/rollouts", body, nil); err != nil {
		return false, fmt.Errorf("rolling out version %d of container application %s: %w", app.Result.Version, appID, Explain(err))
	}
	return true, nil
}

// Credentials are push/pull credentials for the managed registry.
type Credentials struct {
	Registry string    `json:"registry_host"`
	Username string    `json:"username"`
	Password string    `json:"password"`
	Expires  time.Time `json:"-"`
}

// RegistryCredentials asks for registry credentials valid for the given time (wrangler asks for 15 minutes).
func (c *Client) RegistryCredentials(ctx context.Context, registry string, valid time.Duration) (Credentials, error) {
	var env struct {
		Result Credentials `json:"result"`
	}
	minutes := int(valid.Minutes())
	if minutes < 1 {
		minutes = 15
	}
	start := time.Now()
	path := fmt.Sprintf("accounts/%s/containers/registries/%s/credentials", c.account, registry)
	body := map[string]any{"expiration_minutes": minutes, "permissions": []string{"push", "pull"}}
	if err := c.api.Post(ctx, path, body, &env); err != nil {
		return Credentials{}, fmt.Errorf("getting credentials for registry %s: %w", registry, Explain(err))
	}
	cr := env.Result
	if cr.Password == "" {
		return Credentials{}, fmt.Errorf("getting credentials for registry %s: the answer has no password", registry)
	}
	if cr.Registry == "" {
		cr.Registry = registry
	}
	cr.Expires = start.Add(time.Duration(minutes) * time.Minute)
	return cr, nil
}

// APIError is a Cloudflare v4 error reduced to what a user can act on.
type APIError struct {
	Status  int
	Code    int64
	Message string
}

func (e *APIError) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("Cloudflare API %d: %s [code %d]", e.Status, e.Message, e.Code)
	}
	return fmt.Sprintf("Cloudflare API %d: %s", e.Status, e.Message)
}

// Explain turns a cloudflare-go error into an *APIError with the first v4 error, leaving other errors as they are.
func Explain(err error) error {
	var ae *cf.Error
	if !errors.As(err, &ae) {
		return err
	}
	out := &APIError{Status: ae.StatusCode, Message: http.StatusText(ae.StatusCode)}
	if len(ae.Errors) > 0 {
		out.Code, out.Message = ae.Errors[0].Code, ae.Errors[0].Message
	}
	return out
}

// IsNotFound reports a 404 or Cloudflare's "does not exist" codes (10007, 10090).
func IsNotFound(err error) bool {
	var ae *cf.Error
	if !errors.As(err, &ae) {
		var e *APIError
		return errors.As(err, &e) && (e.Status == http.StatusNotFound || e.Code == 10007 || e.Code == 10090)
	}
	if ae.StatusCode == http.StatusNotFound {
		return true
	}
	for _, d := range ae.Errors {
		if d.Code == 10007 || d.Code == 10090 {
			return true
		}
	}
	return false
}

// WorkersDevURL returns https://<name>.<account subdomain>.workers.dev. An account without a workers.dev
// subdomain is an error that says where to register one.
func (c *Client) WorkersDevURL(ctx context.Context, name string) (string, error) {
	res, err := c.api.Workers.Subdomains.Get(ctx, workers.SubdomainGetParams{AccountID: cf.F(c.account)})
	if err != nil {
		if IsNotFound(err) {
			return "", fmt.Errorf("the account has no workers.dev subdomain: register one at https://dash.cloudflare.com/%s/workers/onboarding", c.account)
		}
		return "", fmt.Errorf("reading the account's workers.dev subdomain: %w", Explain(err))
	}
	return fmt.Sprintf("https://%s.%s.workers.dev", name, res.Subdomain), nil
}
