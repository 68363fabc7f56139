package github

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Trigger is what started a run, read from the event payload: what to run, with which overrides, on which
// pull request and commit, or why nothing runs. For issue_comment and pull_request events it is not final
// until Client.Authorize has checked it (permission, fork, head SHA).
type Trigger struct {
	// Event is GITHUB_EVENT_NAME: push, workflow_dispatch, pull_request, issue_comment, ...
	Event string
	// Action is the payload's action (created, edited, opened, synchronize, ...), when it has one.
	Action string
	// Repo is the repository's full name, owner/name.
	Repo string
	// Command is the slash command to run (deploy, status, rollback, preflight); "" means the command the
	// CLI was started with.
	Command string
	// Args are the slash command's key=value overrides of Action inputs.
	Args map[string]string
	// Inputs are a workflow_dispatch's inputs as sent (the workflow maps them to Action inputs itself).
	Inputs map[string]string
	// SHA is the commit the run is about: the pushed commit, the PR's head commit (not the merge commit), or
	// for a comment the PR head SHA that Authorize reads when the comment is handled.
	SHA string
	// Ref is the git ref (refs/heads/main); for a pull request, its head branch.
	Ref string
	// PR is the pull request's number; 0 when the event is not about one.
	PR int
	// HeadRepo is the pull request's head repository (owner/name); "" when unknown or the fork was deleted.
	HeadRepo string
	// Fork is true when the pull request comes from another repository.
	Fork bool
	// Merged is true when a closed pull request was merged (pull_request closed events only).
	Merged bool
	// Comment is the triggering comment on issue_comment events.
	Comment *TriggerComment
	// Ignore, when set, says why the event asks nothing of lean4-cf: do nothing, exit 0, comment nothing.
	Ignore string
	// Refuse, when set, says why the request is refused (answer it: a refused reaction and the sticky comment).
	Refuse string
}

// TriggerComment is the comment that carried a slash command.
type TriggerComment struct {
	ID        int64
	Author    string
	CreatedAt time.Time
	// Line is the command line, safe to quote back (secrets redacted).
	Line string
}

// payload is the subset of the event payloads lean4-cf reads
// (https://docs.github.com/en/webhooks/webhook-events-and-payloads).
type payload struct {
	Action     string `json:"action"`
	Ref        string `json:"ref"`
	After      string `json:"after"`
	Repository struct {
		FullName string `json:"full_name"`
	} `json:"repository"`
	Inputs      map[string]any `json:"inputs"`
	PullRequest *struct {
		Number int  `json:"number"`
		Merged bool `json:"merged"`
		Head   struct {
			SHA  string    `json:"sha"`
			Ref  string    `json:"ref"`
			Repo *repoName `json:"repo"`
		} `json:"head"`
		Base struct {
			Repo *repoName `json:"repo"`
		} `json:"base"`
	} `json:"pull_request"`
	Issue *struct {
		Number      int             `json:"number"`
		PullRequest json.RawMessage `json:"pull_request"`
	} `json:"issue"`
	Comment *struct {
		ID        int64     `json:"id"`
		Body      string    `json:"body"`
		CreatedAt time.Time `json:"created_at"`
		User      struct {
			Login string `json:"login"`
			Type  string `json:"type"`
		} `json:"user"`
	} `json:"comment"`
}

type repoName struct {
	FullName string `json:"full_name"`
}

// ReadEvent reads the event that started this Actions run: GITHUB_EVENT_NAME and the payload at
// GITHUB_EVENT_PATH. GITHUB_SHA and GITHUB_REF fill in the commit and ref for events without their own.
func ReadEvent(getenv func(string) string) (*Trigger, error) {
	name, path := getenv("GITHUB_EVENT_NAME"), getenv("GITHUB_EVENT_PATH")
	if name == "" || path == "" {
		return nil, fmt.Errorf("reading the event: GITHUB_EVENT_NAME and GITHUB_EVENT_PATH must be set (they are in a GitHub Actions step)")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the event: %w; run lean4-cf action as a GitHub Actions step (the runner writes GITHUB_EVENT_PATH)", err)
	}
	t, err := ParseEvent(name, b)
	if err != nil {
		return nil, err
	}
	if t.SHA == "" && t.Comment == nil {
		t.SHA = getenv("GITHUB_SHA")
	}
	if t.Ref == "" && t.Comment == nil {
		t.Ref = getenv("GITHUB_REF")
	}
	if t.Repo == "" {
		t.Repo = getenv("GITHUB_REPOSITORY")
	}
	return t, nil
}

// ParseEvent turns the payload of event name into a Trigger. It contacts nothing.
func ParseEvent(name string, data []byte) (*Trigger, error) {
	var p payload
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("parsing the %s event payload: %w", name, err)
	}
	t := &Trigger{Event: name, Action: p.Action, Repo: p.Repository.FullName}
	switch name {
	case "push":
		t.SHA, t.Ref = p.After, p.Ref
		if strings.Trim(p.After, "0") == "" && p.After != "" {
			t.Ignore = "the push deleted " + p.Ref
		}
	case "workflow_dispatch":
		t.Ref = p.Ref
		for k, v := range p.Inputs {
			if t.Inputs == nil {
				t.Inputs = map[string]string{}
			}
			t.Inputs[k] = scalar(v)
		}
	case "pull_request", "pull_request_target":
		pr := p.PullRequest
		if pr == nil {
			return nil, fmt.Errorf("parsing the %s event payload: no pull_request object", name)
		}
		t.PR, t.SHA, t.Ref = pr.Number, pr.Head.SHA, pr.Head.Ref
		if pr.Head.Repo != nil {
			t.HeadRepo = pr.Head.Repo.FullName
		}
		t.Fork = t.HeadRepo != t.Repo
		t.Merged = pr.Merged
		if p.Action == "closed" {
			t.Ignore = fmt.Sprintf("pull request #%d was closed", t.PR)
		}
	case "issue_comment":
		parseComment(t, &p)
	}
	return t, nil
}

func parseComment(t *Trigger, p *payload) {
	if p.Issue == nil || p.Comment == nil {
		t.Ignore = "the issue_comment payload has no issue or comment"
		return
	}
	c := p.Comment
	cmd, found, err := ParseCommand(c.Body)
	switch {
	case !found:
		t.Ignore = "the comment has no /lean4 command"
		return
	case len(p.Issue.PullRequest) == 0 || string(p.Issue.PullRequest) == "null":
		t.Ignore = fmt.Sprintf("the comment is on issue #%d, not on a pull request", p.Issue.Number)
		return
	case p.Action != "created":
		t.Ignore = fmt.Sprintf("the comment was %s, not created; only new comments run commands", p.Action)
		return
	case c.User.Type == "Bot" || strings.HasSuffix(c.User.Login, "[bot]"):
		t.Ignore = fmt.Sprintf("the comment is by the bot %s; bots cannot run commands", c.User.Login)
		return
	}
	t.PR = p.Issue.Number
	t.Comment = &TriggerComment{ID: c.ID, Author: c.User.Login, CreatedAt: c.CreatedAt, Line: cmd.Line}
	if err != nil {
		t.Refuse = err.Error()
		return
	}
	t.Command, t.Args = cmd.Name, cmd.Args
}

// scalar renders a workflow_dispatch input value (a string, or a boolean or number for typed inputs).
func scalar(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case nil:
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}
