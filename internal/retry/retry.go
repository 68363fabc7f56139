// Package retry is lean4-cf's one retry shape and its clock: exponential pauses (cenkalti/backoff v5)
// bounded by attempts and elapsed time, paced by a Clock that tests speed up so that they keep every
// attempt count without waiting real pauses.
package retry

import (
	"context"
	"errors"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// Clock tells the time and paces waits. The zero Clock is the wall clock at real pace.
type Clock struct {
	// Speedup divides every pause (a test's 1000 turns a 2 s pause into 2 ms); 0 or 1 is real time.
	// Bounds on elapsed time are not divided: they are the user's, and polls simply poll more often.
	Speedup float64
}

// Fast is the clock tests use: pauses a thousand times shorter, the same attempts.
var Fast = Clock{Speedup: 1000}

// Now is the wall-clock time (virtual inside a testing/synctest bubble).
func (c Clock) Now() time.Time { return time.Now() }

// Since is the time elapsed since t.
func (c Clock) Since(t time.Time) time.Duration { return time.Since(t) }

// Pause is how long a pause of d really lasts on this clock.
func (c Clock) Pause(d time.Duration) time.Duration {
	if c.Speedup <= 1 || d <= 0 {
		return d
	}
	return time.Duration(float64(d) / c.Speedup)
}

// Sleep pauses for d on this clock, or until ctx ends (then it returns ctx's cause).
func (c Clock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(c.Pause(d))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// Policy is a retry shape: the first pause is Initial, each next one Multiplier times longer up to Max,
// randomized by ±Jitter; at most Tries attempts, within MaxElapsed.
type Policy struct {
	Initial    time.Duration // first pause; default 1 s
	Multiplier float64       // growth of each pause; default 2
	Max        time.Duration // longest pause; 0 means no cap
	Jitter     float64       // randomization factor in [0, 1); 0 means none
	Tries      uint          // attempts in all, the first included; 0 means no bound
	MaxElapsed time.Duration // no attempt starts after this long; 0 means no bound
}

// Notify hears each failed attempt's error and the pause before the next attempt (as paced by the clock).
type Notify func(err error, next time.Duration)

// Permanent marks err as not worth another attempt.
func Permanent(err error) error { return backoff.Permanent(err) }

// After marks err as worth another attempt after d exactly (a server's Retry-After), instead of the
// policy's next pause.
func After(err error, d time.Duration) error {
	return &afterError{err: err, d: d}
}

type afterError struct {
	err   error
	d     time.Duration
	paced time.Duration // d on the clock in use, set by Do
}

func (e *afterError) Error() string { return e.err.Error() }
func (e *afterError) Unwrap() error { return e.err }

// As lets backoff see the pause it must take while the error stays op's own.
func (e *afterError) As(target any) bool {
	if t, ok := target.(**backoff.RetryAfterError); ok {
		*t = &backoff.RetryAfterError{Duration: e.paced}
		return true
	}
	return false
}

// Do runs op until it succeeds, returns a Permanent error, or the policy's bounds end, pausing on clock
// between attempts. It returns op's last result and error (a Permanent error unwrapped).
func Do[T any](ctx context.Context, p Policy, clock Clock, notify Notify, op func() (T, error)) (T, error) {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.Multiplier, b.RandomizationFactor, b.MaxInterval = time.Second, 2, p.Jitter, p.Max
	if p.Initial > 0 {
		b.InitialInterval = p.Initial
	}
	if p.Multiplier > 0 {
		b.Multiplier = p.Multiplier
	}
	if p.Max <= 0 {
		b.MaxInterval = time.Duration(1<<63 - 1)
	}
	opts := []backoff.RetryOption{
		backoff.WithBackOff(&paced{b: b, clock: clock}),
		backoff.WithMaxTries(p.Tries),
		backoff.WithMaxElapsedTime(p.MaxElapsed),
	}
	if notify != nil {
		opts = append(opts, backoff.WithNotify(func(err error, next time.Duration) { notify(unwrapAfter(err), next) }))
	}
	v, err := backoff.Retry(ctx, func() (T, error) {
		v, err := op()
		var ae *afterError
		if errors.As(err, &ae) {
			ae.paced = clock.Pause(ae.d) // backoff's Retry-After bypasses the BackOff, so it is paced here
		}
		return v, err
	}, opts...)
	return v, unwrapAfter(err)
}

func unwrapAfter(err error) error {
	if ae, ok := err.(*afterError); ok {
		return ae.err
	}
	return err
}

// paced divides a BackOff's pauses by the clock's speedup.
type paced struct {
	b     backoff.BackOff
	clock Clock
}

func (p *paced) NextBackOff() time.Duration {
	d := p.b.NextBackOff()
	if d == backoff.Stop {
		return d
	}
	return p.clock.Pause(d)
}

func (p *paced) Reset() { p.b.Reset() }
