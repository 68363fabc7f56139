package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/org/lean4-cf-action/internal/ghtest"
	"github.com/org/lean4-cf-action/internal/report"
	"github.com/org/lean4-cf-action/internal/sandbox/cfapi"
)

// This file gives the end-to-end scripts a GitHub: the API double (internal/ghtest) started per script,
// commands to drive and inspect it, a model of how the Actions runner reads workflow commands from a
// step's log, and the secret scan every script ends with.

// gh is the GitHub side of a script's world.
type gh struct {
	srv    *ghtest.Server
	token  string // the github-token the double requires ($GH_TOKEN)
	apiKey string // a Worker API key a script may use ($API_KEY)
}

type ghKey struct{}

// The fixture pull requests: 7 is a branch of the repository, 8 comes from the fork mallory/lean.
const (
	pr7Head = "7777777777777777777777777777777777777777"
	pr8Head = "8888888888888888888888888888888888888888"
)

// setupGitHub starts the GitHub double for one script: repository octo/lean (ghtest.FixtureRepo), alice
// with the write role, bob with read, pull requests 7 and 8 as in the event fixtures, and a random token
// every request must carry. Scripts see GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_SERVER_URL,
// GITHUB_RUN_ID, $GH_TOKEN and $API_KEY (a random Worker key, scanned for like every secret).
func setupGitHub(e *testscript.Env) (*gh, error) {
	g := &gh{srv: ghtest.Start(ghtest.FixtureRepo), token: "ghs_" + randomHex(18), apiKey: "lk_" + randomHex(16)}
	g.srv.Token = g.token
	g.srv.SetRole("alice", "write")
	g.srv.SetRole("bob", "read")
	g.srv.AddPull(ghtest.Pull{Number: 7, HeadSHA: pr7Head, HeadRef: "lean-next", HeadRepo: ghtest.FixtureRepo, User: "alice"})
	g.srv.AddPull(ghtest.Pull{Number: 8, HeadSHA: pr8Head, HeadRef: "lean-next", HeadRepo: "mallory/lean", User: "mallory"})
	e.Setenv("GITHUB_API_URL", g.srv.URL)
	e.Setenv("GITHUB_REPOSITORY", ghtest.FixtureRepo)
	e.Setenv("GITHUB_SERVER_URL", "https://github.com")
	e.Setenv("GITHUB_RUN_ID", "4242")
	e.Setenv("GH_TOKEN", g.token)
	e.Setenv("API_KEY", g.apiKey)
	e.Values[ghKey{}] = g
	return g, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func theGH(ts *testscript.TestScript) *gh { return ts.Value(ghKey{}).(*gh) }

// ghCmds are the scripts' GitHub commands.
func ghCmds() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"gh-event":       ghEvent,
		"gh-comments":    ghComments,
		"gh-reactions":   ghReactions,
		"gh-deployments": ghDeployments,
		"gh-writes":      ghWrites,
		"gh-reset":       func(ts *testscript.TestScript, _ bool, _ []string) { theGH(ts).srv.ResetLog() },
		"gh-pull":        ghPull,
		"runner-log":     runnerLogCmd,
		"cf-fault-msg":   cfFaultMsg,
	}
}

// gh-event FIXTURE [BODY]: write the ghtest event fixture to $WORK/event.json and point GITHUB_EVENT_NAME
// and GITHUB_EVENT_PATH at it. For an issue_comment fixture the comment (its body replaced by BODY when
// given) is first posted to the double, so reactions land on a real comment, and the payload carries its
// id, also stored in $COMMENT_ID.
func ghEvent(ts *testscript.TestScript, _ bool, args []string) {
	if len(args) != 1 && len(args) != 2 {
		ts.Fatalf("usage: gh-event FIXTURE [BODY]")
	}
	b, err := ghtest.EventPayload(args[0])
	ts.Check(err)
	name := ""
	for _, ev := range []string{"issue_comment", "pull_request", "push", "workflow_dispatch"} {
		if strings.HasPrefix(args[0], ev) {
			name = ev
		}
	}
	if name == "" {
		ts.Fatalf("gh-event: cannot tell the event of fixture %q", args[0])
	}
	var ev map[string]any
	ts.Check(json.Unmarshal(b, &ev))
	if c, ok := ev["comment"].(map[string]any); ok {
		issue := int(ev["issue"].(map[string]any)["number"].(float64))
		user := c["user"].(map[string]any)["login"].(string)
		if len(args) == 2 {
			c["body"] = args[1]
		}
		id := theGH(ts).srv.AddComment(issue, user, c["body"].(string))
		c["id"] = id
		ts.Setenv("COMMENT_ID", strconv.FormatInt(id, 10))
		if b, err = json.Marshal(ev); err != nil {
			ts.Fatalf("gh-event: %v", err)
		}
	}
	path := ts.MkAbs("event.json")
	ts.Check(os.WriteFile(path, b, 0o644))
	ts.Setenv("GITHUB_EVENT_NAME", name)
	ts.Setenv("GITHUB_EVENT_PATH", path)
}

// gh-comments PR COUNT [WORKER]: pull request PR has exactly COUNT comments by the token's identity with
// WORKER's sticky marker (default lean4-server; preview:NAME for the marker of NAME's preview comment);
// their bodies become stdout, for `stdout` checks.
func ghComments(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 || neg {
		ts.Fatalf("usage: gh-comments PR COUNT [WORKER]")
	}
	pr, _ := strconv.Atoi(args[0])
	want, _ := strconv.Atoi(args[1])
	worker := "lean4-server"
	if len(args) > 2 {
		worker = args[2]
	}
	marker := report.Marker(worker)
	if name, ok := strings.CutPrefix(worker, "preview:"); ok {
		marker = report.PreviewMarker(name)
	}
	g := theGH(ts)
	var bodies []string
	for _, c := range g.srv.Comments(pr) {
		if c.User == g.srv.Login && strings.Contains(c.Body, marker) {
			bodies = append(bodies, c.Body)
		}
	}
	fmt.Fprint(ts.Stdout(), strings.Join(bodies, "\n-- next comment --\n"))
	if len(bodies) != want {
		ts.Fatalf("pull request #%d has %d sticky comments for %s; want %d:\n%s", pr, len(bodies), worker, want, strings.Join(bodies, "\n---\n"))
	}
}

// gh-reactions: stdout becomes the reactions on comment $COMMENT_ID, in order, space-separated
// (e.g. "eyes rocket").
func ghReactions(ts *testscript.TestScript, _ bool, _ []string) {
	id, err := strconv.ParseInt(ts.Getenv("COMMENT_ID"), 10, 64)
	if err != nil {
		ts.Fatalf("gh-reactions: no $COMMENT_ID (run gh-event with an issue_comment fixture first)")
	}
	var got []string
	for _, r := range theGH(ts).srv.Reactions() {
		if r.CommentID == id {
			got = append(got, r.Content)
		}
	}
	fmt.Fprintln(ts.Stdout(), strings.Join(got, " "))
}

// gh-deployments: stdout becomes one line per deployment created:
// "ref=SHA environment=ENV auto_merge=BOOL transient=BOOL statuses=S1,S2 environment_url=URL" (the last
// status's URL).
func ghDeployments(ts *testscript.TestScript, _ bool, _ []string) {
	for _, d := range theGH(ts).srv.Deployments() {
		var states []string
		url := ""
		for _, s := range d.Statuses {
			states = append(states, s.State)
			url = s.EnvironmentURL
		}
		fmt.Fprintf(ts.Stdout(), "ref=%s environment=%s auto_merge=%v transient=%v statuses=%s environment_url=%s\n",
			d.Ref, d.Environment, d.AutoMerge, d.TransientEnvironment, strings.Join(states, ","), url)
	}
}

// gh-writes [REGEXP...]: like cf-writes, for the GitHub double: each regexp must match a write
// ("METHOD /path"); `! gh-writes` asserts there was none (or none matching the regexps).
func ghWrites(ts *testscript.TestScript, neg bool, args []string) {
	matchWrites(ts, "GitHub", theGH(ts).srv.Writes(), neg, args)
}

// gh-pull PR SHA [STATE]: pull request PR's head moves to SHA (someone pushed); STATE (default open)
// closes it.
func ghPull(ts *testscript.TestScript, _ bool, args []string) {
	if len(args) != 2 && len(args) != 3 {
		ts.Fatalf("usage: gh-pull PR SHA [STATE]")
	}
	state := ""
	if len(args) == 3 {
		state = args[2]
	}
	pr, _ := strconv.Atoi(args[0])
	repo := ghtest.FixtureRepo
	if pr == 8 {
		repo = "mallory/lean"
	}
	theGH(ts).srv.AddPull(ghtest.Pull{Number: pr, HeadSHA: args[1], HeadRef: "lean-next", HeadRepo: repo, User: "alice", State: state})
}

// cf-fault-msg ENDPOINT STATUS COUNT MESSAGE: like cf-fault, with MESSAGE (Go-quoted escapes such as \n
// allowed) as the error's message, so tools that print it can be made to print anything.
func cfFaultMsg(ts *testscript.TestScript, _ bool, args []string) {
	if len(args) != 4 {
		ts.Fatalf("usage: cf-fault-msg 'METHOD /path' STATUS COUNT MESSAGE")
	}
	status, _ := strconv.Atoi(args[1])
	count, _ := strconv.Atoi(args[2])
	msg, err := strconv.Unquote(`"` + args[3] + `"`)
	ts.Check(err)
	ts.Check(the(ts).api.Control().Inject(cfapi.Fault{Endpoint: args[0], Status: status, Count: count,
		Errors: []cfapi.APIError{{Code: 10021, Message: msg}}}))
}

func matchWrites(ts *testscript.TestScript, what string, writes []string, neg bool, args []string) {
	if neg && len(args) == 0 && len(writes) > 0 {
		ts.Fatalf("want no %s write, got:\n%s", what, strings.Join(writes, "\n"))
	}
	for _, a := range args {
		re := regexp.MustCompile(a)
		found := ""
		for _, w := range writes {
			if re.MatchString(w) {
				found = w
				break
			}
		}
		switch {
		case neg && found != "":
			ts.Fatalf("want no %s write matching %q, got %q", what, a, found)
		case !neg && found == "":
			ts.Fatalf("no %s write matches %q in:\n%s", what, a, strings.Join(writes, "\n"))
		}
	}
}

// runner-log: stdout becomes the workflow commands the Actions runner would carry out from the last
// exec's stdout then stderr, one a line: "NAME DATA" (see runnerLog).
func runnerLogCmd(ts *testscript.TestScript, _ bool, _ []string) {
	var rl runnerLog
	var out strings.Builder
	for _, stream := range []string{"stdout", "stderr"} {
		for _, line := range strings.Split(ts.ReadFile(stream), "\n") {
			if name, data, ok := rl.process(line); ok {
				fmt.Fprintf(&out, "%s %s\n", name, data)
			}
		}
	}
	fmt.Fprint(ts.Stdout(), out.String())
}

// runnerLog models how the Actions runner reads workflow commands from a step's output
// (actions/runner: ActionCommandManager.TryProcessCommand, ActionCommand.TryParseV2 and TryParse):
//   - `::name props::data` counts when it starts the line after leading white space is trimmed;
//   - the legacy `##[name props]data` counts anywhere in the line;
//   - only registered command names count;
//   - after `::stop-commands::TOKEN` nothing counts until a command named TOKEN (`::TOKEN::`).
type runnerLog struct {
	stopped bool
	token   string
}

var runnerCommands = []string{"add-mask", "add-matcher", "remove-matcher", "debug", "echo", "error", "warning", "notice",
	"group", "endgroup", "set-output", "save-state", "set-env", "add-path", "stop-commands"}

// process reads one log line and returns the command the runner would carry out, if any. The
// stop-commands and resume lines themselves are reported as commands too.
func (r *runnerLog) process(line string) (name, data string, ok bool) {
	registered := func(n string) bool {
		if r.token != "" && strings.EqualFold(n, r.token) {
			return true
		}
		for _, c := range runnerCommands {
			if strings.EqualFold(n, c) {
				return true
			}
		}
		return false
	}
	name, data, ok = parseV2(line, registered)
	if !ok {
		name, data, ok = parseV1(line, registered)
	}
	if !ok {
		return "", "", false
	}
	if r.stopped {
		if r.token != "" && strings.EqualFold(name, r.token) {
			r.stopped, r.token = false, ""
			return name, data, true
		}
		return "", "", false
	}
	if strings.EqualFold(name, "stop-commands") {
		r.stopped, r.token = true, data
	}
	return name, data, true
}

func parseV2(line string, registered func(string) bool) (string, string, bool) {
	msg := strings.TrimLeft(line, " \t\r\n\v\f")
	if !strings.HasPrefix(msg, "::") {
		return "", "", false
	}
	end := strings.Index(msg[2:], "::")
	if end < 0 {
		return "", "", false
	}
	info := msg[2 : 2+end]
	name, _, _ := strings.Cut(info, " ")
	if !registered(name) {
		return "", "", false
	}
	return name, msg[2+end+2:], true
}

func parseV1(line string, registered func(string) bool) (string, string, bool) {
	i := strings.Index(line, "##[")
	if i < 0 {
		return "", "", false
	}
	rb := strings.IndexByte(line[i:], ']')
	if rb < 0 {
		return "", "", false
	}
	info := line[i+3 : i+rb]
	name, _, _ := strings.Cut(info, " ")
	if !registered(name) {
		return "", "", false
	}
	return name, line[i+rb+1:], true
}

// teeMain is `exec lean4-cf` in scripts: lean4-cf itself, with its stdout and stderr also copied into
// $WORK/.out/<time>-<pid>.stdout and .stderr, so the secret scan at the end of the script reads every log.
func teeMain() {
	clock := testClock()
	work := os.Getenv("WORK")
	if work == "" {
		os.Exit(run(clock))
	}
	dir := filepath.Join(work, ".out")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "teeMain:", err)
		os.Exit(3)
	}
	base := filepath.Join(dir, fmt.Sprintf("%d-%d", time.Now().UnixNano(), os.Getpid()))
	var wg sync.WaitGroup
	tee := func(std **os.File, file string) (done func()) {
		f, err := os.Create(file)
		if err != nil {
			fmt.Fprintln(os.Stderr, "teeMain:", err)
			os.Exit(3)
		}
		r, w, err := os.Pipe()
		if err != nil {
			fmt.Fprintln(os.Stderr, "teeMain:", err)
			os.Exit(3)
		}
		orig := *std
		*std = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = io.Copy(io.MultiWriter(orig, f), r)
			f.Close()
		}()
		return func() { w.Close() }
	}
	doneOut := tee(&os.Stdout, base+".stdout")
	doneErr := tee(&os.Stderr, base+".stderr")
	code := run(clock)
	doneOut()
	doneErr()
	wg.Wait()
	os.Exit(code)
}

// leak is a secret found where it must not be.
type leak struct {
	Where  string // file (relative to the scanned folder) or text name
	Line   int
	Secret string // the secret's name, never its value
}

func (l leak) String() string { return fmt.Sprintf("%s:%d: %s", l.Where, l.Line, l.Secret) }

// scanSecrets looks for every secret (name -> value) in every regular file under root (symbolic links are
// not followed) and in every text of extra (name -> content, e.g. bodies sent to GitHub), and returns each
// line that holds one.
//
// One place may hold a secret: in a log capture (a *.stdout or *.stderr file under root/.out), a line that
// is exactly `::add-mask::VALUE` and that the runner would carry out (it is not inside a stop-commands
// block). The runner takes it as the command that masks VALUE and never shows it; anywhere else, including
// an add-mask line the runner would ignore, the value would be printed or stored as is.
func scanSecrets(root string, extra map[string]string, secrets map[string]string) ([]leak, error) {
	var leaks []leak
	names := slices.Sorted(maps.Keys(secrets))
	check := func(where, text string, capture bool) {
		var rl runnerLog
		for i, line := range strings.Split(text, "\n") {
			name, data, isCmd := "", "", false
			if capture {
				name, data, isCmd = rl.process(line)
			}
			for _, sname := range names {
				v := secrets[sname]
				if v == "" || !strings.Contains(line, v) {
					continue
				}
				if isCmd && name == "add-mask" && line == "::add-mask::"+v && data == v {
					continue
				}
				leaks = append(leaks, leak{Where: where, Line: i + 1, Secret: sname})
			}
		}
	}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		capture := filepath.Dir(rel) == ".out" && (strings.HasSuffix(rel, ".stdout") || strings.HasSuffix(rel, ".stderr"))
		check(rel, string(b), capture)
		return nil
	})
	for name, text := range extra {
		check(name, text, false)
	}
	return leaks, err
}

// scanScript is the end of every script: it scans $WORK and every request body sent to the GitHub double
// for the Cloudflare tokens, the registry passwords the local Cloudflare issued, the GitHub token and the
// Worker API key. Secrets shorter than 8 characters are not searched (they would match by chance).
func scanScript(e *testscript.Env, cf *cfapi.Server, cfTokens []string, g *gh) error {
	secrets := map[string]string{"GitHub token": g.token, "Worker API key": g.apiKey}
	for i, t := range cfTokens {
		secrets[fmt.Sprintf("Cloudflare token %d", i+1)] = t
	}
	for i, p := range cf.Control().RegistryPasswords() {
		secrets[fmt.Sprintf("registry password %d", i+1)] = p
	}
	for k, v := range secrets {
		if len(v) < 8 {
			delete(secrets, k)
		}
	}
	extra := map[string]string{}
	for i, r := range g.srv.Requests() {
		if r.Body != "" {
			extra[fmt.Sprintf("GitHub request %d (%s)", i+1, r)] = r.Body
		}
	}
	leaks, err := scanSecrets(e.WorkDir, extra, secrets)
	if err != nil {
		return fmt.Errorf("scanning for secrets: %w", err)
	}
	if len(leaks) > 0 {
		var lines []string
		for _, l := range leaks {
			lines = append(lines, l.String())
		}
		return fmt.Errorf("secrets leaked (only an `::add-mask::SECRET` line the runner carries out may hold one):\n%s", strings.Join(lines, "\n"))
	}
	return nil
}
