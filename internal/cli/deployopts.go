package cli

import (
	"context"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/org/lean4-cf-action/internal/image"
	"github.com/org/lean4-cf-action/internal/instance"
	"github.com/org/lean4-cf-action/internal/verify"
	"github.com/org/lean4-cf-action/internal/wrangler"
)

// Defaults shared by deploy, status and rollback.
const (
	defaultImage   = "ghcr.io/ldct/lean4-server:v4.24.0"
	defaultTimeout = 15 * time.Minute
)

// DeployOptions are deploy's flags (and, in Actions, its inputs: internal/action maps them).
type DeployOptions struct {
	f            *Factory
	stage        string        // --stage all|preflight|stub|push|promote; default all
	image        string        // --image, the source image reference; default defaultImage
	name         string        // --name, the Worker name; default wrangler.DefaultWorkerName
	instanceType string        // --instance-type: auto, a type name, custom, or custom:vcpu=V,memory=M,disk=D; default auto
	maxInstances int           // --max-instances, container max_instances; default wrangler.DefaultMaxInstances
	instances    int           // --instances requests are spread over; default wrangler.DefaultInstances
	sleepAfter   string        // --sleep-after, idle time before an instance stops; default wrangler.DefaultSleepAfter
	config       string        // --config, the user's own wrangler.jsonc to patch; default "" (render one)
	url          string        // --url, a custom domain to verify besides workers.dev; default ""
	resolve      []string      // --resolve HOST:PORT:ADDR[:ADDRPORT], repeatable; default none
	timeout      time.Duration // --timeout on provisioning and the cold start; default defaultTimeout
	wrangler     string        // --wrangler; default "" (LEAN4CF_WRANGLER, the pinned install, then PATH)
	json         bool          // --json; default false (text)
	maxRatio     float64       // image.Options.MaxRatio for the preflight; zero means its default (no flag: tests lower it)

	// images measures and opens the source image for the pipeline. Default: imagePortsFor (tests replace it).
	images func(*DeployOptions) (imagePorts, error)
	// afterStub runs at the end of the stub stage (pipeline.Options.AfterStub); preview deploy holds its
	// place under the cap there. Default nil.
	afterStub func(context.Context) error

	rules []verify.ResolveRule // parsed from resolve by validate
}

func (o *DeployOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.stage, "stage", "all", "last stage to run: all, preflight, stub, push or promote")
	fs.StringVar(&o.image, "image", defaultImage, "source image: a registry reference, oci:DIR or docker-archive:FILE")
	fs.StringVar(&o.name, "name", wrangler.DefaultWorkerName, "Worker name (also names the workers.dev URL and the container application)")
	fs.StringVar(&o.instanceType, "instance-type", "auto", instance.Choices()+"; auto keeps the type your --config names")
	fs.IntVar(&o.maxInstances, "max-instances", wrangler.DefaultMaxInstances, "most container instances running at once")
	fs.IntVar(&o.instances, "instances", wrangler.DefaultInstances, "instances requests are spread over (1 = one named instance)")
	fs.StringVar(&o.sleepAfter, "sleep-after", wrangler.DefaultSleepAfter, "idle time before an instance stops, like 30s, 2m or 1h (a bare number is seconds)")
	fs.StringVar(&o.config, "config", "", "your own wrangler.jsonc to patch (default: lean4-cf renders one)")
	fs.StringVar(&o.url, "url", "", "a custom domain URL to verify as well, like https://lean.example.com")
	addResolveFlag(fs, &o.resolve)
	fs.DurationVar(&o.timeout, "timeout", defaultTimeout, "bound on waiting for provisioning and the cold start")
	addWranglerFlag(fs, &o.wrangler)
	fs.BoolVar(&o.json, "json", false, "print one JSON result object on stdout")
}

// checkName checks --name as deploy, status and rollback take it: a deployment's name.
func checkName(name string) error {
	if err := wrangler.CheckDeploymentName(name); err != nil {
		return flagErrorf("name", " %v", err)
	}
	return nil
}

// The range of --timeout, for deploy and rollback alike.
const (
	minTimeout = 10 * time.Second
	maxTimeout = 6 * time.Hour
)

func checkTimeout(d time.Duration) error {
	if d < minTimeout || d > maxTimeout {
		return flagErrorf("timeout", " %s is out of range: use %s to %s, like 15m", d, minTimeout, "6h")
	}
	return nil
}

// checkCustomDomain checks --url: the origin of a custom domain serving the Worker, over HTTPS (Cloudflare
// serves custom domains with a certificate it issues). Probes go to its /health and /, as on workers.dev,
// so a path, query or fragment is refused rather than silently put in front of them.
func checkCustomDomain(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Opaque != "":
		return flagErrorf("url", " %q is not an http(s) URL: use a custom domain's origin, like https://lean.example.com", s)
	case u.Scheme == "http":
		return flagErrorf("url", " %q is plain http: custom domains serve HTTPS, so use https://%s", s, u.Host)
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return flagErrorf("url", " %q has a path or query: give the custom domain's origin only, like https://%s (probes go to its /health and /)", s, u.Host)
	}
	return nil
}

// validate checks every input before anything is contacted; each error names the input and the fix.
func (o *DeployOptions) validate() error {
	switch o.stage {
	case "all", "preflight", "stub", "push", "promote":
	default:
		return flagErrorf("stage", " %q is not a stage: use all, preflight, stub, push or promote", o.stage)
	}
	if strings.TrimSpace(o.image) == "" {
		return flagErrorf("image", " is empty: give a registry reference like %s", defaultImage)
	}
	if _, err := image.ParseRef(o.image); err != nil {
		return flagErrorf("image", ": %v", err)
	}
	if err := instance.Check(o.instanceType); err != nil {
		return flagErrorf("instance-type", ": %v", err)
	}
	if err := checkName(o.name); err != nil {
		return err
	}
	if err := wrangler.CheckMaxInstances(o.maxInstances); err != nil {
		return flagErrorf("max-instances", " %v", err)
	}
	if err := wrangler.CheckInstances(o.instances, o.maxInstances); err != nil {
		return flagErrorf("instances", " %v", err)
	}
	if _, err := wrangler.ParseSleepAfter(o.sleepAfter); err != nil {
		return flagErrorf("sleep-after", " %v", err)
	}
	if err := checkTimeout(o.timeout); err != nil {
		return err
	}
	if err := checkCustomDomain(o.url); err != nil {
		return err
	}
	if o.config != "" {
		info, err := os.Stat(o.config)
		if err != nil || info.IsDir() {
			return flagErrorf("config", " %q is not a readable file: give the path of your wrangler.jsonc", o.config)
		}
		if err := o.checkUserConfig(); err != nil {
			return err
		}
	}
	rules, err := verify.ParseResolveRules(o.resolve)
	if err != nil {
		return flagErrorf("resolve", ": %v", err)
	}
	o.rules = rules
	return nil
}

// addWranglerFlag is --wrangler, for the commands that run wrangler.
func addWranglerFlag(fs *pflag.FlagSet, p *string) {
	fs.StringVar(p, "wrangler", "", "wrangler to run (default: $LEAN4CF_WRANGLER, the project's pinned install, then PATH)")
}

// addResolveFlag is --resolve, for the commands that verify a URL.
func addResolveFlag(fs *pflag.FlagSet, p *[]string) {
	fs.StringArrayVar(p, "resolve", nil, "HOST:PORT:ADDR[:ADDRPORT]: connect there for HOST:PORT when verifying (repeatable)")
}
