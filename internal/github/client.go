package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v75/github"
)

// DefaultAPIURL is GitHub.com's REST API; GitHub Enterprise Server sets GITHUB_API_URL to its own.
const DefaultAPIURL = "https://api.github.com"

// ActionsBot is the login of comments and reactions made with a workflow's GITHUB_TOKEN.
const ActionsBot = "github-actions[bot]"

// ClientOptions configure a Client.
type ClientOptions struct {
	// Repository is owner/name, as in GITHUB_REPOSITORY. Required.
	Repository string
	// Token authenticates every request (the github-token input, by default the workflow's GITHUB_TOKEN). Required.
	Token string
	// APIURL is the REST API root, as in GITHUB_API_URL. Default DefaultAPIURL.
	APIURL string
	// HTTPClient sends the requests. Default: a client with a 30-second timeout per request.
	HTTPClient *http.Client
	// CommentAuthor is the login that owns the sticky comment. Default: the token's own login from
	// GET /user; a token that may not read it (GITHUB_TOKEN, a GitHub App installation token) is taken to
	// be github-actions[bot]. Set it for an App token, whose comments are by <app-slug>[bot].
	CommentAuthor string
}

// Client talks to GitHub's REST API for one repository through go-github.
type Client struct {
	gh          *gh.Client
	owner, repo string

	authorOnce sync.Once
	author     string
	authorErr  error
}

// NewClient returns a Client for opts.Repository. It contacts nothing.
func NewClient(opts ClientOptions) (*Client, error) {
	owner, repo, ok := strings.Cut(opts.Repository, "/")
	if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
		return nil, fmt.Errorf("creating the GitHub client: repository %q is not owner/name (GITHUB_REPOSITORY)", opts.Repository)
	}
	if opts.Token == "" {
		return nil, fmt.Errorf("creating the GitHub client: no token; set the github-token input (default ${{ github.token }})")
	}
	api := opts.APIURL
	if api == "" {
		api = DefaultAPIURL
	}
	base, err := url.Parse(strings.TrimSuffix(api, "/") + "/")
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return nil, fmt.Errorf("creating the GitHub client: API URL %q is not an http(s) URL (GITHUB_API_URL)", api)
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	c := gh.NewClient(hc).WithAuthToken(opts.Token)
	c.BaseURL = base
	c.UserAgent = "lean4-cf"
	return &Client{gh: c, owner: owner, repo: repo, author: opts.CommentAuthor}, nil
}

// commentAuthor returns the login whose comments the sticky comment may be, deriving it once.
func (c *Client) commentAuthor(ctx context.Context) (string, error) {
	c.authorOnce.Do(func() {
		if c.author != "" {
			return
		}
		u, _, err := c.gh.Users.Get(ctx, "")
		var ge *gh.ErrorResponse
		switch {
		case err == nil && u.GetLogin() != "":
			c.author = u.GetLogin()
		case errors.As(err, &ge) && ge.Response != nil && ge.Response.StatusCode == http.StatusForbidden:
			c.author = ActionsBot // an installation token may not read /user
		case err != nil:
			c.authorErr = fmt.Errorf("finding the token's login: %w", err)
		default:
			c.author = ActionsBot
		}
	})
	return c.author, c.authorErr
}

// needs adds the missing workflow permission to a 403 from GitHub: the fix a user can make.
func needs(err error, permission string) error {
	var ge *gh.ErrorResponse
	if errors.As(err, &ge) && ge.Response != nil && ge.Response.StatusCode == http.StatusForbidden {
		return fmt.Errorf("%w (the token lacks a permission: add `%s` to the job's permissions: block)", err, permission)
	}
	return err
}

// RunURL is the workflow run's page, from GITHUB_SERVER_URL, GITHUB_REPOSITORY and GITHUB_RUN_ID; "" outside Actions.
func RunURL(getenv func(string) string) string {
	server, repo, id := getenv("GITHUB_SERVER_URL"), getenv("GITHUB_REPOSITORY"), getenv("GITHUB_RUN_ID")
	if server == "" || repo == "" || id == "" {
		return ""
	}
	return strings.TrimSuffix(server, "/") + "/" + repo + "/actions/runs/" + id
}
