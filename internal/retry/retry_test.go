package retry

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

var errFlaky = errors.New("flaky")

// TestDo runs each shape in a synctest bubble, where time is virtual: the pauses taken are exact.
func TestDo(t *testing.T) {
	for _, tc := range []struct {
		name       string
		policy     Policy
		clock      Clock
		failures   int  // op fails this many times, then succeeds
		permanent  bool // op's failures are permanent
		after      time.Duration
		wantCalls  int
		wantErr    bool
		wantPauses []time.Duration
	}{
		{"succeeds at once", Policy{Initial: 2 * time.Second, Tries: 3}, Clock{}, 0, false, 0, 1, false, nil},
		{"2 s then 4 s, third try wins", Policy{Initial: 2 * time.Second, Tries: 3}, Clock{}, 2, false, 0, 3, false, []time.Duration{2 * time.Second, 4 * time.Second}},
		{"tries bound the attempts", Policy{Initial: 2 * time.Second, Tries: 3}, Clock{}, 5, false, 0, 3, true, []time.Duration{2 * time.Second, 4 * time.Second}},
		{"fast clock keeps the attempts", Policy{Initial: 2 * time.Second, Tries: 3}, Fast, 5, false, 0, 3, true, []time.Duration{2 * time.Millisecond, 4 * time.Millisecond}},
		{"max caps the pause", Policy{Initial: time.Second, Max: 3 * time.Second, Tries: 4}, Clock{}, 9, false, 0, 4, true, []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}},
		{"permanent stops at once", Policy{Initial: time.Second, Tries: 4}, Clock{}, 9, true, 0, 1, true, nil},
		{"retry-after replaces the pause", Policy{Initial: time.Second, Tries: 3}, Clock{}, 9, false, 7 * time.Second, 3, true, []time.Duration{7 * time.Second, 7 * time.Second}},
		{"retry-after is paced too", Policy{Initial: time.Second, Tries: 2}, Fast, 9, false, 7 * time.Second, 2, true, []time.Duration{7 * time.Millisecond}},
		{"elapsed bound", Policy{Initial: 4 * time.Second, Multiplier: 1, MaxElapsed: 10 * time.Second}, Clock{}, 99, false, 0, 3, true, []time.Duration{4 * time.Second, 4 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				calls := 0
				var pauses, notified []time.Duration
				last := time.Now()
				v, err := Do(t.Context(), tc.policy, tc.clock, func(err error, next time.Duration) {
					if !errors.Is(err, errFlaky) {
						t.Errorf("notify got %v, want the op's own error", err)
					}
					notified = append(notified, next)
				}, func() (int, error) {
					if calls > 0 {
						pauses = append(pauses, time.Since(last))
					}
					last = time.Now()
					calls++
					if calls <= tc.failures {
						switch {
						case tc.permanent:
							return 0, Permanent(errFlaky)
						case tc.after > 0:
							return 0, After(errFlaky, tc.after)
						}
						return 0, errFlaky
					}
					return 42, nil
				})
				if calls != tc.wantCalls {
					t.Errorf("calls = %d, want %d", calls, tc.wantCalls)
				}
				if (err != nil) != tc.wantErr || (err != nil && err != errFlaky) {
					t.Errorf("err = %v (%T), want the op's own error: %v", err, err, tc.wantErr)
				}
				if !tc.wantErr && v != 42 {
					t.Errorf("v = %d, want 42", v)
				}
				if len(pauses) != len(tc.wantPauses) || len(notified) != len(tc.wantPauses) {
					t.Fatalf("pauses %v, notified %v, want %v", pauses, notified, tc.wantPauses)
				}
				for i := range pauses {
					if pauses[i] != tc.wantPauses[i] || notified[i] != tc.wantPauses[i] {
						t.Errorf("pause %d: took %v, notified %v, want %v", i, pauses[i], notified[i], tc.wantPauses[i])
					}
				}
			})
		})
	}
}

func TestDoStopsWithContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		calls := 0
		_, err := Do(ctx, Policy{Initial: 2 * time.Second}, Clock{}, nil, func() (int, error) { calls++; return 0, errFlaky })
		if calls != 2 || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("calls %d, err %v; want 2 calls and the deadline", calls, err)
		}
	})
}

func TestClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if err := Fast.Sleep(t.Context(), 3*time.Second); err != nil || time.Since(start) != 3*time.Millisecond {
			t.Fatalf("Fast.Sleep(3s) took %v (%v), want 3ms", time.Since(start), err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := (Clock{}).Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
			t.Fatalf("Sleep on a cancelled context = %v", err)
		}
		if got := (Clock{Speedup: 0.5}).Pause(time.Second); got != time.Second {
			t.Fatalf("a speedup below 1 slowed pauses: %v", got)
		}
	})
}
