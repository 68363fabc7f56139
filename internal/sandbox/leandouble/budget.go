package leandouble

import (
	"math"
	"net"
	"sync"
	"time"

	"github.com/org/lean4-cf-action/internal/instance"
)

// InstanceHeader names the instance a request is meant for. The Worker's instances send it to
// LEAN_ORIGIN (development only), so that one double can act as every instance of a deployment; a
// request without it belongs to the instance named "".
const InstanceHeader = "X-Lean4cf-Instance"

// Budget gives the double an instance's resources, as the platform gives them to a container: memory
// that a run holds while it runs, and vCPUs that runs share. A run needs RunWork of one vCPU's time (plus
// any #work lines in its program); n runs on V vCPUs each progress at min(1, V/n) of a vCPU, so they
// stretch as on the platform's CPU quota. When a new run would take the memory in use past MemoryMiB, the
// instance dies as under the OOM killer: every connection in flight is reset, and the instance answers
// again only after ColdStart.
type Budget struct {
	// MemoryMiB is the instance's memory. Required.
	MemoryMiB int64
	// VCPU is the instance's vCPUs. Required.
	VCPU float64
	// BaseMiB is what the server, the OS and the runtime hold. Default instance.BaseMemory (256 MiB).
	BaseMiB int64
	// RunMiB is what one run holds. Default instance.DefaultMemoryPerRun (256 MiB).
	RunMiB int64
	// RunWork is the vCPU time of one evaluation alone, before its #work lines. Default 0.
	RunWork time.Duration
	// ColdStart is how long an instance that died takes to answer again. Default 3 s.
	ColdStart time.Duration
	// Clock schedules the model's time. Default the real clock; Scaled(k) runs it k times faster.
	Clock Clock
}

// BudgetFor is the budget of one instance of type t.
func BudgetFor(t instance.Type) Budget {
	return Budget{MemoryMiB: t.MemoryMiB, VCPU: t.VCPU}
}

func (b Budget) withDefaults() Budget {
	if b.BaseMiB <= 0 {
		b.BaseMiB = instance.BaseMemory >> 20
	}
	if b.RunMiB <= 0 {
		b.RunMiB = instance.DefaultMemoryPerRun >> 20
	}
	if b.ColdStart <= 0 {
		b.ColdStart = 3 * time.Second
	}
	if b.Clock == nil {
		b.Clock = Scaled(1)
	}
	return b
}

// Clock is the model's time: Now and a timer. Durations are model time.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// Scaled is the real clock running k times faster: a model second lasts 1/k real seconds.
func Scaled(k float64) Clock {
	if k <= 0 {
		k = 1
	}
	return scaled{k: k, start: time.Now()}
}

type scaled struct {
	k     float64
	start time.Time
}

func (s scaled) Now() time.Time {
	return s.start.Add(time.Duration(float64(time.Since(s.start)) * s.k))
}

func (s scaled) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(time.Duration(float64(d)/s.k), f).Stop
}

// InstanceStats is what one instance of a budgeted double went through.
type InstanceStats struct {
	Deaths  int   // OOM deaths
	Running int   // runs in flight now
	MaxRuns int   // the most runs in flight at once
	PeakMiB int64 // the most memory in use, BaseMiB included
	Runs    int64 // runs finished (answered or timed out)
	// Busy is the vCPU-seconds the runs received (model time): over a window, Busy / (VCPU × window) is
	// the share of the vCPUs kept busy, so idle vCPUs show apart from answers lost on the way back.
	Busy float64
}

// run is one evaluation holding memory and a CPU share.
type run struct {
	work    float64 // vCPU-seconds needed
	doneAt  float64 // the instance's service level at which it finishes
	conn    net.Conn
	done    chan struct{} // closed when finished
	killed  bool          // the instance died under it
	timeout bool          // its X-Lean-Timeout passed first
	endedAt time.Time     // model time it finished or was stopped
}

// budgeted is one instance's state.
type budgeted struct {
	b         Budget
	mu        sync.Mutex
	runs      map[*run]bool
	service   float64   // vCPU-seconds each run has received since the start (processor sharing)
	updated   time.Time // when service was last brought up to date
	stopTimer func() bool
	warmAt    time.Time // before this the instance is starting (after a death)
	stats     InstanceStats
}

func newBudgeted(b Budget) *budgeted {
	return &budgeted{b: b, runs: map[*run]bool{}, updated: b.Clock.Now()}
}

// rate is the vCPU share each of n runs gets.
func (s *budgeted) rate(n int) float64 {
	if n == 0 {
		return 0
	}
	return math.Min(1, s.b.VCPU/float64(n))
}

// advance brings service up to now, finishing every run whose work was done on the way at the moment it
// was done: a timer that fires late (a busy machine) changes when the answer is sent, not how the vCPUs
// were shared. Callers hold mu.
func (s *budgeted) advance(now time.Time) {
	for len(s.runs) > 0 {
		var first *run
		for r := range s.runs {
			if first == nil || r.doneAt < first.doneAt {
				first = r
			}
		}
		at := s.updated.Add(time.Duration(math.Ceil((first.doneAt - s.service) / s.rate(len(s.runs)) * float64(time.Second))))
		if at.After(now) {
			break
		}
		s.stats.Busy += at.Sub(s.updated).Seconds() * s.rate(len(s.runs)) * float64(len(s.runs))
		s.service, s.updated = first.doneAt, at
		s.finish(first)
	}
	s.stats.Busy += now.Sub(s.updated).Seconds() * s.rate(len(s.runs)) * float64(len(s.runs))
	s.service += now.Sub(s.updated).Seconds() * s.rate(len(s.runs))
	s.updated = now
}

// schedule finishes the runs that are done and sets the timer for the next one. Callers hold mu.
func (s *budgeted) schedule() {
	if s.stopTimer != nil {
		s.stopTimer()
		s.stopTimer = nil
	}
	next := math.Inf(1)
	for r := range s.runs {
		if r.doneAt <= s.service+1e-9 {
			s.finish(r)
			continue
		}
		next = math.Min(next, r.doneAt)
	}
	if math.IsInf(next, 1) {
		return
	}
	wait := time.Duration(math.Ceil((next - s.service) / s.rate(len(s.runs)) * float64(time.Second)))
	s.stopTimer = s.b.Clock.AfterFunc(wait, s.tick)
}

func (s *budgeted) tick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(s.b.Clock.Now())
	s.schedule()
}

// finish ends a run and frees what it held. Callers hold mu.
func (s *budgeted) finish(r *run) {
	if !s.runs[r] {
		return
	}
	delete(s.runs, r)
	s.stats.Runs++
	r.endedAt = s.updated
	close(r.done)
}

// waitWarm blocks while the instance is starting after a death. It returns false when stop closes first.
func (s *budgeted) waitWarm(stop <-chan struct{}) bool {
	s.mu.Lock()
	left := s.warmAt.Sub(s.b.Clock.Now())
	s.mu.Unlock()
	if left <= 0 {
		return true
	}
	ready := make(chan struct{})
	cancel := s.b.Clock.AfterFunc(left, func() { close(ready) })
	select {
	case <-ready:
		return true
	case <-stop:
		cancel()
		return false
	}
}

// start admits a run of work vCPU-seconds on conn, or kills the instance when its memory would not
// suffice. It returns nil when the instance died (conn is reset with the others).
func (s *budgeted) start(work float64, conn net.Conn) *run {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.b.Clock.Now()
	s.advance(now)
	used := s.b.BaseMiB + int64(len(s.runs)+1)*s.b.RunMiB
	if used > s.b.MemoryMiB {
		s.die(now, conn)
		return nil
	}
	r := &run{work: work, doneAt: s.service + work, conn: conn, done: make(chan struct{})}
	s.runs[r] = true
	s.stats.MaxRuns = max(s.stats.MaxRuns, len(s.runs))
	s.stats.PeakMiB = max(s.stats.PeakMiB, used)
	s.schedule()
	return r
}

// stop ends a run early (its timeout passed). It reports false when the run had already finished.
func (s *budgeted) stop(r *run) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.runs[r] {
		return false
	}
	s.advance(s.b.Clock.Now())
	r.timeout = true
	s.finish(r)
	s.schedule()
	return true
}

// die is the OOM kill: every run's connection is reset (as is the one that asked), and the instance
// starts again. Callers hold mu.
func (s *budgeted) die(now time.Time, asking net.Conn) {
	s.stats.Deaths++
	reset(asking)
	for r := range s.runs {
		r.killed = true
		reset(r.conn)
		delete(s.runs, r)
		close(r.done)
	}
	s.warmAt = now.Add(s.b.ColdStart)
	s.schedule()
}

// reset closes a connection with a TCP reset, as a killed process's connections end.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

func (s *budgeted) snapshot() InstanceStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Running = len(s.runs)
	// Busy up to now, not to the last event: the runs in flight have been receiving their share since.
	st.Busy += s.b.Clock.Now().Sub(s.updated).Seconds() * s.rate(len(s.runs)) * float64(len(s.runs))
	return st
}
