package retry_test

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sinew-dev/sinew/retry"
)

// FuzzStrategies checks every strategy against its formula's range for any
// attempt, previous wait, base, cap and seed, including the extremes where
// shifts and 3·prev would overflow.
func FuzzStrategies(f *testing.F) {
	f.Add(1, int64(0), int64(time.Millisecond), int64(time.Second), uint64(1))
	f.Add(64, int64(1<<62), int64(1), int64(1<<63-1), uint64(2))
	f.Add(-3, int64(-5), int64(0), int64(0), uint64(3))
	f.Fuzz(func(t *testing.T, attempt int, prev, base, cap int64, seed uint64) {
		base &= math.MaxInt64 // constructors panic on negative durations
		cap &= math.MaxInt64
		b, c, p := time.Duration(base), time.Duration(cap), time.Duration(prev)
		r := rand.New(rand.NewPCG(seed, seed))

		e := retry.Exponential(b, c)(attempt, p, r)
		if e < 0 || e > c || (attempt <= 1 && e != min(b, c)) {
			t.Fatalf("Exponential(%v, %v)(%d) = %v", b, c, attempt, e)
		}
		if d := retry.FullJitter(b, c)(attempt, p, r); d < 0 || (e > 0 && d >= e) || (e == 0 && d != 0) {
			t.Fatalf("FullJitter(%v, %v)(%d) = %v, exponential term %v", b, c, attempt, d, e)
		}
		if d := retry.EqualJitter(b, c)(attempt, p, r); d < e/2 || (e > 0 && d >= e) || (e == 0 && d != 0) {
			t.Fatalf("EqualJitter(%v, %v)(%d) = %v, exponential term %v", b, c, attempt, d, e)
		}
		d := retry.DecorrelatedJitter(b, c)(attempt, p, r)
		lo := min(b, c)
		hi := max(p, b) // d < 3·hi unless that overflows
		if d < lo || d > c || (hi <= (1<<63-1)/3 && d >= 3*hi && d != lo) {
			t.Fatalf("DecorrelatedJitter(%v, %v)(prev %v) = %v", b, c, p, d)
		}
	})
}
