package leandouble

import (
	"io"
	"math"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/org/lean4-cf-action/internal/instance"
)

// fakeClock is model time that moves only when a test advances it.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	seq    int
	timers map[int]fakeTimer
}

type fakeTimer struct {
	at time.Time
	f  func()
}

func newFakeClock() *fakeClock { return &fakeClock{now: fixed, timers: map[int]fakeTimer{}} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	id := c.seq
	c.timers[id] = fakeTimer{at: c.now.Add(d), f: f}
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, ok := c.timers[id]
		delete(c.timers, id)
		return ok
	}
}

// Advance moves time forward by d, firing each due timer at its own time, in order.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		ids := make([]int, 0, len(c.timers))
		for id, t := range c.timers {
			if !t.at.After(end) {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			c.now = end
			c.mu.Unlock()
			return
		}
		sort.Slice(ids, func(i, j int) bool { return c.timers[ids[i]].at.Before(c.timers[ids[j]].at) })
		t := c.timers[ids[0]]
		delete(c.timers, ids[0])
		if t.at.After(c.now) {
			c.now = t.at
		}
		c.mu.Unlock()
		t.f()
	}
}

// answer is what one raw request got: the bytes, or the read error (a reset).
type reply struct {
	text string
	err  error
}

// send sends a request in the background; the answer arrives on the channel.
func send(t *testing.T, s *Server, req string) <-chan reply {
	t.Helper()
	out := make(chan reply, 1)
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.WriteString(c, req); err != nil {
			out <- reply{err: err}
			return
		}
		b, err := io.ReadAll(c)
		out <- reply{text: string(b), err: err}
	}()
	return out
}

// waitState polls until the instance's stats satisfy ok (handlers run on their own goroutines).
func waitState(t *testing.T, s *Server, name string, what string, ok func(InstanceStats) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok(s.Instances()[name]) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; instance %q is %+v", what, name, s.Instances()[name])
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func running(n int) func(InstanceStats) bool {
	return func(st InstanceStats) bool { return st.Running == n }
}

func startBudgeted(t *testing.T, b Budget) (*Server, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	b.Clock = clock
	return start(t, Options{Budget: &b}), clock
}

func TestBudgetRunsShareTheVCPUs(t *testing.T) {
	cases := []struct {
		name    string
		vcpu    float64
		runs    int
		work    string
		elapsed string // model seconds each run takes
	}{
		{"one run alone on half a vCPU is capped at half", 0.5, 1, "#work 1000", `"elapsed": 2.0}`},
		{"three runs on one vCPU take three times as long", 1, 3, "#work 1000", `"elapsed": 3.0}`},
		{"two runs on four vCPUs each get a whole vCPU", 4, 2, "#work 1000", `"elapsed": 1.0}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, clock := startBudgeted(t, Budget{MemoryMiB: 4096, VCPU: tc.vcpu})
			var answers []<-chan reply
			for range tc.runs {
				answers = append(answers, send(t, s, post(tc.work+"\n#eval 1 + 1")))
			}
			waitState(t, s, "", "the runs to start", running(tc.runs))
			want, _ := time.ParseDuration(strings.TrimSuffix(strings.TrimPrefix(tc.elapsed, `"elapsed": `), "}") + "s")
			clock.Advance(want - time.Millisecond)
			waitState(t, s, "", "no run to finish early", running(tc.runs))
			clock.Advance(time.Millisecond)
			for _, a := range answers {
				got := <-a
				if got.err != nil || !strings.Contains(got.text, `"stdout": "2\n"`) || !strings.HasSuffix(got.text, tc.elapsed) {
					t.Fatalf("answer %q (%v), want 2 and %s", got.text, got.err, tc.elapsed)
				}
			}
		})
	}
}

func TestBudgetDiesWhenMemoryRunsOut(t *testing.T) {
	// basic: 1024 MiB = 256 base + 3 runs of 256 MiB. The fourth run would need 1280 MiB.
	b := BudgetFor(mustType(t, "basic"))
	b.ColdStart = 5 * time.Second
	s, clock := startBudgeted(t, b)
	var answers []<-chan reply
	for range 3 {
		answers = append(answers, send(t, s, post("#work 10000\n#eval 1")))
	}
	waitState(t, s, "", "three runs", running(3))
	if st := s.Instances()[""]; st.PeakMiB != 1024 || st.Deaths != 0 {
		t.Fatalf("three runs: %+v, want 1024 MiB in use and no death", st)
	}
	fourth := send(t, s, post("#eval 1"))
	for i, a := range append(answers, fourth) {
		// A reset connection gives no bytes (and a reset error, or EOF when the reset raced the read).
		if got := <-a; got.text != "" {
			t.Fatalf("request %d after the OOM got %q, want its connection reset", i, got.text)
		}
	}
	if st := s.Instances()[""]; st.Deaths != 1 || st.Running != 0 {
		t.Fatalf("after the OOM: %+v, want one death and nothing running", st)
	}
	// The next request waits out the cold start, then runs.
	next := send(t, s, post("#work 1000\n#eval 2 + 2")) // 4 s on a quarter vCPU
	clock.Advance(4 * time.Second)
	select {
	case a := <-next:
		t.Fatalf("answered during the cold start: %q", a.text)
	case <-time.After(50 * time.Millisecond):
	}
	clock.Advance(time.Second)
	waitState(t, s, "", "the run after the cold start", running(1))
	clock.Advance(4 * time.Second)
	if got := <-next; !strings.Contains(got.text, `"stdout": "4\n"`) {
		t.Fatalf("after the cold start: %q (%v)", got.text, got.err)
	}
}

func TestBudgetTimeoutFreesTheRun(t *testing.T) {
	s, clock := startBudgeted(t, Budget{MemoryMiB: 4096, VCPU: 1})
	a := send(t, s, post("#work 5000\n#eval 1", "X-Lean-Timeout: 2"))
	waitState(t, s, "", "the run", running(1))
	clock.Advance(2 * time.Second)
	got := <-a
	if !strings.HasPrefix(got.text, "HTTP/1.0 408") || !strings.Contains(got.text, `"stderr": "Lean process timed out after 2s"`) {
		t.Fatalf("got %q, want 408 timed out after 2s", got.text)
	}
	waitState(t, s, "", "the run to be gone", running(0))
	// One run alone on one vCPU for 2 s received 2 vCPU-seconds; nothing is counted while idle.
	clock.Advance(3 * time.Second)
	if st := s.Instances()[""]; math.Abs(st.Busy-2) > 1e-6 {
		t.Fatalf("busy %v vCPU-seconds, want 2", st.Busy)
	}
	// A run in flight counts up to the moment of reading, not to the last start or finish.
	send(t, s, post("#work 5000\n#eval 1"))
	waitState(t, s, "", "the second run", running(1))
	clock.Advance(time.Second)
	if st := s.Instances()[""]; math.Abs(st.Busy-3) > 1e-6 {
		t.Fatalf("busy %v vCPU-seconds one second into a second run, want 3", st.Busy)
	}
}

func TestBudgetPerInstance(t *testing.T) {
	// Each named instance has its own memory: three runs on each of two basic instances fit.
	s, _ := startBudgeted(t, BudgetFor(mustType(t, "basic")))
	for _, name := range []string{"instance-0", "instance-1"} {
		for range 3 {
			send(t, s, post("#work 60000\n#eval 1", InstanceHeader+": "+name))
		}
		waitState(t, s, name, "three runs on "+name, running(3))
	}
	if s.Deaths() != 0 {
		t.Fatalf("deaths %d, want 0: %+v", s.Deaths(), s.Instances())
	}
	send(t, s, post("#eval 1", InstanceHeader+": instance-1"))
	waitState(t, s, "instance-1", "instance-1 to die", func(st InstanceStats) bool { return st.Deaths == 1 })
	if st := s.Instances()["instance-0"]; st.Deaths != 0 || st.Running != 3 {
		t.Fatalf("instance-0 %+v, want untouched", st)
	}
}

func TestRunWorkAndWorkLines(t *testing.T) {
	if got := programWork("#work 250\n#eval 1\n  #work 50\n#work x"); got != 300*time.Millisecond {
		t.Fatalf("programWork = %v, want 300ms", got)
	}
	if r := Evaluate(t.Context(), "#work 10\n#eval 1"); r.Stdout != "1\n" || r.ExitCode != 0 {
		t.Fatalf("#work is not a no-op: %+v", r)
	}
	if r := Evaluate(t.Context(), "#work soon"); r.ExitCode != 1 || !strings.Contains(r.Stdout, "expected a number of milliseconds") {
		t.Fatalf("a bad #work is not an error: %+v", r)
	}
	// RunWork applies to every run.
	s, clock := startBudgeted(t, Budget{MemoryMiB: 4096, VCPU: 1, RunWork: 500 * time.Millisecond})
	a := send(t, s, post("#eval 1"))
	waitState(t, s, "", "the run", running(1))
	clock.Advance(500 * time.Millisecond)
	if got := <-a; !strings.HasSuffix(got.text, `"elapsed": 0.5}`) {
		t.Fatalf("got %q, want 0.5 s", got.text)
	}
}

func mustType(t *testing.T, name string) instance.Type {
	t.Helper()
	ty, _, err := instance.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return ty
}

// lateClock fires every timer late, as a busy machine does.
type lateClock struct {
	*fakeClock
	late time.Duration
}

func (c lateClock) AfterFunc(d time.Duration, f func()) func() bool {
	return c.fakeClock.AfterFunc(d+c.late, f)
}

func TestBudgetLateTimersDoNotWasteCPU(t *testing.T) {
	// On one vCPU, runs of 100 ms and 300 ms share it until the first is done at 200 ms; the second then
	// has it alone and is done at 400 ms, however late the timers fire.
	clock := newFakeClock()
	s := start(t, Options{Budget: &Budget{MemoryMiB: 4096, VCPU: 1, Clock: lateClock{clock, 50 * time.Millisecond}}})
	short := send(t, s, post("#work 100\n#eval 1"))
	waitState(t, s, "", "the first run", running(1))
	long := send(t, s, post("#work 300\n#eval 2"))
	waitState(t, s, "", "both runs", running(2))
	clock.Advance(time.Second)
	for _, c := range []struct {
		got  <-chan reply
		want string
	}{{short, `"elapsed": 0.2}`}, {long, `"elapsed": 0.4}`}} {
		if got := <-c.got; !strings.HasSuffix(got.text, c.want) {
			t.Errorf("answer %q, want %s", got.text, c.want)
		}
	}
}
