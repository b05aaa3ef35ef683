package retry

import (
	"math/rand/v2"
	"time"
)

// EqualJitter keeps half of the exponential wait and randomises the other
// half: v/2 + uniform in [0, v−v/2) with v = min(cap, base·2^(attempt−1)). It
// never waits less than v/2. It panics if base or cap is negative.
func EqualJitter(base, cap time.Duration) Strategy {
	checkDurations("EqualJitter", base, cap)
	return func(attempt int, _ time.Duration, r *rand.Rand) time.Duration {
		v := expo(attempt, base, cap)
		half := v / 2
		return half + uniform(v-half, r)
	}
}
