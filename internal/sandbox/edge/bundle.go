package edge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tailscale/hujson"

	"github.com/org/lean4-cf-action/internal/sandbox/cfapi"
	"github.com/org/lean4-cf-action/internal/wrangler"
)

// WorkerdPath is the pinned workerd of a checkout (installed by `make toolchain`).
func WorkerdPath(root string) string {
	return filepath.Join(root, "worker", "node_modules", "workerd", "bin", "workerd")
}

// FindRoot is the nearest folder at or above dir with the pinned workerd installed, or "".
func FindRoot(dir string) string {
	for {
		if _, err := os.Stat(WorkerdPath(dir)); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// BundleOptions says what Bundle renders.
type BundleOptions struct {
	// Name is the Worker's name. Required.
	Name string
	// Vars are Worker variables rendered into the configuration (wrangler.Options.Vars).
	Vars map[string]string
	// Key, when set, becomes the LEAN_API_KEY secret binding.
	Key string
	// Entry, when set, is an extra module written beside the Worker's sources (src/Entry.Name) and
	// bundled as the main module instead of the container entry point: a benchmark's peer built from
	// the same sources. It must export the Durable Object class the configuration binds. Default: none.
	Entry *Entry
}

// Entry is a TypeScript module added to the Worker's sources.
type Entry struct {
	// Name is the file name under src/, e.g. "nohop.ts".
	Name string
	// Source is the module's text.
	Source []byte
}

// Bundle renders the Worker in container mode, bundles it with the checkout's pinned wrangler
// (`deploy --dry-run`, offline) and returns it as the version wrangler would upload: the bundle, the
// configuration's compatibility settings and variables, the Durable Object binding and the key. Benchmarks
// serve it with RunVersion.
func Bundle(ctx context.Context, root, dir string, o BundleOptions) (cfapi.Version, error) {
	tool, err := wrangler.Locate(wrangler.LocateOptions{Getenv: func(string) string { return "" }, Roots: []string{root}})
	if err != nil {
		return cfapi.Version{}, fmt.Errorf("locating wrangler: %w", err)
	}
	if tool.Source != wrangler.SourceProject {
		return cfapi.Version{}, errors.New("the project's wrangler is missing: run `make toolchain`")
	}
	const image = "registry.cloudflare.com/0123456789abcdef0123456789abcdef/lean4-server@sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945"
	r, err := wrangler.Render(filepath.Join(dir, "project"), wrangler.Options{Mode: wrangler.ModeContainer, WorkerName: o.Name, Image: image, Vars: o.Vars},
		filepath.Join(root, "worker", "node_modules"))
	if err != nil {
		return cfapi.Version{}, fmt.Errorf("rendering the Worker: %w", err)
	}
	home := filepath.Join(dir, "home")
	env := append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "WRANGLER_LOG_PATH="+filepath.Join(home, "logs"))
	dist := filepath.Join(dir, "dist")
	args := []string{"deploy", "--dry-run", "--outdir", dist, "--config", r.Config}
	entry := r.Main
	if o.Entry != nil {
		entry = filepath.Join("src", o.Entry.Name)
		if err := os.WriteFile(filepath.Join(r.Dir, entry), o.Entry.Source, 0o644); err != nil {
			return cfapi.Version{}, fmt.Errorf("writing the entry module: %w", err)
		}
		args = append([]string{"deploy", entry}, args[1:]...)
	}
	run := wrangler.Runner{Tool: tool, Dir: r.Dir, Env: env}
	if _, err := run.Run(ctx, args...); err != nil {
		return cfapi.Version{}, fmt.Errorf("bundling the Worker: %w", err)
	}
	main := strings.TrimSuffix(filepath.Base(entry), ".ts") + ".js"
	code, err := os.ReadFile(filepath.Join(dist, main))
	if err != nil {
		return cfapi.Version{}, fmt.Errorf("reading the bundle: %w", err)
	}
	raw, err := os.ReadFile(r.Config)
	if err != nil {
		return cfapi.Version{}, fmt.Errorf("reading the rendered configuration: %w", err)
	}
	std, err := hujson.Standardize(raw)
	if err != nil {
		return cfapi.Version{}, fmt.Errorf("parsing the rendered configuration: %w", err)
	}
	var cfg struct {
		CompatibilityDate  string            `json:"compatibility_date"`
		CompatibilityFlags []string          `json:"compatibility_flags"`
		Vars               map[string]string `json:"vars"`
	}
	if err := json.Unmarshal(std, &cfg); err != nil {
		return cfapi.Version{}, fmt.Errorf("parsing the rendered configuration: %w", err)
	}
	v := cfapi.Version{
		ID: o.Name, Script: o.Name, MainModule: main,
		Modules:           []cfapi.Module{{Name: main, ContentType: "application/javascript+module", Content: code}},
		CompatibilityDate: cfg.CompatibilityDate, CompatibilityFlags: cfg.CompatibilityFlags,
		Bindings: []cfapi.Binding{{Type: "durable_object_namespace", Name: wrangler.BindingName, ClassName: wrangler.ClassName}},
	}
	if o.Key != "" {
		v.Bindings = append(v.Bindings, cfapi.Binding{Type: "secret_text", Name: "LEAN_API_KEY", Text: o.Key})
	}
	for _, k := range slices.Sorted(maps.Keys(cfg.Vars)) {
		v.Bindings = append(v.Bindings, cfapi.Binding{Type: "plain_text", Name: k, Text: cfg.Vars[k]})
	}
	return v, nil
}

// WithVars returns v with these plain-text variables set (replacing any of the same name), so one
// bundle serves several settings.
func WithVars(v cfapi.Version, vars map[string]string) cfapi.Version {
	out := v
	out.Bindings = nil
	for _, b := range v.Bindings {
		if _, ok := vars[b.Name]; ok && b.Type == "plain_text" {
			continue
		}
		out.Bindings = append(out.Bindings, b)
	}
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		out.Bindings = append(out.Bindings, cfapi.Binding{Type: "plain_text", Name: k, Text: vars[k]})
	}
	return out
}
