package wrangler

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
)

// Mode selects which of the two Worker configurations is rendered.
type Mode string

const (
	// ModeStub is the Worker without containers or Durable Objects (entry point src/stub.ts).
	ModeStub Mode = "stub"
	// ModeContainer is the Worker with the LeanContainer class and its container (src/container.ts).
	ModeContainer Mode = "container"
)

// Names shared with the Worker sources (worker/src/container.ts) and the root wrangler.jsonc; the one
// definition of the container class, whose application wrangler names <worker>-leancontainer.
const (
	ClassName   = "LeanContainer"
	BindingName = "LEAN_CONTAINER"
)

// Defaults applied by Render when an Options field is zero.
const (
	DefaultWorkerName        = "lean4-server"
	DefaultInstanceType      = "standard-1"
	DefaultMaxInstances      = 5
	DefaultInstances         = 1
	DefaultSleepAfter        = "2m"
	DefaultCompatibilityDate = "2026-11-01"
)

// Options are the pipeline's inputs to a Worker configuration. The zero value of each field means its
// default when rendering from scratch, and "keep the user's value" when patching a user's wrangler.jsonc
// (Options.UserConfig); Image is required in container mode either way.
type Options struct {
	// Mode is ModeStub or ModeContainer. Required.
	Mode Mode
	// WorkerName is the Worker's name. Default DefaultWorkerName ("lean4-server").
	WorkerName string
	// Image is the digest-pinned image reference the container runs, in a registry Cloudflare pulls
	// from, e.g. registry.cloudflare.com/<account>/lean4-server@sha256:<digest>. Container mode only.
	Image string
	// InstanceType is one of lite, basic, standard-1 … standard-4, or a custom configuration written
	// custom:vcpu=V,memory=M,disk=D (instance.Type.Spec), rendered in wrangler's object form
	// {vcpu, memory_mib, disk_mb}. Default "standard-1".
	InstanceType string
	// MaxInstances caps running instances (containers[].max_instances). Default 5.
	MaxInstances int
	// Instances is the Worker's INSTANCES: 1 = one named instance, N > 1 = spread over N. Default 1.
	// It must not exceed MaxInstances.
	Instances int
	// SleepAfter is the idle time before an instance is stopped ("30s", "2m", "1h"). Default "2m".
	SleepAfter string
	// CompatibilityDate is the Worker's compatibility_date. Default DefaultCompatibilityDate.
	CompatibilityDate string
	// Vars are further Worker variables (see the README's Worker settings), e.g. MAX_LEAN_TIMEOUT.
	// LEAN_API_KEY is a secret and LEAN_ORIGIN a development setting: both are refused here.
	Vars map[string]string
	// ManagedRegistry is a further registry host Image may name: the host set in
	// CLOUDFLARE_CONTAINER_REGISTRY, which wrangler treats as the managed registry. Default none.
	ManagedRegistry string
	// UserConfig, when set, is the user's own wrangler.jsonc (JSONC) to patch instead of rendering
	// from scratch; comments and formatting are kept.
	UserConfig []byte
	// UserConfigName names UserConfig in errors. Default "wrangler.jsonc".
	UserConfigName string
}

// varRules validates the Worker variables Options.Vars may set, with the ranges the Worker enforces
// (IntVars, which the Worker reads through worker/src/spec.generated.ts), so that a bad value fails at
// render time and not in production. Variables set through an option (INSTANCES) are not among them.
func varRules() map[string]func(string) error {
	rules := map[string]func(string) error{
		"HEALTH_REQUIRES_KEY": oneOf("true", "false"),
		"IDLE_STOP_SIGNAL":    oneOf(idleStopSignals...),
		"CORS_ORIGINS":        corsOrigins,
	}
	for _, v := range IntVars() {
		if v.Option == "" {
			rules[v.Name] = intRange(v.Min, v.Max, v.Unit)
		}
	}
	return rules
}

var (
	sleepAfterRE = regexp.MustCompile(`^([1-9][0-9]*[smh]|[1-9][0-9]*)$`)
	compatDateRE = regexp.MustCompile(`^20[0-9]{2}-[01][0-9]-[0-3][0-9]$`)
	originRE     = regexp.MustCompile(`^https?://[^/\s?#]+$`)
)

// withDefaults checks o and fills in the defaults for a configuration rendered from scratch.
func (o Options) withDefaults() (Options, error) {
	o = o.clone()
	if o.WorkerName == "" {
		o.WorkerName = DefaultWorkerName
	}
	if o.InstanceType == "" {
		o.InstanceType = DefaultInstanceType
	}
	if o.MaxInstances == 0 {
		o.MaxInstances = DefaultMaxInstances
	}
	if o.Instances == 0 {
		o.Instances = DefaultInstances
	}
	if o.SleepAfter == "" {
		o.SleepAfter = DefaultSleepAfter
	}
	if o.CompatibilityDate == "" {
		o.CompatibilityDate = DefaultCompatibilityDate
	}
	return o, o.validate()
}

func (o Options) clone() Options {
	o.Vars = maps.Clone(o.Vars)
	return o
}

// validate checks every set field; zero fields are left to defaults or to the user's config.
func (o Options) validate() error {
	switch o.Mode {
	case ModeStub, ModeContainer:
	case "":
		return fieldErrorf(FieldMode, " is not set: use stub or container")
	default:
		return fieldErrorf(FieldMode, " %q: use stub or container", o.Mode)
	}
	if o.WorkerName != "" {
		if err := CheckWorkerName(o.WorkerName); err != nil {
			return fieldErrorf(FieldWorkerName, " %w", err)
		}
	}
	if o.Mode == ModeContainer {
		if err := checkImage(o.Image, o.ManagedRegistry); err != nil {
			return err
		}
	}
	if o.InstanceType != "" {
		if err := checkInstanceType(o.InstanceType); err != nil {
			return err
		}
	}
	if o.MaxInstances != 0 {
		if err := CheckMaxInstances(o.MaxInstances); err != nil {
			return fieldErrorf(FieldMaxInstances, " %w", err)
		}
	}
	if o.Instances != 0 {
		if err := CheckInstances(o.Instances, o.MaxInstances); err != nil {
			return fieldErrorf(FieldInstances, " %w", err)
		}
	}
	if o.SleepAfter != "" {
		if _, err := ParseSleepAfter(o.SleepAfter); err != nil {
			return fieldErrorf(FieldSleepAfter, " %w", err)
		}
	}
	if o.CompatibilityDate != "" && !compatDateRE.MatchString(o.CompatibilityDate) {
		return fieldErrorf(FieldCompatibilityDate, " %q: use YYYY-MM-DD", o.CompatibilityDate)
	}
	for _, k := range slices.Sorted(maps.Keys(o.Vars)) {
		if err := checkVar(k, o.Vars[k]); err != nil {
			return err
		}
	}
	return nil
}

func checkVar(k, v string) error {
	switch k {
	case "LEAN_API_KEY":
		return fieldErrorf(FieldVars, " LEAN_API_KEY: the API key is a secret; set it with `wrangler secret put LEAN_API_KEY`, never as a plain variable")
	case "LEAN_ORIGIN":
		return fieldErrorf(FieldVars, " LEAN_ORIGIN: it is a development setting that bypasses the container; use it with `wrangler dev --var`, not in a deployed configuration")
	case "INSTANCES":
		return fieldErrorf(FieldVars, " INSTANCES: set it with the instances option")
	case "SLEEP_AFTER":
		return fieldErrorf(FieldVars, " SLEEP_AFTER: set it with the sleep-after option")
	}
	rules := varRules()
	rule, ok := rules[k]
	if !ok {
		return fieldErrorf(FieldVars, " %q is not a Worker setting: use one of %s", k, strings.Join(slices.Sorted(maps.Keys(rules)), ", "))
	}
	if err := rule(v); err != nil {
		return fieldErrorf(FieldVars, " %s=%q: %w", k, v, err)
	}
	return nil
}

func intRange(lo, hi int, unit string) func(string) error {
	return func(s string) error {
		n, err := strconv.Atoi(s)
		if err != nil || n < lo || n > hi || strings.TrimSpace(s) != s || strings.HasPrefix(s, "+") {
			return fmt.Errorf("use a whole number of %s from %d to %d", unit, lo, hi)
		}
		return nil
	}
}

func oneOf(allowed ...string) func(string) error {
	return func(s string) error {
		if !slices.Contains(allowed, s) {
			if len(allowed) == 2 {
				return fmt.Errorf("use %s or %s", allowed[0], allowed[1])
			}
			return fmt.Errorf("use %s or %s", strings.Join(allowed[:len(allowed)-1], ", "), allowed[len(allowed)-1])
		}
		return nil
	}
}

func corsOrigins(s string) error {
	if s == "" || s == "*" {
		return nil
	}
	for o := range strings.SplitSeq(s, ",") {
		if o = strings.TrimSpace(o); o != "" && !originRE.MatchString(o) {
			return fmt.Errorf("%q is not an origin: list origins like https://app.example.com separated by commas, or *", o)
		}
	}
	return nil
}

// pullableRegistries are the registries Cloudflare Containers pulls from
// (https://developers.cloudflare.com/containers/platform-details/image-management/).
var pullableRegistries = []*regexp.Regexp{
	regexp.MustCompile(`^registry\.cloudflare\.com$`),
	regexp.MustCompile(`^registry\.fed\.cloudflare\.com$`),
	regexp.MustCompile(`^staging\.registry\.cloudflare\.com$`),
	regexp.MustCompile(`^docker\.io$`),
	regexp.MustCompile(`^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com$`),
	regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?-docker\.pkg\.dev$`),
}

func checkImage(ref, managed string) error {
	if ref == "" {
		return fieldErrorf(FieldImage, " is not set: container mode needs a digest-pinned reference like registry.cloudflare.com/<account>/lean4-server@sha256:<digest>")
	}
	d, err := name.NewDigest(ref, name.StrictValidation)
	if err != nil {
		return fieldErrorf(FieldImage, " %q: pin it by digest, like registry.cloudflare.com/<account>/lean4-server@sha256:<digest> (a reused tag never rolls out): %w", ref, err)
	}
	host := d.RegistryStr()
	if host == name.DefaultRegistry {
		host = "docker.io"
	}
	if managed != "" && host == managed {
		return nil
	}
	for _, re := range pullableRegistries {
		if re.MatchString(host) {
			return nil
		}
	}
	return fieldErrorf(FieldImage, " %q: Cloudflare cannot pull from %s; copy the image to registry.cloudflare.com first (lean4-cf does this when it deploys)", ref, host)
}

// MaxSleepAfter is the longest sleep-after accepted: a year. An idle time longer than that keeps an
// instance running, and billed, for good, and the Worker's alarm for it must stay a valid date.
const MaxSleepAfter = 365 * 24 * time.Hour

// ParseSleepAfter is the one check of a sleep-after value, whichever input carries it (render's and
// deploy's --sleep-after, the Action's sleep-after): a whole number of seconds, minutes or hours ("30s",
// "2m", "1h"), or a bare whole number of seconds, as @cloudflare/containers reads it; from 1 s to
// MaxSleepAfter. Its error starts with the quoted value; callers put the input's name before it.
func ParseSleepAfter(s string) (time.Duration, error) {
	bad := fmt.Errorf("%q is not an idle time: use a whole number of s, m or h (a bare number is seconds) from 1s to %s, like 2m", s, strings.TrimSuffix(MaxSleepAfter.String(), "0m0s"))
	if !sleepAfterRE.MatchString(s) {
		return 0, bad
	}
	d := s
	if !strings.ContainsAny(s, "smh") {
		d += "s"
	}
	v, err := time.ParseDuration(d)
	if err != nil || v <= 0 || v > MaxSleepAfter {
		return 0, bad
	}
	return v, nil
}
