package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	gh "github.com/google/go-github/v75/github"
)

// ClosedPRs tells which pull requests are closed; the Action's preview prune takes it, and Client has it.
type ClosedPRs interface {
	Closed(ctx context.Context, prs []int) (map[int]bool, error)
}

var _ ClosedPRs = (*Client)(nil)

// Closed reports, for each of prs, whether it is closed (merged or not). Each is read on its own
// (GET /repos/{o}/{r}/pulls/{n}): prune asks about the few pull requests that have previews, and one read
// each is exact where listing every closed pull request would page through the repository's history, and
// listing the open ones could skip one when another closes between two pages (and so delete an open pull
// request's preview). A pull request GitHub does not find (404) is an error, not closed: pull requests
// cannot be deleted, so a 404 means a token without access or another repository, and prune must then
// delete nothing. The map has an entry for every number asked about; the first failed read ends the call.
func (c *Client) Closed(ctx context.Context, prs []int) (map[int]bool, error) {
	out := make(map[int]bool, len(prs))
	for _, n := range prs {
		if _, done := out[n]; done {
			continue
		}
		if n <= 0 {
			return nil, fmt.Errorf("reading pull request #%d: not a pull request number", n)
		}
		pr, _, err := c.gh.PullRequests.Get(ctx, c.owner, c.repo, n)
		var ge *gh.ErrorResponse
		switch {
		case errors.As(err, &ge) && ge.Response != nil && ge.Response.StatusCode == http.StatusNotFound:
			return nil, fmt.Errorf("reading pull request #%d: %s/%s has none, or the token may not read it (404); nothing is treated as closed", n, c.owner, c.repo)
		case err != nil:
			return nil, fmt.Errorf("reading pull request #%d: %w", n, needs(err, "pull-requests: read"))
		default:
			out[n] = pr.GetState() == "closed"
		}
	}
	return out, nil
}
