package cli

import (
	"context"
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/org/lean4-cf-action/internal/wrangler"
)

// VersionOptions are the flags of `lean4-cf version`.
type VersionOptions struct {
	f        *Factory
	wrangler string // --wrangler PATH; default "" (LEAN4CF_WRANGLER, the pinned install, then PATH)
	json     bool   // --json; default false (text)
}

// versionInfo is what `lean4-cf version --json` prints.
type versionInfo struct {
	Lean4CF         string `json:"lean4cf"`
	Wrangler        string `json:"wrangler,omitempty"`
	WranglerPath    string `json:"wranglerPath,omitempty"`
	WranglerSource  string `json:"wranglerSource,omitempty"`
	WranglerPinned  string `json:"wranglerPinned"`
	Node            string `json:"node,omitempty"`
	NodePath        string `json:"nodePath,omitempty"`
	Problem         string `json:"problem,omitempty"`
	WranglerWarning string `json:"wranglerWarning,omitempty"`
}

// NewCmdVersion returns `lean4-cf version`; runF, when set, runs instead of runVersion (tests).
func NewCmdVersion(f *Factory, runF func(*VersionOptions) error) *cobra.Command {
	o := &VersionOptions{f: f}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the versions of lean4-cf, the wrangler it runs, and the Node.js that runs wrangler",
		Long: `Print the versions of lean4-cf, the wrangler it runs, and the Node.js that runs wrangler.

wrangler is found the way deploy finds it: --wrangler PATH, else $LEAN4CF_WRANGLER, else the project's
pinned install (worker/node_modules, put there by "make toolchain"), else wrangler on $PATH.
Node.js is $LEAN4CF_NODE, else the project's Node 22 (.tools/node), else node on $PATH.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return runVersion(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.wrangler, "wrangler", "", "wrangler to run (a .bin/wrangler link, wrangler.js, or an executable)")
	cmd.Flags().BoolVar(&o.json, "json", false, "print one JSON object")
	return cmd
}

func runVersion(ctx context.Context, o *VersionOptions) error {
	env := o.f.Env
	info := versionInfo{Lean4CF: buildVersion(), WranglerPinned: wrangler.PinnedVersion}
	tool, err := wrangler.Locate(wrangler.LocateOptions{Flag: o.wrangler, Getenv: env.Getenv})
	if err != nil {
		info.Problem = err.Error()
	} else {
		info.Wrangler, info.WranglerPath, info.WranglerSource = tool.Version, tool.Path, tool.Source
		info.WranglerWarning = tool.Warning()
		info.NodePath = tool.Node
		if info.Node, err = tool.NodeVersion(ctx); err != nil {
			info.Problem = err.Error()
		}
	}
	if o.json {
		return printJSON(env.Stdout, info)
	}
	fmt.Fprintf(env.Stdout, "lean4-cf %s\n", info.Lean4CF)
	if info.WranglerPath != "" {
		v := info.Wrangler
		if v == "" {
			v = "(unknown version)"
		}
		fmt.Fprintf(env.Stdout, "wrangler %s (%s, found via %s; pinned %s)\n", v, info.WranglerPath, info.WranglerSource, info.WranglerPinned)
	}
	if info.NodePath != "" {
		fmt.Fprintf(env.Stdout, "node %s (%s)\n", info.Node, info.NodePath)
	}
	if info.WranglerWarning != "" {
		fmt.Fprintln(env.Stderr, info.WranglerWarning)
	}
	if info.Problem != "" {
		fmt.Fprintf(env.Stderr, "warning: %s\n", info.Problem)
	}
	return nil
}

// buildVersion reports the module version, or the VCS revision for a development build.
// stampedVersion is the release version stamped at link time, e.g. by the Dockerfile's VERSION build
// argument: go build -ldflags "-X github.com/org/lean4-cf-action/internal/cli.stampedVersion=v1.2.3".
// The linker can set only a package-level string, hence the one variable; empty in ordinary builds,
// which report the module or VCS version instead.
var stampedVersion string

func buildVersion() string {
	if stampedVersion != "" {
		return stampedVersion
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			return "devel-" + s.Value[:12]
		}
	}
	return "devel"
}
