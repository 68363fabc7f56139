package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	gh "github.com/google/go-github/v75/github"

	"github.com/org/lean4-cf-action/internal/action"
)

// Refusal is a request lean4-cf will not run; its text is meant for the sticky comment.
type Refusal struct{ Reason string }

func (r *Refusal) Error() string { return r.Reason }

// IsRefusal reports whether err is a Refusal and returns it.
func IsRefusal(err error) (*Refusal, bool) {
	var r *Refusal
	ok := errors.As(err, &r)
	return r, ok
}

// GateOptions tune Authorize.
type GateOptions struct {
	// AllowForks lets pull requests from forks be deployed (input allow-forks). Default false: refused,
	// as github/branch-deploy does, because a fork's code is not reviewed by anyone with write access.
	AllowForks bool
}

// DeployRoles are the repository roles that may run slash commands.
var DeployRoles = []string{"admin", "maintain", "write"}

// Authorize decides whether a pull_request or issue_comment trigger may run, and fixes the commit:
//   - a comment's author must have the write, maintain or admin role on the repository, read from the
//     collaborator permission endpoint (role_name, or a permission of write or admin for custom roles),
//     never author_association;
//   - a command that did not parse is refused with its reason (after the permission check, so readers
//     learn nothing but that they may not run commands);
//   - the pull request is read when the comment is handled: it must be open, its head SHA becomes
//     t.SHA, and it must not come from a fork unless opts.AllowForks;
//   - for deploy and preview, a head commit committed after the comment was written is refused;
//   - preview-delete needs only the permission: it runs none of the pull request's code;
//   - a pull_request event from a fork is refused unless opts.AllowForks, without calling the API.
//
// Triggers of other events, or already ignored, pass unchanged. A *Refusal error means: do not run,
// react ReactRefused and answer in the sticky comment. Any other error is a failed API call.
func (c *Client) Authorize(ctx context.Context, t *Trigger, opts GateOptions) error {
	if t.Ignore != "" {
		return nil
	}
	switch t.Event {
	case "pull_request", "pull_request_target":
		return forkCheck(t, opts)
	case "issue_comment":
	default:
		return nil
	}
	if t.Comment == nil || t.PR == 0 {
		return fmt.Errorf("authorizing the comment: the trigger has no comment or pull request")
	}
	user := t.Comment.Author
	lvl, _, err := c.gh.Repositories.GetPermissionLevel(ctx, c.owner, c.repo, user)
	var ge *gh.ErrorResponse
	switch {
	case errors.As(err, &ge) && ge.Response != nil && ge.Response.StatusCode == http.StatusNotFound:
		lvl = &gh.RepositoryPermissionLevel{} // not a user or not a collaborator
	case err != nil:
		return fmt.Errorf("reading %s's permission on %s/%s: %w", user, c.owner, c.repo, err)
	}
	// role_name is the real role (custom roles have their own names); permission is the base level, with
	// maintain shown as write and triage as read. Either one at write or above lets the user run commands.
	role, perm := lvl.GetRoleName(), lvl.GetPermission()
	if !slices.Contains(DeployRoles, role) && perm != "admin" && perm != "write" {
		if role == "" {
			role = perm
		}
		if role == "" {
			role = "none"
		}
		return &Refusal{Reason: fmt.Sprintf("@%s has the %s role on %s/%s; slash commands need write, maintain or admin", user, role, c.owner, c.repo)}
	}
	if t.Refuse != "" {
		return &Refusal{Reason: t.Refuse}
	}
	if t.Command == CommandPreviewDelete {
		// Removing a preview runs none of the pull request's code, so neither its state nor its origin matters:
		// a closed pull request's or a fork's preview may always be removed by someone allowed to.
		return nil
	}
	pr, _, err := c.gh.PullRequests.Get(ctx, c.owner, c.repo, t.PR)
	if err != nil {
		return fmt.Errorf("reading pull request #%d: %w", t.PR, err)
	}
	if pr.GetState() != "open" {
		return &Refusal{Reason: fmt.Sprintf("pull request #%d is %s", t.PR, pr.GetState())}
	}
	t.SHA, t.Ref = pr.GetHead().GetSHA(), pr.GetHead().GetRef()
	t.HeadRepo = pr.GetHead().GetRepo().GetFullName()
	t.Fork = t.HeadRepo != c.owner+"/"+c.repo
	if t.SHA == "" {
		return fmt.Errorf("reading pull request #%d: the API returned no head SHA", t.PR)
	}
	if err := forkCheck(t, opts); err != nil {
		return err
	}
	if (t.Command == action.Deploy || t.Command == action.Preview) && !t.Comment.CreatedAt.IsZero() {
		return c.commitBefore(ctx, t)
	}
	return nil
}

// commitBefore refuses a head commit committed after the comment was written (github/branch-deploy's
// check): someone with push access to the branch could otherwise slip a commit in between a reviewer's
// "/lean4 deploy" and the run. Committer dates are set by the committer, so this narrows the window
// rather than closing it; the deployed SHA is always the one reported.
func (c *Client) commitBefore(ctx context.Context, t *Trigger) error {
	rc, _, err := c.gh.Repositories.GetCommit(ctx, c.owner, c.repo, t.SHA, nil)
	if err != nil {
		return fmt.Errorf("reading commit %s: %w", short(t.SHA), err)
	}
	at := rc.GetCommit().GetCommitter().GetDate().Time
	if at.After(t.Comment.CreatedAt) {
		return &Refusal{Reason: fmt.Sprintf("the head of pull request #%d (%s) was committed at %s, after the command was written at %s; review it and comment again",
			t.PR, short(t.SHA), at.UTC().Format(time.RFC3339), t.Comment.CreatedAt.UTC().Format(time.RFC3339))}
	}
	return nil
}

func forkCheck(t *Trigger, opts GateOptions) error {
	if !t.Fork || opts.AllowForks {
		return nil
	}
	from := t.HeadRepo
	if from == "" {
		from = "a deleted fork"
	}
	return &Refusal{Reason: fmt.Sprintf("pull request #%d comes from %s; pull requests from forks are not deployed unless the workflow sets allow-forks: true", t.PR, from)}
}
