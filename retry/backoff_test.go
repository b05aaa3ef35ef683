package retry_test

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/sinew-dev/sinew/retry"
)

const ms = time.Millisecond

func seeded(t testing.TB, seed uint64) *rand.Rand {
	t.Helper()
	t.Logf("seed %d", seed)
	return rand.New(rand.NewPCG(seed, 0x5eed))
}

func TestConstant(t *testing.T) {
	s := retry.Constant(42 * ms)
	r := seeded(t, 1)
	for attempt := 1; attempt < 100; attempt++ {
		assert.Equal(t, 42*ms, s(attempt, time.Duration(attempt)*time.Second, r))
	}
}

func TestExponential(t *testing.T) {
	for _, tc := range []struct {
		name      string
		base, cap time.Duration
		attempt   int
		want      time.Duration
	}{
		{"first wait is base", 10 * ms, time.Second, 1, 10 * ms},
		{"doubles", 10 * ms, time.Second, 2, 20 * ms},
		{"doubles again", 10 * ms, time.Second, 4, 80 * ms},
		{"below cap", 10 * ms, time.Second, 7, 640 * ms},
		{"capped", 10 * ms, time.Second, 8, time.Second},
		{"cap below base", time.Second, 10 * ms, 1, 10 * ms},
		{"attempt 0 treated as 1", 10 * ms, time.Second, 0, 10 * ms},
		{"negative attempt treated as 1", 10 * ms, time.Second, -5, 10 * ms},
		{"shift past 63 bits", time.Nanosecond, math.MaxInt64, 100, math.MaxInt64},
		{"huge attempt", 10 * ms, time.Hour, math.MaxInt, time.Hour},
		{"largest exact power", time.Nanosecond, math.MaxInt64, 63, 1 << 62},
		{"zero base", 0, time.Second, 10, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, retry.Exponential(tc.base, tc.cap)(tc.attempt, 0, nil))
		})
	}
}

// bounds is a jittered strategy's formula range for one draw: [lo, hi).
type bounds func(attempt int, prev, base, cap time.Duration) (lo, hi time.Duration)

func expo(attempt int, base, cap time.Duration) time.Duration {
	v := float64(base) * math.Pow(2, float64(max(attempt, 1)-1))
	return time.Duration(min(v, float64(cap)))
}

var jitters = []struct {
	name   string
	new    func(base, cap time.Duration) retry.Strategy
	bounds bounds
}{
	{"full", retry.FullJitter, func(attempt int, _, base, cap time.Duration) (time.Duration, time.Duration) {
		return 0, expo(attempt, base, cap)
	}},
	{"equal", retry.EqualJitter, func(attempt int, _, base, cap time.Duration) (time.Duration, time.Duration) {
		v := expo(attempt, base, cap)
		return v / 2, v
	}},
	{"decorrelated", retry.DecorrelatedJitter, func(_ int, prev, base, cap time.Duration) (time.Duration, time.Duration) {
		// min(cap, ·) can return cap itself: the range is [.., cap].
		prev = max(prev, base)
		return min(cap, base), min(cap+1, 3*prev)
	}},
}

func TestJitterBounds(t *testing.T) {
	for _, j := range jitters {
		for _, tc := range []struct {
			name      string
			attempt   int
			prev      time.Duration
			base, cap time.Duration
		}{
			{"first", 1, 0, 100 * ms, 10 * time.Second},
			{"second", 2, 100 * ms, 100 * ms, 10 * time.Second},
			{"fifth", 5, 700 * ms, 100 * ms, 10 * time.Second},
			{"at cap", 30, 10 * time.Second, 100 * ms, 10 * time.Second},
			{"cap below base", 3, 0, time.Second, 100 * ms},
			{"nanoseconds", 2, 1, 1, 1000},
		} {
			t.Run(j.name+"/"+tc.name, func(t *testing.T) {
				s := j.new(tc.base, tc.cap)
				lo, hi := j.bounds(tc.attempt, tc.prev, tc.base, tc.cap)
				r := seeded(t, 7)
				var seenLow, seenHigh bool
				for range 2000 {
					d := s(tc.attempt, tc.prev, r)
					if lo == hi {
						assert.Equal(t, lo, d)
						continue
					}
					assert.GreaterOrEqual(t, d, lo)
					assert.Less(t, d, hi)
					seenLow = seenLow || d <= lo+(hi-lo)/10
					seenHigh = seenHigh || d >= hi-1-(hi-lo)/10
				}
				if lo != hi {
					assert.True(t, seenLow && seenHigh, "draws spread over [%v, %v)", lo, hi)
				}
			})
		}
	}
}

// TestJitterPropertyWithinFormula draws many delays with many seeds, over
// random attempts, previous delays, bases and caps, and checks each lies in
// its formula's range.
func TestJitterPropertyWithinFormula(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	params := seeded(t, seed)
	for _, j := range jitters {
		t.Run(j.name, func(t *testing.T) {
			for i := range 20000 {
				base := time.Duration(params.Int64N(int64(time.Second)))
				cap := time.Duration(params.Int64N(int64(time.Hour)))
				attempt := 1 + params.IntN(80)
				prev := time.Duration(params.Int64N(int64(cap) + 1))
				r := rand.New(rand.NewPCG(seed, uint64(i)))
				d := j.new(base, cap)(attempt, prev, r)
				lo, hi := j.bounds(attempt, prev, base, cap)
				if lo == hi {
					if d != lo {
						t.Fatalf("%s(%v, %v)(%d, %v) = %v, want %v", j.name, base, cap, attempt, prev, d, lo)
					}
				} else if d < lo || d >= hi {
					t.Fatalf("%s(%v, %v)(%d, %v) = %v, want in [%v, %v)", j.name, base, cap, attempt, prev, d, lo, hi)
				}
			}
		})
	}
}

// TestJitterMeans checks that the draws are uniform enough: their mean is
// near the middle of the range.
func TestJitterMeans(t *testing.T) {
	r := seeded(t, 3)
	const n = 100000
	for _, tc := range []struct {
		name string
		s    retry.Strategy
		prev time.Duration
		want time.Duration
	}{
		{"full", retry.FullJitter(ms, time.Hour), 0, 4 * ms},                                       // attempt 4: [0, 8ms)
		{"equal", retry.EqualJitter(ms, time.Hour), 0, 6 * ms},                                     // [4ms, 8ms)
		{"decorrelated", retry.DecorrelatedJitter(ms, time.Hour), 2 * ms, 3500 * time.Microsecond}, // [1ms, 6ms)
	} {
		var sum float64
		for range n {
			sum += float64(tc.s(4, tc.prev, r))
		}
		assert.InEpsilon(t, float64(tc.want), sum/n, 0.01, tc.name)
	}
}

func TestStrategiesAreDeterministicForASeed(t *testing.T) {
	for _, j := range jitters {
		s := j.new(ms, time.Second)
		a, b := rand.New(rand.NewPCG(1, 2)), rand.New(rand.NewPCG(1, 2))
		prev := time.Duration(0)
		for attempt := 1; attempt < 20; attempt++ {
			d := s(attempt, prev, a)
			assert.Equal(t, d, s(attempt, prev, b), j.name)
			prev = d
		}
	}
}

func TestDecorrelatedGrowsFromPrevious(t *testing.T) {
	s := retry.DecorrelatedJitter(10*ms, time.Hour)
	r := seeded(t, 11)
	prev := time.Duration(0)
	for range 40 {
		d := s(1, prev, r) // the attempt number is ignored
		assert.GreaterOrEqual(t, d, 10*ms)
		assert.Less(t, d, 3*max(prev, 10*ms))
		prev = d
	}
	assert.Equal(t, time.Hour, s(1, math.MaxInt64, r), "no overflow at huge prev")
}

func TestStrategyConstructorsPanicOnNegative(t *testing.T) {
	assert.Panics(t, func() { retry.Constant(-1) })
	for _, f := range []func(base, cap time.Duration) retry.Strategy{retry.Exponential, retry.FullJitter, retry.EqualJitter, retry.DecorrelatedJitter} {
		assert.Panics(t, func() { f(-1, time.Second) })
		assert.Panics(t, func() { f(time.Second, -1) })
	}
}
