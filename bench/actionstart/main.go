// Command actionstart measures how long a job waits before the action's entry point runs, for the two
// ways action.yml can name the image:
//
//   - (a) `image: Dockerfile`: the runner builds the Dockerfile on every job. Timed here as `docker build
//     --no-cache` (base images already present, so this is a lower bound) plus `docker run ... version`.
//   - (b) `image: docker://...@sha256:...`: the runner pulls the prebuilt image. Timed as `docker pull`
//     from a registry on loopback (go-containerregistry's, blobs on disk) into a fresh Docker engine
//     (its own data root, so no layer is already there, as on a new runner) plus the same `docker run`.
//
// It prints both, their ratio (target: (b) at least 10x faster), the image's size, and the pull time of
// any image named with -compare (e.g. an earlier build) pulled the same way. Run it with
// `make bench-action-start`, which starts the Docker engine if needed, makes missing base images and
// passes DOCKER, BUILD_CA_CERTS and the classic-builder switch.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

type options struct {
	docker    string   // the docker client
	runs      int      // pulls per image
	coldRuns  int      // cold builds
	compare   []string // more local images whose pull time is measured
	version   string   // VERSION build argument
	buildCA   string   // BUILD_CA_CERTS build argument
	buildkit  bool     // DOCKER_BUILDKIT=1 for the build
	keepImage string   // tag of the built image
}

func main() {
	var o options
	var compare string
	flag.IntVar(&o.runs, "runs", 3, "pulls (b) per image; the median is reported")
	flag.IntVar(&o.coldRuns, "cold-runs", 1, "cold builds (a); the median is reported")
	flag.StringVar(&compare, "compare", "", "comma-separated local images whose pull time is measured too")
	flag.StringVar(&o.version, "version", "v0.0.0-bench", "VERSION build argument")
	flag.BoolVar(&o.buildkit, "buildkit", true, "build with BuildKit (DOCKER_BUILDKIT=1), as GitHub's runners do")
	flag.Parse()
	o.docker = envOr("DOCKER", "docker")
	o.buildCA = os.Getenv("BUILD_CA_CERTS")
	o.keepImage = "lean4cf-action:bench"
	for _, c := range strings.Split(compare, ",") {
		if c = strings.TrimSpace(c); c != "" {
			o.compare = append(o.compare, c)
		}
	}
	if o.runs < 1 || o.coldRuns < 1 {
		fmt.Fprintln(os.Stderr, "bench-action-start: -runs and -cold-runs must be at least 1")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Hour)
	defer cancel()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench-action-start:", err)
		os.Exit(1)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// docker runs the client against host ("" = its default engine) and returns stdout.
func docker(ctx context.Context, o options, host string, extraEnv []string, args ...string) (string, error) {
	if host != "" {
		args = append([]string{"-H", host}, args...)
	}
	cmd := exec.CommandContext(ctx, o.docker, args...)
	cmd.Env = append(os.Environ(), extraEnv...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func run(ctx context.Context, o options) error {
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(root, "Dockerfile")); err != nil {
		return fmt.Errorf("run from the repository root: %w", err)
	}

	// (a) the Dockerfile built cold, then the entry point run.
	buildEnv := []string{"DOCKER_BUILDKIT=0"}
	if o.buildkit {
		buildEnv = []string{"DOCKER_BUILDKIT=1"}
	}
	var cold []time.Duration
	for i := 0; i < o.coldRuns; i++ {
		start := time.Now()
		if _, err := docker(ctx, o, "", buildEnv, "build", "--no-cache", "-q", "--build-arg", "VERSION="+o.version,
			"--build-arg", "BUILD_CA_CERTS="+o.buildCA, "-t", o.keepImage, "."); err != nil {
			return err
		}
		if _, err := docker(ctx, o, "", nil, "run", "--rm", o.keepImage, "version"); err != nil {
			return err
		}
		cold = append(cold, time.Since(start))
		fmt.Fprintf(os.Stderr, "(a) cold build + run %d: %.1f s\n", i+1, time.Since(start).Seconds())
	}

	// A registry on loopback, blobs on disk, and every image pushed to it once.
	dir, err := os.MkdirTemp("", "lean4cf-bench-registry-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.MkdirAll(filepath.Join(dir, "blobs"), 0o700); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0)),
		registry.WithBlobHandler(registry.NewDiskBlobHandler(filepath.Join(dir, "blobs"))))}
	go srv.Serve(ln)
	defer srv.Close()
	reg := ln.Addr().String()
	images := append([]string{o.keepImage}, o.compare...)
	remote := map[string]string{}
	for i, img := range images {
		ref := fmt.Sprintf("%s/bench/image%d:latest", reg, i)
		if _, err := docker(ctx, o, "", nil, "tag", img, ref); err != nil {
			return err
		}
		if _, err := docker(ctx, o, "", nil, "push", "-q", ref); err != nil {
			return err
		}
		docker(ctx, o, "", nil, "rmi", ref)
		remote[img] = ref
	}

	// (b) pulls into a fresh engine: its own data root, nothing cached.
	fresh, stop, err := startEngine(ctx, o, dir)
	if err != nil {
		return err
	}
	defer stop()
	pulls := map[string][]time.Duration{}
	starts := []time.Duration{}
	sizes := map[string]string{}
	for r := 0; r < o.runs; r++ {
		for _, img := range images {
			ref := remote[img]
			start := time.Now()
			if _, err := docker(ctx, o, fresh, nil, "pull", "-q", ref); err != nil {
				return err
			}
			pulled := time.Since(start)
			pulls[img] = append(pulls[img], pulled)
			if img == o.keepImage {
				if _, err := docker(ctx, o, fresh, nil, "run", "--rm", "--network", "host", ref, "version"); err != nil {
					return err
				}
				starts = append(starts, time.Since(start))
			}
			if sizes[img], err = docker(ctx, o, fresh, nil, "image", "inspect", "-f", "{{.Size}}", ref); err != nil {
				return err
			}
			if _, err := docker(ctx, o, fresh, nil, "rmi", ref); err != nil {
				return err
			}
			if _, err := docker(ctx, o, fresh, nil, "image", "prune", "-af"); err != nil {
				return err
			}
		}
	}
	compressed := map[string]int64{}
	for _, img := range images {
		if compressed[img], err = compressedSize(ctx, remote[img]); err != nil {
			return err
		}
	}

	a, b := median(cold), median(starts)
	fmt.Printf("action start: time until the entry point has run (`lean4-cf version`), %d cold build(s), %d pull(s)\n", o.coldRuns, o.runs)
	fmt.Printf("  (a) image: Dockerfile, built cold     %8.1f s\n", a.Seconds())
	fmt.Printf("  (b) prebuilt image, pulled + run      %8.1f s   (pull alone %.1f s)\n", b.Seconds(), median(pulls[o.keepImage]).Seconds())
	fmt.Printf("  ratio (a)/(b)                         %8.1fx   (target >= 10x: %s)\n", a.Seconds()/b.Seconds(), map[bool]string{true: "met", false: "NOT met"}[a >= 10*b])
	for _, img := range images {
		fmt.Printf("image %-28s pull %5.1f s (median of %d)   %7.1f MB compressed   %s bytes uncompressed\n",
			img, median(pulls[img]).Seconds(), o.runs, float64(compressed[img])/1e6, sizes[img])
	}
	return nil
}

// startEngine starts a second dockerd with its own data root, exec root, socket and bridge (the
// benchmark runs its containers with host networking), and returns its -H address.
func startEngine(ctx context.Context, o options, dir string) (string, func(), error) {
	d := filepath.Join(dir, "engine")
	if err := os.MkdirAll(d, 0o700); err != nil {
		return "", nil, err
	}
	sock := "unix://" + filepath.Join(d, "docker.sock")
	logf, err := os.Create(filepath.Join(d, "dockerd.log"))
	if err != nil {
		return "", nil, err
	}
	// A bridge of its own: with --bridge=none dockerd deletes docker0, the running engine's bridge, and
	// without --bridge it would take docker0 over.
	const bridge = "l4cfbench0"
	exec.Command("ip", "link", "del", bridge).Run()
	for _, args := range [][]string{{"link", "add", bridge, "type", "bridge"}, {"addr", "add", "172.31.254.1/24", "dev", bridge}, {"link", "set", bridge, "up"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			logf.Close()
			return "", nil, fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, out)
		}
	}
	// The engine outlives no run: stopping it cancels engineCtx, and exec.Cmd then interrupts dockerd (a
	// clean shutdown unmounts its namespaces) and kills it only if it has not exited within 30 s.
	engineCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	cmd := exec.CommandContext(engineCtx, "dockerd", "--data-root", filepath.Join(d, "data"), "--exec-root", filepath.Join(d, "exec"),
		"--pidfile", filepath.Join(d, "docker.pid"), "-H", sock, "--bridge="+bridge, "--iptables=false", "--ip-masq=false")
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		cancel()
		logf.Close()
		exec.Command("ip", "link", "del", bridge).Run()
		return "", nil, fmt.Errorf("starting a fresh dockerd: %w", err)
	}
	stop := func() {
		defer exec.Command("ip", "link", "del", bridge).Run()
		cancel()
		cmd.Wait()
		logf.Close()
		// dockerd leaves its network namespace mounted under the exec root; unmounted, the folder can go.
		syscall.Unmount(filepath.Join(d, "exec", "netns", "default"), 0)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := docker(ctx, o, sock, nil, "info"); err == nil {
			return sock, stop, nil
		}
		if time.Now().After(deadline) {
			stop()
			b, _ := os.ReadFile(filepath.Join(d, "dockerd.log"))
			return "", nil, errors.New("the fresh dockerd did not start: " + lastLines(string(b), 5))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// compressedSize is what a pull downloads: the config and the compressed layers of the manifest.
func compressedSize(ctx context.Context, ref string) (int64, error) {
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return 0, err
	}
	img, err := remote.Image(r, remote.WithContext(ctx))
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", ref, err)
	}
	m, err := img.Manifest()
	if err != nil {
		return 0, err
	}
	n := m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	return n, nil
}
