package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"

	"github.com/org/lean4-cf-action/internal/image"
	"github.com/org/lean4-cf-action/internal/instance"
	"github.com/org/lean4-cf-action/internal/report"
)

// preflightOptions are the flags of `lean4-cf preflight`.
type preflightOptions struct {
	image, instanceType, memoryPerRun string
	exact, json                       bool
	concurrency                       int
}

func newPreflightCmd(env Env) *cobra.Command {
	o := &preflightOptions{}
	cmd := &cobra.Command{
		Use:   "preflight [--image REF] [--exact] [--instance-type TYPE] [--concurrency N] [--memory-per-run SIZE] [--json]",
		Short: "Measure an image and fit it to the Cloudflare Containers instance types",
		Long: `preflight reads an image's manifest from its registry (no Docker needed), chooses its linux/amd64
image, measures its sizes and shows which of the six instance types it fits, and what an hour awake costs.

REF is a registry reference by tag or digest, oci:DIR (an OCI image layout) or docker-archive:FILE
(a docker save tarball). Registry credentials come from the Docker config (and its credential helpers),
and GITHUB_TOKEN for ghcr.io when set.

The default mode reads each gzip layer's size trailer (and each zstd layer's frame header) with a small
Range request, and streams only the layers whose trailer is missing or doubtful; its figures are marked
"estimate". --exact streams every layer once, in parallel, and also sums the files' sizes ("content"),
which is what the layers occupy on disk.

A type fits when  ceil(S × 1.1 + layers × 16 MiB) <= disk  (wrangler's rule; S is the content size with
--exact, else the slightly larger tar-stream size) and  256 MiB + concurrency × memory-per-run <= memory.

Exit status: 0 the image is usable and fits the chosen type; 1 it does not fit, has no linux/amd64 image,
or cannot be read; 2 a usage error.`,
		Example: `  lean4-cf preflight
  lean4-cf preflight --image ghcr.io/ldct/lean4-server@sha256:<digest> --exact
  lean4-cf preflight --image oci:./build/image --instance-type basic --concurrency 2 --memory-per-run 384MiB
  lean4-cf preflight --image docker-archive:lean.tar --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPreflight(cmd.Context(), env, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.image, "image", image.DefaultImage, "image to check: a registry reference, oci:DIR or docker-archive:FILE")
	f.BoolVar(&o.exact, "exact", false, "stream every layer for exact sizes, file content included (slower)")
	f.StringVar(&o.instanceType, "instance-type", instance.Auto, "auto (the smallest that fits) or one of "+strings.Join(instance.Names(), ", "))
	f.IntVar(&o.concurrency, "concurrency", instance.DefaultConcurrency, "Lean runs at once, for the memory rule")
	f.StringVar(&o.memoryPerRun, "memory-per-run", instance.FormatSize(instance.DefaultMemoryPerRun), "memory one Lean run needs, e.g. 256MiB, 1GiB, 512MB (a unit is required)")
	f.BoolVar(&o.json, "json", false, "print one JSON object instead of the table (no progress)")
	return cmd
}

// preflightConfig turns flags into validated options; every error is a usage error.
func (o *preflightOptions) config(env Env) (image.PreflightOptions, error) {
	var opts image.PreflightOptions
	ref := strings.TrimSpace(o.image)
	switch {
	case ref == "":
		return opts, usagef("--image is empty: name an image, e.g. --image %s", image.DefaultImage)
	case strings.HasPrefix(ref, "oci:"), strings.HasPrefix(ref, "docker-archive:"):
	default:
		if _, err := name.ParseReference(ref); err != nil {
			return opts, usagef("--image %q is not an image reference (%v): write REGISTRY/REPOSITORY:TAG or @sha256:DIGEST, oci:DIR or docker-archive:FILE", ref, err)
		}
	}
	if t := strings.ToLower(strings.TrimSpace(o.instanceType)); t != instance.Auto {
		if _, _, err := instance.Lookup(t); err != nil {
			return opts, usagef("--instance-type: %v", err)
		}
	}
	if o.concurrency < 1 {
		return opts, usagef("--concurrency %d: give at least 1 run at once", o.concurrency)
	}
	mem, err := instance.ParseSize(o.memoryPerRun)
	if err != nil {
		return opts, usagef("--memory-per-run: %v", err)
	}
	opts = image.PreflightOptions{
		Image:        ref,
		Source:       image.SourceOptions{Keychain: authn.DefaultKeychain, GitHubToken: env.Getenv("GITHUB_TOKEN")},
		Inspect:      image.InspectOptions{Exact: o.exact},
		InstanceType: o.instanceType,
		Needs:        instance.Needs{Concurrency: o.concurrency, MemoryPerRun: mem},
	}
	return opts, nil
}

func runPreflight(ctx context.Context, env Env, o *preflightOptions) error {
	opts, err := o.config(env)
	if err != nil {
		return err
	}
	if !o.json {
		opts.Inspect.Progress = progressPrinter(env.Stderr)
	}
	in, pf, err := image.Preflight(ctx, opts)
	if err != nil {
		return preflightError(err)
	}
	for _, w := range pf.Warnings {
		fmt.Fprintf(env.Stderr, "lean4-cf: warning: %s\n", w)
	}
	if o.json {
		if err := writePreflightJSON(env.Stdout, pf); err != nil {
			return err
		}
	} else {
		writePreflightText(env.Stdout, in, pf)
	}
	if !pf.Fits {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%s does not fit %s", pf.Image, pf.Reason)}
	}
	return nil
}

// preflightError maps preflight failures to exit codes, on one line.
func preflightError(err error) error {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	if errors.Is(err, image.ErrBadReference) {
		return &UsageError{Err: errors.New(msg)}
	}
	return &ExitError{Code: ExitFailure, Err: errors.New(msg)}
}

// progressPrinter writes a progress line at most every 2 s while layers stream, and when the last one ends.
func progressPrinter(w io.Writer) func(image.Progress) {
	var last time.Time
	return func(p image.Progress) {
		end := p.LayersDone == p.LayersToDo && p.LayersToDo > 0
		if !end && time.Since(last) < 2*time.Second {
			return
		}
		last = time.Now()
		rate := ""
		if s := p.Elapsed.Seconds(); s > 0 {
			rate = fmt.Sprintf(", %s/s", report.Bytes(int64(float64(p.BytesDone)/s)))
		}
		fmt.Fprintf(w, "preflight: streamed %s of %s (%d of %d layers)%s\n",
			report.Bytes(p.BytesDone), report.Bytes(p.BytesTotal), p.LayersDone, p.LayersToDo, rate)
	}
}

// preflightJSON is the --json object: exactly the keys issue 2 lists.
type preflightJSON struct {
	Image                   string         `json:"image"`
	Digest                  string         `json:"digest"`
	Platform                string         `json:"platform"`
	Layers                  int            `json:"layers"`
	CompressedBytes         int64          `json:"compressedBytes"`
	UncompressedBytes       int64          `json:"uncompressedBytes"`
	ContentBytes            *int64         `json:"contentBytes,omitempty"`
	SizeMethod              string         `json:"sizeMethod"`
	RequiredDiskBytes       int64          `json:"requiredDiskBytes"`
	InstanceType            string         `json:"instanceType"`
	RecommendedInstanceType *string        `json:"recommendedInstanceType"` // null when no type fits
	Fits                    bool           `json:"fits"`
	InstanceTypes           []instanceJSON `json:"instanceTypes"`
}

type instanceJSON struct {
	Name       string   `json:"name"`
	VCPU       float64  `json:"vcpu"`
	MemoryMiB  int      `json:"memoryMiB"`
	DiskMB     int      `json:"diskMB"`
	Fits       bool     `json:"fits"`
	Reasons    []string `json:"reasons"`
	USDPerHour float64  `json:"usdPerHour"`
}

func writePreflightJSON(w io.Writer, pf report.Preflight) error {
	out := preflightJSON{Image: pf.Image, Digest: pf.Digest, Platform: pf.Platform, Layers: pf.Layers,
		CompressedBytes: pf.CompressedBytes, UncompressedBytes: pf.UncompressedBytes, SizeMethod: pf.SizeMethod,
		RequiredDiskBytes: pf.RequiredDiskBytes, InstanceType: pf.InstanceType, Fits: pf.Fits,
		InstanceTypes: []instanceJSON{}}
	if pf.SizeBasis == image.BasisContent {
		c := pf.ContentBytes
		out.ContentBytes = &c
	}
	if pf.RecommendedInstanceType != "" {
		r := pf.RecommendedInstanceType
		out.RecommendedInstanceType = &r
	}
	for _, t := range pf.Types {
		reasons := t.Reasons
		if reasons == nil {
			reasons = []string{}
		}
		out.InstanceTypes = append(out.InstanceTypes, instanceJSON{Name: t.Name, VCPU: t.VCPU, MemoryMiB: t.MemoryMiB,
			DiskMB: t.DiskMB, Fits: t.Fits, Reasons: reasons, USDPerHour: round(t.USDPerHour, 6)})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("writing the preflight JSON: %w", err)
	}
	return nil
}

func writePreflightText(w io.Writer, in *image.Inspection, pf report.Preflight) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "image\t%s\n", pf.Image)
	fmt.Fprintf(tw, "digest\t%s\n", pf.Digest)
	fmt.Fprintf(tw, "platform\t%s\n", pf.Platform)
	fmt.Fprintf(tw, "layers\t%d\n", pf.Layers)
	fmt.Fprintf(tw, "compressed\t%s\t(%d bytes: the layer blobs)\n", report.Bytes(pf.CompressedBytes), pf.CompressedBytes)
	how := "exact: every layer streamed"
	if pf.SizeMethod == image.MethodEstimate {
		how = fmt.Sprintf("estimate: %s", estimateNote(in))
	}
	fmt.Fprintf(tw, "uncompressed\t%s\t(%d bytes: the tar streams; %s)\n", report.Bytes(pf.UncompressedBytes), pf.UncompressedBytes, how)
	if pf.SizeBasis == image.BasisContent {
		fmt.Fprintf(tw, "content\t%s\t(%d bytes: the files, overwritten and deleted ones included)\n", report.Bytes(pf.ContentBytes), pf.ContentBytes)
	}
	basis, s := "content", pf.ContentBytes
	if pf.SizeBasis != image.BasisContent {
		basis, s = "uncompressed size (conservative; --exact uses the content)", pf.UncompressedBytes
	}
	fmt.Fprintf(tw, "required disk\t%s\t(%d bytes = ceil(%d × 1.1 + %d layers × 16 MiB), from the %s)\n", report.Bytes(pf.RequiredDiskBytes),
		pf.RequiredDiskBytes, s, pf.Layers, basis)
	tw.Flush()
	fmt.Fprintln(w)

	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tVCPU\tMEMORY\tDISK\tFITS\t$/HOUR AWAKE\tWHY NOT")
	for _, t := range pf.Types {
		fits := "no"
		if t.Fits {
			fits = "yes"
		}
		mark := ""
		if t.Name == pf.InstanceType {
			mark = " *"
		}
		fmt.Fprintf(tw, "%s%s\t%s\t%d MiB\t%d MB\t%s\t%.4f\t%s\n", t.Name, mark, vcpu(t.VCPU), t.MemoryMiB, t.DiskMB, fits,
			t.USDPerHour, strings.Join(t.Reasons, "; "))
	}
	tw.Flush()
	fmt.Fprintln(w)
	verdict := "fits"
	if !pf.Fits {
		verdict = "does not fit"
	}
	fmt.Fprintf(w, "* instance type %s: %s", pf.InstanceType, verdict)
	switch {
	case pf.RecommendedInstanceType == "":
		fmt.Fprintf(w, "; no instance type fits")
	case pf.RecommendedInstanceType != pf.InstanceType:
		fmt.Fprintf(w, "; the smallest type that fits is %s", pf.RecommendedInstanceType)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "$/hour awake: memory + disk + every vCPU busy, at the published rates, before included usage.")
}

// estimateNote says which layers were estimated and how.
func estimateNote(in *image.Inspection) string {
	counts := map[string]int{}
	for _, l := range in.Layers {
		counts[l.Method]++
	}
	var parts []string
	for _, m := range []string{image.LayerGzipTrailer, image.LayerZstdHeader, image.LayerUncompressed, image.LayerStreamed} {
		if n := counts[m]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, m))
		}
	}
	return strings.Join(parts, ", ") + "; --exact to be sure"
}

func vcpu(v float64) string {
	if v > 0 && v < 1 {
		return "1/" + strconv.FormatFloat(1/v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func round(v float64, digits int) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', digits, 64), 64)
	return f
}
