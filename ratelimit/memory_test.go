package ratelimit_test

import (
	"context"
	"math/rand/v2"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sinew-dev/sinew/ratelimit"
)

func TestMemory_Refill(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		m := ratelimit.NewMemory([]ratelimit.Limit{ratelimit.Every(2, time.Second)}, ratelimit.MemoryOptions{})
		for range 2 {
			r, err := m.Allow(ctx, "k")
			require.NoError(t, err)
			assert.True(t, r.Allowed)
		}
		r, err := m.Allow(ctx, "k")
		require.NoError(t, err)
		assert.False(t, r.Allowed)
		assert.Equal(t, 500*time.Millisecond, r.RetryAfter)
		assert.Equal(t, time.Second, r.ResetAfter)

		time.Sleep(499 * time.Millisecond)
		r, _ = m.Allow(ctx, "k")
		assert.False(t, r.Allowed)
		assert.Equal(t, time.Millisecond, r.RetryAfter)

		time.Sleep(time.Millisecond)
		r, _ = m.Allow(ctx, "k")
		assert.True(t, r.Allowed)
		assert.Equal(t, 0, r.Remaining)

		time.Sleep(time.Hour)
		r, _ = m.AllowN(ctx, "k", 0)
		assert.Equal(t, 2, r.Remaining, "back to the full burst, no more")
	})
}

func TestMemory_WaitBlocksUntilAdmitted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		m := ratelimit.NewMemory([]ratelimit.Limit{ratelimit.PerMinute(1)}, ratelimit.MemoryOptions{})
		start := time.Now()
		require.NoError(t, m.Wait(ctx, "k"))
		require.NoError(t, m.Wait(ctx, "k"))
		assert.Equal(t, time.Minute, time.Since(start))

		cctx, cancel := context.WithCancel(ctx)
		go func() {
			time.Sleep(time.Second)
			cancel()
		}()
		assert.ErrorIs(t, m.Wait(cctx, "k"), context.Canceled)
		assert.Equal(t, time.Minute+time.Second, time.Since(start))
	})
}

func TestMemory_SweepsIdleKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		m := ratelimit.NewMemory([]ratelimit.Limit{ratelimit.PerSecond(10)}, ratelimit.MemoryOptions{})
		for i := range 10000 {
			_, err := m.Allow(ctx, "a"+strconv.Itoa(i))
			require.NoError(t, err)
		}
		assert.Equal(t, 10000, m.Len())
		time.Sleep(time.Second) // every key is back to its full burst: idle
		for i := range 10000 {
			_, err := m.Allow(ctx, "b"+strconv.Itoa(i))
			require.NoError(t, err)
		}
		assert.Less(t, m.Len(), 15000, "idle keys were dropped while inserting")
		r, _ := m.AllowN(ctx, "a1", 0)
		assert.Equal(t, 10, r.Remaining, "a dropped key is a fresh key")

		require.NoError(t, m.Reset(ctx, "b1"))
		r, _ = m.AllowN(ctx, "b1", 0)
		assert.Equal(t, 10, r.Remaining)
	})
}

func TestMemory_DenialWritesNothing(t *testing.T) {
	m := ratelimit.NewMemory([]ratelimit.Limit{ratelimit.PerHour(1)}, ratelimit.MemoryOptions{})
	now := time.Now()
	assert.True(t, m.AllowNAt(now, "k", 1).Allowed)
	for range 10 {
		assert.False(t, m.AllowNAt(now, "k", 1).Allowed)
	}
	assert.True(t, m.AllowNAt(now.Add(time.Hour), "k", 1).Allowed, "denials did not push the wait back")
	assert.Equal(t, 1, m.Len())
	assert.True(t, m.AllowNAt(now, "fresh", 0).Allowed)
	assert.Equal(t, 1, m.Len(), "n=0 stores nothing")
}

// TestMemory_GCRABound checks the law of GCRA on random arrivals against several limits at
// once: in any interval [a, b], each limit admits at most burst + rate×(b−a)/period events, and
// an event denied had at least one limit with no room.
func TestMemory_GCRABound(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	limits := []ratelimit.Limit{ratelimit.Every(3, 100*time.Millisecond), ratelimit.Every(10, time.Second).WithBurst(5)}
	m := ratelimit.NewMemory(limits, ratelimit.MemoryOptions{})
	base := time.Now()
	var at []time.Duration
	var ns []int
	var t0 time.Duration
	for range 400 {
		t0 += time.Duration(rng.IntN(int(30 * time.Millisecond)))
		n := 1 + rng.IntN(2)
		r := m.AllowNAt(base.Add(t0), "k", n)
		if r.Allowed {
			at = append(at, t0)
			ns = append(ns, n)
		} else {
			assert.Positive(t, r.RetryAfter)
			// admitted right at the retry time
			if rng.IntN(4) == 0 {
				t0 += r.RetryAfter
				r2 := m.AllowNAt(base.Add(t0), "k", n)
				require.True(t, r2.Allowed, "admitted once RetryAfter has passed")
				at = append(at, t0)
				ns = append(ns, n)
			}
		}
	}
	for _, l := range limits {
		burst := l.Burst
		if burst == 0 {
			burst = l.Rate
		}
		for i := range at {
			sum := 0
			for j := i; j < len(at); j++ {
				sum += ns[j]
				bound := float64(burst) + float64(l.Rate)*float64(at[j]-at[i])/float64(l.Period)
				require.LessOrEqual(t, float64(sum), bound+1e-9, "limit %v, events %d..%d", l, i, j)
			}
		}
	}
}

func TestMemory_Errors(t *testing.T) {
	m := ratelimit.NewMemory([]ratelimit.Limit{ratelimit.PerSecond(5), ratelimit.PerMinute(3)}, ratelimit.MemoryOptions{})
	_, err := m.AllowN(context.Background(), "k", 4)
	assert.ErrorIs(t, err, ratelimit.ErrExceedsBurst)
	assert.Panics(t, func() { _, _ = m.AllowN(context.Background(), "k", -1) })
	assert.Panics(t, func() { ratelimit.NewMemory(nil, ratelimit.MemoryOptions{}) })
	assert.Panics(t, func() {
		ratelimit.NewMemory([]ratelimit.Limit{{Rate: 0, Period: time.Second}}, ratelimit.MemoryOptions{})
	})
	assert.Panics(t, func() { ratelimit.NewMemory([]ratelimit.Limit{{Rate: 1}}, ratelimit.MemoryOptions{}) })
}

func TestLimit_Constructors(t *testing.T) {
	cases := []struct {
		name string
		got  ratelimit.Limit
		want ratelimit.Limit
		str  string
	}{
		{"second", ratelimit.PerSecond(10), ratelimit.Limit{Rate: 10, Period: time.Second}, "10/1s"},
		{"minute", ratelimit.PerMinute(5), ratelimit.Limit{Rate: 5, Period: time.Minute}, "5/1m0s"},
		{"hour", ratelimit.PerHour(100), ratelimit.Limit{Rate: 100, Period: time.Hour}, "100/1h0m0s"},
		{"day", ratelimit.PerDay(1), ratelimit.Limit{Rate: 1, Period: 24 * time.Hour}, "1/24h0m0s"},
		{"every", ratelimit.Every(3, time.Millisecond), ratelimit.Limit{Rate: 3, Period: time.Millisecond}, "3/1ms"},
		{"burst", ratelimit.PerSecond(10).WithBurst(20), ratelimit.Limit{Rate: 10, Period: time.Second, Burst: 20}, "10/1s burst 20"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.got)
			assert.Equal(t, tc.str, tc.got.String())
		})
	}
}

func TestFailurePolicy_String(t *testing.T) {
	assert.Equal(t, "local", ratelimit.FailLocal.String())
	assert.Equal(t, "open", ratelimit.FailOpen.String())
	assert.Equal(t, "closed", ratelimit.FailClosed.String())
	assert.Equal(t, "FailurePolicy(9)", ratelimit.FailurePolicy(9).String())
}

// TestMemory_DivIsExact checks the reciprocal division against integer division on random
// intervals and numerators, boundaries included.
func TestMemory_DivIsExact(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	for range 200 {
		period := time.Duration(1 + rng.Int64N(int64(48*time.Hour)))
		rate := 1 + rng.IntN(1<<20)
		m := ratelimit.NewMemory([]ratelimit.Limit{{Rate: rate, Period: period}}, ratelimit.MemoryOptions{})
		iv := (int64(period) + int64(rate) - 1) / int64(rate)
		for range 200 {
			q := rng.Int64N(1 << 22)
			for _, x := range []int64{q * iv, q*iv - 1, q*iv + 1, rng.Int64N(1 << 62)} {
				want := int64(0)
				if x > 0 {
					want = x / iv
				}
				require.Equal(t, want, m.Div(x, 0), "x=%d iv=%d", x, iv)
			}
		}
	}
}

// TestMemory_HugeLimits: a burst of 2^40 on a daily limit does not overflow.
func TestMemory_HugeLimits(t *testing.T) {
	m := ratelimit.NewMemory([]ratelimit.Limit{ratelimit.PerDay(1).WithBurst(1 << 40)}, ratelimit.MemoryOptions{})
	now := time.Now()
	r := m.AllowNAt(now, "k", 1<<20) // 2870 years of events: over the 73-year cap on state
	assert.False(t, r.Allowed)
	r = m.AllowNAt(now, "k", 1000)
	assert.True(t, r.Allowed)
	assert.Positive(t, r.Remaining)
	assert.Positive(t, r.ResetAfter)
}
