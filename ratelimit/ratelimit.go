package ratelimit

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// Limit is one rate limit: Rate events per Period, with bursts of up to Burst events at once.
// A Limit is a plain value; build one with [PerSecond], [PerMinute], [PerHour], [PerDay] or
// [Every] and change its burst with [Limit.WithBurst].
//
// Under GCRA, the algorithm of this package, an event is admitted every Period/Rate on average
// and Burst events may be admitted at once after a quiet spell: over any span of time T, at
// most Burst + Rate×T/Period events are admitted.
type Limit struct {
	Rate   int           // events per Period; must be > 0
	Period time.Duration // must be > 0
	Burst  int           // events admitted at once after a quiet spell; 0 means Rate
}

// PerSecond returns a limit of rate events per second, with a burst of rate.
func PerSecond(rate int) Limit { return Limit{Rate: rate, Period: time.Second} }

// PerMinute returns a limit of rate events per minute, with a burst of rate.
func PerMinute(rate int) Limit { return Limit{Rate: rate, Period: time.Minute} }

// PerHour returns a limit of rate events per hour, with a burst of rate.
func PerHour(rate int) Limit { return Limit{Rate: rate, Period: time.Hour} }

// PerDay returns a limit of rate events per 24 hours, with a burst of rate.
func PerDay(rate int) Limit { return Limit{Rate: rate, Period: 24 * time.Hour} }

// Every returns a limit of rate events per period, with a burst of rate.
func Every(rate int, period time.Duration) Limit { return Limit{Rate: rate, Period: period} }

// WithBurst returns a copy of l with the given burst.
func (l Limit) WithBurst(burst int) Limit {
	l.Burst = burst
	return l
}

// burst returns the effective burst.
func (l Limit) burst() int {
	if l.Burst == 0 {
		return l.Rate
	}
	return l.Burst
}

// interval returns the emission interval Period/Rate in nanoseconds, rounded up so that
// rounding never admits more than the limit.
func (l Limit) interval() int64 {
	p, r := int64(l.Period), int64(l.Rate)
	return (p + r - 1) / r
}

// String returns the limit as "rate/period" with the burst appended when it differs from the
// rate, e.g. "5/1m0s" or "10/1s burst 20". It names the limit in Redis keys and in the
// RateLimit-Policy header.
func (l Limit) String() string {
	s := strconv.Itoa(l.Rate) + "/" + l.Period.String()
	if b := l.burst(); b != l.Rate {
		s += " burst " + strconv.Itoa(b)
	}
	return s
}

// checkLimits panics on a programmer error in a set of limits.
func checkLimits(limits []Limit) {
	if len(limits) == 0 {
		panic("ratelimit: no limits")
	}
	for _, l := range limits {
		if l.Rate <= 0 || l.Period <= 0 || l.Burst < 0 {
			panic("ratelimit: invalid limit " + strconv.Itoa(l.Rate) + "/" + l.Period.String() +
				" burst " + strconv.Itoa(l.Burst))
		}
	}
}

// Result is the outcome of one decision. When a limiter enforces several limits, the figures
// are those of the binding limit: on a denial the limit that denied for longest, otherwise the
// limit with the fewest events remaining.
type Result struct {
	// Allowed says whether the events were admitted. A denied call consumed nothing.
	Allowed bool
	// Limit is the binding limit.
	Limit Limit
	// Remaining is how many more single events the binding limit would admit right now.
	Remaining int
	// RetryAfter is, on a denial, how long until the same request would be admitted; 0 when
	// allowed.
	RetryAfter time.Duration
	// ResetAfter is how long until the binding limit is back to its full burst if no more
	// events arrive.
	ResetAfter time.Duration
	// Fallback says that Redis could not decide within the time budget (or its breaker was
	// open) and the decision was taken by the limiter's [FailurePolicy].
	Fallback bool
}

// Limiter is what the Redis and in-memory limiters have in common, so callers can hold either:
// [*Redis] and [*Memory] implement it. Every method is safe for concurrent use.
type Limiter interface {
	// Allow is AllowN(ctx, key, 1).
	Allow(ctx context.Context, key string) (Result, error)
	// AllowN decides whether n events for key are admitted under every limit, and consumes them
	// from every limit if so; a denial consumes nothing. n == 0 reports the state without
	// consuming. It returns [ErrExceedsBurst] when n is larger than the smallest capacity.
	AllowN(ctx context.Context, key string, n int) (Result, error)
	// Wait is WaitN(ctx, key, 1).
	Wait(ctx context.Context, key string) error
	// WaitN blocks until n events for key are admitted, ctx is done, or it is clear that
	// admission would come after ctx's deadline ([ErrWouldExceedDeadline]).
	WaitN(ctx context.Context, key string, n int) error
	// Reset forgets everything about key.
	Reset(ctx context.Context, key string) error
	// Limits returns the limits enforced, in the order given to the constructor.
	Limits() []Limit
}

// Errors returned by limiters.
var (
	// ErrExceedsBurst is returned by AllowN and WaitN when n is larger than the smallest
	// capacity (the burst under GCRA and the token bucket, the rate under the window
	// algorithms): such a request could never be admitted.
	ErrExceedsBurst = errors.New("ratelimit: n exceeds burst")
	// ErrWouldExceedDeadline is returned by WaitN when the request could only be admitted after
	// the context's deadline. It matches [context.DeadlineExceeded] with errors.Is.
	ErrWouldExceedDeadline error = deadlineError{}
)

type deadlineError struct{}

func (deadlineError) Error() string        { return "ratelimit: admission would exceed context deadline" }
func (deadlineError) Is(target error) bool { return target == context.DeadlineExceeded }

// waitN implements WaitN on top of AllowN for both limiters.
func waitN(ctx context.Context, l Limiter, key string, n int) error {
	for {
		r, err := l.AllowN(ctx, key, n)
		if err != nil {
			return err
		}
		if r.Allowed {
			return nil
		}
		d := max(r.RetryAfter, time.Microsecond)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
			return ErrWouldExceedDeadline
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// Hooks are callbacks observing decisions, shared by both limiters' options. Each is optional,
// is called on the goroutine that made the decision after it is made, outside any lock, and
// must be safe for concurrent use.
type Hooks struct {
	// OnAllowed is called after each admitted request (including fallback decisions).
	OnAllowed func(key string, r Result)
	// OnDenied is called after each denied request (including fallback decisions).
	OnDenied func(key string, r Result)
	// OnError is called for each decision whose exchange with Redis failed (a timeout, a
	// refused connection, a script error); decisions turned away by an open breaker do not call
	// it, so a dead Redis does not flood it.
	OnError func(key string, err error)
	// OnFallback is called for each decision taken by the failure policy; err is the Redis
	// failure or the breaker's rejection behind it.
	OnFallback func(key string, r Result, err error)
}

func (h *Hooks) decided(key string, r Result) {
	if r.Allowed {
		if h.OnAllowed != nil {
			h.OnAllowed(key, r)
		}
	} else if h.OnDenied != nil {
		h.OnDenied(key, r)
	}
}
