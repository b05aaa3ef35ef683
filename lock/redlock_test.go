package lock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sinew-dev/sinew/internal/redistest"
	"github.com/sinew-dev/sinew/lock"
)

type redlockSet struct {
	servers []*redistest.Server
	clients []*redis.Client
	redis   []*lock.Redis
	rl      *lock.Redlock
}

func newRedlockSet(t *testing.T, n int) *redlockSet {
	s := &redlockSet{}
	for range n {
		srv := redistest.StartServer(t, redistest.ServerOptions{})
		c := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1, ContextTimeoutEnabled: true})
		t.Cleanup(func() { _ = c.Close() })
		s.servers = append(s.servers, srv)
		s.clients = append(s.clients, c)
		s.redis = append(s.redis, lock.NewRedis(c, lock.RedisOptions{}))
	}
	s.rl = lock.NewRedlock(s.redis, lock.RedlockOptions{})
	return s
}

// TestRedlockQuorumLossReleasesPartial: another owner holds two of three
// servers; the acquisition gets one, misses the quorum and releases it.
func TestRedlockQuorumLossReleasesPartial(t *testing.T) {
	ctx := ctxT(t)
	s := newRedlockSet(t, 3)
	for _, r := range s.redis[1:] {
		_, ok, err := r.Acquire(ctx, "k", "intruder", 10*time.Second)
		require.NoError(t, err)
		require.True(t, ok)
	}
	_, ok, err := lock.New(s.rl, lock.Options{}).TryObtain(ctx, "k", 10*time.Second, lock.ObtainOptions{})
	require.NoError(t, err)
	assert.False(t, ok)
	n, err := s.clients[0].Exists(ctx, "lock:{k}").Result()
	require.NoError(t, err)
	assert.Zero(t, n, "partial acquisition left behind")
	owner, err := s.clients[1].Get(ctx, "lock:{k}").Result()
	require.NoError(t, err)
	assert.Equal(t, "intruder", owner, "someone else's lock released")
}

func TestRedlockSurvivesMinorityFailure(t *testing.T) {
	ctx := ctxT(t)
	s := newRedlockSet(t, 3)
	l := lock.New(s.rl, lock.Options{})
	lk, err := l.Obtain(ctx, "k", 5*time.Second, lock.ObtainOptions{})
	require.NoError(t, err)

	s.servers[2].Kill(t)
	require.NoError(t, lk.Refresh(ctx, 5*time.Second))
	ttl, held, err := lk.TTL(ctx)
	require.NoError(t, err)
	assert.True(t, held)
	assert.Greater(t, ttl, 3*time.Second)
	_, ok, err := l.TryObtain(ctx, "k", time.Second, lock.ObtainOptions{})
	require.NoError(t, err)
	assert.False(t, ok, "two of three servers still hold it")
	require.NoError(t, lk.Release(ctx))

	lk2, err := l.Obtain(ctx, "k", 5*time.Second, lock.ObtainOptions{})
	require.NoError(t, err)
	assert.Greater(t, lk2.Token(), lk.Token())

	// Losing the majority: no quorum, an error rather than "not obtained".
	s.servers[1].Kill(t)
	err = lk2.Refresh(ctx, 5*time.Second)
	require.Error(t, err)
	assert.NotErrorIs(t, err, lock.ErrNotHeld, "unreachable is not the same as not held")
	_, _, err = l.TryObtain(ctx, "other", time.Second, lock.ObtainOptions{})
	assert.Error(t, err)
}

// TestRedlockTokensIncreaseAcrossQuorums skews one server's counter far
// ahead, then takes the next lock on a quorum without that server: the
// raise step makes the new token greater nonetheless.
func TestRedlockTokensIncreaseAcrossQuorums(t *testing.T) {
	ctx := ctxT(t)
	s := newRedlockSet(t, 3)
	ahead := uint64(time.Now().Add(24 * time.Hour).UnixMicro())
	require.NoError(t, s.clients[2].Set(ctx, "lock:{k}:fence", ahead, 0).Err())
	l := lock.New(s.rl, lock.Options{})
	lk, err := l.Obtain(ctx, "k", 5*time.Second, lock.ObtainOptions{})
	require.NoError(t, err)
	assert.Greater(t, lk.Token(), ahead)
	for i := range 2 { // raised: kept until the server clock passes it
		pttl, err := s.clients[i].PTTL(ctx, "lock:{k}:fence").Result()
		require.NoError(t, err)
		assert.InDelta(t, float64(24*time.Hour), float64(pttl), float64(time.Minute), "server %d", i)
	}
	require.NoError(t, lk.Release(ctx))

	s.servers[2].Kill(t)
	lk2, err := l.Obtain(ctx, "k", 5*time.Second, lock.ObtainOptions{})
	require.NoError(t, err)
	assert.Greater(t, lk2.Token(), lk.Token())
	require.NoError(t, lk2.Release(context.Background()))
}

func TestRedlockUnsyncedTokens(t *testing.T) {
	ctx := ctxT(t)
	s := newRedlockSet(t, 3)
	l := lock.New(lock.NewRedlock(s.redis, lock.RedlockOptions{UnsyncedTokens: true}), lock.Options{})
	var last uint64
	for range 5 {
		lk, err := l.Obtain(ctx, "k", 5*time.Second, lock.ObtainOptions{})
		require.NoError(t, err)
		assert.Greater(t, lk.Token(), last)
		last = lk.Token()
		require.NoError(t, lk.Release(ctx))
	}
}

// TestRedlockCountersAgree: after each acquisition every server's counter
// holds the issued token (or has expired: counters live 5-6ms), whether the
// servers issued it alike (the key was taken less than a millisecond
// before: each incremented the same counter) or the lower ones were raised
// to it.
func TestRedlockCountersAgree(t *testing.T) {
	ctx := ctxT(t)
	s := newRedlockSet(t, 3)
	l := lock.New(s.rl, lock.Options{})
	var last uint64
	for i := range 20 {
		lk, err := l.Obtain(ctx, "k", 5*time.Second, lock.ObtainOptions{})
		require.NoError(t, err)
		assert.Greater(t, lk.Token(), last)
		last = lk.Token()
		for j, c := range s.clients {
			n, err := c.Get(ctx, "lock:{k}:fence").Uint64()
			if errors.Is(err, redis.Nil) {
				continue
			}
			require.NoError(t, err)
			assert.Equal(t, lk.Token(), n, "server %d, acquisition %d", j, i)
		}
		require.NoError(t, lk.Release(ctx))
	}
}
