package github

import (
	"fmt"
	"slices"
	"strings"

	"github.com/org/lean4-cf-action/internal/action"
)

// CommandPrefix starts a slash command in a pull-request comment.
const CommandPrefix = "/lean4"

// The slash commands are the Action's commands (action.Commands) and `/lean4 preview delete`, which
// removes the pull request's preview: CommandPreviewDelete is its parsed name. Which inputs a command's
// key=value arguments may override, and which inputs hold secrets, is the input table's (action.Inputs).
const CommandPreviewDelete = action.Preview + "-delete"

// CommandNames lists the slash commands, as written, in the order the help text shows them.
func CommandNames() []string { return append(action.Commands(), spoken(CommandPreviewDelete)) }

// secretKey reports whether a comment's key names a secret: a secret input, or any key with a word that
// secrets go by (GH_TOKEN, registry-password, my-secret), input or not, so that a secret put in a comment
// by mistake is refused and hidden whatever its spelling.
func secretKey(k string) bool {
	if in, ok := action.Lookup(k); ok && in.Secret {
		return true
	}
	return strings.Contains(k, "token") || strings.Contains(k, "secret") || strings.Contains(k, "password")
}

// Command is a parsed slash command.
type Command struct {
	// Name is deploy, status, rollback, preflight, preview or preview-delete (written `preview delete`).
	Name string
	// Args are the key=value overrides, keyed by the Action input they mirror.
	Args map[string]string
	// Line is the command as written, one line, at most 200 characters, with the value of any
	// secret-looking argument replaced by ***: safe to quote back in a comment.
	Line string
}

// maxLine bounds how much of a command line is quoted back.
const maxLine = 200

// ParseCommand finds the slash command in a comment body: the first line that starts with "/lean4"
// (after spaces or tabs; a quoted "> /lean4" line does not count). found is false when there is none,
// and then the comment is not meant for lean4-cf. A non-nil error is a refusal whose text says what was
// wrong and how to fix it; cmd.Line is set whenever found is true.
func ParseCommand(body string) (cmd Command, found bool, err error) {
	var line string
	for l := range strings.Lines(body) {
		l = strings.TrimRight(strings.TrimLeft(l, " \t"), "\r\n")
		rest, ok := strings.CutPrefix(l, CommandPrefix)
		if ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
			line, found = l, true
			break
		}
	}
	if !found {
		return Command{}, false, nil
	}
	fields := strings.Fields(line)
	cmd.Line = redactLine(fields)
	usage := "use `/lean4 " + strings.Join(CommandNames(), "|") + " [key=value ...]`"
	if len(fields) < 2 {
		return cmd, true, fmt.Errorf("no command given; %s", usage)
	}
	name, args := fields[1], fields[2:]
	if !slices.Contains(action.Commands(), name) { // preview-delete is written `preview delete` only
		return cmd, true, fmt.Errorf("unknown command %q; %s", clip(name, 40), usage)
	}
	if name == action.Preview && len(args) > 0 && args[0] == "delete" {
		name, args = CommandPreviewDelete, args[1:]
	}
	allowed := action.CommentInputs(name)
	cmd.Name = name
	for _, f := range args {
		k, v, ok := strings.Cut(f, "=")
		k = strings.ToLower(k)
		in, isInput := action.Lookup(k)
		switch {
		case !ok:
			return cmd, true, fmt.Errorf("argument %q is not key=value; %s", clip(f, 40), usage)
		case secretKey(k):
			return cmd, true, fmt.Errorf("%q is a secret and is never taken from a comment, which anyone can read; store it as a repository secret, delete this comment and rotate the secret", clip(k, 40))
		case isInput && in.Comment == nil:
			return cmd, true, fmt.Errorf("%q can only be set in the workflow file, not in a comment", k)
		case !slices.Contains(allowed, k) && len(allowed) == 0:
			return cmd, true, fmt.Errorf("unknown argument %q for `/lean4 %s`; it takes none", clip(k, 40), spoken(name))
		case !slices.Contains(allowed, k):
			return cmd, true, fmt.Errorf("unknown argument %q for `/lean4 %s`; it takes %s", clip(k, 40), spoken(name), strings.Join(allowed, ", "))
		case v == "":
			return cmd, true, fmt.Errorf("argument %q has no value; write %s=VALUE", k, k)
		case cmd.Args[k] != "":
			return cmd, true, fmt.Errorf("argument %q is given twice", k)
		}
		if i := strings.IndexFunc(v, func(r rune) bool { return !valueRune(r) }); i >= 0 {
			return cmd, true, fmt.Errorf("argument %q contains a character that is not allowed (%q); values may use letters, digits and -._~:/?#@!&+,;=%%[]", k, []rune(v[i:])[0])
		}
		if cmd.Args == nil {
			cmd.Args = map[string]string{}
		}
		cmd.Args[k] = v
	}
	return cmd, true, nil
}

// spoken is a command's name as a comment writes it: preview-delete is `preview delete`.
func spoken(name string) string { return strings.Replace(name, "-", " ", 1) }

// valueRune reports whether r may appear in an argument value: what image references, URLs, numbers and
// durations need, and nothing that could open markup or shell syntax.
func valueRune(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	}
	return strings.ContainsRune("-._~:/?#@!&+,;=%[]", r)
}

// redactLine rejoins the fields of a command line, hiding secret-looking values and bounding its length.
func redactLine(fields []string) string {
	out := make([]string, len(fields))
	for i, f := range fields {
		k, _, ok := strings.Cut(f, "=")
		lk := strings.ToLower(k)
		// Hiding is wider than refusing: any *key* too, since a value quoted back cannot be unsaid.
		if ok && i >= 2 && (secretKey(lk) || strings.Contains(lk, "key")) {
			f = k + "=***"
		}
		out[i] = f
	}
	return clip(strings.Join(out, " "), maxLine)
}

// clip shortens s to at most n runes, marking the cut with an ellipsis.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
