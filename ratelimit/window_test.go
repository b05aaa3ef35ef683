package ratelimit_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sinew-dev/sinew/internal/redistest"
	"github.com/sinew-dev/sinew/ratelimit"
)

var windowAlgos = []ratelimit.Algorithm{ratelimit.SlidingWindow, ratelimit.FixedWindow}

// algoBackends are the backends with the given algorithm: in memory with the system clock
// and with a coarse clock, and Redis standalone and Cluster.
func algoBackends(algo ratelimit.Algorithm) []backend {
	redisWith := func(c func(t *testing.T) ratelimit.Client) func(t *testing.T, limits []ratelimit.Limit) ratelimit.Limiter {
		return func(t *testing.T, limits []ratelimit.Limit) ratelimit.Limiter {
			return ratelimit.NewRedis(c(t), limits, ratelimit.RedisOptions{
				Prefix: redistest.Prefix(t), Budget: 5 * time.Second, Algorithm: algo,
			})
		}
	}
	return []backend{
		{"memory", func(t *testing.T, limits []ratelimit.Limit) ratelimit.Limiter {
			return ratelimit.NewMemory(limits, ratelimit.MemoryOptions{Algorithm: algo})
		}},
		{"memory=coarse", func(t *testing.T, limits []ratelimit.Limit) ratelimit.Limiter {
			m := ratelimit.NewMemory(limits, ratelimit.MemoryOptions{Algorithm: algo, Tick: time.Millisecond})
			t.Cleanup(func() { _ = m.Close() })
			return m
		}},
		{"redis=standalone", redisWith(func(t *testing.T) ratelimit.Client { return redistest.Standalone(t) })},
		{"redis=cluster", redisWith(func(t *testing.T) ratelimit.Client { return redistest.Cluster(t) })},
	}
}

func TestWindow_LimitAndAtomicity(t *testing.T) {
	for _, algo := range windowAlgos {
		for _, b := range algoBackends(algo) {
			t.Run("algo="+algo.String()+"/"+b.name, func(t *testing.T) {
				ctx := context.Background()
				// day-long windows: no window edge during the test
				day, twoDays := ratelimit.Every(3, 24*time.Hour), ratelimit.Every(5, 48*time.Hour)
				l := b.new(t, []ratelimit.Limit{day, twoDays})
				for i := range 3 {
					r, err := l.Allow(ctx, "k")
					require.NoError(t, err)
					assert.True(t, r.Allowed, "call %d", i)
					assert.Equal(t, 2-i, r.Remaining)
					assert.Equal(t, day, r.Limit)
					assert.Positive(t, r.ResetAfter)
				}
				for range 3 {
					r, err := l.Allow(ctx, "k")
					require.NoError(t, err)
					assert.False(t, r.Allowed)
					assert.Equal(t, day, r.Limit)
					assert.Positive(t, r.RetryAfter)
					assert.LessOrEqual(t, r.RetryAfter, 48*time.Hour)
				}
				// the denials charged nothing: 2 remain under the two-day limit
				r, err := l.AllowN(ctx, "k", 0)
				require.NoError(t, err)
				assert.Equal(t, 0, r.Remaining)
				_, err = l.AllowN(ctx, "k", 4)
				assert.ErrorIs(t, err, ratelimit.ErrExceedsBurst)
				require.NoError(t, l.Reset(ctx, "k"))
				r, err = l.AllowN(ctx, "k", 3)
				require.NoError(t, err)
				assert.True(t, r.Allowed)
				r, err = l.AllowN(ctx, "other", 2)
				require.NoError(t, err)
				assert.True(t, r.Allowed)
				assert.Equal(t, 1, r.Remaining)
			})
		}
	}
}

func TestMemory_FixedWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := ratelimit.NewMemory([]ratelimit.Limit{ratelimit.Every(2, time.Second)}, ratelimit.MemoryOptions{Algorithm: ratelimit.FixedWindow})
		start := time.Now()
		at := func(d time.Duration) ratelimit.Result { return m.AllowNAt(start.Add(d), "k", 1) }
		assert.True(t, at(0).Allowed)
		assert.True(t, at(900*time.Millisecond).Allowed)
		r := at(999 * time.Millisecond)
		assert.False(t, r.Allowed)
		assert.Equal(t, time.Millisecond, r.RetryAfter)
		assert.True(t, at(time.Second).Allowed, "a new window")
		assert.True(t, at(1100*time.Millisecond).Allowed, "the fixed window's double burst at its edge")
		assert.False(t, at(1200*time.Millisecond).Allowed)
	})
}

func TestMemory_SlidingWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := ratelimit.NewMemory([]ratelimit.Limit{ratelimit.Every(4, time.Second)}, ratelimit.MemoryOptions{Algorithm: ratelimit.SlidingWindow})
		start := time.Now()
		at := func(d time.Duration) ratelimit.Result { return m.AllowNAt(start.Add(d), "k", 1) }
		for range 4 {
			assert.True(t, at(0).Allowed)
		}
		assert.False(t, at(0).Allowed)
		// half-way through the next window the previous 4 weigh 2: 2 more fit
		assert.True(t, at(1500*time.Millisecond).Allowed)
		assert.True(t, at(1500*time.Millisecond).Allowed)
		r := at(1500 * time.Millisecond)
		require.False(t, r.Allowed)
		// 4×(1−e) + 2 + 1 ≤ 4 once e ≥ 0.75
		assert.Equal(t, 250*time.Millisecond, r.RetryAfter)
		assert.False(t, at(1749*time.Millisecond).Allowed)
		assert.True(t, at(1750*time.Millisecond).Allowed)
		r = m.AllowNAt(start.Add(1750*time.Millisecond), "k", 0)
		assert.Equal(t, 0, r.Remaining)
		assert.Equal(t, 1250*time.Millisecond, r.ResetAfter, "the current count weighs until the end of the next window")
		// long idle: back to full
		assert.Equal(t, 4, m.AllowNAt(start.Add(time.Hour), "k", 0).Remaining)
	})
}

// TestRedis_WindowExactness hammers one key from 4 clients × 64 goroutines: no window of the
// limit ever admits more than its rate.
func TestRedis_WindowExactness(t *testing.T) {
	const W = 100 * time.Millisecond
	limit := ratelimit.Every(30, W)
	for _, algo := range windowAlgos {
		for _, server := range []string{"standalone", "cluster"} {
			t.Run("algo="+algo.String()+"/redis="+server, func(t *testing.T) {
				prefix := redistest.Prefix(t)
				var admitted, bad atomic.Int64
				var wg sync.WaitGroup
				ctx := context.Background()
				var limiters []*ratelimit.Redis
				for _, c := range newClients(t, server == "cluster", 4) {
					l := ratelimit.NewRedis(c, []ratelimit.Limit{limit}, ratelimit.RedisOptions{Prefix: prefix, Budget: 10 * time.Second, Algorithm: algo})
					_, err := l.AllowN(ctx, "hot", 0) // connect; consumes nothing
					require.NoError(t, err)
					limiters = append(limiters, l)
				}
				start := time.Now()
				stop := start.Add(250 * time.Millisecond)
				for _, l := range limiters {
					for range 64 {
						wg.Go(func() {
							for time.Now().Before(stop) {
								r, err := l.Allow(ctx, "hot")
								switch {
								case err != nil || r.Fallback:
									bad.Add(1)
								case r.Allowed:
									admitted.Add(1)
								}
							}
						})
					}
				}
				wg.Wait()
				elapsed := time.Since(start)
				require.Zero(t, bad.Load())
				windows := int64(elapsed/W) + 2 // windows the run can touch
				t.Logf("admitted %d in %v, bound %d", admitted.Load(), elapsed, 30*windows)
				assert.LessOrEqual(t, admitted.Load(), 30*windows)
				assert.GreaterOrEqual(t, admitted.Load(), int64(30), "the limit is used")
			})
		}
	}
}

func TestRedis_WindowTTL(t *testing.T) {
	for _, algo := range windowAlgos {
		for _, b := range algoBackends(algo)[2:] {
			t.Run("algo="+algo.String()+"/"+b.name, func(t *testing.T) {
				ctx := context.Background()
				c := clientOf(t, b)
				l := b.new(t, []ratelimit.Limit{ratelimit.Every(1, time.Millisecond), ratelimit.PerDay(5)}).(*ratelimit.Redis)
				for range 20 {
					_, err := l.Allow(ctx, "t")
					require.NoError(t, err)
					assertTTLs(t, c, l, "t")
				}
				d, err := c.PTTL(ctx, l.Keys("t")[1]).Result()
				require.NoError(t, err)
				assert.Greater(t, d, time.Duration(0))
				assert.LessOrEqual(t, d, 48*time.Hour)
			})
		}
	}
}
