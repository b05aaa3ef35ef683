// Package breaker is a circuit breaker: it stops calling a dependency that keeps failing or is
// too slow, gives it time to recover, then probes it before letting traffic back.
//
// A [Breaker] is Closed while calls mostly succeed. It trips to Open when a rule in [Options]
// holds: a run of consecutive failures, a failure rate or a slow-call rate over a sliding window
// (the last N calls, or the last T of time in buckets) once the window holds a minimum number of
// calls, or a rule of your own over the window's [Counts]. While Open it rejects every call
// without calling the dependency. After the open duration (fixed, or growing with repeated trips,
// with optional jitter) it is HalfOpen: a bounded number of probe calls run at once, a given
// number of successful probes closes it, and one failed probe reopens it. A probe that never
// reports gives its slot back after a lease. Results that arrive after the breaker left the state
// that allowed the call are discarded: a call that started before the breaker opened does not
// count in the next closed period, and a probe whose lease expired does not decide anything.
//
// Each error is classified as a success, a failure or ignored by [Options.Classify]; by default
// context cancellation is ignored and every other error is a failure. A panic counts as a failure
// and keeps unwinding.
//
// # Usage
//
// Wrap a call with [Do]:
//
//	b := breaker.New(breaker.Options{ConsecutiveFailures: 5, OpenDuration: 5 * time.Second})
//	user, err := breaker.Do(ctx, b, func(ctx context.Context) (User, error) {
//		return client.GetUser(ctx, id)
//	})
//	if errors.Is(err, breaker.ErrOpen) {
//		// rejected without calling: serve a fallback
//	}
//
// Where the call is not one function (HTTP middleware, a stream, a balancer picking a backend),
// use the two-step permit API: [Breaker.Allow] returns a [Permit] or a rejection, and the
// permit's [Permit.Done] records the result, exactly once. The time between Allow and Done is the
// call's duration for the slow-call rule.
//
//	p, err := b.Allow()
//	if err != nil {
//		return err // *OpenError
//	}
//	resp, err := send(req)
//	p.Done(err)
//
// Keep one breaker per backend, node or tenant with a [Group]: breakers created on demand from
// one Options, with a bounded size and idle eviction.
//
// Control a breaker by hand with [Breaker.ForceOpen], [Breaker.Disable] (let everything through,
// record nothing) and [Breaker.Reset]. Observe it with [Breaker.State], which applies a transition
// that is due (it never reports Open after the open duration has ended), [Breaker.Metrics] for
// the window's counts and rates, and [Options.OnStateChange].
//
// # Rejections and package retry
//
// A rejection is an [*OpenError]: it matches [ErrOpen] with [errors.Is], and its
// [OpenError.RetryAfter] says how long until the breaker lets the next probe through. Its
// Permanent method returns true. Package retry does not import breaker: it treats any error with
// a method Permanent() bool returning true as not retryable by default, and when configured to
// retry such errors it waits the error's RetryAfter() time.Duration before the next attempt. So
// a retry loop around a breaker neither hammers an open breaker nor needs to know this package.
//
// # Concurrency
//
// A Breaker and a Group are safe for concurrent use. A Breaker starts no goroutine of its own:
// the end of the open state and the coarse clock of a time window are [time.AfterFunc] timers,
// and the latter runs only while calls arrive.
//
// OnStateChange is called outside any lock, one change at a time, in the order the changes
// happened, on a goroutine that made a change (the caller of a method, or the open-state timer's
// goroutine for the end of the open state). It may call the breaker, including methods that cause
// further changes: those are delivered after it returns. Options.Classify runs outside the lock;
// Options.TripRule runs under it and must not call the breaker.
//
// # Cost
//
// A successful call through [Do] on a Closed breaker with a count window costs one atomic load
// before the call and one after, and reads no clock; with a time window it adds one atomic add,
// on a counter that concurrent goroutines rarely share.
// A rejection while Open costs two atomic loads and no allocation. See [Breaker] for how, and
// bench_test.go for the figures.
package breaker
