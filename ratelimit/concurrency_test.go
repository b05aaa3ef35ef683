package ratelimit_test

import (
	"context"
	"strconv"
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

func concurrencyClients() []struct {
	name string
	c    func(t *testing.T) ratelimit.Client
} {
	return []struct {
		name string
		c    func(t *testing.T) ratelimit.Client
	}{
		{"redis=standalone", func(t *testing.T) ratelimit.Client { return redistest.Standalone(t) }},
		{"redis=cluster", func(t *testing.T) ratelimit.Client { return redistest.Cluster(t) }},
	}
}

func TestConcurrency_AcquireReleaseExtend(t *testing.T) {
	for _, cc := range concurrencyClients() {
		t.Run(cc.name, func(t *testing.T) {
			ctx := context.Background()
			c := ratelimit.NewConcurrency(cc.c(t), 2, time.Minute, ratelimit.ConcurrencyOptions{Prefix: redistest.Prefix(t), Budget: 5 * time.Second})
			a, err := c.Acquire(ctx, "job")
			require.NoError(t, err)
			require.True(t, a.Acquired)
			assert.Equal(t, 1, a.InFlight)
			b, err := c.Acquire(ctx, "job")
			require.NoError(t, err)
			require.True(t, b.Acquired)
			assert.NotEqual(t, a.Lease.ID, b.Lease.ID)

			full, err := c.Acquire(ctx, "job")
			require.NoError(t, err)
			assert.False(t, full.Acquired)
			assert.Equal(t, 2, full.InFlight)
			near(t, time.Minute, full.RetryAfter, time.Second)

			other, err := c.Acquire(ctx, "other")
			require.NoError(t, err)
			assert.True(t, other.Acquired, "keys are independent")

			ok, err := c.Extend(ctx, a.Lease)
			require.NoError(t, err)
			assert.True(t, ok)
			require.NoError(t, c.Release(ctx, a.Lease))
			require.NoError(t, c.Release(ctx, a.Lease), "releasing twice is harmless")
			ok, err = c.Extend(ctx, a.Lease)
			require.NoError(t, err)
			assert.False(t, ok, "a released lease cannot be extended")

			again, err := c.Acquire(ctx, "job")
			require.NoError(t, err)
			assert.True(t, again.Acquired)
			assert.Equal(t, 2, again.InFlight)

			d, err := clientOf(t, backend{name: cc.name}).PTTL(ctx, c.Key("job")).Result()
			require.NoError(t, err)
			assert.Greater(t, d, time.Duration(0))
			assert.LessOrEqual(t, d, time.Minute)
		})
	}
}

// TestConcurrency_DeadHolderExpires: a lease never released frees its slot after its length.
func TestConcurrency_DeadHolderExpires(t *testing.T) {
	for _, cc := range concurrencyClients() {
		t.Run(cc.name, func(t *testing.T) {
			ctx := context.Background()
			c := ratelimit.NewConcurrency(cc.c(t), 1, 20*time.Millisecond, ratelimit.ConcurrencyOptions{Prefix: redistest.Prefix(t), Budget: 5 * time.Second})
			a, err := c.Acquire(ctx, "job")
			require.NoError(t, err)
			require.True(t, a.Acquired)
			r, err := c.Acquire(ctx, "job")
			require.NoError(t, err)
			require.False(t, r.Acquired)
			require.Eventually(t, func() bool {
				r, err := c.Acquire(ctx, "job")
				return err == nil && r.Acquired
			}, 5*time.Second, 5*time.Millisecond)
			ok, err := c.Extend(ctx, a.Lease)
			require.NoError(t, err)
			assert.False(t, ok, "the dead holder's lease is gone")
		})
	}
}

// TestConcurrency_NeverMoreThanMax runs 4 clients × 16 goroutines acquiring and releasing one
// key: at no time do more than max holders hold a lease.
func TestConcurrency_NeverMoreThanMax(t *testing.T) {
	for _, server := range []string{"standalone", "cluster"} {
		t.Run("redis="+server, func(t *testing.T) {
			prefix := redistest.Prefix(t)
			ctx := context.Background()
			var holding, peak, acquired atomic.Int64
			var bad atomic.Int64
			var wg sync.WaitGroup
			for _, cl := range newClients(t, server == "cluster", 4) {
				c := ratelimit.NewConcurrency(cl, 3, time.Minute, ratelimit.ConcurrencyOptions{Prefix: prefix, Budget: 10 * time.Second})
				for range 16 {
					wg.Go(func() {
						for range 20 {
							r, err := c.Acquire(ctx, "hot")
							if err != nil {
								bad.Add(1)
								return
							}
							if !r.Acquired {
								continue
							}
							acquired.Add(1)
							h := holding.Add(1)
							for p := peak.Load(); h > p && !peak.CompareAndSwap(p, h); p = peak.Load() {
							}
							holding.Add(-1)
							if err := c.Release(ctx, r.Lease); err != nil {
								bad.Add(1)
							}
						}
					})
				}
			}
			wg.Wait()
			require.Zero(t, bad.Load())
			assert.LessOrEqual(t, peak.Load(), int64(3))
			assert.Positive(t, acquired.Load())
		})
	}
}

func TestConcurrency_Budget(t *testing.T) {
	s := redistest.StartServer(t, redistest.ServerOptions{})
	c := ratelimit.NewConcurrency(s.Client(t), 1, time.Second, ratelimit.ConcurrencyOptions{Budget: 50 * time.Millisecond})
	s.Pause(t)
	_, err := c.Acquire(context.Background(), "k")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Panics(t, func() { ratelimit.NewConcurrency(s.Client(t), 0, time.Second, ratelimit.ConcurrencyOptions{}) })
}

func TestMemoryConcurrency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		var c ratelimit.ConcurrencyLimiter = ratelimit.NewMemoryConcurrency(2, time.Minute)
		a, _ := c.Acquire(ctx, "job")
		require.True(t, a.Acquired)
		time.Sleep(10 * time.Second)
		b, _ := c.Acquire(ctx, "job")
		require.True(t, b.Acquired)
		assert.Equal(t, 2, b.InFlight)
		full, err := c.Acquire(ctx, "job")
		require.NoError(t, err)
		assert.False(t, full.Acquired)
		assert.Equal(t, 50*time.Second, full.RetryAfter, "until the first lease expires")

		time.Sleep(50 * time.Second) // a's holder died: its lease expired
		ok, _ := c.Extend(ctx, a.Lease)
		assert.False(t, ok)
		ok, _ = c.Extend(ctx, b.Lease)
		assert.True(t, ok)
		r, _ := c.Acquire(ctx, "job")
		assert.True(t, r.Acquired)
		assert.Equal(t, 2, r.InFlight)

		require.NoError(t, c.Release(ctx, b.Lease))
		require.NoError(t, c.Release(ctx, b.Lease))
		r2, _ := c.Acquire(ctx, "job")
		assert.True(t, r2.Acquired)
		assert.NotEqual(t, r.Lease.ID, r2.Lease.ID)

		// many idle keys are swept
		m := c.(*ratelimit.MemoryConcurrency)
		for i := range 1000 {
			_, _ = m.Acquire(ctx, "k"+strconv.Itoa(i))
		}
		time.Sleep(2 * time.Minute)
		for i := range 1000 {
			_, _ = m.Acquire(ctx, "n"+strconv.Itoa(i))
		}
		assert.Less(t, m.Len(), 1500)
		assert.Panics(t, func() { ratelimit.NewMemoryConcurrency(0, time.Second) })
	})
}
