package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/spf13/cobra"

	"github.com/org/lean4-cf-action/internal/image"
	"github.com/org/lean4-cf-action/internal/instance"
	"github.com/org/lean4-cf-action/internal/report"
)

// PreflightOptions are the flags of `lean4-cf preflight`.
type PreflightOptions struct {
	f            *Factory
	image        string  // --image; default defaultImage
	exact        bool    // --exact; default false (estimate from gzip trailers and zstd headers)
	instanceType string  // --instance-type; default auto
	concurrency  int     // --concurrency; default instance.DefaultConcurrency
	memoryPerRun string  // --memory-per-run; default 256MiB
	json         bool    // --json; default false (text)
	targetRate   float64 // --target-rate: evaluations per second to plan for; default 0 (no plan)
	runSeconds   float64 // --run-seconds: one evaluation's CPU time alone, with targetRate; default 0
	// maxRatio is the compression ratio above which a gzip trailer is not trusted (image.Options.MaxRatio;
	// zero means its default). No flag sets it: tests lower it to make small bounded layers.
	maxRatio float64

	ref    image.Ref // parsed by validate
	memRun int64
}

func (o *PreflightOptions) validate() error {
	ref, err := image.ParseRef(o.image)
	if err != nil {
		return flagErrorf("image", ": %v", err)
	}
	o.ref = ref
	if err := instance.Check(o.instanceType); err != nil {
		return flagErrorf("instance-type", ": %v", err)
	}
	if o.concurrency < 1 || o.concurrency > 64 {
		return flagErrorf("concurrency", " %d is out of range: use 1 to 64 Lean runs at once", o.concurrency)
	}
	if o.memRun, err = instance.ParseSize(o.memoryPerRun); err != nil {
		return flagErrorf("memory-per-run", ": %v", err)
	}
	if (o.targetRate != 0) != (o.runSeconds != 0) {
		return flagErrorf("target-rate", " and --run-seconds go together: give both (e.g. --target-rate 2 --run-seconds 0.5) or neither")
	}
	if o.targetRate != 0 {
		if err := instance.CheckLoad(o.targetRate, o.runSeconds); err != nil {
			return usagef("--target-rate/--run-seconds: %v", err)
		}
	}
	return nil
}

// preflightJSON is `preflight --json`: exactly the keys the README's preflight section lists.
type preflightJSON struct {
	Image             string `json:"image"`
	Digest            string `json:"digest"`
	Platform          string `json:"platform"`
	Layers            int    `json:"layers"`
	CompressedBytes   int64  `json:"compressedBytes"`
	UncompressedBytes int64  `json:"uncompressedBytes"`
	ContentBytes      *int64 `json:"contentBytes,omitempty"`
	SizeMethod        string `json:"sizeMethod"`
	RequiredDiskBytes int64  `json:"requiredDiskBytes"`
	// With sizeMethod "bounds", uncompressedBytes and requiredDiskBytes are the low figures and these the
	// high ones, and boundedLayers says which layers made them a range and why.
	UncompressedBytesHigh   *int64           `json:"uncompressedBytesHigh,omitempty"`
	RequiredDiskBytesHigh   *int64           `json:"requiredDiskBytesHigh,omitempty"`
	BoundedLayers           []boundedJSON    `json:"boundedLayers,omitempty"`
	InstanceType            string           `json:"instanceType"`
	RecommendedInstanceType *string          `json:"recommendedInstanceType"`
	Fits                    bool             `json:"fits"`
	InstanceTypes           []report.FitRow  `json:"instanceTypes"`
	CustomType              report.CustomRow `json:"customType"`
	// ConcurrentEvaluations is the chosen type's MAX_CONCURRENT; Capacity says it and what happens past it.
	ConcurrentEvaluations int       `json:"concurrentEvaluations"`
	Capacity              string    `json:"capacity"`
	Plan                  *planJSON `json:"plan,omitempty"`
}

// planJSON is the --target-rate/--run-seconds recommendation.
type planJSON struct {
	TargetRate   float64 `json:"targetRate"`
	RunSeconds   float64 `json:"runSeconds"`
	BusyVCPU     float64 `json:"busyVCPU"`
	PerInstance  float64 `json:"perInstancePerSecond"`
	Instances    int     `json:"instances"`
	MaxInstances int     `json:"maxInstances"`
	USDPerHour   float64 `json:"usdPerHour"`
	Text         string  `json:"text"`
}

type boundedJSON struct {
	Index                 int    `json:"index"`
	Digest                string `json:"digest"`
	CompressedBytes       int64  `json:"compressedBytes"`
	UncompressedBytes     int64  `json:"uncompressedBytes"`
	UncompressedBytesHigh int64  `json:"uncompressedBytesHigh"`
	Why                   string `json:"why"`
}

// fitResult is a measured image fitted to the catalog.
type fitResult struct {
	rep          image.Report
	required     int64 // the required disk; the smallest reading's when the size is a range
	requiredHigh int64 // the largest reading's required disk when the size is a range, else required
	basis        string
	need         instance.Need
	fits         []instance.Fit
	custom       instance.Fit // the cheapest custom configuration; for a range, one that holds every reading
	chosen       instance.Fit
	ok           bool
	// agree is true when every reading of a bounded size gives the same fits, choice and recommendation
	// (always true for a single reading); depends names what differs otherwise.
	agree       bool
	depends     []string
	recommended string // "" when nothing fits
	warnings    []string
}

// fitImage fits the image under every reading of its size (one, unless layers are bounded).
func fitImage(rep image.Report, want string, concurrency int, memRun int64) (fitResult, error) {
	size, basis := rep.DiskBasis()
	sizes := []int64{size}
	if rs := rep.Readings(); len(rs) > 1 {
		sizes = rs
	}
	needs := make([]instance.Need, len(sizes))
	for i, s := range sizes {
		needs[i] = instance.Need{DiskBytes: instance.RequiredDiskBytes(s, len(rep.Layers)), Concurrency: concurrency, MemoryPerRun: memRun}
	}
	fr := fitResult{rep: rep, basis: basis, need: needs[0], required: needs[0].DiskBytes, requiredHigh: needs[len(needs)-1].DiskBytes}
	dec, err := instance.Decide(needs, want)
	if err != nil {
		return fr, err
	}
	auto, err := instance.Decide(needs, "auto")
	if err != nil {
		return fr, err
	}
	fr.fits, fr.chosen, fr.ok = dec.Fits, dec.Chosen, dec.OK
	fr.custom = instance.CheapestCustom(needs[len(needs)-1])
	fr.agree, fr.depends = dec.Agree && auto.Agree, append(dec.Depends, auto.Depends...)
	if auto.OK {
		fr.recommended = auto.Chosen.Type.Name
	}
	if _, dep, _ := instance.Lookup(want); dep != "" {
		fr.warnings = append(fr.warnings, dep)
	}
	fr.warnings = append(fr.warnings, fr.chosen.Warnings...)
	if n := len(rep.Bounded()); n > 0 {
		fr.warnings = append(fr.warnings, fmt.Sprintf("the uncompressed size is a range (%d of %d layers bounded by their gzip trailers), and the fit is the same at each of its %d readings; --exact measures it", n, len(rep.Layers), len(rep.Readings())))
	}
	for _, l := range rep.Layers {
		if l.Assumes != "" {
			fr.warnings = append(fr.warnings, "the uncompressed size is an estimate that assumes each large gzip layer "+l.Assumes+"; --exact measures it")
			break
		}
	}
	return fr, nil
}

// preflight turns a fit into the report model the deploy pipeline and job summary use.
func (fr fitResult) preflight() report.Preflight {
	p := report.Preflight{
		Image: fr.rep.Image, Digest: fr.rep.Digest, Layers: len(fr.rep.Layers), CompressedBytes: fr.rep.CompressedBytes,
		UncompressedBytes: fr.rep.UncompressedBytes, RequiredDiskBytes: fr.required, SizeMethod: fr.rep.SizeMethod,
		InstanceType: fr.chosen.Type.Spec(), Fits: fr.ok, Reason: strings.Join(fr.chosen.Reasons, "; "),
		Capacity: instance.CapacityOf(fr.chosen.Type, fr.need.MemoryPerRun).Sentence(),
	}
	if fr.chosen.Type.IsCustom() {
		p.InstanceConfig = fr.chosen.Type.Describe()
	}
	if fr.rep.SizeMethod == "bounds" {
		p.UncompressedBytesHigh, p.RequiredDiskBytesHigh = fr.rep.UncompressedBytesHigh, fr.requiredHigh
	}
	for _, f := range fr.fits {
		p.Types = append(p.Types, fitRow(f))
	}
	c := fr.customRow()
	p.Custom = &c
	return p
}

// customRow is the cheapest custom configuration and its saving against the cheapest fitting named type.
func (fr fitResult) customRow() report.CustomRow {
	c := report.CustomRow{FitRow: fitRow(fr.custom), CustomCosts: report.CustomCosts{IdleUSDPerHour: report.USD(fr.custom.Type.IdleUSDPerHour())}}
	if named, ok := instance.CheapestNamed(fr.fits); ok {
		busy := report.USD(named.Type.USDPerHour() - fr.custom.Type.USDPerHour())
		idle := report.USD(named.Type.IdleUSDPerHour() - fr.custom.Type.IdleUSDPerHour())
		c.ComparedWith, c.SavingUSDPerHour, c.SavingIdleUSDPerHour = &named.Type.Name, &busy, &idle
	}
	return c
}

// fitRow is one type's row of the fit table, for preflight --json and deploy's result alike.
func fitRow(f instance.Fit) report.FitRow {
	reasons := f.Reasons
	if reasons == nil {
		reasons = []string{}
	}
	r := report.FitRow{Name: f.Type.Name, VCPU: f.Type.VCPU, MemoryMiB: f.Type.MemoryMiB, DiskMB: f.Type.DiskMB, Fits: f.Fits,
		Reasons: reasons, USDPerHour: report.USD(f.Type.USDPerHour())}
	if f.Type.IsCustom() {
		r.Spec = f.Type.Spec()
	}
	return r
}

// NewCmdPreflight returns `lean4-cf preflight`; runF, when set, runs instead of runPreflight once the
// flags are valid (tests).
func NewCmdPreflight(f *Factory, runF func(*PreflightOptions) error) *cobra.Command {
	o := &PreflightOptions{f: f}
	cmd := &cobra.Command{
		Use:   "preflight",
		Short: "Measure an image and fit it to Cloudflare's instance types (no Docker, nothing deployed)",
		Long: `preflight reads the image from its registry (or an OCI layout, or a docker save tarball), picks
linux/amd64, and measures it:
  compressed    Σ of the layer sizes in the manifest
  uncompressed  Σ of the decompressed tar streams
  content       Σ of the tar header sizes of regular files (with --exact): what the files occupy
  required disk ceil(size × 1.1 + layers × 16 MiB), wrangler's rule, with size = content when
                measured, else the (larger) uncompressed size
It then fits every instance type: the disk must hold the required disk, and the memory must hold
256 MiB + concurrency × memory-per-run. auto recommends the smallest type that fits. Beside the named
types it prints the cheapest custom configuration that fits (Cloudflare's limits for custom types:
1 to 4 vCPU, at least 3 GiB memory per vCPU, at most 12 GiB memory and 20 GB disk), with what it
saves; --instance-type custom chooses it, custom:vcpu=V,memory=M,disk=D an explicit one.
It states how many evaluations an instance of the chosen type runs at once (the Worker's
MAX_CONCURRENT, rendered at deploy) and what happens past it. --target-rate R --run-seconds S plans
instances and max_instances for R evaluations per second of S seconds of CPU each (Little's law), with
the cost per hour awake.

Without --exact, gzip trailers and zstd frame headers are read with HTTP Range requests and only
layers whose estimate is in doubt are streamed. A large gzip layer's trailer (its size modulo 4 GiB)
allows several sizes within 20:1: the fit is decided at each, and when it is the same the sizes are
shown as a range (size method "bounds") and the layer is not streamed. --exact streams every layer
once, in parallel.
Registry credentials come from the Docker config, and GITHUB_TOKEN for ghcr.io.

Exit status: 0 usable and fits, 1 unusable, does not fit or unreadable, 2 bad flags.`,
		Example: `  lean4-cf preflight
  lean4-cf preflight --image ghcr.io/ldct/lean4-server:v4.24.0 --exact --json
  lean4-cf preflight --image oci:./build/layout --instance-type basic --concurrency 1
  lean4-cf preflight --instance-type custom:vcpu=1,memory=4GiB,disk=8GB
  lean4-cf preflight --image docker-archive:image.tar
  lean4-cf preflight --target-rate 2 --run-seconds 0.5`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(o)
			}
			return runPreflight(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.image, "image", defaultImage, "image: a registry reference, oci:DIR or docker-archive:FILE")
	fl.BoolVar(&o.exact, "exact", false, "stream every layer for exact figures (and the content size)")
	fl.StringVar(&o.instanceType, "instance-type", "auto", instance.Choices())
	fl.IntVar(&o.concurrency, "concurrency", instance.DefaultConcurrency, "Lean runs at once, for the memory rule")
	fl.StringVar(&o.memoryPerRun, "memory-per-run", "256MiB", "memory one Lean run needs (units B, KB, MB, GB, KiB, MiB, GiB)")
	fl.BoolVar(&o.json, "json", false, "print one JSON object and no progress")
	fl.Float64Var(&o.targetRate, "target-rate", 0, "evaluations per second to plan for (with --run-seconds): recommends instances and max_instances")
	fl.Float64Var(&o.runSeconds, "run-seconds", 0, "one evaluation's CPU time in seconds on one vCPU alone (with --target-rate)")
	return cmd
}

// measureOptions says how measureImage measures.
type measureOptions struct {
	source   image.SourceOptions // from imageSource
	exact    bool
	quiet    bool    // no progress on stderr
	maxRatio float64 // image.Options.MaxRatio; zero means its default
	// fit is the decision the sizes feed: bounded layers stay unstreamed when it is the same at every
	// reading of the image's size.
	want        string
	concurrency int
	memRun      int64
}

// imageSource is how source images are read: GITHUB_TOKEN, checked where it is read, logs in to ghcr.io.
func imageSource(env Env) (image.SourceOptions, error) {
	token := env.Getenv("GITHUB_TOKEN")
	return image.SourceOptions{GitHubToken: token}, checkSecret("GITHUB_TOKEN", token)
}

// measureImage opens and measures the image, with progress on stderr unless quiet. It returns the opened
// image too, so that the push copies exactly the image that was measured, even if the tag moves meanwhile.
func measureImage(ctx context.Context, env Env, ref image.Ref, mo measureOptions) (v1.Image, image.Report, error) {
	opts := image.Options{Exact: mo.exact, MaxRatio: mo.maxRatio, Source: mo.source,
		Decided: func(rep image.Report) bool {
			fr, err := fitImage(rep, mo.want, mo.concurrency, mo.memRun)
			return err == nil && fr.agree
		}}
	if !mo.quiet {
		opts.Progress = func(p image.Progress) {
			rate := float64(p.Done) / max(p.Elapsed.Seconds(), 0.001)
			fmt.Fprintf(env.Stderr, "streaming %d layers: %s of %s (%s/s)\n", p.Layers, report.Bytes(p.Done), report.Bytes(p.Total), report.Bytes(int64(rate)))
		}
	}
	img, err := image.Open(ctx, ref, opts.Source)
	if err != nil {
		return nil, image.Report{}, imageError(err)
	}
	rep, err := image.Measure(ctx, ref, img, opts)
	if err != nil {
		return nil, rep, imageError(err)
	}
	return img, rep, nil
}

// imageError keeps the image package's errors (which name the image) on one line, with what to check.
func imageError(err error) error {
	var ue *image.UnusableError
	if errors.As(err, &ue) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w; check the image reference (or the oci: folder, docker-archive: file), that its registry is reachable, and your login to it", unwrapAll(err))
}

// unwrapAll keeps an error's text on one line.
func unwrapAll(err error) error {
	return errors.New(strings.Join(strings.Fields(err.Error()), " "))
}

func runPreflight(ctx context.Context, o *PreflightOptions) error {
	env := o.f.Env
	src, err := imageSource(env)
	if err != nil {
		return err
	}
	_, rep, err := measureImage(ctx, env, o.ref, measureOptions{source: src, exact: o.exact, quiet: o.json, maxRatio: o.maxRatio,
		want: o.instanceType, concurrency: o.concurrency, memRun: o.memRun})
	if err != nil {
		return err
	}
	fr, err := fitImage(rep, o.instanceType, o.concurrency, o.memRun)
	if err != nil {
		return flagErrorf("instance-type", ": %v", err)
	}
	if err := fr.customMisfit(o.instanceType); err != nil && o.json {
		return err // nothing printed: the explicit configuration was the mistake
	}
	capacity := instance.CapacityOf(fr.chosen.Type, o.memRun)
	var plan *instance.Plan
	if o.targetRate != 0 {
		p, err := instance.Recommend(capacity, o.targetRate, o.runSeconds)
		if err != nil {
			return usagef("--target-rate/--run-seconds: %v", err)
		}
		plan = &p
	}
	if o.json {
		out := preflightJSON{
			ConcurrentEvaluations: capacity.MaxConcurrent, Capacity: capacity.Sentence(),
			Image: rep.Image, Digest: rep.Digest, Platform: rep.Platform, Layers: len(rep.Layers), CompressedBytes: rep.CompressedBytes,
			UncompressedBytes: rep.UncompressedBytes, SizeMethod: rep.SizeMethod, RequiredDiskBytes: fr.required,
			InstanceType: fr.chosen.Type.Name, Fits: fr.ok,
		}
		if o.exact {
			out.ContentBytes = &rep.ContentBytes
		}
		if fr.recommended != "" {
			out.RecommendedInstanceType = &fr.recommended
		}
		if rep.SizeMethod == "bounds" {
			out.UncompressedBytesHigh, out.RequiredDiskBytesHigh = &rep.UncompressedBytesHigh, &fr.requiredHigh
			for _, i := range rep.Bounded() {
				l := rep.Layers[i]
				out.BoundedLayers = append(out.BoundedLayers, boundedJSON{Index: i, Digest: l.Digest, CompressedBytes: l.Compressed,
					UncompressedBytes: l.Uncompressed, UncompressedBytesHigh: l.UncompressedHigh, Why: l.Why})
			}
		}
		for _, f := range fr.fits {
			out.InstanceTypes = append(out.InstanceTypes, fitRow(f))
		}
		out.InstanceType = fr.chosen.Type.Spec()
		out.CustomType = fr.customRow()
		if plan != nil {
			out.Plan = &planJSON{TargetRate: plan.Rate, RunSeconds: plan.RunSeconds, BusyVCPU: round4(plan.BusyVCPU), PerInstance: round4(plan.PerInstance),
				Instances: plan.Instances, MaxInstances: plan.Max, USDPerHour: round4(plan.USDPerHour), Text: plan.Sentence()}
		}
		if err := printJSON(env.Stdout, out); err != nil {
			return err
		}
	} else {
		printFit(env.Stdout, fr)
		fmt.Fprintf(env.Stdout, "capacity  %s\n", capacity.Sentence())
		if plan != nil {
			fmt.Fprintf(env.Stdout, "plan      %s\n", plan.Sentence())
		}
		for _, w := range fr.warnings {
			fmt.Fprintf(env.Stderr, "warning: %s\n", w)
		}
	}
	if err := fr.customMisfit(o.instanceType); err != nil {
		return err
	}
	if !fr.ok {
		why := strings.Join(fr.chosen.Reasons, "; ")
		if o.instanceType == instance.CustomName {
			return &ExitError{Code: ExitFailure, Err: fmt.Errorf("image %s fits no custom configuration (%s): reduce the image or --concurrency", rep.Image, why)}
		}
		if o.instanceType == "auto" {
			return &ExitError{Code: ExitFailure, Err: fmt.Errorf("image %s fits no instance type (largest: %s): reduce the image or --concurrency", rep.Image, why)}
		}
		hint := "choose --instance-type auto"
		if fr.recommended != "" {
			hint = "choose --instance-type " + fr.recommended + " or auto"
		}
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("image %s does not fit %s (%s): %s", rep.Image, fr.chosen.Type.Name, why, hint)}
	}
	return nil
}

// customMisfit refuses an explicit custom configuration that does not hold the image: a usage error
// (exit 2) naming the violated rule, as for one outside the limits.
func (fr fitResult) customMisfit(want string) error {
	if fr.ok || !fr.chosen.Type.IsCustom() || want == instance.CustomName {
		return nil
	}
	return flagErrorf("instance-type", " %s does not fit image %s: %s; give more, or use custom for the cheapest that fits (%s)",
		want, fr.rep.Image, strings.Join(fr.chosen.Reasons, "; "), fr.custom.Type.Spec())
}

func round4(f float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'f', 4, 64), 64)
	return v
}

func printFit(w io.Writer, fr fitResult) {
	rep := fr.rep
	streamed := ""
	if rep.SizeMethod != "exact" {
		streamed = fmt.Sprintf(", %d of %d layers streamed", rep.Streamed, len(rep.Layers))
	}
	size, _ := rep.DiskBasis()
	uncompressed, sizeText, required := report.Bytes(rep.UncompressedBytes), report.Bytes(size), instance.GB(fr.required)
	if rep.SizeMethod == "bounds" {
		uncompressed = report.Bytes(rep.UncompressedBytes) + " to " + report.Bytes(rep.UncompressedBytesHigh)
		sizeText, required = uncompressed, instance.GB(fr.required)+" to "+instance.GB(fr.requiredHigh)
	}
	fmt.Fprintf(w, "image     %s\ndigest    %s\nplatform  %s\nlayers    %d\n", rep.Image, rep.Digest, rep.Platform, len(rep.Layers))
	fmt.Fprintf(w, "size      %s compressed, %s uncompressed (%s%s)\n", report.Bytes(rep.CompressedBytes), uncompressed, rep.SizeMethod, streamed)
	for _, i := range rep.Bounded() {
		l := rep.Layers[i]
		fmt.Fprintf(w, "bounded   layer %d (%s): %s\n", i+1, shortDigest(l.Digest), l.Why)
	}
	if rep.ContentBytes > 0 {
		fmt.Fprintf(w, "content   %s in regular files\n", report.Bytes(rep.ContentBytes))
	}
	fmt.Fprintf(w, "disk      needs %s = ceil(%s %s × 1.1 + %d layers × 16 MiB)\n", required, sizeText, fr.basis, len(rep.Layers))
	fmt.Fprintf(w, "memory    needs %d MiB = 256 MiB + %d runs × %d MiB\n\n", fr.need.MemoryBytes()>>20, max(fr.need.Concurrency, 1), fr.need.MemoryPerRun>>20)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tvCPU\tMEMORY\tDISK\tFITS\t$/HOUR AWAKE\tWHY NOT")
	rows := append(slices.Clip(fr.fits), fr.custom)
	if fr.chosen.Type.IsCustom() && fr.chosen.Type != fr.custom.Type {
		rows = append(rows, fr.chosen) // an explicit configuration, beside the cheapest
	}
	for _, f := range rows {
		fits := "yes"
		if !f.Fits {
			fits = "no"
		}
		mark := " "
		if f.Type.Spec() == fr.chosen.Type.Spec() {
			mark = "*"
		}
		fmt.Fprintf(tw, "%s%s\t%s\t%d MiB\t%s\t%s\t%.4f\t%s\n", mark, f.Type.Name, strconv.FormatFloat(f.Type.VCPU, 'f', -1, 64),
			f.Type.MemoryMiB, diskGB(f.Type.DiskMB), fits, f.Type.USDPerHour(), strings.Join(f.Reasons, "; "))
	}
	tw.Flush()
	if rep.SizeMethod == "bounds" {
		fmt.Fprintf(w, "\nFITS holds at each of the %d readings of the size (--exact streams the bounded layers)\n", len(rep.Readings()))
	}
	if fr.recommended != "" {
		fmt.Fprintf(w, "\nrecommended: %s\n", fr.recommended)
	}
	printCustom(w, fr)
	fmt.Fprintln(w, "$/hour awake: provisioned memory and disk plus every vCPU busy, at the published rates; idle CPU is free")
}

// diskGB writes a disk size in GB, as Cloudflare states them ("8 GB", "3.5 GB").
func diskGB(mb int64) string {
	return strconv.FormatFloat(float64(mb)/1000, 'f', -1, 64) + " GB"
}

// printCustom says what the cheapest custom configuration is and costs against the cheapest named type
// that fits, awake with the CPU busy (the table's figure) and idle (CPU is billed on use only).
func printCustom(w io.Writer, fr fitResult) {
	c := fr.custom
	if !c.Fits {
		fmt.Fprintf(w, "custom:      none fits (%s)\n", strings.Join(c.Reasons, "; "))
		return
	}
	fmt.Fprintf(w, "custom:      --instance-type %s (or custom) at $%.4f/hour awake, $%.4f idle\n", c.Type.Spec(), c.Type.USDPerHour(), c.Type.IdleUSDPerHour())
	if fr.rep.SizeMethod == "bounds" {
		fmt.Fprintln(w, "             sized for the largest reading; --instance-type custom streams the bounded layers to size it exactly")
	}
	named, ok := instance.CheapestNamed(fr.fits)
	if !ok {
		fmt.Fprintln(w, "             no named type fits this image; only a custom configuration does")
		return
	}
	busy := named.Type.USDPerHour() - c.Type.USDPerHour()
	idle := named.Type.IdleUSDPerHour() - c.Type.IdleUSDPerHour()
	fmt.Fprintf(w, "             against %s: %s awake, %s idle\n", named.Type.Name, saving(busy, named.Type.USDPerHour()), saving(idle, named.Type.IdleUSDPerHour()))
}

// saving words a difference in $/hour against a base: "saves $0.1170 (53 %)" or "costs $0.0270 more".
func saving(d, base float64) string {
	if d >= 0.00005 {
		return fmt.Sprintf("saves $%.4f/hour (%.0f %%)", d, 100*d/base)
	}
	if d <= -0.00005 {
		return fmt.Sprintf("costs $%.4f/hour more", -d)
	}
	return "costs the same"
}

// imagePortsFor measures once and serves both the preflight and the push from the same opened image.
func imagePortsFor(env Env, o *DeployOptions) (imagePorts, error) {
	ref, err := image.ParseRef(o.image)
	if err != nil {
		return imagePorts{}, flagErrorf("image", ": %v", err)
	}
	src, err := imageSource(env)
	if err != nil {
		return imagePorts{}, err
	}
	if err := instance.Check(o.instanceType); err != nil {
		return imagePorts{}, flagErrorf("instance-type", ": %v", err)
	}
	var (
		mu       sync.Mutex
		measured int64
		fitted   fitResult
		opened   v1.Image // the image preflight measured; the push copies this one
	)
	ports := imagePorts{
		preflight: func(ctx context.Context) (report.Preflight, error) {
			// Bounded layers are not streamed when every reading decides alike: a size that fits at no
			// reading fails here, before any write, and the push measures the exact size anyway.
			img, rep, err := measureImage(ctx, env, ref, measureOptions{source: src, quiet: o.json, maxRatio: o.maxRatio,
				want: o.instanceType, concurrency: instance.DefaultConcurrency, memRun: instance.DefaultMemoryPerRun})
			if err != nil {
				return report.Preflight{}, err
			}
			opened = img
			if fitted, err = fitImage(rep, o.instanceType, instance.DefaultConcurrency, instance.DefaultMemoryPerRun); err != nil {
				return report.Preflight{}, err
			}
			if err := fitted.customMisfit(o.instanceType); err != nil {
				return fitted.preflight(), err
			}
			return fitted.preflight(), nil
		},
		push: &registryPusher{
			open: func(ctx context.Context) (v1.Image, error) {
				if opened != nil {
					return opened, nil
				}
				return image.Open(ctx, ref, src)
			},
			measure: func(ctx context.Context, _ v1.Hash, _ types.MediaType, r io.Reader) error {
				sz, err := image.MeasureLayer(ctx, r)
				mu.Lock()
				measured += sz.Uncompressed
				mu.Unlock()
				return err
			},
			measured: func() int64 { mu.Lock(); defer mu.Unlock(); return measured },
			refit: func(uncompressed int64) (bool, string) {
				required := instance.RequiredDiskBytes(uncompressed, len(fitted.rep.Layers))
				f := instance.FitType(instance.Need{DiskBytes: required}, fitted.chosen.Type)
				return f.Fits, strings.Join(f.Reasons, "; ")
			},
		},
	}
	return ports, nil
}

// shortDigest is sha256: and the first 12 hex digits.
func shortDigest(d string) string {
	if i := strings.IndexByte(d, ':'); i >= 0 && len(d) > i+13 {
		return d[:i+13]
	}
	return d
}
