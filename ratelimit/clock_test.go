package ratelimit_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sinew-dev/sinew/ratelimit"
)

// TestMemory_CoarseClock runs a limiter on a 1 ms coarse clock in a bubble: decisions are
// taken at the last tick, and after Close at the exact time.
func TestMemory_CoarseClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		m := ratelimit.NewMemory([]ratelimit.Limit{ratelimit.Every(2, time.Second)},
			ratelimit.MemoryOptions{Tick: time.Millisecond})
		defer func() { _ = m.Close() }()
		for range 2 {
			r, err := m.Allow(ctx, "k")
			require.NoError(t, err)
			assert.True(t, r.Allowed)
		}
		r, err := m.Allow(ctx, "k")
		require.NoError(t, err)
		assert.False(t, r.Allowed)
		assert.Equal(t, 500*time.Millisecond, r.RetryAfter)

		time.Sleep(400*time.Millisecond + 500*time.Microsecond)
		synctest.Wait() // the clock's goroutine has stored its last tick
		r, _ = m.Allow(ctx, "k")
		assert.False(t, r.Allowed)
		assert.Equal(t, 100*time.Millisecond, r.RetryAfter, "decided at the 400 ms tick, not at 400.5 ms")
		exact := m.AllowNAt(time.Now(), "k", 1) // denied: consumes nothing
		assert.Equal(t, 99500*time.Microsecond, exact.RetryAfter, "AllowNAt stays exact")

		time.Sleep(99*time.Millisecond + 500*time.Microsecond) // 500 ms: a tick
		synctest.Wait()
		r, _ = m.Allow(ctx, "k")
		assert.True(t, r.Allowed)

		// after Close the limiter reads the system clock: exact again
		require.NoError(t, m.Close())
		time.Sleep(250*time.Millisecond + time.Microsecond)
		r, _ = m.Allow(ctx, "k")
		assert.False(t, r.Allowed)
		assert.Equal(t, 250*time.Millisecond-time.Microsecond, r.RetryAfter)
		require.NoError(t, m.Close(), "Close is idempotent")
	})
}

// clockGoroutines counts the goroutines running a coarse clock.
func clockGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "created by github.com/sinew-dev/sinew/ratelimit.startCoarseClock")
}

// TestMemory_CloseStopsClock is the leak check: Tick starts one goroutine, Close ends it, and
// without Tick none is started.
func TestMemory_CloseStopsClock(t *testing.T) {
	before := clockGoroutines()
	plain := ratelimit.NewMemory([]ratelimit.Limit{ratelimit.PerSecond(10)}, ratelimit.MemoryOptions{})
	assert.Equal(t, before, clockGoroutines(), "no Tick, no goroutine")
	require.NoError(t, plain.Close())

	m := ratelimit.NewMemory([]ratelimit.Limit{ratelimit.PerSecond(10)}, ratelimit.MemoryOptions{Tick: time.Millisecond})
	assert.Equal(t, before+1, clockGoroutines())
	require.NoError(t, m.Close())
	// Close has waited for the goroutine's last statement; let it leave the scheduler
	for i := 0; i < 1000 && clockGoroutines() != before; i++ {
		time.Sleep(time.Millisecond)
	}
	assert.Equal(t, before, clockGoroutines(), "Close stopped the clock's goroutine")

	r, err := m.Allow(context.Background(), "k")
	require.NoError(t, err)
	assert.True(t, r.Allowed, "a closed limiter still decides")
}

func TestMemory_AllowAllocatesNothing(t *testing.T) {
	limits := []ratelimit.Limit{ratelimit.PerSecond(1 << 30), ratelimit.PerHour(1 << 30)}
	cases := []struct {
		name string
		opts ratelimit.MemoryOptions
	}{
		{"clock=system", ratelimit.MemoryOptions{}},
		{"clock=coarse", ratelimit.MemoryOptions{Tick: time.Millisecond}},
		{"algo=token-bucket", ratelimit.MemoryOptions{Algorithm: ratelimit.TokenBucket, Tick: time.Millisecond}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := ratelimit.NewMemory(limits, tc.opts)
			defer func() { _ = m.Close() }()
			ctx := context.Background()
			_, _ = m.Allow(ctx, "user:42")
			allocs := testing.AllocsPerRun(1000, func() { _, _ = m.Allow(ctx, "user:42") })
			assert.Zero(t, allocs)
		})
	}
}
