package github

import (
	"context"
	"fmt"
	"strings"

	gh "github.com/google/go-github/v75/github"
)

// Reaction is a reaction lean4-cf puts on the comment that carried a slash command.
type Reaction string

// The reactions on a slash command's comment: one on receipt, then one for how it ended.
const (
	ReactReceived Reaction = "eyes"     // 👀 the command was seen and is being handled
	ReactDone     Reaction = "rocket"   // 🚀 the command ran and succeeded
	ReactFailed   Reaction = "-1"       // 👎 the command ran and failed (the sticky comment says why)
	ReactRefused  Reaction = "confused" // 😕 the command was refused and not run (the sticky comment says why)
)

// React adds a reaction to an issue or pull-request comment.
func (c *Client) React(ctx context.Context, commentID int64, r Reaction) error {
	if _, _, err := c.gh.Reactions.CreateIssueCommentReaction(ctx, c.owner, c.repo, commentID, string(r)); err != nil {
		return fmt.Errorf("reacting %s to comment %d: %w", r, commentID, needs(err, "pull-requests: write"))
	}
	return nil
}

// Sticky is the sticky comment after an update.
type Sticky struct {
	ID      int64
	URL     string
	Created bool // false when an existing comment was updated
}

// UpsertComment keeps one comment per pull request and marker: it lists the PR's comments (every page),
// takes the oldest one by the comment author (see ClientOptions.CommentAuthor) whose body contains
// marker, and updates it to body, or creates the comment when there is none. body must contain marker
// so the next run finds it again, and must fit GitHub's limit (report.Comment already truncates).
func (c *Client) UpsertComment(ctx context.Context, pr int, marker, body string) (Sticky, error) {
	if marker == "" || !strings.Contains(body, marker) {
		return Sticky{}, fmt.Errorf("updating the comment on #%d: the body lacks its marker %q", pr, marker)
	}
	author, err := c.commentAuthor(ctx)
	if err != nil {
		return Sticky{}, fmt.Errorf("updating the comment on #%d: %w", pr, err)
	}
	existing, err := c.findComment(ctx, pr, author, marker)
	if err != nil {
		return Sticky{}, err
	}
	if existing != nil {
		got, _, err := c.gh.Issues.EditComment(ctx, c.owner, c.repo, existing.GetID(), &gh.IssueComment{Body: &body})
		if err != nil {
			return Sticky{}, fmt.Errorf("updating comment %d on #%d: %w", existing.GetID(), pr, needs(err, "pull-requests: write"))
		}
		return Sticky{ID: got.GetID(), URL: got.GetHTMLURL()}, nil
	}
	got, _, err := c.gh.Issues.CreateComment(ctx, c.owner, c.repo, pr, &gh.IssueComment{Body: &body})
	if err != nil {
		return Sticky{}, fmt.Errorf("creating the comment on #%d: %w", pr, needs(err, "pull-requests: write"))
	}
	// Two runs for the same PR can both find nothing and both create. Each then looks again: the run whose
	// comment is not the oldest deletes its own and updates the oldest, so one comment remains.
	// The check is best effort: when the second listing fails, the comment was still created.
	oldest, err := c.findComment(ctx, pr, author, marker)
	if err != nil || oldest == nil || oldest.GetID() == got.GetID() {
		return Sticky{ID: got.GetID(), URL: got.GetHTMLURL(), Created: true}, nil
	}
	if _, err := c.gh.Issues.DeleteComment(ctx, c.owner, c.repo, got.GetID()); err != nil {
		return Sticky{}, fmt.Errorf("deleting duplicate comment %d on #%d: %w", got.GetID(), pr, err)
	}
	kept, _, err := c.gh.Issues.EditComment(ctx, c.owner, c.repo, oldest.GetID(), &gh.IssueComment{Body: &body})
	if err != nil {
		return Sticky{}, fmt.Errorf("updating comment %d on #%d: %w", oldest.GetID(), pr, needs(err, "pull-requests: write"))
	}
	return Sticky{ID: kept.GetID(), URL: kept.GetHTMLURL()}, nil
}

// findComment pages through a PR's comments, oldest first, for the first one by author containing marker.
func (c *Client) findComment(ctx context.Context, pr int, author, marker string) (*gh.IssueComment, error) {
	opts := &gh.IssueListCommentsOptions{ListOptions: gh.ListOptions{PerPage: 100}}
	for {
		page, resp, err := c.gh.Issues.ListComments(ctx, c.owner, c.repo, pr, opts)
		if err != nil {
			return nil, fmt.Errorf("listing the comments on #%d: %w", pr, needs(err, "pull-requests: read"))
		}
		for _, cm := range page {
			if strings.EqualFold(cm.GetUser().GetLogin(), author) && strings.Contains(cm.GetBody(), marker) {
				return cm, nil
			}
		}
		if resp.NextPage == 0 {
			return nil, nil
		}
		opts.Page = resp.NextPage
	}
}
