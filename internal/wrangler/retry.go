package wrangler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/org/lean4-cf-action/internal/retry"
)

// DefaultRetry is how RunRetry repeats a transient failure: three attempts, pausing 2 s, then 4 s.
// wrangler retries uploads itself, but not its containers calls: a 429 or 5xx there ends the command
// ("Generic Error").
var DefaultRetry = retry.Policy{Initial: 2 * time.Second, Multiplier: 2, Tries: 3}

// Transient reports a wrangler failure that another attempt may not meet: rate limits, 5xx, dropped
// connections, the containers client's bare "Generic Error", and a just-uploaded version not yet
// readable (code 100146, cloudflare/workers-sdk#14410) after wrangler's own retries.
func Transient(err error) bool {
	var we *Error
	if !errors.As(err, &we) {
		return false
	}
	if f := we.Failure; f != nil {
		switch {
		case f.RetryAfterMS > 0,
			f.Code == 971,    // rate limited: "Please wait and consider throttling your request speed"
			f.Code == 10013,  // "An unknown error has occurred", the API's answer to an internal failure
			f.Code == 100146: // a just-uploaded version not yet readable
			return true
		}
	}
	msg := strings.ToLower(we.Message)
	for _, s := range []string{"fetch failed", "generic error", "429", "too many requests", "500", "502", "503", "504",
		"internal server error", "bad gateway", "service unavailable", "timed out", "econnreset", "socket hang up", "other side closed",
		"100146", "unknown error", "throttling your request"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// RunRetry runs wrangler with args like Run, and runs it again while it fails transiently (see
// Transient) under r.Retry, pacing the pauses on r.Clock. Only commands that are safe to repeat may be
// run this way (every deploy and rollback lean4-cf runs is). attempts says how many runs it took.
func (r Runner) RunRetry(ctx context.Context, args ...string) (res Result, attempts int, err error) {
	p := r.Retry
	if p == (retry.Policy{}) {
		p = DefaultRetry
	}
	what := "wrangler"
	if len(args) > 0 {
		what += " " + args[0]
	}
	res, err = retry.Do(ctx, p, r.Clock, func(err error, next time.Duration) {
		if r.Retrying != nil {
			r.Retrying(fmt.Sprintf("%s failed (%v); trying again in %s", what, err, next))
		}
	}, func() (Result, error) {
		attempts++
		res, err := r.Run(ctx, args...)
		if err != nil && !Transient(err) {
			return res, retry.Permanent(err)
		}
		return res, err
	})
	return res, attempts, err
}
