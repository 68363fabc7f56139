package preview

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/org/lean4-cf-action/internal/report"
	"github.com/org/lean4-cf-action/internal/wrangler"
)

var t0 = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

// fakeCloud is an account and a registry in memory: Workers, applications, and repositories of
// digest-by-tag. It is safe for concurrent use (two deploys racing).
type fakeCloud struct {
	mu      sync.Mutex
	workers map[string]time.Time
	apps    map[string]Application // by name
	repos   map[string]map[string]string
	deletes []string // every delete, in order
	hidden  string   // a Worker the account's list does not show yet
	seq     int      // Workers created through stub
}

func newFakeCloud() *fakeCloud {
	return &fakeCloud{workers: map[string]time.Time{}, apps: map[string]Application{}, repos: map[string]map[string]string{}}
}

// add puts a deployed Worker (created then, unless it exists) with its application running repo@digest.
func (f *fakeCloud) add(worker string, created time.Time, digest string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.workers[worker]; !ok {
		f.workers[worker] = created
	}
	app := wrangler.ApplicationName(worker, wrangler.ClassName)
	f.apps[app] = Application{ID: "id-" + app, Name: app, State: "ready", Image: "registry.example/acct/" + worker + "@" + digest}
	if f.repos[worker] == nil {
		f.repos[worker] = map[string]string{}
	}
	f.repos[worker]["lean4cf-"+digest[len(digest)-4:]] = digest
}

// stub deploys a stub Worker, created at created or, when zero, a minute after the previous stub.
func (f *fakeCloud) stub(worker string, created time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	if created.IsZero() {
		created = t0.Add(time.Duration(f.seq) * time.Minute)
	}
	if _, ok := f.workers[worker]; !ok {
		f.workers[worker] = created
	}
}

func (f *fakeCloud) Workers(context.Context) ([]Worker, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Worker
	for n, c := range f.workers {
		if n != f.hidden {
			out = append(out, Worker{Name: n, Created: c})
		}
	}
	return out, nil
}

func (f *fakeCloud) Applications(context.Context) ([]Application, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Application
	for _, a := range f.apps {
		out = append(out, a)
	}
	return out, nil
}

func (f *fakeCloud) InstanceType(context.Context, string) (string, error) { return "lite", nil }

func (f *fakeCloud) WorkersDevURL(_ context.Context, w string) (string, error) {
	return "https://" + w + ".acct.workers.dev", nil
}

func (f *fakeCloud) DeleteWorker(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deletes = append(f.deletes, "worker "+name)
	delete(f.workers, name)
	return nil
}

func (f *fakeCloud) DeleteApplication(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deletes = append(f.deletes, "application "+id)
	for n, a := range f.apps {
		if a.ID == id {
			delete(f.apps, n)
		}
	}
	return nil
}

func (f *fakeCloud) DeleteRepository(_ context.Context, repo string, keep func(string) bool) (deleted, kept []string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, tag := range slices.Sorted(mapsKeys(f.repos[repo])) {
		d := f.repos[repo][tag]
		if keep(d) {
			kept = append(kept, tag+"@"+d)
			continue
		}
		f.deletes = append(f.deletes, "image "+repo+":"+tag)
		delete(f.repos[repo], tag)
		deleted = append(deleted, tag+"@"+d)
	}
	return deleted, kept, nil
}

func (f *fakeCloud) Repositories(context.Context) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for r, tags := range f.repos {
		if len(tags) > 0 {
			out = append(out, r)
		}
	}
	return out, nil
}

// orphan leaves what a preview Worker deleted by hand leaves: its application and repository.
func (f *fakeCloud) orphan(worker string, created time.Time, digest string) {
	f.add(worker, created, digest)
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.workers, worker)
	app := wrangler.ApplicationName(worker, wrangler.ClassName)
	a := f.apps[app]
	a.Created = created
	f.apps[app] = a
}

func mapsKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// fakeDeployer deploys into the fake cloud as the pipeline does: the stub Worker first, then reserve
// (which may refuse), then the image and the application; or it fails after writing (a failed
// verification).
type fakeDeployer struct {
	cloud   *fakeCloud
	fail    bool
	created time.Time // the stub Worker's creation; zero: the fake cloud's next minute
	// atStart runs when the pipeline starts; atStub once the stub exists, before reserve: the moments
	// another pull request's deploy can interleave.
	atStart, atStub func()
	ran             []string
	reserved        bool // reserve ran
	pushed          bool // something past the stub was written
}

func (d *fakeDeployer) Deploy(ctx context.Context, worker string, reserve func(context.Context) error) (*report.Result, error) {
	d.ran = append(d.ran, worker)
	if d.atStart != nil {
		d.atStart()
	}
	d.cloud.stub(worker, d.created)
	if d.atStub != nil {
		d.atStub()
	}
	if reserve != nil {
		d.reserved = true
		if err := reserve(ctx); err != nil {
			return &report.Result{Name: worker, Outcome: "failed"}, fmt.Errorf("stub stage: %w", err)
		}
	}
	d.pushed = true
	d.cloud.add(worker, t0, "sha256:beef")
	if d.fail {
		return &report.Result{Name: worker, Outcome: "rolled-back"}, errors.New("promote stage: #eval 1 + 1 did not answer 2")
	}
	return &report.Result{Name: worker, Outcome: "deployed"}, nil
}

func manager(cloud *fakeCloud, dep *fakeDeployer) *Manager {
	return &Manager{Name: "lean", Account: cloud, Registry: cloud, Deployer: dep, Now: func() time.Time { return t0.Add(3 * time.Hour) }}
}

func TestDeploy(t *testing.T) {
	for _, tc := range []struct {
		name        string
		others      []int // PRs that hold a preview already
		pr          int
		fail        bool
		wantErr     string
		wantRan     bool
		wantUpdate  bool
		wantRemoved bool
	}{
		{"first", nil, 7, false, "", true, false, false},
		{"update at the cap", []int{1, 2, 3, 4, 7}, 7, false, "", true, true, false},
		{"new beyond the cap", []int{1, 2, 3, 4, 5}, 7, false, "pull request #7 gets no preview: 5 previews exist already (#1, #2, #3, #4, #5)", false, false, false},
		{"failed first deploy removed", nil, 7, true, "did not answer 2", true, false, true},
		{"failed update kept (rolled back)", []int{7}, 7, true, "did not answer 2", true, true, false},
		{"orphans take no room", []int{1, 2, 3, 4}, 7, false, "", true, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cloud := newFakeCloud()
			cloud.add("lean", t0, "sha256:0001") // production
			for _, pr := range tc.others {
				cloud.add(wrangler.PreviewName("lean", pr), t0, "sha256:0002")
			}
			cloud.orphan("lean-pr-30", t0, "sha256:0030") // left by a failed deploy: never counted
			dep := &fakeDeployer{cloud: cloud, fail: tc.fail}
			d, err := manager(cloud, dep).Deploy(context.Background(), tc.pr)
			if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if got := len(dep.ran) > 0; got != tc.wantRan {
				t.Errorf("pipeline ran = %v, want %v", got, tc.wantRan)
			}
			if d.Update != tc.wantUpdate || (d.Removed != nil) != tc.wantRemoved {
				t.Errorf("Update = %v, Removed = %+v; want %v, removed %v", d.Update, d.Removed, tc.wantUpdate, tc.wantRemoved)
			}
			for _, del := range cloud.deletes {
				if !strings.Contains(del, "lean-pr-7") {
					t.Errorf("deleted %s: only PR 7's preview may be deleted", del)
				}
			}
			if _, ok := cloud.workers["lean"]; !ok || len(cloud.repos["lean"]) != 1 {
				t.Errorf("production touched: workers %v, repo %v", cloud.workers, cloud.repos["lean"])
			}
			var ce *CapError
			if errors.As(err, &ce) && len(cloud.deletes) != 0 {
				t.Errorf("a refused preview deleted %v", cloud.deletes)
			}
		})
	}
}

func TestDelete(t *testing.T) {
	cloud := newFakeCloud()
	cloud.add("lean", t0, "sha256:0001")
	cloud.add("lean-pr-7", t0, "sha256:0007")
	cloud.repos["lean-pr-7"]["lean4cf-old"] = "sha256:0006" // an earlier push of the preview
	cloud.workers["lean-pr-7-stub"] = t0                    // a side stub an interrupted update left
	// another application runs one of the preview's manifests: it stays
	cloud.apps["pinned"] = Application{ID: "id-pinned", Name: "pinned", Image: "registry.example/acct/lean-pr-7@sha256:0006"}
	m := manager(cloud, nil)

	td, err := m.Delete(context.Background(), 7)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"lean-pr-7", "lean-pr-7-stub"}; !slices.Equal(sorted(td.Workers), want) {
		t.Errorf("Workers = %v, want %v", td.Workers, want)
	}
	if td.Application != "lean-pr-7-leancontainer" {
		t.Errorf("Application = %q", td.Application)
	}
	if want := []string{"lean4cf-0007@sha256:0007"}; !slices.Equal(td.Images, want) {
		t.Errorf("Images = %v, want %v", td.Images, want)
	}
	if want := []string{"lean4cf-old@sha256:0006"}; !slices.Equal(td.Kept, want) {
		t.Errorf("Kept = %v, want %v", td.Kept, want)
	}
	if _, ok := cloud.workers["lean"]; !ok || len(cloud.repos["lean"]) != 1 || cloud.apps["lean-leancontainer"].ID == "" {
		t.Errorf("production touched: %v", cloud.deletes)
	}

	// A second delete finds nothing and says so.
	td, err = m.Delete(context.Background(), 7)
	if err != nil || !td.Empty() {
		t.Fatalf("second delete = %+v, %v; want nothing found", td, err)
	}
	if !strings.Contains(td.Summary(), "kept 1 image") {
		t.Errorf("Summary = %q", td.Summary())
	}
	if td, _ := m.Delete(context.Background(), 99); td.Summary() != "preview of #99 (lean-pr-99): nothing found, nothing to delete" {
		t.Errorf("Summary of a preview never made = %q", td.Summary())
	}
}

// A preview whose Worker is gone is deleted by pull request all the same: its application and images.
func TestDeleteOrphan(t *testing.T) {
	cloud := newFakeCloud()
	cloud.add("lean", t0, "sha256:0001")
	cloud.orphan("lean-pr-7", t0, "sha256:0007")
	td, err := manager(cloud, nil).Delete(context.Background(), 7)
	if err != nil {
		t.Fatal(err)
	}
	if len(td.Workers) != 0 || td.Application != "lean-pr-7-leancontainer" || !slices.Equal(td.Images, []string{"lean4cf-0007@sha256:0007"}) {
		t.Errorf("teardown = %+v", td)
	}
	if l, _ := manager(cloud, nil).List(context.Background()); len(l) != 0 {
		t.Errorf("left: %+v", l)
	}
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

func TestList(t *testing.T) {
	cloud := newFakeCloud()
	cloud.add("lean", t0, "sha256:0001")
	cloud.add("lean-pr-12", t0.Add(time.Hour), "sha256:0012")
	cloud.add("lean-pr-3", t0, "sha256:0003")
	cloud.add("other-pr-5", t0, "sha256:0005") // another deployment's preview
	cloud.workers["lean-pr-4"] = t0            // never finished: no application
	// Orphans: an application and a repository whose Worker is gone; a repository alone; a side stub alone.
	cloud.orphan("lean-pr-20", t0.Add(time.Hour), "sha256:0020")
	cloud.repos["lean-pr-21"] = map[string]string{"lean4cf-0021": "sha256:0021"}
	cloud.workers["lean-pr-22-stub"] = t0
	cloud.orphan("other-pr-23", t0, "sha256:0023") // another deployment's orphan
	got, err := manager(cloud, nil).List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var prs []int
	for _, p := range got {
		prs = append(prs, p.PR)
	}
	if want := []int{3, 4, 12, 20, 21, 22}; !slices.Equal(prs, want) {
		t.Fatalf("PRs = %v, want %v", prs, want)
	}
	for _, o := range []struct {
		p         Preview
		leftovers []string
		image     string
		age       time.Duration
	}{
		{got[3], []string{"container application lean-pr-20-leancontainer", "image repository lean-pr-20"}, "registry.example/acct/lean-pr-20@sha256:0020", 2 * time.Hour},
		{got[4], []string{"image repository lean-pr-21"}, "", 0},
		{got[5], []string{"Worker lean-pr-22-stub"}, "", 0},
	} {
		p := o.p
		if p.State != StateOrphaned || p.URL != "" || p.Worker != wrangler.PreviewName("lean", p.PR) || !slices.Equal(p.Leftovers, o.leftovers) ||
			p.Image != o.image || p.Age.D() != o.age || (o.image != "") != (p.USDPerHour != nil) {
			t.Errorf("orphan %d = %+v, want leftovers %v, image %q, age %s", p.PR, p, o.leftovers, o.image, o.age)
		}
	}
	p := got[2]
	if p.Worker != "lean-pr-12" || p.URL != "https://lean-pr-12.acct.workers.dev" || p.Image != "registry.example/acct/lean-pr-12@sha256:0012" ||
		p.Age.D() != 2*time.Hour || p.State != "ready" || p.InstanceType != "lite" || p.USDPerHour == nil || *p.USDPerHour <= 0 {
		t.Errorf("preview 12 = %+v", p)
	}
	if got[1].State != "no application" || got[1].USDPerHour != nil {
		t.Errorf("preview 4 = %+v", got[1])
	}
}

type closedSet map[int]bool

func (c closedSet) Closed(_ context.Context, prs []int) (map[int]bool, error) {
	out := map[int]bool{}
	for _, pr := range prs {
		out[pr] = c[pr]
	}
	return out, nil
}

func TestPrune(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts PruneOptions
		want []int // PRs pruned
	}{
		{"older than 2h", PruneOptions{OlderThan: 2 * time.Hour}, []int{1}},
		{"closed", PruneOptions{Closed: closedSet{2: true}}, []int{2}},
		{"both", PruneOptions{OlderThan: 2 * time.Hour, Closed: closedSet{2: true}}, []int{1, 2}},
		{"nothing selected", PruneOptions{OlderThan: 24 * time.Hour}, nil},
	} {
		tc.want = append(tc.want, 9) // the orphan, whatever the options
		slices.Sort(tc.want)
		t.Run(tc.name, func(t *testing.T) {
			cloud := newFakeCloud()
			cloud.add("lean", t0.Add(-48*time.Hour), "sha256:0001") // production is never a preview, however old
			cloud.add("lean-pr-1", t0, "sha256:0011")               // 3 h old
			cloud.add("lean-pr-2", t0.Add(2*time.Hour), "sha256:0012")
			cloud.orphan("lean-pr-9", t0.Add(2*time.Hour), "sha256:0019") // 1 h old, its Worker gone
			tds, err := manager(cloud, nil).Prune(context.Background(), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, td := range tds {
				got = append(got, td.PR)
				if want := map[int]string{1: "older than 2h0m0s", 2: WhyClosed, 9: WhyOrphaned}[td.PR]; td.Why != want {
					t.Errorf("#%d pruned because %q, want %q", td.PR, td.Why, want)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("pruned %v, want %v", got, tc.want)
			}
			if l, _ := manager(cloud, nil).List(context.Background()); slices.ContainsFunc(l, func(p Preview) bool { return p.PR == 9 }) {
				t.Errorf("the orphan is left: %+v", l)
			}
			if _, ok := cloud.workers["lean"]; !ok {
				t.Error("production deleted")
			}
		})
	}
}

// Two pull requests deploying at once can both pass the first count. Once this preview's stub holds its
// place the recount ranks the previews by Worker creation, then pull request; a new preview that is not
// among the first MaxPreviews removes what it wrote and is refused as before. An update never is.
func TestDeployCapRace(t *testing.T) {
	stub := t0.Add(2 * time.Minute) // when PR 7's stub Worker is created
	for _, tc := range []struct {
		name       string
		others     []int         // PRs that hold a preview (created at t0) before PR 7 counts
		racer      int           // the PR whose stub appears between PR 7's count and its recount
		racerAt    time.Duration // its creation, after t0
		hidden     bool          // the recount's list does not show PR 7's own Worker yet
		wantErr    string
		wantUpdate bool
	}{
		{"the racer was created first", []int{1, 2, 3, 4}, 8, time.Minute, false,
			"pull request #7 gets no preview: 5 previews exist already (#1, #2, #3, #4, #8)", false},
		{"the racer came later", []int{1, 2, 3, 4}, 8, 3 * time.Minute, false, "", false},
		{"same time: the lower PR keeps its place", []int{1, 2, 3, 4}, 8, 2 * time.Minute, false, "", false},
		{"same time: a lower racer keeps its place", []int{1, 2, 3, 4}, 6, 2 * time.Minute, false,
			"pull request #7 gets no preview: 5 previews exist already (#1, #2, #3, #4, #6)", false},
		{"room for both", []int{1, 2, 3}, 8, time.Minute, false, "", false},
		{"own Worker not listed yet: it comes last", []int{1, 2, 3, 4}, 8, 3 * time.Minute, true,
			"pull request #7 gets no preview: 5 previews exist already (#1, #2, #3, #4, #8)", false},
		{"an update is never refused", []int{1, 2, 3, 4, 7}, 8, time.Minute, false, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cloud := newFakeCloud()
			cloud.add("lean", t0, "sha256:0001") // production
			for _, pr := range tc.others {
				cloud.add(wrangler.PreviewName("lean", pr), t0, "sha256:0002")
			}
			racer := wrangler.PreviewName("lean", tc.racer)
			dep := &fakeDeployer{cloud: cloud, created: stub, atStub: func() {
				cloud.stub(racer, t0.Add(tc.racerAt))
				if tc.hidden {
					cloud.hidden = "lean-pr-7"
				}
			}}
			d, err := manager(cloud, dep).Deploy(context.Background(), 7)
			if d.Update != tc.wantUpdate || dep.reserved == tc.wantUpdate {
				t.Errorf("Update = %v, reserve ran %v; want update %v", d.Update, dep.reserved, tc.wantUpdate)
			}
			if _, ok := cloud.workers[racer]; !ok {
				t.Errorf("the racer's Worker %s was deleted", racer)
			}
			for _, del := range cloud.deletes {
				if !strings.Contains(del, "lean-pr-7") {
					t.Errorf("deleted %s: only PR 7's own preview may be deleted", del)
				}
			}
			if tc.wantErr == "" {
				if err != nil || d.Result == nil || d.Result.Outcome != "deployed" || len(cloud.deletes) != 0 {
					t.Fatalf("Deploy = %+v, %v; deletes %v; want deployed, nothing deleted", d, err, cloud.deletes)
				}
				return
			}
			var ce *CapError
			if !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), tc.wantErr) || err.Error() != ce.Error() { // the same refusal as the first count
				t.Fatalf("err = %v, want the *CapError %q", err, tc.wantErr)
			}
			if d.Result != nil || d.Removed == nil || !slices.Equal(d.Removed.Workers, []string{"lean-pr-7"}) || dep.pushed {
				t.Errorf("refusal = %+v (removed %+v), pushed %v; want no result, its stub removed, nothing pushed", d, d.Removed, dep.pushed)
			}
			cloud.hidden = ""
			l, _ := manager(cloud, nil).List(context.Background())
			if slices.ContainsFunc(l, func(p Preview) bool { return p.PR == 7 }) {
				t.Errorf("the refused preview left %+v", l)
			}
		})
	}
}

// Two new previews deploying at once with room for one: both pass the first count, both make their stub,
// both recount, and exactly one stays, whichever goroutine runs first.
func TestDeployConcurrentCap(t *testing.T) {
	for i := range 50 {
		cloud := newFakeCloud()
		cloud.add("lean", t0, "sha256:0001")
		for _, pr := range []int{1, 2, 3, 4} {
			cloud.add(wrangler.PreviewName("lean", pr), t0, "sha256:0002")
		}
		var started, stubbed sync.WaitGroup
		started.Add(2)
		stubbed.Add(2)
		barrier := func(wg *sync.WaitGroup) func() { return func() { wg.Done(); wg.Wait() } }
		prs := []int{7, 8}
		errs := make([]error, len(prs))
		var wg sync.WaitGroup
		for j, pr := range prs {
			wg.Go(func() {
				dep := &fakeDeployer{cloud: cloud, atStart: barrier(&started), atStub: barrier(&stubbed)}
				_, errs[j] = manager(cloud, dep).Deploy(context.Background(), pr)
			})
		}
		wg.Wait()
		var refused, deployed []int
		for j, err := range errs {
			var ce *CapError
			switch {
			case err == nil:
				deployed = append(deployed, prs[j])
			case errors.As(err, &ce):
				refused = append(refused, prs[j])
			default:
				t.Fatalf("run %d: #%d: %v", i, prs[j], err)
			}
		}
		l, _ := manager(cloud, nil).List(context.Background())
		if len(deployed) != 1 || len(refused) != 1 || len(l) != 5 {
			t.Fatalf("run %d: deployed %v, refused %v, %d previews left: %+v; want one of each and 5", i, deployed, refused, len(l), l)
		}
		if slices.ContainsFunc(l, func(p Preview) bool { return p.PR == refused[0] }) {
			t.Fatalf("run %d: the refused #%d left %+v", i, refused[0], l)
		}
	}
}
