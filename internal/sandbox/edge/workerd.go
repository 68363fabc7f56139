package edge

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/org/lean4-cf-action/internal/sandbox/cfapi"
)

// worker is one workerd process serving one Worker version.
type worker struct {
	cmd    *exec.Cmd
	addr   string
	proxy  *httputil.ReverseProxy
	exited atomic.Bool
	waited chan struct{}
	logs   *bytes.Buffer // workerd's output (read only after it exited)
}

func (w *worker) alive() bool { return !w.exited.Load() }

// stop ends workerd's whole process group: SIGTERM, then SIGKILL after 3 s.
func (w *worker) stop() {
	pid := w.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-w.waited:
	case <-time.After(3 * time.Second):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-w.waited
	}
}

// startWorker writes the version's modules and a workerd config into dir and starts workerd on a
// listener it is handed (no port race). gateURL, when set, becomes the LEAN_ORIGIN text binding.
func startWorker(workerd, dir string, v cfapi.Version, gateURL string) (*worker, error) {
	if err := os.MkdirAll(filepath.Join(dir, "do"), 0o755); err != nil {
		return nil, err
	}
	cfg, err := config(dir, v, gateURL)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "config.capnp"), cfg, 0o644); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f, err := ln.(*net.TCPListener).File()
	ln.Close() // the duplicate in f stays open for workerd
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var logs bytes.Buffer
	cmd := exec.Command(workerd, "serve", filepath.Join(dir, "config.capnp"), "--experimental", "--socket-fd", "http=3")
	cmd.Dir = dir
	cmd.ExtraFiles = []*os.File{f}
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", workerd, err)
	}
	w := &worker{cmd: cmd, addr: ln.Addr().String(), waited: make(chan struct{})}
	w.logs = &logs
	go func() {
		_ = cmd.Wait()
		w.exited.Store(true)
		close(w.waited)
	}()
	target, _ := url.Parse("http://" + w.addr)
	w.proxy = &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Host = r.In.Host // the Worker sees the workers.dev host, as on the real edge
	}}
	// Wait until workerd answers HTTP. Its listener exists before it starts, so a connection alone proves
	// nothing: a Worker that fails to load accepts and drops it (and workerd exits, with its reason logged).
	deadline := time.Now().Add(15 * time.Second)
	probe := &http.Client{Timeout: time.Second}
	for {
		if w.exited.Load() {
			return nil, fmt.Errorf("workerd exited at start: %s", strings.TrimSpace(logs.String()))
		}
		if resp, err := probe.Get("http://" + w.addr + "/"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			w.stop()
			return nil, fmt.Errorf("workerd did not start within 15 s: %s", strings.TrimSpace(logs.String()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return w, nil
}

// config renders the workerd configuration for a version (capnp text format).
func config(dir string, v cfapi.Version, gateURL string) ([]byte, error) {
	var modules, bindings, namespaces []string
	for _, m := range v.Modules {
		kind := ""
		switch {
		case strings.Contains(m.ContentType, "javascript+module"):
			kind = "esModule"
		case strings.Contains(m.ContentType, "javascript"):
			kind = "commonJsModule"
		case strings.Contains(m.ContentType, "wasm"):
			kind = "wasm"
		case strings.Contains(m.ContentType, "json"):
			kind = "json"
		case strings.HasPrefix(m.ContentType, "text/"):
			kind = "text"
		default:
			continue // source maps and the like
		}
		file := filepath.Join("modules", filepath.FromSlash(m.Name))
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(file)), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, file), m.Content, 0o644); err != nil {
			return nil, err
		}
		mod := fmt.Sprintf("(name = %s, %s = embed %s)", strconv.Quote(m.Name), kind, strconv.Quote(file))
		if m.Name == v.MainModule {
			modules = append([]string{mod}, modules...) // the main module comes first
		} else {
			modules = append(modules, mod)
		}
	}
	if len(modules) == 0 {
		return nil, fmt.Errorf("version %s has no runnable module", v.ID)
	}
	classes := map[string]bool{}
	for _, b := range v.Bindings {
		switch b.Type {
		case "plain_text", "secret_text":
			if b.Name == "LEAN_ORIGIN" && gateURL != "" {
				continue
			}
			bindings = append(bindings, fmt.Sprintf("(name = %s, text = %s)", strconv.Quote(b.Name), strconv.Quote(b.Text)))
		case "json":
			if raw, ok := b.Raw["json"]; ok {
				bindings = append(bindings, fmt.Sprintf("(name = %s, json = %s)", strconv.Quote(b.Name), strconv.Quote(fmt.Sprint(raw))))
			}
		case "durable_object_namespace":
			if b.ScriptName != "" {
				continue // another script's class: not served locally
			}
			bindings = append(bindings, fmt.Sprintf("(name = %s, durableObjectNamespace = %s)", strconv.Quote(b.Name), strconv.Quote(b.ClassName)))
			classes[b.ClassName] = true
		}
	}
	if gateURL != "" {
		bindings = append(bindings, fmt.Sprintf("(name = \"LEAN_ORIGIN\", text = %s)", strconv.Quote(gateURL)))
	}
	for c := range classes {
		namespaces = append(namespaces, fmt.Sprintf("(className = %s, uniqueKey = %s, enableSql = true)", strconv.Quote(c), strconv.Quote(v.Script+"-"+c)))
	}
	flags := make([]string, len(v.CompatibilityFlags))
	for i, f := range v.CompatibilityFlags {
		flags[i] = strconv.Quote(f)
	}
	date := v.CompatibilityDate
	if date == "" {
		date = "2025-06-01"
	}
	storage := ""
	if len(namespaces) > 0 {
		storage = "\n  durableObjectNamespaces = [" + strings.Join(namespaces, ", ") + "],\n  durableObjectStorage = (localDisk = \"do-disk\"),"
	}
	return []byte(fmt.Sprintf(`using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .main),
    (name = "internet", network = (allow = ["public", "private", "local"])),
    (name = "do-disk", disk = (path = %s, writable = true)),
  ],
  sockets = [(name = "http", http = (), service = "main")],
);

const main :Workerd.Worker = (
  modules = [%s],
  compatibilityDate = %s,
  compatibilityFlags = [%s],
  bindings = [%s],%s
  globalOutbound = "internet",
);
`, strconv.Quote(filepath.Join(dir, "do")), strings.Join(modules, ", "), strconv.Quote(date), strings.Join(flags, ", "), strings.Join(bindings, ", "), storage)), nil
}

// Process is one Worker version served by workerd on its own, without an Edge in front (for benchmarks
// that time the Worker alone).
type Process struct{ w *worker }

// RunVersion starts workerd serving v on a loopback port of its own; leanOrigin, when set, becomes the
// LEAN_ORIGIN text binding. dir receives the modules and the config. Close stops it.
func RunVersion(workerd, dir string, v cfapi.Version, leanOrigin string) (*Process, error) {
	w, err := startWorker(workerd, dir, v, leanOrigin)
	if err != nil {
		return nil, err
	}
	return &Process{w: w}, nil
}

// URL is the base URL, e.g. http://127.0.0.1:41234.
func (p *Process) URL() string { return "http://" + p.w.addr }

// Pid is workerd's process id (for benchmarks that read its CPU time).
func (p *Process) Pid() int { return p.w.cmd.Process.Pid }

// Alive reports whether workerd is still running.
func (p *Process) Alive() bool { return p.w.alive() }

// Logs is what workerd printed, once it has exited; empty while it runs.
func (p *Process) Logs() string {
	if p.w.alive() {
		return ""
	}
	<-p.w.waited
	return p.w.logs.String()
}

// Close stops workerd (SIGTERM, then SIGKILL after 3 s).
func (p *Process) Close() { p.w.stop() }
