// Command pipeline measures lean4-cf's own time in a deploy, beyond the time the wrangler processes it
// runs take (the named peer: wrangler itself, measured in the same runs).
//
// It starts the sandbox (internal/sandbox: the local Cloudflare, with provisioning and cold start at zero
// so that no platform wait is counted), then deploys its source image -runs times in each scenario:
//
//   - first:    a Worker that does not exist yet (stub under the production name, push, promote)
//   - redeploy: the same Worker and image again (stub under <name>-stub, verified and deleted, nothing
//     pushed, wrangler reports no container changes)
//
// Each run's result (`deploy --json`) carries every stage's duration and the part of it spent in
// wrangler (wranglerMs), and the run's whole wrangler time (between stages too). The report prints medians per scenario: wall time, wrangler time, lean4-cf's
// own time (wall minus wrangler) and own/wrangler, then the own time per stage. Run it with
// `make bench-pipeline`.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/org/lean4-cf-action/internal/cli"
	"github.com/org/lean4-cf-action/internal/sandbox"
	"github.com/org/lean4-cf-action/internal/sandbox/edge"
)

func main() {
	runs := flag.Int("runs", 3, "deploys per scenario")
	flag.Parse()
	if err := run(*runs); err != nil {
		fmt.Fprintln(os.Stderr, "bench-pipeline:", err)
		os.Exit(1)
	}
}

type result struct {
	Outcome    string  `json:"outcome"`
	WranglerMs float64 `json:"wranglerMs"`
	Stages     []struct {
		Name       string  `json:"name"`
		DurationMs float64 `json:"durationMs"`
		WranglerMs float64 `json:"wranglerMs"`
	} `json:"stages"`
}

type sample struct {
	wall, wrangler time.Duration
	ownByStage     map[string]time.Duration
}

func run(runs int) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir, err := os.MkdirTemp("", "bench-pipeline-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	root := edge.FindRoot(wd)
	if root == "" {
		return fmt.Errorf("no worker/node_modules/workerd above %s: run `make toolchain` in the lean4-cf checkout", wd)
	}
	// Provisioning and cold start take no time: no platform wait is counted.
	sb, err := sandbox.Start(ctx, sandbox.Options{Workerd: edge.WorkerdPath(root), Dir: filepath.Join(dir, "sandbox")})
	if err != nil {
		return err
	}
	defer sb.Close()
	vars := sb.Env()
	vars["HOME"] = dir
	getenv := func(k string) string {
		if v, ok := vars[k]; ok {
			return v
		}
		return os.Getenv(k)
	}
	deploy := func(name string) (sample, error) {
		var out, errb bytes.Buffer
		start := time.Now()
		code := cli.Main(ctx, []string{"deploy", "--image", vars["LEAN4CF_SOURCE_IMAGE"], "--name", name, "--json"},
			cli.Env{Stdout: &out, Stderr: &errb, Getenv: getenv})
		wall := time.Since(start)
		var res result
		if err := json.Unmarshal(out.Bytes(), &res); err != nil || code != 0 || res.Outcome != "deployed" {
			return sample{}, fmt.Errorf("deploy %s: exit %d, outcome %q: %s", name, code, res.Outcome, strings.TrimSpace(errb.String()))
		}
		s := sample{wall: wall, wrangler: ms(res.WranglerMs), ownByStage: map[string]time.Duration{}}
		for _, st := range res.Stages {
			s.ownByStage[st.Name] = ms(st.DurationMs) - ms(st.WranglerMs)
		}
		return s, nil
	}
	scenarios := map[string][]sample{}
	for i := range runs {
		name := "bench-" + strconv.Itoa(i)
		for _, sc := range []string{"first", "redeploy"} {
			s, err := deploy(name)
			if err != nil {
				return err
			}
			scenarios[sc] = append(scenarios[sc], s)
		}
	}

	fmt.Printf("lean4-cf's own time in a deploy, beyond wrangler's (medians of %d runs; local Cloudflare, no platform wait)\n\n", runs)
	fmt.Printf("%-9s %9s %9s %9s %13s\n", "scenario", "wall", "wrangler", "own", "own/wrangler")
	for _, sc := range []string{"first", "redeploy"} {
		ss := scenarios[sc]
		wall := median(ss, func(s sample) time.Duration { return s.wall })
		wr := median(ss, func(s sample) time.Duration { return s.wrangler })
		own := median(ss, func(s sample) time.Duration { return s.wall - s.wrangler })
		fmt.Printf("%-9s %9s %9s %9s %12.2fx\n", sc, sec(wall), sec(wr), sec(own), own.Seconds()/wr.Seconds())
	}
	fmt.Printf("\nown time per stage (stage duration minus its wrangler time; probes, push, API calls):\n")
	for _, sc := range []string{"first", "redeploy"} {
		var parts []string
		for _, st := range []string{"preflight", "stub", "push", "promote", "status"} {
			parts = append(parts, fmt.Sprintf("%s %s", st, sec(median(scenarios[sc], func(s sample) time.Duration { return s.ownByStage[st] }))))
		}
		fmt.Printf("  %-9s %s\n", sc, strings.Join(parts, ", "))
	}
	return nil
}

func median(ss []sample, f func(sample) time.Duration) time.Duration {
	v := make([]time.Duration, len(ss))
	for i, s := range ss {
		v[i] = f(s)
	}
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	return v[len(v)/2]
}

func ms(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

func sec(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
