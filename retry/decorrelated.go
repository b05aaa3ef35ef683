package retry

import (
	"math"
	"math/rand/v2"
	"time"
)

// DecorrelatedJitter grows the wait from the previous one rather than from the
// attempt number: min(cap, uniform in [base, 3·prev)), taking prev = base
// before the first wait (the AWS post's "decorrelated jitter"). Successive
// waits are a random walk that tends to grow, so use it with a sensible cap.
// It panics if base or cap is negative.
func DecorrelatedJitter(base, cap time.Duration) Strategy {
	checkDurations("DecorrelatedJitter", base, cap)
	return func(_ int, prev time.Duration, r *rand.Rand) time.Duration {
		return min(cap, decorrelated(prev, base, r))
	}
}

// decorrelated is uniform in [base, 3·prev), with prev raised to base.
func decorrelated(prev, base time.Duration, r *rand.Rand) time.Duration {
	prev = max(prev, base)
	hi := time.Duration(math.MaxInt64)
	if prev <= math.MaxInt64/3 {
		hi = 3 * prev
	}
	return base + uniform(hi-base, r)
}
