package retry

import (
	"math/rand/v2"
	"time"
)

// FullJitter waits a uniformly random time in [0, min(cap, base·2^(attempt−1))).
// It is the default strategy: in the contention simulation of the AWS post
// (reproduced by this package's BenchmarkContention) it does the least work
// of all strategies once dozens of clients contend, and finishes close to the
// fastest. It panics if base or cap is negative.
func FullJitter(base, cap time.Duration) Strategy {
	checkDurations("FullJitter", base, cap)
	return func(attempt int, _ time.Duration, r *rand.Rand) time.Duration {
		return fullJitter(attempt, base, cap, r)
	}
}

func fullJitter(attempt int, base, cap time.Duration, r *rand.Rand) time.Duration {
	return uniform(expo(attempt, base, cap), r)
}
