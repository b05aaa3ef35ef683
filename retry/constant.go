package retry

import (
	"math/rand/v2"
	"time"
)

// Constant waits d between attempts. It panics if d is negative.
func Constant(d time.Duration) Strategy {
	checkDurations("Constant", d, d)
	return func(int, time.Duration, *rand.Rand) time.Duration { return d }
}
