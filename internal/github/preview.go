package github

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/org/lean4-cf-action/internal/action"
)

// PreviewAction is what a run with command preview does for its event.
type PreviewAction string

// The preview actions.
const (
	PreviewDeploy PreviewAction = "preview-deploy" // deploy or update the pull request's preview
	PreviewDelete PreviewAction = "preview-delete" // remove the pull request's preview
	PreviewIgnore PreviewAction = "ignore"         // nothing to do: exit 0, write nothing
)

// PreviewDecision is what a preview run does, read from its trigger.
type PreviewDecision struct {
	Action PreviewAction
	// PR is the pull request whose preview it is.
	PR int
	// SHA is the commit to deploy: the pull request's head (for a comment, set once Authorize has read it).
	SHA string
	// HeadRepo and Fork say where the pull request comes from.
	HeadRepo string
	Fork     bool
	// Merged is true when the pull request was closed by merging it.
	Merged bool
	// Why says in a few words why the run does this, for the log and the comment: "pull request #7 was
	// closed", "/lean4 preview by @alice", or why the event asks nothing.
	Why string
}

// PreviewEnvironment is the GitHub environment of pull request pr's preview.
func PreviewEnvironment(pr int) string { return "preview/pr-" + strconv.Itoa(pr) }

// DecidePreview decides what a run whose command is preview does for trigger t; it contacts nothing.
//   - pull_request opened, synchronize and reopened deploy the head commit; closed (merged or not)
//     deletes; other actions (edited, labeled, ...) are ignored;
//   - a `/lean4 preview` comment deploys and `/lean4 preview delete` deletes; a comment with another
//     command is not a preview run and is ignored here;
//   - anything else ParseEvent ignored stays ignored, with its reason.
//
// A decision other than PreviewIgnore still goes through Client.Authorize, which applies deploy's gate
// (permission, open pull request, fork, commit date) to `/lean4 preview` and pull_request deploys, and
// only the permission to `/lean4 preview delete`; a close passes, as deleting runs nothing of the pull
// request. GatePreview does both.
func DecidePreview(t *Trigger) PreviewDecision {
	d := PreviewDecision{Action: PreviewIgnore, PR: t.PR, SHA: t.SHA, HeadRepo: t.HeadRepo, Fork: t.Fork, Merged: t.Merged}
	switch t.Event {
	case "pull_request", "pull_request_target":
		switch t.Action {
		case "opened", "synchronize", "reopened":
			d.Action, d.Why = PreviewDeploy, fmt.Sprintf("pull request #%d was %s", t.PR, t.Action)
		case "closed":
			d.Action, d.Why = PreviewDelete, fmt.Sprintf("pull request #%d was closed", t.PR)
			if t.Merged {
				d.Why = fmt.Sprintf("pull request #%d was merged", t.PR)
			}
		default:
			d.Why = fmt.Sprintf("pull request #%d was %s; previews follow opened, synchronize, reopened and closed", t.PR, t.Action)
		}
		return d
	case "issue_comment":
		switch {
		case t.Ignore != "":
			d.Why = t.Ignore
		case t.Refuse != "" && t.Comment != nil && isPreviewLine(t.Comment.Line):
			// A malformed preview command is answered as a refusal by Authorize, after the permission check.
			d.Action, d.Why = PreviewDeploy, fmt.Sprintf("`%s` by @%s", t.Comment.Line, t.Comment.Author)
		case t.Refuse != "":
			d.Why = "the comment's command is not preview"
		case t.Command == action.Preview:
			d.Action, d.Why = PreviewDeploy, fmt.Sprintf("`/lean4 preview` by @%s", t.Comment.Author)
		case t.Command == CommandPreviewDelete:
			d.Action, d.Why = PreviewDelete, fmt.Sprintf("`/lean4 preview delete` by @%s", t.Comment.Author)
		default:
			d.Why = fmt.Sprintf("the comment's command is %s, not preview", t.Command)
		}
		return d
	}
	d.Why = fmt.Sprintf("previews follow pull_request and issue_comment events, not %s", t.Event)
	if t.Ignore != "" {
		d.Why = t.Ignore
	}
	return d
}

// GatePreview decides what a preview run does (DecidePreview) and, unless it is ignored, authorizes it
// (Authorize); the decision's SHA is then the commit to deploy. A *Refusal error means: do not run,
// answer with RefusePreview. Any other error is a failed API call.
func (c *Client) GatePreview(ctx context.Context, t *Trigger, opts GateOptions) (PreviewDecision, error) {
	d := DecidePreview(t)
	if d.Action == PreviewIgnore {
		return d, nil
	}
	if err := c.Authorize(ctx, t, opts); err != nil {
		return d, err
	}
	why := d.Why
	d = DecidePreview(t) // Authorize read the comment's pull request: its head SHA and origin
	d.Why = why
	return d, nil
}

// IsPreviewCommand reports whether t is a `/lean4 preview` or `/lean4 preview delete` comment, well
// formed or refused: the workflow whose command is preview answers it, and only that one.
func IsPreviewCommand(t *Trigger) bool {
	if t.Command == action.Preview || t.Command == CommandPreviewDelete {
		return true
	}
	return t.Comment != nil && isPreviewLine(t.Comment.Line)
}

// isPreviewLine reports whether a command line's command word is preview, whatever follows it.
func isPreviewLine(line string) bool {
	f := strings.Fields(line)
	return len(f) >= 2 && f[0] == CommandPrefix && f[1] == action.Preview
}
