package cfapi

import (
	"sync"
	"time"
)

// Clock tells the server what time it is. Provisioning and cold starts are computed from it lazily,
// so a FakeClock moved forward changes the state that the next request sees.
type Clock interface {
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// FakeClock is a Clock that moves only when told to. Safe for concurrent use.
type FakeClock struct {
	mu sync.Mutex
	t  time.Time
}

// NewFakeClock returns a FakeClock reading start.
func NewFakeClock(start time.Time) *FakeClock { return &FakeClock{t: start} }

// Now returns the clock's time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// ScaledClock returns a Clock that runs factor times faster than real time, starting now:
// with factor 60, a 5-minute ProvisionDelay passes in 5 real seconds.
func ScaledClock(factor float64) Clock {
	return scaledClock{start: time.Now(), factor: factor}
}

type scaledClock struct {
	start  time.Time
	factor float64
}

func (c scaledClock) Now() time.Time {
	return c.start.Add(time.Duration(float64(time.Since(c.start)) * c.factor))
}
