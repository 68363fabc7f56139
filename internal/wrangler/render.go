// Package wrangler renders the Worker's wrangler.jsonc (stub and container modes) and the directory
// `wrangler deploy` runs from, and patches a user's own wrangler.jsonc keeping its comments.
package wrangler

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/org/lean4-cf-action/internal/instance"
	"github.com/org/lean4-cf-action/worker"
)

// ConfigFile is the name of the rendered configuration inside the directory.
const ConfigFile = "wrangler.jsonc"

// Entry points of the two modes, relative to the rendered directory.
const (
	StubMain      = "src/stub.ts"
	ContainerMain = "src/container.ts"
)

// config is a rendered wrangler.jsonc; field order is the output order.
type config struct {
	Name               string            `json:"name"`
	Main               string            `json:"main"`
	CompatibilityDate  string            `json:"compatibility_date"`
	CompatibilityFlags []string          `json:"compatibility_flags"`
	Observability      observability     `json:"observability"`
	Containers         []container       `json:"containers,omitempty"`
	DurableObjects     *durableObjects   `json:"durable_objects,omitempty"`
	Migrations         []migration       `json:"migrations,omitempty"`
	Vars               map[string]string `json:"vars"`
}

type observability struct {
	Enabled bool `json:"enabled"`
}

type container struct {
	ClassName    string `json:"class_name"`
	Image        string `json:"image"`
	InstanceType any    `json:"instance_type"` // a name, or customInstanceType
	MaxInstances int    `json:"max_instances"`
}

type durableObjects struct {
	Bindings []binding `json:"bindings"`
}

type binding struct {
	Name      string `json:"name"`
	ClassName string `json:"class_name"`
}

type migration struct {
	Tag              string   `json:"tag"`
	NewSqliteClasses []string `json:"new_sqlite_classes"`
}

// vars are the Worker variables a configuration sets: the mode's explicit settings, then o.Vars.
func vars(o Options) map[string]string {
	v := map[string]string{}
	if o.Mode == ModeContainer {
		if o.Instances != 0 {
			v["INSTANCES"] = fmt.Sprint(o.Instances)
		}
		if o.SleepAfter != "" {
			v["SLEEP_AFTER"] = o.SleepAfter
		}
		// Admission control sized for the instance type, so that it never runs out of memory; Vars may
		// override it.
		if t, _, err := instance.Lookup(o.InstanceType); err == nil {
			if c := instance.CapacityOf(t, 0); c.MaxConcurrent > 0 {
				v["MAX_CONCURRENT"] = fmt.Sprint(c.MaxConcurrent)
			}
		}
	}
	maps.Copy(v, o.Vars)
	return v
}

// Config returns the wrangler.jsonc for o: rendered from scratch, or o.UserConfig patched.
func Config(o Options) ([]byte, error) {
	if o.UserConfig != nil {
		return patch(o)
	}
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	c := config{
		Name:               o.WorkerName,
		Main:               StubMain,
		CompatibilityDate:  o.CompatibilityDate,
		CompatibilityFlags: []string{"nodejs_compat"},
		Observability:      observability{Enabled: true},
		Vars:               vars(o),
	}
	header := "// Rendered by lean4-cf (stub mode): the Worker without containers. Deploy: npx wrangler deploy\n"
	if o.Mode == ModeContainer {
		header = "// Rendered by lean4-cf (container mode): the Worker and its Lean server container. Deploy: npx wrangler deploy\n"
		c.Main = ContainerMain
		c.Containers = []container{{ClassName: ClassName, Image: o.Image, InstanceType: instanceTypeValue(o.InstanceType), MaxInstances: o.MaxInstances}}
		c.DurableObjects = &durableObjects{Bindings: []binding{{Name: BindingName, ClassName: ClassName}}}
		c.Migrations = []migration{{Tag: "v1", NewSqliteClasses: []string{ClassName}}}
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", ConfigFile, err)
	}
	return append([]byte(header), append(b, '\n')...), nil
}

// InputError is an error in Render's inputs (the options, the user's configuration, the output
// directory or node_modules), found before anything was written.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// Rendered describes a rendered directory.
type Rendered struct {
	// Dir is the directory; Config is the path of its wrangler.jsonc.
	Dir, Config string
	// Main is the entry point, relative to Dir.
	Main string
}

// Render writes a directory `wrangler deploy` can run from: wrangler.jsonc for o, the Worker's
// sources (src/) and its package.json and package-lock.json. nodeModules, when not empty, is an
// installed worker/node_modules linked into the directory so no `npm ci` is needed there.
// Render refuses a directory that holds anything else than a previous rendering. Every problem with
// the inputs is an *InputError returned before anything is written.
func Render(dir string, o Options, nodeModules string) (Rendered, error) {
	cfg, err := Config(o)
	if err != nil {
		return Rendered{}, &InputError{Err: err}
	}
	if err := checkOutDir(dir); err != nil {
		return Rendered{}, err
	}
	if nodeModules != "" {
		if nodeModules, err = filepath.Abs(nodeModules); err != nil {
			return Rendered{}, fmt.Errorf("resolving node_modules: %w", err)
		}
		if _, err := os.Stat(filepath.Join(nodeModules, "@cloudflare", "containers", "package.json")); err != nil {
			return Rendered{}, &InputError{Err: fieldErrorf(FieldNodeModules, " %s has no @cloudflare/containers: run `make toolchain` first, or leave it out and run npm ci in the rendered directory", nodeModules)}
		}
	}
	files := map[string][]byte{ConfigFile: cfg}
	err = fs.WalkDir(worker.Files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(worker.Files, p)
		files[p] = b
		return err
	})
	if err != nil {
		return Rendered{}, fmt.Errorf("reading the embedded Worker sources: %w", err)
	}
	for _, p := range slices.Sorted(maps.Keys(files)) {
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return Rendered{}, fmt.Errorf("creating %s: %w", filepath.Dir(dst), err)
		}
		if err := os.WriteFile(dst, files[p], 0o644); err != nil {
			return Rendered{}, fmt.Errorf("writing %s: %w", dst, err)
		}
	}
	if nodeModules != "" {
		if err := linkNodeModules(dir, nodeModules); err != nil {
			return Rendered{}, err
		}
	}
	main := StubMain
	if o.Mode == ModeContainer {
		main = ContainerMain
	}
	return Rendered{Dir: dir, Config: filepath.Join(dir, ConfigFile), Main: main}, nil
}

// rendered lists what a previous Render leaves in a directory; anything else means the directory is
// not ours to overwrite.
var rendered = map[string]bool{ConfigFile: true, "src": true, "package.json": true, "package-lock.json": true, "node_modules": true, ".wrangler": true, "dist": true}

func checkOutDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return &InputError{Err: fmt.Errorf("reading output directory: %w", err)}
	}
	for _, e := range entries {
		if !rendered[e.Name()] {
			return &InputError{Err: fieldErrorf(FieldOutDir, " %s holds %s, which lean4-cf did not render: use an empty or new directory", dir, e.Name())}
		}
	}
	return nil
}

// linkNodeModules links dir/node_modules to abs, an absolute path.
func linkNodeModules(dir, abs string) error {
	link := filepath.Join(dir, "node_modules")
	if target, err := os.Readlink(link); err == nil && target == abs {
		return nil
	}
	if err := os.RemoveAll(link); err != nil {
		return fmt.Errorf("replacing %s: %w", link, err)
	}
	if err := os.Symlink(abs, link); err != nil {
		return fmt.Errorf("linking node_modules: %w", err)
	}
	return nil
}
