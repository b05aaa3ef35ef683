package retry

import (
	"math/rand/v2"
	"time"
)

// Strategy computes the wait before the next attempt. attempt is the 1-based
// number of the attempt that just failed; prev is the wait used before that
// attempt (0 after the first attempt), after capping and server hints; r is
// the random source, never nil. A Strategy must be a pure function of its
// arguments and safe for concurrent use: one Policy calls it from many
// goroutines at once, each with its own r. A negative result means 0.
//
// The built-in strategies are those of the AWS Architecture Blog post
// "Exponential Backoff And Jitter", with base·2^(attempt−1) as the exponential
// term so that the first wait is about base:
//
//	Constant(d)                    d
//	Exponential(base, cap)         v = min(cap, base·2^(attempt−1))
//	FullJitter(base, cap)          uniform in [0, v)
//	EqualJitter(base, cap)         v/2 + uniform in [0, v − v/2)
//	DecorrelatedJitter(base, cap)  min(cap, uniform in [base, 3·max(prev, base)))
type Strategy func(attempt int, prev time.Duration, r *rand.Rand) time.Duration

// uniform is uniform in [0, n), or 0 when n <= 0.
func uniform(n time.Duration, r *rand.Rand) time.Duration {
	if n <= 0 {
		return 0
	}
	return time.Duration(r.Int64N(int64(n)))
}

func checkDurations(fn string, base, cap time.Duration) {
	if base < 0 || cap < 0 {
		panic("retry: negative duration passed to " + fn)
	}
}

// runtimeSource draws from the runtime's per-thread ChaCha8 generator
// (math/rand/v2's top-level functions): lock-free, never seeded by hand, and
// stateless here, so one *rand.Rand over it may be shared by any number of
// goroutines.
type runtimeSource struct{}

func (runtimeSource) Uint64() uint64 { return rand.Uint64() }
