package image

import (
	"context"
	"fmt"
	"strings"

	"github.com/org/lean4-cf-action/internal/instance"
	"github.com/org/lean4-cf-action/internal/report"
)

// PreflightOptions are the inputs of a preflight: where the image is, how to measure it, what it must fit.
type PreflightOptions struct {
	// Image is the reference to read: a registry reference, oci:DIR or docker-archive:FILE. Default DefaultImage.
	Image string
	// Source says how to reach the registry (credentials, transport).
	Source SourceOptions
	// Inspect tunes the measurement (exact or fast, parallelism, progress).
	Inspect InspectOptions
	// InstanceType is auto (the default: the smallest that fits), a type name or a deprecated alias.
	InstanceType string
	// Needs is the workload: concurrency and memory per run (the required disk is filled in from the image).
	Needs instance.Needs
}

// Preflight opens the image, measures it and fits it to every instance type. It returns the opened and
// measured image (for the push stage) and the result model. An image that does not fit is not an error:
// res.Fits is false and res.Reason says why. Errors: ErrBadReference for a malformed reference, ErrUnusable
// for an image without linux/amd64, an error from instance.Lookup for an unknown type (checked before any
// request), and read failures.
func Preflight(ctx context.Context, opts PreflightOptions) (*Inspection, report.Preflight, error) {
	if opts.Image == "" {
		opts.Image = DefaultImage
	}
	if t := strings.ToLower(strings.TrimSpace(opts.InstanceType)); t != "" && t != instance.Auto {
		if _, _, err := instance.Lookup(t); err != nil {
			return nil, report.Preflight{}, err
		}
	}
	src, err := Open(ctx, opts.Image, opts.Source)
	if err != nil {
		return nil, report.Preflight{}, err
	}
	in, err := Inspect(ctx, src, opts.Inspect)
	if err != nil {
		return nil, report.Preflight{}, err
	}
	pf, err := Fit(in, opts.InstanceType, opts.Needs)
	return in, pf, err
}

// Fit turns a measurement into the result model, judging every instance type.
func Fit(in *Inspection, instanceType string, needs instance.Needs) (report.Preflight, error) {
	needs.RequiredDiskBytes = in.RequiredDiskBytes
	c, err := instance.Choose(instanceType, needs)
	if err != nil {
		return report.Preflight{}, err
	}
	pf := report.Preflight{
		Image:                   in.Source.Ref,
		Digest:                  in.Source.Digest.String(),
		Platform:                in.Source.Platform,
		Layers:                  len(in.Layers),
		CompressedBytes:         in.CompressedBytes,
		UncompressedBytes:       in.UncompressedBytes,
		RequiredDiskBytes:       in.RequiredDiskBytes,
		SizeMethod:              in.SizeMethod,
		SizeBasis:               in.SizeBasis,
		InstanceType:            c.Chosen.Name,
		RecommendedInstanceType: c.Recommended,
		Fits:                    c.Chosen.Fits,
		Warnings:                c.Warnings,
	}
	if in.ContentMeasured {
		pf.ContentBytes = in.ContentBytes
	}
	if !c.Chosen.Fits {
		pf.Reason = fmt.Sprintf("%s: %s", c.Chosen.Name, strings.Join(c.Chosen.Reasons, "; "))
		if c.Recommended != "" {
			pf.Reason += fmt.Sprintf(" (the smallest type that fits is %s)", c.Recommended)
		} else {
			pf.Reason += " (no instance type fits)"
		}
	}
	for _, r := range c.Rows {
		pf.Types = append(pf.Types, report.FitRow{Name: r.Name, VCPU: r.VCPU, MemoryMiB: r.MemoryMiB, DiskMB: r.DiskMB,
			Fits: r.Fits, Reasons: r.Reasons, USDPerHour: r.USDPerHour})
	}
	return pf, nil
}
