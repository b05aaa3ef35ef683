package retry

import (
	"context"
	"math/rand/v2"
	"time"
)

// Defaults for the zero fields of [Options].
const (
	defaultMaxAttempts = 5
	defaultMaxDelay    = 30 * time.Second
	defaultBase        = 100 * time.Millisecond
)

// Options configures a [Policy]. Every zero field means its documented
// default, so Options{} is full jitter from 100ms, at most 5 attempts, each
// wait at most 30s.
type Options struct {
	// MaxAttempts is the most attempts a call makes, the first one included:
	// 1 never retries. Default 5. Negative means no limit: then MaxElapsed,
	// the context or the Budget must end the retrying.
	MaxAttempts int

	// MaxElapsed bounds the time spent retrying, measured from the end of the
	// first failed attempt (the clock is not read before a failure): a wait
	// that would end more than MaxElapsed after it is not started, and the
	// call returns an error matching ErrDeadline. To bound the whole call,
	// first attempt included, give it a context with a deadline. Default 0:
	// no limit.
	MaxElapsed time.Duration

	// MaxDelay caps every single wait, whether computed by Backoff or hinted
	// by the error (see [After]). Default 30s.
	MaxDelay time.Duration

	// Backoff computes the wait before each retry. Default
	// FullJitter(100*time.Millisecond, MaxDelay).
	Backoff Strategy

	// Retryable, if set, decides whether a failed attempt may be retried,
	// replacing the default test that stops on any error in the chain with a
	// Permanent() bool method returning true. It never sees errors that stop
	// regardless: those wrapped by [Permanent], and context errors. It is
	// called on the calling goroutine and must be safe for concurrent use.
	Retryable func(err error) bool

	// OnRetry, if set, is called before each wait with the 1-based number of
	// the attempt that failed, its error, and the wait about to start. It is
	// called on the calling goroutine, holding no lock, after every check that
	// could stop the call (so a wait always follows it, unless the context
	// ends it), and never after the final attempt.
	OnRetry func(attempt int, err error, delay time.Duration)

	// Budget, if set, is the retry budget this Policy draws on; one Budget may
	// be shared by many policies. Each call deposits into it once; each retry
	// withdraws one token. Default nil: no budget.
	Budget *Budget
}

// A Policy says how calls are retried. Configure it once with [New] and share
// it: a Policy is immutable and safe for concurrent use by any number of
// goroutines, and each call keeps its own state (attempt count, previous
// wait, clock, timer) on its own stack. The zero Policy behaves as
// New(Options{}).
type Policy struct {
	maxAttempts int
	maxElapsed  time.Duration
	maxDelay    time.Duration
	backoff     Strategy
	retryable   func(error) bool
	onRetry     func(int, error, time.Duration)
	budget      *Budget
	rand        *rand.Rand // over runtimeSource; nil in the zero Policy
}

// New returns a Policy configured by o. It panics if MaxElapsed or MaxDelay is
// negative.
func New(o Options) *Policy {
	if o.MaxElapsed < 0 || o.MaxDelay < 0 {
		panic("retry: negative duration in Options")
	}
	return &Policy{
		maxAttempts: o.MaxAttempts,
		maxElapsed:  o.MaxElapsed,
		maxDelay:    o.MaxDelay,
		backoff:     o.Backoff,
		retryable:   o.Retryable,
		onRetry:     o.OnRetry,
		budget:      o.Budget,
		rand:        rand.New(runtimeSource{}),
	}
}

// Do calls fn until it returns a nil error, or retrying stops, and returns
// what the last call returned. fn is called at least once, with ctx, even if
// ctx is already done. Retrying stops when:
//
//   - the error is not retryable: it wraps an error made by [Permanent], it is
//     a context error, or it has a Permanent() bool method returning true (or
//     Options.Retryable, when set, returns false) — [ErrPermanent];
//   - MaxAttempts attempts have failed — [ErrAttemptsExhausted];
//   - the next wait would end at or after ctx's deadline, or past
//     Options.MaxElapsed — [ErrDeadline], without waiting;
//   - the [Budget] has no retry left — [ErrBudgetExhausted];
//   - ctx is done, checked after each failed attempt and during each wait,
//     which it ends at once — ctx.Err() (and context.Cause(ctx)).
//
// A non-nil error is then an [*Error] matching the reason and the last
// attempt's error with errors.Is and errors.As; the value is the one fn
// returned with that error.
//
// The first attempt costs a few nanoseconds more than calling fn directly and
// allocates nothing: the clock, the random source and the timer are touched
// only after a failure. Do panics if p is nil.
func Do[T any](ctx context.Context, p *Policy, fn func(context.Context) (T, error)) (T, error) {
	if p == nil {
		panic("retry: nil *Policy")
	}
	if p.budget != nil {
		p.budget.Deposit()
	}
	v, err := fn(ctx)
	if err == nil {
		return v, nil
	}
	return loop(ctx, p, fn, v, err)
}

// Do is the form of [Do] for operations that return only an error.
func (p *Policy) Do(ctx context.Context, fn func(context.Context) error) error {
	if p == nil {
		panic("retry: nil *Policy")
	}
	if p.budget != nil {
		p.budget.Deposit()
	}
	err := fn(ctx)
	if err == nil {
		return nil
	}
	_, err = loop(ctx, p, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, fn(ctx)
	}, struct{}{}, err)
	return err
}

// loop retries after the first attempt failed with v, err.
func loop[T any](ctx context.Context, p *Policy, fn func(context.Context) (T, error), v T, err error) (T, error) {
	maxAttempts := p.maxAttempts
	if maxAttempts == 0 {
		maxAttempts = defaultMaxAttempts
	}
	maxDelay := p.maxDelay
	if maxDelay == 0 {
		maxDelay = defaultMaxDelay
	}
	r := p.rand
	if r == nil {
		r = rand.New(runtimeSource{})
	}
	deadline, hasDeadline := ctx.Deadline()
	var (
		start time.Time     // end of the first failed attempt, if needed
		prev  time.Duration // previous wait
		timer *time.Timer
	)
	if p.maxElapsed > 0 {
		start = time.Now()
	}
	stop := func(attempt int, reason error) (T, error) {
		if timer != nil {
			timer.Stop()
		}
		return v, &Error{Attempts: attempt, Reason: reason, Last: err}
	}
	stopCtx := func(attempt int) (T, error) {
		v, e := stop(attempt, ctx.Err())
		if c := context.Cause(ctx); c != ctx.Err() {
			e.(*Error).cause = c
		}
		return v, e
	}

	for attempt := 1; ; attempt++ {
		if ctx.Err() != nil {
			return stopCtx(attempt)
		}
		t := inspect(err)
		if t.wrapped || isContextErr(err) {
			return stop(attempt, ErrPermanent)
		}
		if p.retryable != nil {
			if !p.retryable(err) {
				return stop(attempt, ErrPermanent)
			}
		} else if t.permanent {
			return stop(attempt, ErrPermanent)
		}
		if maxAttempts > 0 && attempt >= maxAttempts {
			return stop(attempt, ErrAttemptsExhausted)
		}

		var d time.Duration
		switch {
		case t.hinted:
			d = t.hint
		case p.backoff != nil:
			d = p.backoff(attempt, prev, r)
		default:
			d = fullJitter(attempt, defaultBase, maxDelay, r)
		}
		d = min(max(d, 0), maxDelay)

		if hasDeadline || p.maxElapsed > 0 {
			now := time.Now()
			if hasDeadline && d >= deadline.Sub(now) {
				return stop(attempt, ErrDeadline)
			}
			if p.maxElapsed > 0 && now.Sub(start)+d > p.maxElapsed {
				return stop(attempt, ErrDeadline)
			}
		}
		if p.budget != nil && !p.budget.Withdraw() {
			return stop(attempt, ErrBudgetExhausted)
		}
		if p.onRetry != nil {
			p.onRetry(attempt, err, d)
		}

		if d > 0 {
			if timer == nil {
				timer = time.NewTimer(d)
			} else {
				timer.Reset(d)
			}
			select {
			case <-timer.C:
			case <-ctx.Done():
				return stopCtx(attempt)
			}
		}
		prev = d

		v, err = fn(ctx)
		if err == nil {
			if timer != nil {
				timer.Stop()
			}
			return v, nil
		}
	}
}
