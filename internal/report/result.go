// Package report renders a deploy run for people and machines: the job summary, the sticky PR comment,
// the Action's outputs and the terminal report. It is pure: no network, no processes, deterministic output.
package report

import (
	"strconv"
	"time"
)

// Ms is a duration that JSON carries as whole milliseconds.
type Ms time.Duration

// MarshalJSON writes the duration as an integer number of milliseconds.
func (d Ms) MarshalJSON() ([]byte, error) {
	return strconv.AppendInt(nil, time.Duration(d).Milliseconds(), 10), nil
}

// UnmarshalJSON reads an integer number of milliseconds.
func (d *Ms) UnmarshalJSON(b []byte) error {
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return err
	}
	*d = Ms(time.Duration(n) * time.Millisecond)
	return nil
}

// D returns the time.Duration.
func (d Ms) D() time.Duration { return time.Duration(d) }

// Result is a whole run; the pipeline fills it and every renderer reads it.
type Result struct {
	Name        string        `json:"name"`
	URL         string        `json:"url,omitempty"`
	VersionID   string        `json:"versionId,omitempty"`
	Stages      []StageResult `json:"stages"`
	Preflight   *Preflight    `json:"preflight,omitempty"`
	Push        *Pushed       `json:"push,omitempty"`
	Ready       *Ready        `json:"ready,omitempty"`
	Latency     *Latency      `json:"latency,omitempty"`
	Status      *Status       `json:"status,omitempty"`
	FirstDeploy bool          `json:"firstDeploy"`
	RolledBack  bool          `json:"rolledBack"`
	// Commit is the git commit the run was for (the Action's pushed commit or pull-request head), when known.
	Commit string `json:"commit,omitempty"`
	// Wrangler is the time spent in wrangler processes over the whole run, between stages included.
	Wrangler Ms `json:"wranglerMs,omitempty"`
	// Outcome is deployed, stopped-after-<stage>, failed or rolled-back.
	Outcome string `json:"outcome"`
	Error   string `json:"error,omitempty"`
}

// StageResult is one stage's outcome.
type StageResult struct {
	Name     string    `json:"name"`
	Status   string    `json:"status"` // ok or failed
	Started  time.Time `json:"started"`
	Duration Ms        `json:"durationMs"`
	// Wrangler is the part of Duration spent in wrangler processes; the rest is lean4-cf's own work and
	// waiting on the platform.
	Wrangler Ms     `json:"wranglerMs,omitempty"`
	Detail   string `json:"detail,omitempty"`
}

// Preflight is what the preflight stage measured and chose.
type Preflight struct {
	Image             string `json:"image"`
	Digest            string `json:"digest"`
	Layers            int    `json:"layers"`
	CompressedBytes   int64  `json:"compressedBytes"`
	UncompressedBytes int64  `json:"uncompressedBytes"`
	RequiredDiskBytes int64  `json:"requiredDiskBytes"`
	// With SizeMethod "bounds" (a gzip trailer gives a large layer's size only modulo 4 GiB, and every
	// reading led to the same fit), UncompressedBytes and RequiredDiskBytes are the smallest reading's
	// figures and these the largest's.
	UncompressedBytesHigh int64  `json:"uncompressedBytesHigh,omitempty"`
	RequiredDiskBytesHigh int64  `json:"requiredDiskBytesHigh,omitempty"`
	SizeMethod            string `json:"sizeMethod"`   // exact, estimate or bounds
	InstanceType          string `json:"instanceType"` // a name, or custom:vcpu=V,memory=MMiB,disk=DMB
	// InstanceConfig describes a custom InstanceType for people: "custom (1 vCPU, 3072 MiB, 4 GB)".
	InstanceConfig string   `json:"instanceConfig,omitempty"`
	Fits           bool     `json:"fits"`
	Reason         string   `json:"reason,omitempty"` // why the chosen type does not fit
	Types          []FitRow `json:"instanceTypes,omitempty"`
	// Custom is the cheapest custom configuration for the image, beside the named Types.
	Custom *FitRow `json:"customType,omitempty"`
	// Capacity says how many evaluations an instance of the type runs at once and what happens past it.
	Capacity string `json:"capacity,omitempty"`
}

// instanceType is the chosen type as people read it.
func (p *Preflight) instanceType() string {
	if p.InstanceConfig != "" {
		return p.InstanceConfig
	}
	return p.InstanceType
}

// FitRow is one instance type in the fit table.
type FitRow struct {
	Name       string   `json:"name"`
	Spec       string   `json:"spec,omitempty"` // a custom row's --instance-type value
	VCPU       float64  `json:"vcpu"`
	MemoryMiB  int      `json:"memoryMiB"`
	DiskMB     int      `json:"diskMB"`
	Fits       bool     `json:"fits"`
	Reasons    []string `json:"reasons,omitempty"`
	USDPerHour float64  `json:"usdPerHour"`
}

// Uncompressed is the run's one figure for the image's uncompressed size, and how it was had: the size
// the push measured ("measured") once there is one, else preflight's ("exact" or "estimate").
func (r *Result) Uncompressed() (int64, string) {
	if r.Push != nil && r.Push.UncompressedBytes > 0 {
		return r.Push.UncompressedBytes, "measured"
	}
	if r.Preflight != nil {
		return r.Preflight.UncompressedBytes, r.Preflight.SizeMethod
	}
	return 0, ""
}

// Pushed is what the push stage did.
type Pushed struct {
	Image             string `json:"image"` // digest-pinned reference that was deployed
	BytesPushed       int64  `json:"bytesPushed"`
	BlobsPushed       int    `json:"blobsPushed"`
	BlobsSkipped      int    `json:"blobsSkipped"`
	UncompressedBytes int64  `json:"uncompressedBytes,omitempty"`
	Fits              bool   `json:"fits"`
	Reason            string `json:"reason,omitempty"`
}

// Ready is what verification of the promoted container found.
type Ready struct {
	LeanVersion string `json:"leanVersion"`
	Attempts    int    `json:"attempts"`
	ColdStart   Ms     `json:"coldStartMs"`
}

// Latency is the spread of warm requests.
type Latency struct {
	N   int `json:"n"`
	P50 Ms  `json:"p50Ms"`
	P95 Ms  `json:"p95Ms"`
}

// Status is the container application's state, read through the Cloudflare API (what `wrangler containers list --json` shows).
type Status struct {
	ApplicationID string `json:"applicationId,omitempty"`
	Application   string `json:"application,omitempty"`
	State         string `json:"state,omitempty"`
	Instances     int    `json:"instances"`
	Image         string `json:"image,omitempty"`
	Version       int    `json:"version,omitempty"`
}
