package breaker

import (
	"errors"
	"time"
)

// ErrOpen is the sentinel every rejection matches with [errors.Is]. The error actually returned is
// an [*OpenError], which says how long to wait before trying again.
var ErrOpen = errors.New("breaker: open")

// OpenError is the error returned when the breaker rejects a call: it is open, forced open, or
// half-open with every probe slot taken. It matches [ErrOpen] with [errors.Is], and [errors.As]
// reaches it to read [OpenError.RetryAfter].
//
// An OpenError is immutable. While the breaker stays open every rejection returns the same
// OpenError (built once when the breaker opened), which is why a rejection costs no allocation;
// RetryAfter is computed from the stored deadline each time it is called, so a shared value is
// never stale.
type OpenError struct {
	state State
	until time.Time     // when the next probe is allowed (open, half-open)
	at    int64         // until, in ns since the breaker's creation
	hint  time.Duration // RetryAfter for a forced-open breaker, which has no deadline
}

// Error returns a message that starts with "breaker: " and names the state.
func (e *OpenError) Error() string {
	switch e.state {
	case HalfOpen:
		return "breaker: half-open, all probe slots taken"
	case ForcedOpen:
		return "breaker: forced open"
	default:
		return "breaker: open"
	}
}

// Unwrap returns [ErrOpen].
func (e *OpenError) Unwrap() error { return ErrOpen }

// State returns the state the breaker was in when it rejected the call: [Open], [HalfOpen] or
// [ForcedOpen].
func (e *OpenError) State() State { return e.state }

// RetryAfter returns how long until the breaker lets the next probe through, never negative:
//   - Open: the time left until the open duration ends (0 once it has ended).
//   - HalfOpen (all probe slots taken): the time until the earliest running probe's lease
//     expires, the latest moment a slot is sure to be free; a probe that reports frees its
//     slot earlier.
//   - ForcedOpen: there is no deadline ([Breaker.Reset] ends it), so it returns the
//     configured [Options.OpenDuration] as a hint.
//
// It reads the clock, so callers pay for it only when they ask.
func (e *OpenError) RetryAfter() time.Duration {
	if e.state == ForcedOpen {
		return e.hint
	}
	return max(0, time.Until(e.until))
}

// Permanent reports true: retrying a rejected call at once cannot succeed. Package retry treats
// any error whose Permanent method returns true as not retryable by default, and when configured
// to retry it anyway waits RetryAfter first. It does so by method, without importing breaker.
func (e *OpenError) Permanent() bool { return true }
