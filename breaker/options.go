package breaker

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// State is the state of a [Breaker].
type State uint8

// The states of a breaker. Closed, Open and HalfOpen follow each other on their own; ForcedOpen
// and Disabled are set by hand ([Breaker.ForceOpen], [Breaker.Disable]) and last until
// [Breaker.Reset].
const (
	Closed     State = iota // calls flow and their outcomes are recorded
	Open                    // calls are rejected until the open duration ends
	HalfOpen                // a limited number of probe calls decide whether to close or reopen
	ForcedOpen              // every call is rejected until Reset
	Disabled                // every call is let through and nothing is recorded until Reset
)

// String returns "closed", "open", "half-open", "forced-open" or "disabled".
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case HalfOpen:
		return "half-open"
	case ForcedOpen:
		return "forced-open"
	case Disabled:
		return "disabled"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// Outcome is how a call's result counts: see [Options.Classify].
type Outcome uint8

// The outcomes of a call.
const (
	Success Outcome = iota // counts as a success
	Failure                // counts as a failure
	Ignored                // not recorded at all (a half-open probe's slot is freed)
)

// String returns "success", "failure" or "ignored".
func (o Outcome) String() string {
	switch o {
	case Success:
		return "success"
	case Failure:
		return "failure"
	case Ignored:
		return "ignored"
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// DefaultClassify is the classifier used when [Options.Classify] is nil: an error that matches
// [context.Canceled] is [Ignored] (the caller gave up; the backend did nothing wrong), every
// other error is a [Failure]. [context.DeadlineExceeded] is a failure: a timeout is the usual
// sign of a slow backend.
func DefaultClassify(err error) Outcome {
	if errors.Is(err, context.Canceled) {
		return Ignored
	}
	return Failure
}

// WindowKind selects the sliding window over which rates are computed.
type WindowKind uint8

// The kinds of sliding window.
const (
	// CountWindow holds the outcomes of the last [Options.WindowSize] calls. It reads no clock.
	CountWindow WindowKind = iota
	// TimeWindow holds the outcomes of the last [Options.WindowDuration], in
	// [Options.WindowBuckets] buckets: the current bucket and the ones before it.
	TimeWindow
)

// Counts are the numbers a breaker trips on: the calls in its sliding window, and the current run
// of consecutive failures. [Options.TripRule] receives them, and [Metrics] reports them.
type Counts struct {
	Calls               int // calls recorded in the window (ignored ones are not recorded)
	Failures            int // of which failed
	SlowCalls           int // of which took at least Options.SlowCall (failed or not)
	ConsecutiveFailures int // failures since the last success, window or not
}

// FailureRate returns Failures/Calls, or 0 when there are no calls.
func (c Counts) FailureRate() float64 {
	if c.Calls == 0 {
		return 0
	}
	return float64(c.Failures) / float64(c.Calls)
}

// SlowCallRate returns SlowCalls/Calls, or 0 when there are no calls.
func (c Counts) SlowCallRate() float64 {
	if c.Calls == 0 {
		return 0
	}
	return float64(c.SlowCalls) / float64(c.Calls)
}

// Options configure a [Breaker]. The zero value of every field means the default given in its
// comment, so Options{} is a usable configuration: a count window of 100 calls that trips at a
// 50% failure rate once it holds 20 calls, stays open 10 s, and lets one probe decide.
//
// A Breaker trips (goes from Closed to Open) when any enabled rule holds after a call is
// recorded:
//   - ConsecutiveFailures failures in a row;
//   - the window holds at least MinimumCalls calls and its failure rate is at least FailureRate;
//   - SlowCall is set, the window holds at least MinimumCalls calls and its slow-call rate is at
//     least SlowCallRate;
//   - TripRule returns true.
type Options struct {
	// Window is the kind of sliding window. Default CountWindow.
	Window WindowKind
	// WindowSize is the number of calls a CountWindow holds. Default 100.
	WindowSize int
	// WindowDuration is the span of a TimeWindow. Default 60 s.
	WindowDuration time.Duration
	// WindowBuckets is the number of buckets a TimeWindow is cut into; a call is counted in the
	// bucket of the moment it reports, and the oldest bucket drops out whole. Default 10, at most
	// 65535.
	WindowBuckets int
	// MinimumCalls is how many calls the window must hold before the rate rules apply (a count
	// window's value is capped at WindowSize). Default 20.
	MinimumCalls int

	// FailureRate trips the breaker when failures/calls in the window reach it, in (0, 1].
	// Default 0.5; a negative value disables the rule.
	FailureRate float64
	// ConsecutiveFailures trips the breaker after this many failures in a row (ignored calls do
	// not break the run, a success does). Default 0: rule disabled.
	ConsecutiveFailures int
	// SlowCall is the duration from Allow to Done (or through Do) at or above which a call is
	// slow. Default 0: slow calls are not tracked and no call reads the clock. Setting it costs
	// two clock reads per call.
	SlowCall time.Duration
	// SlowCallRate trips the breaker when slow calls/calls in the window reach it, in (0, 1].
	// Only used when SlowCall is set. Default 1 (every call in the window slow); a negative value
	// disables the rule while still counting slow calls.
	SlowCallRate float64
	// TripRule, when set, is an extra rule: the breaker trips when it returns true. It is given
	// the counts after each recorded call while the window holds at least one failure or slow
	// call (a window with neither gives it nothing to trip on, and is not re-evaluated). It runs
	// with the breaker's lock held: it must be a quick, pure function of its argument and must not
	// call the breaker.
	TripRule func(Counts) bool
	// Classify decides how a non-nil error counts; a nil error is always a Success, and a panic
	// always a Failure. Default DefaultClassify (context.Canceled is ignored). It runs outside
	// the lock, on the goroutine that reports the call.
	Classify func(error) Outcome

	// HalfOpenProbes is how many probe calls may run at once in HalfOpen; calls beyond it are
	// rejected. Default 1.
	HalfOpenProbes int
	// HalfOpenSuccesses is how many successful probes close the breaker. Any failed probe (or a
	// slow one, when SlowCall is set) reopens it. Default 1.
	HalfOpenSuccesses int
	// ProbeLease is how long a probe holds its slot: a probe that has not reported by then frees
	// its slot for another, and its result, if it ever comes, is discarded. Default 10 s.
	ProbeLease time.Duration

	// OpenDuration is how long the breaker stays open after its first trip. Default 10 s.
	OpenDuration time.Duration
	// MaxOpenDuration, when greater than OpenDuration, makes the open duration grow with each
	// trip that follows another without the breaker closing in between: it is multiplied by
	// OpenBackoff per trip, up to MaxOpenDuration. Closing or Reset starts over. Default 0: fixed.
	MaxOpenDuration time.Duration
	// OpenBackoff is the growth factor for MaxOpenDuration, at least 1. Default 2.
	OpenBackoff float64
	// Jitter, in [0, 1], shortens each open duration by a random fraction of up to Jitter, so
	// breakers that tripped together do not probe together. Default 0: none.
	Jitter float64

	// OnStateChange, when set, is called after each state change, outside any lock, one call at
	// a time and in the order the changes happened. It runs on a goroutine that made a change:
	// the caller of Allow, Do, Done, State, Metrics or the manual controls, or, for the timed end
	// of the open state, a timer's goroutine. A goroutine delivering changes also delivers those
	// other goroutines made meanwhile, so a change may be delivered just after the call that
	// made it returns. It may call any method of the breaker; changes it causes are delivered
	// after it returns.
	OnStateChange func(from, to State)

	// CountRejections makes every rejection increment Metrics.Rejections. Default false: an
	// atomic increment would triple the cost of a rejection on an open breaker (about 3 ns to
	// about 9 ns on a 2 GHz Xeon), so rejections are not counted and Metrics.Rejections stays 0.
	CountRejections bool
}

// Metrics is a snapshot of a breaker, taken by [Breaker.Metrics].
type Metrics struct {
	State        State   // current state, with due transitions applied
	Counts       Counts  // the sliding window (of the last closed period while not closed)
	FailureRate  float64 // Counts.FailureRate()
	SlowCallRate float64 // Counts.SlowCallRate()
	Rejections   uint64  // rejected calls since New; counted only with Options.CountRejections
	Trips        int     // trips since the breaker last closed (drives MaxOpenDuration growth)
}
