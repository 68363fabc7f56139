// Package sandbox is the local Cloudflare that `lean4-cf sandbox`, the end-to-end scripts and the
// benchmarks run against: the v4 API and container registry (cfapi), the HTTPS workers.dev edge running
// deployed Workers in workerd (edge) with Lean server doubles behind it (leandouble), and a source
// registry holding Lean-shaped images (sampleimage) to deploy. Everything listens on loopback only.
//
//	sb, err := sandbox.Start(ctx, sandbox.Options{Workerd: workerd})
//	defer sb.Close()
//	env := sb.Env() // what a client exports: CLOUDFLARE_*, SSL_CERT_FILE, LEAN4CF_RESOLVE, ...
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/org/lean4-cf-action/internal/sandbox/cfapi"
	"github.com/org/lean4-cf-action/internal/sandbox/edge"
	"github.com/org/lean4-cf-action/internal/sandbox/ocireg"
	"github.com/org/lean4-cf-action/internal/sandbox/sampleimage"
)

// SourceRepository is the source registry's repository of the Lean-shaped images, named as the real
// image is (ghcr.io/ldct/lean4-server).
const SourceRepository = "ldct/lean4-server"

// DefaultSourceTag is the tag of the default source image, the Lean server version lean4-cf deploys.
const DefaultSourceTag = "v4.24.0"

// Options configures a Sandbox. Every field but Workerd is optional.
type Options struct {
	// Workerd is the workerd binary the edge runs Workers in (worker/node_modules/workerd/bin/workerd
	// after `make toolchain`). Required.
	Workerd string
	// API configures the local Cloudflare API and registry (tokens, provisioning and cold-start delays,
	// clock). Default: cfapi's defaults.
	API cfapi.Options
	// Edge tunes the edge; its API and Workerd fields are filled in by Start. Default: edge's defaults.
	Edge edge.Options
	// Images are the source registry's images by tag, under SourceRepository. Default: one small
	// Lean-shaped image tagged DefaultSourceTag.
	Images map[string]v1.Image
	// Dir is the work folder (CA files, workerd folders). Default: a new temporary folder, removed by
	// Close.
	Dir string
}

// Sandbox is a running local Cloudflare.
type Sandbox struct {
	api    *cfapi.Server
	edge   *edge.Edge
	source *http.Server
	srcL   net.Listener
	images map[string]string // tag -> reference in the source registry
	caFile string            // the edge's and the registry's CAs, for NODE_EXTRA_CA_CERTS
	dir    string
	ownDir bool
}

// Start starts the API and registry, the edge and the source registry, and pushes the source images.
// On error nothing is left running.
func Start(ctx context.Context, opts Options) (_ *Sandbox, err error) {
	if opts.Workerd == "" {
		return nil, errors.New("starting the sandbox: Options.Workerd is required")
	}
	s := &Sandbox{dir: opts.Dir, images: map[string]string{}}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()
	if s.dir == "" {
		if s.dir, err = os.MkdirTemp("", "lean4cf-sandbox-"); err != nil {
			return nil, fmt.Errorf("creating the sandbox folder: %w", err)
		}
		s.ownDir = true
	}
	if s.api, err = cfapi.New(opts.API); err != nil {
		return nil, fmt.Errorf("starting the local API: %w", err)
	}
	eo := opts.Edge
	eo.API, eo.Workerd = s.api, opts.Workerd
	if eo.Dir == "" {
		eo.Dir = filepath.Join(s.dir, "edge")
	}
	if s.edge, err = edge.Start(eo); err != nil {
		return nil, fmt.Errorf("starting the local edge: %w", err)
	}
	edgeCA, err := os.ReadFile(s.edge.CAFile())
	if err != nil {
		return nil, fmt.Errorf("reading the edge's CA: %w", err)
	}
	s.caFile = filepath.Join(s.dir, "sandbox-ca.pem")
	if err := os.WriteFile(s.caFile, append(edgeCA, s.api.RegistryCA()...), 0o644); err != nil {
		return nil, fmt.Errorf("writing the sandbox's CA file: %w", err)
	}
	if err := s.startSource(ctx, opts.Images); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Sandbox) startSource(ctx context.Context, images map[string]v1.Image) error {
	if len(images) == 0 {
		img, err := sampleimage.LeanShaped(sampleimage.Small)
		if err != nil {
			return fmt.Errorf("making the source image: %w", err)
		}
		images = map[string]v1.Image{DefaultSourceTag: img}
	}
	var err error
	if s.srcL, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return fmt.Errorf("starting the source registry: %w", err)
	}
	s.source = &http.Server{Handler: ocireg.New(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = s.source.Serve(s.srcL) }()
	for _, tag := range slices.Sorted(maps.Keys(images)) {
		ref, err := name.NewTag(s.srcL.Addr().String() + "/" + SourceRepository + ":" + tag)
		if err != nil {
			return fmt.Errorf("naming the source image %s: %w", tag, err)
		}
		if err := remote.Write(ref, images[tag], remote.WithContext(ctx)); err != nil {
			return fmt.Errorf("seeding the source registry: %w", err)
		}
		s.images[tag] = ref.String()
	}
	return nil
}

// API is the local Cloudflare API and registry.
func (s *Sandbox) API() *cfapi.Server { return s.api }

// Edge is the HTTPS workers.dev edge.
func (s *Sandbox) Edge() *edge.Edge { return s.edge }

// SourceImage returns the reference of the source image with this tag, or "" when there is none.
func (s *Sandbox) SourceImage(tag string) string { return s.images[tag] }

// Env is what a client exports to use the sandbox: the API's CLOUDFLARE_API_BASE_URL,
// CLOUDFLARE_API_TOKEN, CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_CONTAINER_REGISTRY; SSL_CERT_FILE (the edge's
// per-run CA) and LEAN4CF_RESOLVE (*.<subdomain>.workers.dev:443 to the edge) for lean4-cf's probes;
// NODE_EXTRA_CA_CERTS (the edge's and the registry's CAs) for wrangler's registry calls; and
// LEAN4CF_SOURCE_IMAGE, the default source image (the first tag when DefaultSourceTag is not one).
func (s *Sandbox) Env() map[string]string {
	m := s.api.Env()
	m["SSL_CERT_FILE"] = s.edge.CAFile()
	m["LEAN4CF_RESOLVE"] = s.edge.WildcardRule()
	m["NODE_EXTRA_CA_CERTS"] = s.caFile
	img := s.images[DefaultSourceTag]
	if img == "" && len(s.images) > 0 {
		img = s.images[slices.Sorted(maps.Keys(s.images))[0]]
	}
	m["LEAN4CF_SOURCE_IMAGE"] = img
	return m
}

// Close stops every server and process the sandbox started and removes its folder when it made it.
func (s *Sandbox) Close() error {
	var errs []error
	if s.edge != nil {
		errs = append(errs, s.edge.Close())
	}
	if s.api != nil {
		errs = append(errs, s.api.Close())
	}
	if s.source != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := s.source.Shutdown(ctx); err != nil {
			errs = append(errs, s.source.Close())
		}
		cancel()
	}
	if s.ownDir {
		errs = append(errs, os.RemoveAll(s.dir))
	}
	return errors.Join(errs...)
}
