package lock

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMemorySweep: expired locks do not pile up in the map.
func TestMemorySweep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := NewMemory()
		ctx := context.Background()
		for i := range 10000 {
			_, ok, err := m.Acquire(ctx, string(rune(i)), "o", time.Millisecond)
			require.NoError(t, err)
			require.True(t, ok)
			time.Sleep(time.Millisecond)
		}
		m.mu.Lock()
		n := len(m.locks)
		m.mu.Unlock()
		assert.LessOrEqual(t, n, 2*minSweep)
	})
}

// TestMemoryTokensMonotonic: tokens increase even when the clock stands
// still (synctest) and start at the wall-clock microsecond.
func TestMemoryTokensMonotonic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := NewMemory()
		ctx := context.Background()
		var last uint64
		for i := range 100 {
			g, ok, err := m.Acquire(ctx, "k", string(rune('a'+i%2)), time.Hour)
			require.NoError(t, err)
			if ok {
				assert.Greater(t, g.Token, last)
				last = g.Token
				_, _ = m.Release(ctx, "k", string(rune('a'+i%2)))
			}
		}
		assert.GreaterOrEqual(t, last, uint64(time.Now().UnixMicro()))
	})
}

// TestAutoRenewTiming runs the renewal and lost-lock timers on a fake
// clock: a renewing lock stays held for hours; MaxHold ends it exactly;
// without renewal the context fires at TTL minus drift.
func TestAutoRenewTiming(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		l := New(NewMemory(), Options{})

		lk, err := l.Obtain(ctx, "renewed", time.Second, ObtainOptions{AutoRenew: true})
		require.NoError(t, err)
		time.Sleep(3 * time.Hour)
		assert.NoError(t, lk.Context().Err())
		ttl, held, err := lk.TTL(ctx)
		require.NoError(t, err)
		assert.True(t, held)
		assert.Greater(t, ttl, time.Second/2)
		require.NoError(t, lk.Release(ctx))
		synctest.Wait() // the renewal goroutine has ended

		start := time.Now()
		lk, err = l.Obtain(ctx, "bounded", time.Second, ObtainOptions{AutoRenew: true, MaxHold: 10 * time.Second})
		require.NoError(t, err)
		<-lk.Context().Done()
		assert.ErrorIs(t, context.Cause(lk.Context()), ErrMaxHold)
		assert.Equal(t, 10*time.Second-l.drift(time.Second), time.Since(start))

		start = time.Now()
		lk, err = l.Obtain(ctx, "plain", time.Second, ObtainOptions{})
		require.NoError(t, err)
		<-lk.Context().Done()
		assert.ErrorIs(t, context.Cause(lk.Context()), ErrNotHeld)
		assert.Equal(t, time.Second-12*time.Millisecond, time.Since(start))
		synctest.Wait()
	})
}

// slowExtend is a backend whose Extend hangs, as under a starved holder or
// a store that stopped answering.
type slowExtend struct {
	*Memory
	delay time.Duration
}

func (s slowExtend) Extend(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return false, ctx.Err()
	}
	return s.Memory.Extend(ctx, key, owner, ttl)
}

// TestAutoRenewStuckRenewal: renewal calls hang; the lost-lock context
// still fires when the validity runs out, not when the call returns, and
// Release does not wait for the hung call.
func TestAutoRenewStuckRenewal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		b := slowExtend{NewMemory(), time.Hour}
		l := New(b, Options{})
		start := time.Now()
		lk, err := l.Obtain(ctx, "k", time.Second, ObtainOptions{AutoRenew: true})
		require.NoError(t, err)
		lost := lk.Context()
		<-lost.Done()
		assert.ErrorIs(t, context.Cause(lost), ErrNotHeld)
		assert.Equal(t, time.Second-l.drift(time.Second), time.Since(start))

		other, err := l.Obtain(ctx, "k", time.Second, ObtainOptions{})
		require.NoError(t, err, "the store let the lock go at its TTL")
		assert.Greater(t, other.Token(), lk.Token())
		assert.ErrorIs(t, lk.Release(ctx), ErrNotHeld)
		assert.Less(t, time.Since(start), time.Hour)
		require.NoError(t, other.Release(ctx))
	})
}

// TestObtainReleaseAllocs guards the in-memory hot path.
func TestObtainReleaseAllocs(t *testing.T) {
	l := New(NewMemory(), Options{})
	ctx := context.Background()
	allocs := testing.AllocsPerRun(200, func() {
		lk, err := l.Obtain(ctx, "k", time.Minute, ObtainOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := lk.Release(ctx); err != nil {
			t.Fatal(err)
		}
	})
	assert.LessOrEqual(t, allocs, 3.0) // the Lock and its owner string
}
