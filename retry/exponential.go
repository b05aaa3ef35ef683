package retry

import (
	"math/rand/v2"
	"time"
)

// Exponential doubles the wait after each failure, starting at base and
// capped at cap: min(cap, base·2^(attempt−1)). It uses no randomness, so many
// clients failing together retry together; prefer a jittered strategy. It
// panics if base or cap is negative.
func Exponential(base, cap time.Duration) Strategy {
	checkDurations("Exponential", base, cap)
	return func(attempt int, _ time.Duration, _ *rand.Rand) time.Duration {
		return expo(attempt, base, cap)
	}
}

// expo is min(cap, base·2^(attempt−1)) without overflow.
func expo(attempt int, base, cap time.Duration) time.Duration {
	n := max(attempt-1, 0)
	if n >= 63 || base > cap>>n {
		return cap
	}
	return base << n
}
