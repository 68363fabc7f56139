// Package preview runs one Lean endpoint per pull request: a Worker of its own (<name>-pr-<N>), with its
// own container application and registry repository, deployed by the whole pipeline and torn down with
// everything it left in the account. It sits beside the pipeline: the cli package wires its small
// interfaces to the Cloudflare API, the registry and the pipeline.
//
// Previews are separate Workers rather than versions with preview URLs: Cloudflare generates no preview
// URL for a Worker that implements a Durable Object, and a container Worker does
// (https://developers.cloudflare.com/workers/configuration/previews/#limitations).
package preview

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/org/lean4-cf-action/internal/instance"
	"github.com/org/lean4-cf-action/internal/report"
	"github.com/org/lean4-cf-action/internal/wrangler"
)

// Defaults of a preview: one instance that sleeps soon, the smallest instance type the image fits (auto
// picks the cheapest type that fits), and at most DefaultMaxPreviews previews of one deployment at once.
const (
	DefaultMaxPreviews  = 5
	DefaultMaxInstances = 1
	DefaultSleepAfter   = "1m"
	DefaultInstanceType = "auto"
)

// Worker is one Worker of the account.
type Worker struct {
	Name    string
	Created time.Time
}

// Application is one container application of the account.
type Application struct {
	ID, Name, State string
	Image           string    // <registry>/<account>/<repository>@sha256:...
	Created         time.Time // zero when the API does not say
}

// Ports: what previews need from the outside world.
type (
	// Account lists and deletes Workers and container applications.
	Account interface {
		Workers(ctx context.Context) ([]Worker, error)
		Applications(ctx context.Context) ([]Application, error)
		// InstanceType is the application's configured instance type as instance.Lookup reads it ("" if none).
		InstanceType(ctx context.Context, appID string) (string, error)
		WorkersDevURL(ctx context.Context, worker string) (string, error)
		// DeleteWorker and DeleteApplication succeed when the thing is already gone.
		DeleteWorker(ctx context.Context, name string) error
		DeleteApplication(ctx context.Context, id string) error
	}
	// Registry lists and deletes the account's repositories in Cloudflare's registry (the pipeline pushes
	// a Worker's image to the repository named like the Worker).
	Registry interface {
		// Repositories names the account's repositories (the part after <account>/).
		Repositories(ctx context.Context) ([]string, error)
		// DeleteRepository deletes repo's manifests, keeping those keep names.
		DeleteRepository(ctx context.Context, repo string, keep func(digest string) bool) (deleted, kept []string, err error)
	}
	// Deployer runs the whole pipeline for the preview Worker named worker, with the preview's defaults.
	// A nil result means nothing ran (bad input). reserve, when set, must run once the stub stage has
	// deployed the Worker under worker and before anything else is written (the push, the application);
	// its error must stop the deploy there (pipeline.Options.AfterStub does both).
	Deployer interface {
		Deploy(ctx context.Context, worker string, reserve func(context.Context) error) (*report.Result, error)
	}
	// ClosedPRs tells which of the pull requests are closed (GitHub answers it); the Action's prune uses it.
	ClosedPRs interface {
		Closed(ctx context.Context, prs []int) (map[int]bool, error)
	}
)

// Manager manages the previews of one deployment.
type Manager struct {
	Name     string // the production deployment's name. Required.
	Account  Account
	Registry Registry
	Deployer Deployer
	// MaxPreviews bounds how many previews of Name may exist at once. Default DefaultMaxPreviews.
	MaxPreviews int
	// Now is the clock ages are measured with. Default time.Now.
	Now func() time.Time
	// Log, when set, hears what the teardown finds and does.
	Log func(string)
}

// Worker is the name of pull request pr's preview Worker.
func (m *Manager) Worker(pr int) string { return wrangler.PreviewName(m.Name, pr) }

// States of a preview besides its application's own.
const (
	// StateNoApplication is a preview Worker with no container application: a deploy that has not
	// promoted yet, or stopped before it did.
	StateNoApplication = "no application"
	// StateOrphaned is what a preview left without its Worker: a container application, an image
	// repository or a side stub that a failed deploy or a Worker deleted by hand left behind. It serves
	// nothing, still costs storage (and instances), and prune removes it.
	StateOrphaned = "orphaned"
)

// Preview is one preview as list shows it.
type Preview struct {
	PR           int         `json:"pr"`
	Worker       string      `json:"worker"` // the preview's Worker, or the name it had when orphaned
	URL          string      `json:"url,omitempty"`
	Image        string      `json:"image,omitempty"`
	Created      time.Time   `json:"created,omitzero"` // the Worker's creation; an orphan's application's
	Age          report.Ms   `json:"ageMs,omitzero"`
	State        string      `json:"state"` // the application's state, StateNoApplication or StateOrphaned
	InstanceType string      `json:"instanceType,omitempty"`
	USDPerHour   *report.USD `json:"usdPerHourAwake,omitempty"` // one instance awake with its vCPUs busy
	// Leftovers names what an orphaned preview left: "container application X", "image repository Y",
	// "Worker Z" (a side stub).
	Leftovers []string `json:"leftovers,omitempty"`
}

// found is what the account holds of one pull request's preview.
type found struct {
	worker *Worker      // the preview's Worker; nil when it is gone
	stub   string       // a side stub <preview>-stub an interrupted deploy left; "" if none
	app    *Application // the preview's container application; nil if none
	repo   string       // the preview's image repository; "" if none
}

// scan finds the previews of the deployment among the account's Workers, container applications and,
// when withRepos, the registry's repositories, by pull request: each is named from PreviewName.
func (m *Manager) scan(ctx context.Context, withRepos bool) (map[int]*found, error) {
	workers, err := m.Account.Workers(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing Workers: %w", err)
	}
	apps, err := m.Account.Applications(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing container applications: %w", err)
	}
	var repos []string
	if withRepos {
		if repos, err = m.Registry.Repositories(ctx); err != nil {
			return nil, fmt.Errorf("listing image repositories: %w", err)
		}
	}
	out := map[int]*found{}
	at := func(pr int) *found {
		if out[pr] == nil {
			out[pr] = &found{}
		}
		return out[pr]
	}
	for _, w := range workers {
		if pr, ok := wrangler.PreviewPR(m.Name, w.Name); ok {
			at(pr).worker = &w
		} else if base, ok := strings.CutSuffix(w.Name, wrangler.StubSuffix); ok {
			if pr, ok := wrangler.PreviewPR(m.Name, base); ok {
				at(pr).stub = w.Name
			}
		}
	}
	appSuffix := wrangler.ApplicationName("", wrangler.ClassName) // -<class>
	for _, a := range apps {
		if base, ok := strings.CutSuffix(a.Name, appSuffix); ok {
			if pr, ok := wrangler.PreviewPR(m.Name, base); ok {
				at(pr).app = &a
			}
		}
	}
	for _, r := range repos {
		if pr, ok := wrangler.PreviewPR(m.Name, r); ok {
			at(pr).repo = r
		}
	}
	return out, nil
}

// List returns the previews of the deployment, by pull request, with what previews left without their
// Worker (StateOrphaned).
func (m *Manager) List(ctx context.Context) ([]Preview, error) {
	all, err := m.scan(ctx, true)
	if err != nil {
		return nil, err
	}
	var out []Preview
	for _, pr := range slices.Sorted(maps.Keys(all)) {
		f := all[pr]
		p := Preview{PR: pr, Worker: m.Worker(pr), State: StateNoApplication}
		if f.worker != nil {
			p.Created = f.worker.Created
			if p.URL, err = m.Account.WorkersDevURL(ctx, p.Worker); err != nil {
				return nil, err
			}
		} else {
			p.State = StateOrphaned
			if f.app != nil {
				p.Created = f.app.Created
				p.Leftovers = append(p.Leftovers, "container application "+f.app.Name)
			}
			if f.repo != "" {
				p.Leftovers = append(p.Leftovers, "image repository "+f.repo)
			}
			if f.stub != "" {
				p.Leftovers = append(p.Leftovers, "Worker "+f.stub)
			}
		}
		if !p.Created.IsZero() {
			p.Age = report.Ms(m.now().Sub(p.Created))
		}
		if a := f.app; a != nil {
			p.Image = a.Image
			if f.worker != nil {
				p.State = a.State
			}
			if p.InstanceType, err = m.Account.InstanceType(ctx, a.ID); err != nil {
				return nil, err
			}
			if t, _, err := instance.Lookup(p.InstanceType); err == nil && p.InstanceType != "" {
				usd := report.USD(t.USDPerHour())
				p.USDPerHour = &usd
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// CapError refuses a new preview when the deployment has MaxPreviews already.
type CapError struct {
	PR       int
	Max      int
	Previews []int // the pull requests that hold a preview
}

func (e *CapError) Error() string {
	prs := make([]string, len(e.Previews))
	for i, pr := range e.Previews {
		prs[i] = fmt.Sprintf("#%d", pr)
	}
	return fmt.Sprintf("pull request #%d gets no preview: %d previews exist already (%s), the most --max-previews allows; free one with `lean4-cf preview delete --pr N` or close its pull request, or raise --max-previews",
		e.PR, e.Max, strings.Join(prs, ", "))
}

// Deployed is what Deploy did.
type Deployed struct {
	PR     int            `json:"pr"`
	Worker string         `json:"worker"`
	Update bool           `json:"update"` // the preview existed and was updated
	Result *report.Result `json:"result,omitempty"`
	// Removed is the teardown of a first deploy that failed: a preview that never served is removed
	// rather than left as a stub.
	Removed *Teardown `json:"removed,omitempty"`
}

// Deploy deploys pull request pr's preview, or updates it. A failed update is rolled back by the
// pipeline; a failed first deploy is removed. Only the preview's own Worker, application and repository
// are written: the production deployment is never touched.
//
// The cap: a new preview beyond MaxPreviews is refused with a *CapError, and no other preview is ever
// removed to make room; an existing preview is always updated. The count before the deploy refuses with
// nothing written. Two pull requests deploying at once can both pass it, so once the new preview's stub
// Worker holds its place the previews are counted again and ranked by their Worker's creation, then by
// pull request: a new preview that is not among the first MaxPreviews removes its own stub (the only
// thing it wrote) and is refused the same way. The earlier Worker keeps its place, so of two racing pull
// requests with room for one, exactly one stays.
func (m *Manager) Deploy(ctx context.Context, pr int) (*Deployed, error) {
	if pr < 1 {
		return nil, fmt.Errorf("pull request %d is not a pull request number", pr)
	}
	worker := m.Worker(pr)
	all, err := m.scan(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("listing previews: %w", err)
	}
	d := &Deployed{PR: pr, Worker: worker}
	var prs []int // orphans serve nothing and take no room: prune removes them
	for _, p := range slices.Sorted(maps.Keys(all)) {
		if all[p].worker != nil {
			prs = append(prs, p)
			d.Update = d.Update || p == pr
		}
	}
	max := m.maxPreviews()
	if !d.Update && len(prs) >= max {
		return d, &CapError{PR: pr, Max: max, Previews: prs}
	}
	var reserve func(context.Context) error
	if !d.Update {
		reserve = func(ctx context.Context) error { return m.holdsPlace(ctx, pr, max) }
	}
	res, err := m.Deployer.Deploy(ctx, worker, reserve)
	d.Result = res
	if ce := (*CapError)(nil); errors.As(err, &ce) {
		m.logf("%s came later than %d other previews: removing its stub", worker, max)
		d.Result = nil // refused: nothing of it is left to report
		ctx := context.WithoutCancel(ctx)
		td, derr := m.Delete(ctx, pr)
		if derr == nil && !slices.Contains(td.Workers, worker) {
			// Its stub exists (the recount ran after it answered) though the account's list does not
			// show it yet: delete it by name.
			if derr = m.Account.DeleteWorker(ctx, worker); derr == nil {
				td.Workers = append(td.Workers, worker)
			}
		}
		d.Removed = td
		if derr != nil {
			return d, errors.Join(ce, fmt.Errorf("removing the refused preview %s: %w", worker, derr))
		}
		return d, ce
	}
	if err != nil && res != nil && !d.Update {
		m.logf("the first deploy of %s failed: removing it", worker)
		td, derr := m.Delete(context.WithoutCancel(ctx), pr)
		d.Removed = td
		if derr != nil {
			return d, errors.Join(err, fmt.Errorf("removing the failed preview %s: %w", worker, derr))
		}
	}
	return d, err
}

// holdsPlace counts the previews again once pull request pr's new preview Worker exists, and refuses it
// with a *CapError unless it is among the first max of them by Worker creation, then pull request.
func (m *Manager) holdsPlace(ctx context.Context, pr, max int) error {
	workers, err := m.Account.Workers(ctx)
	if err != nil {
		return fmt.Errorf("counting previews again: %w", err)
	}
	type place struct {
		pr      int
		created time.Time
	}
	var ps []place
	for _, w := range workers {
		if p, ok := wrangler.PreviewPR(m.Name, w.Name); ok {
			ps = append(ps, place{p, w.Created})
		}
	}
	if !slices.ContainsFunc(ps, func(p place) bool { return p.pr == pr }) {
		// The account's list does not show the new Worker yet: it came last.
		ps = append(ps, place{pr, m.now()})
	}
	slices.SortFunc(ps, func(a, b place) int {
		if c := a.created.Compare(b.created); c != 0 {
			return c
		}
		return a.pr - b.pr
	})
	if len(ps) <= max || slices.IndexFunc(ps, func(p place) bool { return p.pr == pr }) < max {
		return nil
	}
	held := make([]int, max)
	for i, p := range ps[:max] {
		held[i] = p.pr
	}
	slices.Sort(held)
	return &CapError{PR: pr, Max: max, Previews: held}
}

// Teardown is what Delete found and removed.
type Teardown struct {
	PR          int      `json:"pr"`
	Worker      string   `json:"worker"`
	Workers     []string `json:"workers"`     // Workers deleted: the preview, and its side stub if a deploy left one
	Application string   `json:"application"` // the container application deleted, "" if there was none
	Images      []string `json:"images"`      // tag@digest of every manifest deleted
	Kept        []string `json:"kept"`        // manifests kept because another application runs them
	// Why says why prune selected the preview; "" for a delete asked for by pull request.
	Why string `json:"why,omitempty"`
}

// Empty reports whether the teardown found nothing to delete.
func (t *Teardown) Empty() bool {
	return len(t.Workers) == 0 && t.Application == "" && len(t.Images) == 0
}

// Summary says in one line what the teardown found.
func (t *Teardown) Summary() string {
	if t.Empty() && len(t.Kept) == 0 {
		return fmt.Sprintf("preview of #%d (%s): nothing found, nothing to delete", t.PR, t.Worker)
	}
	app := "no application"
	if t.Application != "" {
		app = "application " + t.Application
	}
	s := fmt.Sprintf("preview of #%d (%s): deleted %d Worker(s), %s, %d image(s)", t.PR, t.Worker, len(t.Workers), app, len(t.Images))
	if len(t.Kept) > 0 {
		s += fmt.Sprintf("; kept %d image(s) another application runs", len(t.Kept))
	}
	return s
}

// Delete removes pull request pr's preview: its Worker (and a side stub an interrupted deploy left), its
// container application, and the manifests of its repository that no other application runs. What is
// already gone is skipped, so a second delete, or the delete of a preview that never finished, succeeds
// and says what it found.
func (m *Manager) Delete(ctx context.Context, pr int) (*Teardown, error) {
	worker := m.Worker(pr)
	td := &Teardown{PR: pr, Worker: worker, Workers: []string{}, Images: []string{}, Kept: []string{}} // JSON lists, never null
	workers, err := m.Account.Workers(ctx)
	if err != nil {
		return td, fmt.Errorf("listing Workers: %w", err)
	}
	apps, err := m.Account.Applications(ctx)
	if err != nil {
		return td, fmt.Errorf("listing container applications: %w", err)
	}
	appName := wrangler.ApplicationName(worker, wrangler.ClassName)
	for _, w := range workers {
		if w.Name == worker || w.Name == worker+wrangler.StubSuffix {
			m.logf("deleting Worker %s", w.Name)
			if err := m.Account.DeleteWorker(ctx, w.Name); err != nil {
				return td, err
			}
			td.Workers = append(td.Workers, w.Name)
		}
	}
	// Manifests of the preview's repository that another application runs stay: manifests belong to
	// their repository, so only a reference into this very repository can need them.
	inUse := map[string]bool{}
	for _, a := range apps {
		if a.Name == appName {
			m.logf("deleting container application %s (%s)", a.Name, a.ID)
			if err := m.Account.DeleteApplication(ctx, a.ID); err != nil {
				return td, err
			}
			td.Application = a.Name
			continue
		}
		if repo, digest, ok := repoDigest(a.Image); ok && repo == worker {
			inUse[digest] = true
		}
	}
	deleted, kept, err := m.Registry.DeleteRepository(ctx, worker, func(d string) bool { return inUse[d] })
	td.Images, td.Kept = append(td.Images, deleted...), append(td.Kept, kept...)
	if err != nil {
		return td, fmt.Errorf("deleting the images of %s: %w", worker, err)
	}
	return td, nil
}

// repoDigest splits <registry>/<account>/<repository>@sha256:... into the repository's last path
// segment and the digest.
func repoDigest(ref string) (repo, digest string, ok bool) {
	name, digest, ok := strings.Cut(ref, "@")
	if !ok {
		return "", "", false
	}
	return name[strings.LastIndexByte(name, '/')+1:], digest, true
}

// PruneOptions say which previews prune removes: those older than OlderThan (when set), and those whose
// pull request Closed says is closed (when set). Orphaned previews (StateOrphaned) are always removed.
type PruneOptions struct {
	OlderThan time.Duration
	Closed    ClosedPRs
}

// Why prune removes a preview (Teardown.Why).
const (
	WhyClosed   = "pull request closed"
	WhyOrphaned = "its Worker is gone"
	whyOlder    = "older than %s"
)

// Prune removes the previews PruneOptions select and every orphaned preview: what a missed close, a
// failed deploy or a Worker deleted by hand left behind. An orphan is never a deploy in progress: a
// deploy creates the preview's Worker before its repository and application.
func (m *Manager) Prune(ctx context.Context, opts PruneOptions) ([]*Teardown, error) {
	previews, err := m.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing previews: %w", err)
	}
	closed := map[int]bool{}
	if opts.Closed != nil && len(previews) > 0 {
		prs := make([]int, len(previews))
		for i, p := range previews {
			prs[i] = p.PR
		}
		if closed, err = opts.Closed.Closed(ctx, prs); err != nil {
			return nil, fmt.Errorf("asking which pull requests are closed: %w", err)
		}
	}
	var out []*Teardown
	for _, p := range previews {
		var why string
		switch {
		case closed[p.PR]:
			why = WhyClosed
		case p.State == StateOrphaned:
			why = WhyOrphaned
		case opts.OlderThan > 0 && p.Age.D() > opts.OlderThan:
			why = fmt.Sprintf(whyOlder, opts.OlderThan)
		default:
			continue
		}
		td, err := m.Delete(ctx, p.PR)
		if td != nil {
			td.Why = why
			out = append(out, td)
		}
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

func (m *Manager) now() time.Time {
	if m.Now == nil {
		return time.Now()
	}
	return m.Now()
}

func (m *Manager) maxPreviews() int {
	if m.MaxPreviews <= 0 {
		return DefaultMaxPreviews
	}
	return m.MaxPreviews
}

func (m *Manager) logf(format string, args ...any) {
	if m.Log != nil {
		m.Log(fmt.Sprintf(format, args...))
	}
}
