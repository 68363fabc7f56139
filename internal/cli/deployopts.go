package cli

import (
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/org/lean4-cf-action/internal/image"
	"github.com/org/lean4-cf-action/internal/instance"
	"github.com/org/lean4-cf-action/internal/verify"
)

// Defaults shared by deploy, status and rollback.
const (
	defaultImage        = "ghcr.io/ldct/lean4-server:v4.24.0"
	defaultWorkerName   = "lean4-server"
	defaultMaxInstances = 5
	defaultSleepAfter   = "2m"
	defaultTimeout      = 15 * time.Minute
)

// deployOptions are deploy's flags (and, in Actions, its inputs).
type deployOptions struct {
	stage        string   // all|preflight|stub|push|promote
	image        string   // source image reference
	name         string   // Worker name
	instanceType string   // auto, a type name, custom, or custom:vcpu=V,memory=M,disk=D
	maxInstances int      // container max_instances
	instances    int      // instances requests spread over
	sleepAfter   string   // idle time before an instance stops
	config       string   // the user's own wrangler.jsonc to patch
	url          string   // a custom domain to verify besides workers.dev
	resolve      []string // HOST:PORT:ADDR[:ADDRPORT]
	timeout      time.Duration
	wrangler     string
	json         bool
	maxRatio     float64 // image.Options.MaxRatio for the preflight; zero means its default (no flag: tests lower it)

	rules []verify.ResolveRule // parsed from resolve by validate
}

func (o *deployOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.stage, "stage", "all", "last stage to run: all, preflight, stub, push or promote")
	fs.StringVar(&o.image, "image", defaultImage, "source image: a registry reference, oci:DIR or docker-archive:FILE")
	fs.StringVar(&o.name, "name", defaultWorkerName, "Worker name (also names the workers.dev URL and the container application)")
	fs.StringVar(&o.instanceType, "instance-type", "auto", instance.Choices()+"; auto keeps the type your --config names")
	fs.IntVar(&o.maxInstances, "max-instances", defaultMaxInstances, "most container instances running at once")
	fs.IntVar(&o.instances, "instances", 1, "instances requests are spread over (1 = one named instance)")
	fs.StringVar(&o.sleepAfter, "sleep-after", defaultSleepAfter, "idle time before an instance stops, like 30s, 2m or 1h")
	fs.StringVar(&o.config, "config", "", "your own wrangler.jsonc to patch (default: lean4-cf renders one)")
	fs.StringVar(&o.url, "url", "", "a custom domain URL to verify as well, like https://lean.example.com")
	fs.StringArrayVar(&o.resolve, "resolve", nil, "HOST:PORT:ADDR[:ADDRPORT]: connect there for HOST:PORT when verifying (repeatable)")
	fs.DurationVar(&o.timeout, "timeout", defaultTimeout, "bound on waiting for provisioning and the cold start")
	fs.StringVar(&o.wrangler, "wrangler", "", "wrangler to run (default: $LEAN4CF_WRANGLER, the project's pinned install, then PATH)")
	fs.BoolVar(&o.json, "json", false, "print one JSON result object on stdout")
}

var (
	// A Worker name is the workers.dev host label (at most 63 characters), and the stub is deployed as
	// <name>-stub, so a name has at most 63-5 = 58.
	workerNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,56}[a-z0-9])?$`)
	sleepAfterRE = regexp.MustCompile(`^[1-9][0-9]*(s|m|h)$`)
)

// validate checks every input before anything is contacted; each error names the input and the fix.
func (o *deployOptions) validate() error {
	switch o.stage {
	case "all", "preflight", "stub", "push", "promote":
	default:
		return usagef("--stage %q is not a stage: use all, preflight, stub, push or promote", o.stage)
	}
	if strings.TrimSpace(o.image) == "" {
		return usagef("--image is empty: give a registry reference like %s", defaultImage)
	}
	if _, err := image.ParseRef(o.image); err != nil {
		return usagef("--image: %v", err)
	}
	if err := instance.Check(o.instanceType); err != nil {
		return usagef("--instance-type: %v", err)
	}
	if !workerNameRE.MatchString(o.name) {
		return usagef("--name %q is not a Worker name: use 1-58 lowercase letters, digits and dashes, not starting or ending with a dash", o.name)
	}
	if o.maxInstances < 1 || o.maxInstances > 1000 {
		return usagef("--max-instances %d is out of range: use 1 to 1000", o.maxInstances)
	}
	if o.instances < 1 || o.instances > o.maxInstances {
		return usagef("--instances %d is out of range: use 1 to --max-instances (%d)", o.instances, o.maxInstances)
	}
	if !sleepAfterRE.MatchString(o.sleepAfter) {
		return usagef("--sleep-after %q is not a duration: use a whole number of s, m or h, like 2m", o.sleepAfter)
	}
	if o.timeout < 10*time.Second || o.timeout > 6*time.Hour {
		return usagef("--timeout %s is out of range: use 10s to 6h, like 15m", o.timeout)
	}
	if o.url != "" {
		u, err := url.Parse(o.url)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			return usagef("--url %q is not an http(s) URL: use one like https://lean.example.com", o.url)
		}
	}
	if o.config != "" {
		info, err := os.Stat(o.config)
		if err != nil || info.IsDir() {
			return usagef("--config %q is not a readable file: give the path of your wrangler.jsonc", o.config)
		}
		if err := o.checkUserConfig(); err != nil {
			return err
		}
	}
	rules, err := verify.ParseResolveRules(o.resolve)
	if err != nil {
		return usagef("--resolve: %v", err)
	}
	o.rules = rules
	return nil
}
