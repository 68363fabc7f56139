package github

import (
	"context"
	"fmt"

	gh "github.com/google/go-github/v75/github"

	"github.com/org/lean4-cf-action/internal/report"
)

// Acknowledge reacts ReactReceived on the comment that carried t's slash command; it does nothing for
// other triggers.
func (c *Client) Acknowledge(ctx context.Context, t *Trigger) error {
	if t.Comment == nil {
		return nil
	}
	return c.React(ctx, t.Comment.ID, ReactReceived)
}

// Refuse answers a refused trigger: ReactRefused on its comment, and the refusal, quoting the command
// line (secrets redacted), in the sticky comment for worker on the pull request. A pull_request run from a
// fork has a read-only token, so there it writes nothing: the caller's log and annotation carry the refusal.
func (c *Client) Refuse(ctx context.Context, t *Trigger, worker, why string) (Sticky, error) {
	if t.Event == "pull_request" && t.Fork {
		return Sticky{}, nil
	}
	line := "this run"
	if t.Comment != nil {
		if err := c.React(ctx, t.Comment.ID, ReactRefused); err != nil {
			return Sticky{}, err
		}
		line = t.Comment.Line
	}
	if t.PR == 0 {
		return Sticky{}, nil
	}
	return c.UpsertComment(ctx, t.PR, report.Marker(worker), report.Refusal(worker, line, why))
}

// Conclude reports a run that was allowed: the result in the sticky comment on t's pull request (body
// from report.Comment), then ReactDone or ReactFailed on the command's comment.
func (c *Client) Conclude(ctx context.Context, t *Trigger, worker, body string, ok bool) (Sticky, error) {
	var st Sticky
	if t.PR != 0 {
		var err error
		if st, err = c.UpsertComment(ctx, t.PR, report.Marker(worker), body); err != nil {
			return Sticky{}, err
		}
	}
	if t.Comment != nil {
		r := ReactDone
		if !ok {
			r = ReactFailed
		}
		if err := c.React(ctx, t.Comment.ID, r); err != nil {
			return st, err
		}
	}
	return st, nil
}

// OpenPullsWithCommit returns the numbers of the open pull requests whose head is sha (GET
// /repos/{o}/{r}/commits/{sha}/pulls), for reporting a push or workflow_dispatch run on them.
func (c *Client) OpenPullsWithCommit(ctx context.Context, sha string) ([]int, error) {
	pulls, _, err := c.gh.PullRequests.ListPullRequestsWithCommit(ctx, c.owner, c.repo, sha, &gh.ListOptions{PerPage: 100})
	if err != nil {
		return nil, fmt.Errorf("listing the pull requests of commit %s: %w", short(sha), needs(err, "pull-requests: read"))
	}
	var out []int
	for _, p := range pulls {
		if p.GetState() == "open" && p.GetHead().GetSHA() == sha {
			out = append(out, p.GetNumber())
		}
	}
	return out, nil
}

// ConcludePreview writes body (from report.PreviewComment, PreviewDeletedComment or PreviewCapComment)
// in the preview's sticky comment on t's pull request, for the production Worker named production (the
// comment's marker, apart from the deploy comment's), then reacts r on the command's comment, if there is
// one: ReactDone, ReactFailed, or ReactRefused for a refusal such as the cap. A pull_request run from a
// fork has a read-only token, so there it writes nothing.
func (c *Client) ConcludePreview(ctx context.Context, t *Trigger, production, body string, r Reaction) (Sticky, error) {
	if (t.Event == "pull_request" && t.Fork) || t.PR == 0 {
		return Sticky{}, nil
	}
	st, err := c.UpsertComment(ctx, t.PR, report.PreviewMarker(production), body)
	if err != nil {
		return Sticky{}, err
	}
	if t.Comment != nil {
		if err := c.React(ctx, t.Comment.ID, r); err != nil {
			return st, err
		}
	}
	return st, nil
}

// RefusePreview answers a refused preview trigger (a *Refusal from GatePreview): the refusal, quoting the
// command line, in the preview's sticky comment, and ReactRefused on the command's comment.
func (c *Client) RefusePreview(ctx context.Context, t *Trigger, production, why string) (Sticky, error) {
	line := "this run"
	if t.Comment != nil {
		line = t.Comment.Line
	}
	return c.ConcludePreview(ctx, t, production, report.PreviewRefusal(report.PreviewInfo{Production: production, PR: t.PR}, line, why), ReactRefused)
}
