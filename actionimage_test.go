package lean4cf_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The action image, built from the Dockerfile and run the way GitHub's runner runs a Docker action
// (actions/runner: ContainerActionHandler): `make action-image` builds it and runs these tests with
//
//	LEAN4CF_ACTION_IMAGE          the image to test
//	LEAN4CF_ACTION_IMAGE_VERSION  the VERSION build argument it was built with
//	LEAN4CF_BUILD_CA_FILES        PEM files passed as BUILD_CA_CERTS, which the image must not carry
//	DOCKER                        the docker client (default docker)
//
// Without LEAN4CF_ACTION_IMAGE the tests skip: `go test ./...` needs no Docker.

func actionImage(t *testing.T) (docker, image string) {
	t.Helper()
	image = os.Getenv("LEAN4CF_ACTION_IMAGE")
	if image == "" {
		t.Skip("LEAN4CF_ACTION_IMAGE is not set: run `make action-image`")
	}
	docker = os.Getenv("DOCKER")
	if docker == "" {
		docker = "docker"
	}
	return docker, image
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, ee.Stderr)
		}
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return string(out)
}

// TestActionImageVersion: the entry point runs, reports the stamped version, and finds the image's
// pinned wrangler and Node.
func TestActionImageVersion(t *testing.T) {
	docker, image := actionImage(t)
	out := run(t, docker, "run", "--rm", image, "version", "--json")
	var info struct {
		Lean4CF, Wrangler, WranglerPinned, WranglerSource, Node, Problem string
	}
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("version --json: %v: %s", err, out)
	}
	if want := os.Getenv("LEAN4CF_ACTION_IMAGE_VERSION"); want != "" && info.Lean4CF != want {
		t.Errorf("lean4-cf %q, want %q (the VERSION build argument)", info.Lean4CF, want)
	}
	if info.Wrangler != info.WranglerPinned || info.WranglerSource != "LEAN4CF_WRANGLER" {
		t.Errorf("wrangler %q via %q, want the pinned %q via LEAN4CF_WRANGLER", info.Wrangler, info.WranglerSource, info.WranglerPinned)
	}
	if want := "v" + repoFacts(t).nodeVersion; info.Node != want || info.Problem != "" {
		t.Errorf("node %q (problem %q), want %s", info.Node, info.Problem, want)
	}
}

// TestActionImageContents: GitHub's Dockerfile rules hold for the built image, nothing that only the build
// needed (the build's proxy certificates, npm, its cache, dev packages) is in it, and its size is logged.
func TestActionImageContents(t *testing.T) {
	docker, image := actionImage(t)
	var cfg []struct {
		Size   int64
		Config struct {
			User, WorkingDir string
			Entrypoint, Cmd  []string
		}
	}
	if err := json.Unmarshal([]byte(run(t, docker, "image", "inspect", image)), &cfg); err != nil || len(cfg) != 1 {
		t.Fatalf("image inspect: %v", err)
	}
	c := cfg[0].Config
	if c.User != "" || c.WorkingDir != "" {
		t.Errorf("USER %q, WORKDIR %q: GitHub wants neither", c.User, c.WorkingDir)
	}
	if strings.Join(c.Entrypoint, " ") != "/usr/local/bin/lean4-cf" || strings.Join(c.Cmd, " ") != "action" {
		t.Errorf("entrypoint %q cmd %q", c.Entrypoint, c.Cmd)
	}
	t.Logf("image %s: %.1f MB", image, float64(cfg[0].Size)/1e6)

	// A certificate is recognised by a line of its base64 body, wherever and however it was copied.
	var needles [][]byte
	for _, f := range filepath.SplitList(os.Getenv("LEAN4CF_BUILD_CA_FILES")) {
		pem, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(pem), "\n") {
			if l = strings.TrimSpace(l); len(l) == 64 {
				needles = append(needles, []byte(l))
				break
			}
		}
	}
	meta := run(t, docker, "image", "inspect", image) + run(t, docker, "history", "--no-trunc", image)
	for _, n := range needles {
		if strings.Contains(meta, string(n)) {
			t.Errorf("the image's config or history holds a build certificate (%s...)", n[:16])
		}
	}

	id := strings.TrimSpace(run(t, docker, "create", image))
	defer exec.Command(docker, "rm", id).Run()
	cmd := exec.Command(docker, "export", id)
	stream, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	forbidden := []*regexp.Regexp{
		regexp.MustCompile(`^usr/local/lib/node_modules/npm/`),
		regexp.MustCompile(`^usr/local/bin/(npm|npx|corepack|yarn)$`),
		regexp.MustCompile(`^root/\.npm/`),
		regexp.MustCompile(`^opt/lean4-cf/worker/node_modules/(vitest|typescript|@typescript/[^/]+|@cloudflare/vitest-plugin)/`),
	}
	tr := tar.NewReader(stream)
	files := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("docker export: %v", err)
		}
		files++
		for _, re := range forbidden {
			if re.MatchString(h.Name) {
				t.Errorf("%s is in the image: nothing runs it", h.Name)
			}
		}
		if h.Typeflag != tar.TypeReg || len(needles) == 0 {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range needles {
			if bytes.Contains(b, n) {
				t.Errorf("/%s holds a certificate that only the build was to trust (%s...)", h.Name, n[:16])
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("docker export: %v", err)
	}
	if files < 1000 {
		t.Fatalf("docker export listed only %d files", files)
	}
	t.Logf("%d files checked for %d build certificates", files, len(needles))
}

// sandbox is `lean4-cf sandbox` on the host: the local Cloudflare, its registry and edge on loopback.
type sandboxProc struct {
	env map[string]string
	cmd *exec.Cmd
}

func startSandbox(t *testing.T) *sandboxProc {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "lean4-cf")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/lean4-cf").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	envFile := filepath.Join(dir, "sandbox.env")
	cmd := exec.Command(bin, "sandbox", "--env-file", envFile, "--provision-delay", "1s", "--start-delay", "500ms")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &sandboxProc{cmd: cmd, env: map[string]string{}}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGINT)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(2 * time.Minute)
	for {
		b, err := os.ReadFile(envFile)
		if err == nil && len(b) > 0 {
			for _, l := range strings.Split(string(b), "\n") {
				k, v, ok := strings.Cut(strings.TrimPrefix(l, "export "), "=")
				if ok {
					s.env[k] = strings.Trim(v, "'")
				}
			}
			return s
		}
		if time.Now().After(deadline) || cmd.ProcessState != nil {
			t.Fatalf("the sandbox wrote no %s:\n%s", envFile, logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// runner holds the host folders the runner mounts into a Docker action's container.
type runner struct {
	root, workspace, home, workflow, fileCommands string
	output, summary                               string // host paths of the step's file-command files
	stdout, stderr                                string
	code                                          int
}

func newRunnerDirs(t *testing.T) *runner {
	t.Helper()
	root := t.TempDir()
	// The host folders' names as the runner makes them under its temp folder.
	r := &runner{root: root, workspace: filepath.Join(root, "workspace"), home: filepath.Join(root, "_github_home"),
		workflow: filepath.Join(root, "_github_workflow"), fileCommands: filepath.Join(root, "_runner_file_commands")}
	for _, d := range []string{r.workspace, r.home, r.workflow, r.fileCommands} {
		if err := os.MkdirAll(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// runAction runs the image as the runner runs a Docker action step: `docker run` with the workspace as
// working directory, the four mounts, every variable passed by name with `-e NAME` (values in docker's
// own environment, so no secret is on its command line), INPUT_<NAME> for each input of action.yml with
// its default unless given, the file-command files, event.json, and action.yml's args. One deviation:
// host networking, because the local Cloudflare listens on the host's loopback.
func (r *runner) runAction(t *testing.T, docker, image string, with, env map[string]string, event string) {
	t.Helper()
	md := readAction(t)
	id := make([]byte, 8)
	rand.Read(id)
	suffix := hex.EncodeToString(id)
	r.output = filepath.Join(r.fileCommands, "set_output_"+suffix)
	r.summary = filepath.Join(r.fileCommands, "step_summary_"+suffix)
	files := map[string]string{"GITHUB_OUTPUT": "set_output_", "GITHUB_STEP_SUMMARY": "step_summary_",
		"GITHUB_ENV": "set_env_", "GITHUB_PATH": "add_path_", "GITHUB_STATE": "save_state_"}
	vars := map[string]string{
		"HOME": "/github/home", "GITHUB_WORKSPACE": "/github/workspace", "GITHUB_EVENT_PATH": "/github/workflow/event.json",
		"GITHUB_ACTIONS": "true", "CI": "true", "RUNNER_OS": "Linux", "RUNNER_ARCH": "X64", "RUNNER_TEMP": "/home/runner/work/_temp",
		"GITHUB_REPOSITORY": "octo/lean", "GITHUB_REPOSITORY_OWNER": "octo", "GITHUB_RUN_ID": "42", "GITHUB_RUN_NUMBER": "7",
		"GITHUB_SERVER_URL": "https://github.com", "GITHUB_API_URL": "http://127.0.0.1:9", "GITHUB_ACTOR": "alice",
		"GITHUB_WORKFLOW": "deploy", "GITHUB_JOB": "deploy", "GITHUB_ACTION": "__self",
	}
	for k, prefix := range files {
		vars[k] = "/github/file_commands/" + prefix + suffix
		if err := os.WriteFile(filepath.Join(r.fileCommands, prefix+suffix), nil, 0o666); err != nil {
			t.Fatal(err)
		}
	}
	for name, in := range md.Inputs {
		v := ""
		if in.Default != nil {
			v = *in.Default
		}
		if v == "${{ github.token }}" {
			v = with["github-token"]
		}
		if w, ok := with[name]; ok {
			v = w
		}
		vars["INPUT_"+strings.ToUpper(strings.ReplaceAll(name, " ", "_"))] = v
	}
	for k, v := range env {
		vars[k] = v
	}
	if err := os.WriteFile(filepath.Join(r.workflow, "event.json"), []byte(event), 0o666); err != nil {
		t.Fatal(err)
	}
	args := []string{"run", "--rm", "--name", "lean4cf-test-" + suffix, "--workdir", "/github/workspace", "--network", "host"}
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	cmdEnv := os.Environ()
	for _, k := range keys {
		args = append(args, "-e", k)
		cmdEnv = append(cmdEnv, k+"="+vars[k])
	}
	args = append(args,
		"-v", "/var/run/docker.sock:/var/run/docker.sock",
		"-v", r.home+":/github/home", "-v", r.workflow+":/github/workflow",
		"-v", r.fileCommands+":/github/file_commands", "-v", r.workspace+":/github/workspace",
		image)
	args = append(args, md.Runs.Args...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, docker, args...)
	cmd.Env = cmdEnv
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r.stdout, r.stderr, r.code = stdout.String(), stderr.String(), 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("docker run: %v", err)
	}
	t.Logf("docker %s\nexit %d\n--- stdout\n%s--- stderr\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
}

// outputs parses the step's GITHUB_OUTPUT file (name<<DELIM heredocs, or name=value).
func (r *runner) outputs(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(r.output)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if name, delim, ok := strings.Cut(line, "<<"); ok {
			var val []string
			for sc.Scan() && sc.Text() != delim {
				val = append(val, sc.Text())
			}
			out[name] = strings.Join(val, "\n")
		} else if name, val, ok := strings.Cut(line, "="); ok {
			out[name] = val
		}
	}
	return out
}

// annotations counts the `::error` commands the runner would carry out in the step's log: a line whose
// trimmed start is the command, outside ::stop-commands::TOKEN ... ::TOKEN:: blocks.
func (r *runner) annotations(kind string) []string {
	var found []string
	stop := ""
	for _, line := range strings.Split(r.stdout+"\n"+r.stderr, "\n") {
		l := strings.TrimLeft(line, " \t")
		switch {
		case stop != "":
			if l == "::"+stop+"::" {
				stop = ""
			}
		case strings.HasPrefix(l, "::stop-commands::"):
			stop = strings.TrimPrefix(l, "::stop-commands::")
		case strings.HasPrefix(l, "::"+kind+"::") || strings.HasPrefix(l, "::"+kind+" "):
			found = append(found, l)
		}
	}
	return found
}

// secretScan fails on any secret in the log (but the runner-executed ::add-mask:: of it), the file
// commands, or any file left in the mounted folders.
func (r *runner) secretScan(t *testing.T, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		for _, line := range strings.Split(r.stdout+"\n"+r.stderr, "\n") {
			if strings.Contains(line, s) && line != "::add-mask::"+s {
				t.Errorf("a secret is in the log: %q", strings.ReplaceAll(line, s, "<secret>"))
			}
		}
	}
	filepath.Walk(r.root, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("a secret is in %s", p)
			}
		}
		return nil
	})
}

// TestActionImageDeploy: a push event deploys the sandbox's source image through the image, end to end.
func TestActionImageDeploy(t *testing.T) {
	docker, image := actionImage(t)
	sb := startSandbox(t)
	r := newRunnerDirs(t)
	ca, err := os.ReadFile(sb.env["SSL_CERT_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	// The edge's per-run CA, as a workflow would check out a file and point SSL_CERT_FILE at it.
	if err := os.WriteFile(filepath.Join(r.workspace, "sandbox-ca.pem"), ca, 0o644); err != nil {
		t.Fatal(err)
	}
	ghToken := "ghs_" + hex.EncodeToString([]byte(time.Now().String()))[:36]
	with := map[string]string{
		"cloudflare-api-token":  sb.env["CLOUDFLARE_API_TOKEN"],
		"cloudflare-account-id": sb.env["CLOUDFLARE_ACCOUNT_ID"],
		"image":                 sb.env["LEAN4CF_SOURCE_IMAGE"],
		"resolve":               sb.env["LEAN4CF_RESOLVE"],
		"github-token":          ghToken,
	}
	env := map[string]string{
		"CLOUDFLARE_API_BASE_URL":       sb.env["CLOUDFLARE_API_BASE_URL"],
		"CLOUDFLARE_CONTAINER_REGISTRY": sb.env["CLOUDFLARE_CONTAINER_REGISTRY"],
		"SSL_CERT_FILE":                 "/github/workspace/sandbox-ca.pem",
		"GITHUB_EVENT_NAME":             "push", "GITHUB_REF": "refs/heads/main", "GITHUB_REF_NAME": "main",
		"GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
	}
	event := `{"ref": "refs/heads/main", "after": "0123456789abcdef0123456789abcdef01234567", "repository": {"full_name": "octo/lean"}, "pusher": {"name": "alice"}}`
	r.runAction(t, docker, image, with, env, event)
	if r.code != 0 {
		t.Fatalf("the action exited %d", r.code)
	}
	out := r.outputs(t)
	for _, name := range []string{"url", "version-id", "image-digest", "instance-type", "compressed-bytes", "uncompressed-bytes", "status", "cold-start-ms", "result-json"} {
		if out[name] == "" {
			t.Errorf("output %s is empty; outputs: %v", name, out)
		}
	}
	if !strings.HasPrefix(out["url"], "https://lean4-server.") || !strings.HasPrefix(out["image-digest"], "sha256:") {
		t.Errorf("url %q, image-digest %q", out["url"], out["image-digest"])
	}
	summary, err := os.ReadFile(r.summary)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(summary), "deployed and verified") {
		t.Errorf("the job summary does not say deployed and verified:\n%s", summary)
	}
	if errs := r.annotations("error"); len(errs) != 0 {
		t.Errorf("a successful deploy printed errors: %q", errs)
	}
	r.secretScan(t, sb.env["CLOUDFLARE_API_TOKEN"], ghToken)
	// Nothing may be left in the runner's home: root-owned files there outlive the job on self-hosted
	// runners (wrangler's configuration and logs stay in the container's /tmp).
	var left []string
	filepath.Walk(r.home, func(p string, info os.FileInfo, err error) error {
		if err == nil && p != r.home {
			left = append(left, strings.TrimPrefix(p, r.home))
		}
		return nil
	})
	if len(left) > 0 {
		t.Errorf("the action left files in /github/home: %v", left)
	}
}

// TestActionImagePreflightFails: a preflight that cannot read its image fails the step with exactly one
// error annotation.
func TestActionImagePreflightFails(t *testing.T) {
	docker, image := actionImage(t)
	sb := startSandbox(t)
	r := newRunnerDirs(t)
	src := sb.env["LEAN4CF_SOURCE_IMAGE"]
	missing := src[:strings.Index(src, "/")] + "/ldct/no-such-image:v0"
	with := map[string]string{"command": "preflight", "image": missing, "github-token": "ghs_unused"}
	r.runAction(t, docker, image, with, map[string]string{"GITHUB_EVENT_NAME": "workflow_dispatch"}, `{"inputs": {}}`)
	if r.code != 1 {
		t.Errorf("exit %d, want 1 (the image cannot be read)", r.code)
	}
	if errs := r.annotations("error"); len(errs) != 1 || !strings.Contains(errs[0], "no-such-image") {
		t.Errorf("want exactly one ::error naming the image, got %q", errs)
	}
}
