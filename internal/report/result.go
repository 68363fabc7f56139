// Package report renders a deploy run for people and machines: the job summary, the sticky PR comment,
// the Action's outputs and the terminal report. It is pure: no network, no processes, deterministic output.
package report

import (
	"encoding/json"
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
	Custom *CustomRow `json:"customType,omitempty"`
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

// FitRow is one instance type in the fit table: the one shape of a fit row, in deploy's result and in
// preflight --json alike.
type FitRow struct {
	Name       string   `json:"name"`
	Spec       string   `json:"spec,omitempty"` // a custom row's --instance-type value
	VCPU       float64  `json:"vcpu"`
	MemoryMiB  int64    `json:"memoryMiB"`
	DiskMB     int64    `json:"diskMB"`
	Fits       bool     `json:"fits"`
	Reasons    []string `json:"reasons"` // why it does not fit; [] when it fits
	USDPerHour USD      `json:"usdPerHour"`
}

// MarshalJSON writes the row with reasons as [] when there are none, whoever built it.
func (r FitRow) MarshalJSON() ([]byte, error) { return json.Marshal(r.fields()) }

// fitFields is FitRow without its MarshalJSON.
type fitFields FitRow

func (r FitRow) fields() fitFields {
	if r.Reasons == nil {
		r.Reasons = []string{}
	}
	return fitFields(r)
}

// CustomRow is the cheapest custom configuration's row of the fit table, with its costs.
type CustomRow struct {
	FitRow
	CustomCosts
}

// CustomCosts are a custom row's idle price and what it saves against the cheapest named type that fits
// (negative: it costs more; ComparedWith is null and the savings absent when no named type fits).
type CustomCosts struct {
	IdleUSDPerHour       USD     `json:"idleUsdPerHour"`
	ComparedWith         *string `json:"comparedWith"`
	SavingUSDPerHour     *USD    `json:"savingUsdPerHour,omitempty"`
	SavingIdleUSDPerHour *USD    `json:"savingIdleUsdPerHour,omitempty"`
}

// MarshalJSON writes the row's fields and its costs side by side (FitRow's MarshalJSON would otherwise
// be promoted and drop the costs).
func (c CustomRow) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		fitFields
		CustomCosts
	}{c.FitRow.fields(), c.CustomCosts})
}

// USD is a price in US dollars, which JSON carries rounded to 4 decimal places (a hundredth of a cent):
// prices are products of per-second rates and carry float noise (0.007254000000000001) past that.
type USD float64

// MarshalJSON writes the price rounded to 4 decimal places.
func (u USD) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, u.Round(), 'f', -1, 64), nil
}

// Round is the price rounded to 4 decimal places, as JSON carries it.
func (u USD) Round() float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(float64(u), 'f', 4, 64), 64)
	if v == 0 {
		return 0 // not -0
	}
	return v
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
