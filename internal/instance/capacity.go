package instance

import (
	"fmt"
	"math"
)

// Defaults for how many Lean evaluations one instance runs at once.
const (
	// RunsPerVCPU caps concurrent evaluations at this many per vCPU. Lean runs are CPU-bound: past the
	// vCPUs, more runs in flight only stretch each one (n runs on V vCPUs each take n/V times as long),
	// so a small multiple keeps the CPU busy through process start-up without pushing runs past their
	// timeout.
	RunsPerVCPU = 4
	// QueuePerSlot is the Worker's MAX_QUEUE default: this many waiting evaluations per slot.
	QueuePerSlot = 2
	// QueueTimeoutSeconds is the Worker's QUEUE_TIMEOUT default (worker/src/settings.ts).
	QueueTimeoutSeconds = 10
	// TargetUtilization is the share of its vCPUs an instance is planned to be busy: queues stay short
	// below it.
	TargetUtilization = 0.8
	// BurstFactor is max_instances over instances in a recommendation: room for bursts and for a
	// rollout's replacement instances.
	BurstFactor = 2
)

// Capacity is how many evaluations an instance of a type takes at once, and why.
type Capacity struct {
	Type Type
	// MemoryRuns is the memory ceiling: floor((memory - BaseMemory) / memory per run). One more run
	// than this and the instance runs out of memory and dies with every request in flight.
	MemoryRuns int
	// CPURuns is RunsPerVCPU × vCPUs, rounded up.
	CPURuns int
	// MaxConcurrent is the Worker's MAX_CONCURRENT default: the smaller of the two, at least 1 (0 when
	// not even one run fits in memory).
	MaxConcurrent int
	// MaxQueue is the Worker's MAX_QUEUE default: QueuePerSlot × MaxConcurrent.
	MaxQueue int
}

// CapacityOf is the capacity of type t for runs of memoryPerRun bytes (0: DefaultMemoryPerRun).
func CapacityOf(t Type, memoryPerRun int64) Capacity {
	if memoryPerRun <= 0 {
		memoryPerRun = DefaultMemoryPerRun
	}
	c := Capacity{Type: t, CPURuns: int(math.Ceil(RunsPerVCPU * t.VCPU))}
	if free := t.MemoryBytes() - BaseMemory; free > 0 {
		c.MemoryRuns = int(free / memoryPerRun)
	}
	if c.MemoryRuns >= 1 {
		c.MaxConcurrent = max(1, min(c.MemoryRuns, c.CPURuns))
	}
	c.MaxQueue = QueuePerSlot * c.MaxConcurrent
	return c
}

// RatePerSecond is what one instance finishes per second at full use when a run needs runSeconds of
// one vCPU alone: its vCPUs (as many as runs can use) over the run's CPU time.
func (c Capacity) RatePerSecond(runSeconds float64) float64 {
	if runSeconds <= 0 || c.MaxConcurrent == 0 {
		return 0
	}
	return math.Min(c.Type.VCPU, float64(c.MaxConcurrent)) / runSeconds
}

// name is the type as people read it: its name, or a custom type's configuration.
func (c Capacity) name() string {
	if c.Type.IsCustom() {
		return c.Type.Describe()
	}
	return c.Type.Name
}

// Sentence says in plain words what an instance takes and what happens past it.
func (c Capacity) Sentence() string {
	if c.MaxConcurrent == 0 {
		return fmt.Sprintf("%s cannot run a Lean evaluation: %d MiB leaves nothing after the server's %d MiB.", c.name(), c.Type.MemoryMiB, BaseMemory>>20)
	}
	return fmt.Sprintf("%s runs %d evaluations at once (memory allows %d, %g vCPU keeps %d busy); up to %d more wait in line for %d s, "+
		"and beyond that a request gets 429 (line full) or 503 (waited too long) with Retry-After, so the instance never runs out of memory.",
		c.name(), c.MaxConcurrent, c.MemoryRuns, c.Type.VCPU, c.CPURuns, c.MaxQueue, QueueTimeoutSeconds)
}

// Plan is a recommendation for a target load, by Little's law.
type Plan struct {
	Capacity    Capacity
	Rate        float64 // evaluations per second wanted
	RunSeconds  float64 // one vCPU's time per evaluation alone
	BusyVCPU    float64 // Rate × RunSeconds: vCPUs busy on average (Little's law, L = λ × W)
	PerInstance float64 // evaluations per second one instance finishes at full use
	Instances   int     // INSTANCES: enough to stay at or below TargetUtilization
	Max         int     // max_instances: BurstFactor × Instances
	USDPerHour  float64 // Instances awake for an hour at that load
	MaxUSDHour  float64 // Max instances awake, every vCPU busy (the ceiling)
}

// CheckLoad checks a target load: a finite rate and run time above 0.
func CheckLoad(rate, runSeconds float64) error {
	if !(rate > 0) || math.IsInf(rate, 0) {
		return fmt.Errorf("target rate %v: give evaluations per second above 0, e.g. --target-rate 2", rate)
	}
	if !(runSeconds > 0) || math.IsInf(runSeconds, 0) {
		return fmt.Errorf("run seconds %v: give one evaluation's CPU time in seconds above 0, e.g. --run-seconds 0.5", runSeconds)
	}
	return nil
}

// Recommend plans instances of capacity c for rate evaluations per second of runSeconds each.
func Recommend(c Capacity, rate, runSeconds float64) (Plan, error) {
	if err := CheckLoad(rate, runSeconds); err != nil {
		return Plan{}, err
	}
	per := c.RatePerSecond(runSeconds)
	if per == 0 {
		return Plan{}, fmt.Errorf("%s cannot run Lean evaluations: choose a type with more memory", c.name())
	}
	p := Plan{Capacity: c, Rate: rate, RunSeconds: runSeconds, BusyVCPU: rate * runSeconds, PerInstance: per}
	p.Instances = int(math.Ceil(rate / (per * TargetUtilization)))
	p.Max = BurstFactor * p.Instances
	busyShare := rate * runSeconds / (float64(p.Instances) * c.Type.VCPU) // each instance's share of its vCPUs in use
	p.USDPerHour = float64(p.Instances) * (c.Type.IdleUSDPerHour() + busyShare*c.Type.VCPU*3600*USDPerVCPUSecond)
	p.MaxUSDHour = float64(p.Max) * c.Type.USDPerHour()
	return p, nil
}

// Sentence says the plan in plain words.
func (p Plan) Sentence() string {
	return fmt.Sprintf("%.3g evaluations/s × %.3g s of CPU each keeps %.3g vCPU busy on average (Little's law); one %s finishes %.3g/s at full use, "+
		"so instances %d (at most %.0f%% busy) and max_instances %d; awake cost about $%.2f/hour at that load (at most $%.2f/hour with %d instances fully busy).",
		p.Rate, p.RunSeconds, p.BusyVCPU, p.Capacity.name(), p.PerInstance, p.Instances, 100*TargetUtilization, p.Max, p.USDPerHour, p.MaxUSDHour, p.Max)
}
