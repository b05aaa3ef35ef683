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
	"github.com/sinew-dev/sinew/retry"
)

// redisClient is what the Redis-specific tests need from a client.
type redisClient interface {
	redis.Cmdable
	redis.Scripter
	Do(ctx context.Context, args ...any) *redis.Cmd
}

func redisStores() []struct {
	name string
	rdb  func(t *testing.T) redisClient
} {
	return []struct {
		name string
		rdb  func(t *testing.T) redisClient
	}{
		{"standalone", func(t *testing.T) redisClient { return redistest.Standalone(t) }},
		{"cluster", func(t *testing.T) redisClient { return redistest.Cluster(t) }},
	}
}

func TestRedisKeys(t *testing.T) {
	for _, s := range redisStores() {
		t.Run("store="+s.name, func(t *testing.T) {
			ctx := ctxT(t)
			rdb := s.rdb(t)
			prefix := redistest.Prefix(t)
			r := lock.NewRedis(rdb, lock.RedisOptions{Prefix: prefix})
			assert.Equal(t, prefix+"{user:42}", r.LockKey("user:42"))
			lk, err := lock.New(r, lock.Options{}).Obtain(ctx, "user:42", 5*time.Second, lock.ObtainOptions{})
			require.NoError(t, err)
			lockKey, fenceKey := r.LockKey("user:42"), r.LockKey("user:42")+":fence"

			pttl, err := rdb.PTTL(ctx, lockKey).Result()
			require.NoError(t, err)
			assert.InDelta(t, float64(5*time.Second), float64(pttl), float64(time.Second))
			// The counter holds the token for 5-6ms (it may be gone already).
			if tok, err := rdb.Get(ctx, fenceKey).Uint64(); !errors.Is(err, redis.Nil) {
				require.NoError(t, err)
				assert.Equal(t, lk.Token(), tok)
			}
			pttl, err = rdb.PTTL(ctx, fenceKey).Result()
			require.NoError(t, err)
			assert.LessOrEqual(t, pttl, 6*time.Millisecond, "the counter is short-lived")
			if s.name == "cluster" {
				s1, err := rdb.ClusterKeySlot(ctx, lockKey).Result()
				require.NoError(t, err)
				s2, err := rdb.ClusterKeySlot(ctx, fenceKey).Result()
				require.NoError(t, err)
				assert.Equal(t, s1, s2)
			}

			// No key outlives its use: the counter is gone before the lock,
			// the lock at Release.
			time.Sleep(10 * time.Millisecond)
			n, err := rdb.Exists(ctx, lockKey, fenceKey).Result()
			require.NoError(t, err)
			assert.Equal(t, int64(1), n)
			require.NoError(t, lk.Release(ctx))
			n, err = rdb.Exists(ctx, lockKey).Result()
			require.NoError(t, err)
			assert.Zero(t, n)
		})
	}
}

// TestRedisTokensSurviveCounterLoss deletes the counter (as expiry, a
// restart without persistence or a failover before replication would) and
// checks the next token is still greater.
func TestRedisTokensSurviveCounterLoss(t *testing.T) {
	for _, s := range redisStores() {
		t.Run("store="+s.name, func(t *testing.T) {
			ctx := ctxT(t)
			rdb := s.rdb(t)
			r := lock.NewRedis(rdb, lock.RedisOptions{Prefix: redistest.Prefix(t)})
			l := lock.New(r, lock.Options{})
			var last uint64
			for range 5 {
				lk, err := l.Obtain(ctx, "k", time.Second, lock.ObtainOptions{})
				require.NoError(t, err)
				assert.Greater(t, lk.Token(), last)
				last = lk.Token()
				require.NoError(t, lk.Release(ctx))
				require.NoError(t, rdb.Del(ctx, r.LockKey("k")+":fence").Err())
			}
			// Tokens track the server clock in microseconds.
			now, err := rdb.Time(ctx).Result()
			require.NoError(t, err)
			assert.InDelta(t, float64(now.UnixMicro()), float64(last), float64(time.Minute/time.Microsecond))

			// A live counter ahead of the clock (raised by Redlock, which
			// keeps it until the clock passes it) is incremented instead.
			ahead := uint64(now.Add(time.Hour).UnixMicro())
			require.NoError(t, rdb.Set(ctx, r.LockKey("k")+":fence", ahead, time.Hour+time.Minute).Err())
			for i := range uint64(3) {
				lk, err := l.Obtain(ctx, "k", time.Second, lock.ObtainOptions{})
				require.NoError(t, err)
				assert.Equal(t, ahead+1+i, lk.Token())
				require.NoError(t, lk.Release(ctx))
			}
		})
	}
}

// TestRedisTokensSurviveStaleCounter puts back an older counter, as a
// failover to a replica that missed the last acquisitions (or a restart
// from an older snapshot) would: with the absolute expiry it had, so it is
// gone by the time it is loaded, and the next token, from the clock, must
// exceed every token already issued. A live counter is incremented without
// a clock read, and one that is not a number is replaced.
func TestRedisTokensSurviveStaleCounter(t *testing.T) {
	for _, s := range redisStores() {
		t.Run("store="+s.name, func(t *testing.T) {
			ctx := ctxT(t)
			rdb := s.rdb(t)
			r := lock.NewRedis(rdb, lock.RedisOptions{Prefix: redistest.Prefix(t)})
			l := lock.New(r, lock.Options{})
			fence := r.LockKey("k") + ":fence"
			obtain := func() uint64 {
				lk, err := l.Obtain(ctx, "k", time.Second, lock.ObtainOptions{})
				require.NoError(t, err)
				require.NoError(t, lk.Release(ctx))
				return lk.Token()
			}

			t.Run("live counter", func(t *testing.T) {
				require.NoError(t, rdb.Set(ctx, fence, 1000, time.Minute).Err())
				assert.Equal(t, uint64(1001), obtain(), "incremented, not read from the clock")
				assert.Equal(t, uint64(1002), obtain())
				require.NoError(t, rdb.Del(ctx, fence).Err())
			})

			t.Run("rolled back", func(t *testing.T) {
				// A snapshot of a live counter and its absolute expiry.
				var dump string
				var exp time.Duration
				for {
					first := obtain()
					var err error
					dump, err = rdb.Dump(ctx, fence).Result()
					if errors.Is(err, redis.Nil) {
						continue // expired before the DUMP: again
					}
					require.NoError(t, err)
					exp, err = rdb.PExpireTime(ctx, fence).Result()
					require.NoError(t, err)
					if exp > 0 {
						assert.Greater(t, first, uint64(1))
						break
					}
				}
				last := obtain()
				for range 20 {
					tok := obtain()
					assert.Greater(t, tok, last)
					last = tok
				}
				time.Sleep(10 * time.Millisecond) // no failover is faster
				// go-redis has no ABSTTL option: send it as a raw command.
				err := rdb.Do(ctx, "RESTORE", fence, int64(exp/time.Millisecond), dump, "REPLACE", "ABSTTL").Err()
				require.NoError(t, err)
				assert.Greater(t, obtain(), last, "tokens must increase across a rolled-back counter")
			})

			t.Run("not a number", func(t *testing.T) {
				last := obtain()
				require.NoError(t, rdb.Set(ctx, fence, "garbage", time.Minute).Err())
				tok := obtain()
				assert.Greater(t, tok, last)
				if n, err := rdb.Get(ctx, fence).Uint64(); !errors.Is(err, redis.Nil) {
					require.NoError(t, err, "the counter is a number again")
					assert.Equal(t, tok, n)
				}
			})
		})
	}
}

func TestRedisSameOwnerRetakes(t *testing.T) {
	for _, s := range redisStores() {
		t.Run("store="+s.name, func(t *testing.T) {
			ctx := ctxT(t)
			r := lock.NewRedis(s.rdb(t), lock.RedisOptions{Prefix: redistest.Prefix(t)})
			g1, ok, err := r.Acquire(ctx, "k", "owner-1", time.Second)
			require.NoError(t, err)
			require.True(t, ok)
			g2, ok, err := r.Acquire(ctx, "k", "owner-1", time.Second)
			require.NoError(t, err)
			require.True(t, ok)
			assert.Greater(t, g2.Token, g1.Token)
			_, ok, err = r.Acquire(ctx, "k", "owner-2", time.Second)
			require.NoError(t, err)
			assert.False(t, ok)
			ok, err = r.Extend(ctx, "k", "owner-2", time.Second)
			require.NoError(t, err)
			assert.False(t, ok, "extend by another owner")
			ok, err = r.Release(ctx, "k", "owner-2")
			require.NoError(t, err)
			assert.False(t, ok, "release by another owner")
			_, ok, err = r.TTL(ctx, "k", "owner-2")
			require.NoError(t, err)
			assert.False(t, ok, "ttl for another owner")
			ok, err = r.Release(ctx, "k", "owner-1")
			require.NoError(t, err)
			assert.True(t, ok)
		})
	}
}

// TestRedisKilledAndRestarted kills the server under an auto-renewing
// holder: its context fires; after a restart (data lost) others obtain the
// lock with a greater token and the old holder's release reports ErrNotHeld.
func TestRedisKilledAndRestarted(t *testing.T) {
	ctx := ctxT(t)
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	r := lock.NewRedis(srv.Client(t), lock.RedisOptions{})
	l := lock.New(r, lock.Options{})
	lk, err := l.Obtain(ctx, "k", 100*time.Millisecond, lock.ObtainOptions{AutoRenew: true})
	require.NoError(t, err)

	srv.Kill(t)
	select {
	case <-lk.Context().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("lost-lock context not cancelled after the server was killed")
	}
	assert.ErrorIs(t, context.Cause(lk.Context()), lock.ErrNotHeld)
	assert.ErrorIs(t, lk.Refresh(ctx, time.Second), lock.ErrNotHeld)
	_, _, err = l.TryObtain(ctx, "k", time.Second, lock.ObtainOptions{})
	assert.Error(t, err, "obtain against a dead server")
	assert.NotErrorIs(t, err, lock.ErrNotObtained)

	srv.Restart(t)
	l2 := lock.New(lock.NewRedis(srv.Client(t), lock.RedisOptions{}), lock.Options{})
	lk2, err := l2.Obtain(ctx, "k", 5*time.Second, lock.ObtainOptions{})
	require.NoError(t, err)
	assert.Greater(t, lk2.Token(), lk.Token(), "tokens must increase across data loss")
	assert.ErrorIs(t, lk.Release(ctx), lock.ErrNotHeld)
	require.NoError(t, lk2.Release(ctx))
}

// TestRedisPaused stops the server (SIGSTOP): the holder's context fires
// when its validity runs out, and calls end with their context.
func TestRedisPaused(t *testing.T) {
	ctx := ctxT(t)
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	l := lock.New(lock.NewRedis(rdb, lock.RedisOptions{}), lock.Options{})
	lk, err := l.Obtain(ctx, "k", 150*time.Millisecond, lock.ObtainOptions{AutoRenew: true})
	require.NoError(t, err)

	srv.Pause(t)
	start := time.Now()
	select {
	case <-lk.Context().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("lost-lock context not cancelled while the server was paused")
	}
	assert.ErrorIs(t, context.Cause(lk.Context()), lock.ErrNotHeld)
	assert.Less(t, time.Since(start), 2*time.Second)

	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = l.Obtain(cctx, "k", time.Second, lock.ObtainOptions{})
	if !errors.Is(err, retry.ErrDeadline) { // gave up just before the deadline
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	}

	srv.Resume(t)
	time.Sleep(200 * time.Millisecond) // the old lock's TTL ran out in Redis
	lk2, err := l.Obtain(ctx, "k", time.Second, lock.ObtainOptions{})
	require.NoError(t, err)
	assert.Greater(t, lk2.Token(), lk.Token())
	assert.ErrorIs(t, lk.Release(ctx), lock.ErrNotHeld)
	require.NoError(t, lk2.Release(ctx))
}

func TestRedisWaitReplicas(t *testing.T) {
	ctx := ctxT(t)
	master := redistest.StartServer(t, redistest.ServerOptions{})
	redistest.StartServer(t, redistest.ServerOptions{ReplicaOf: master})
	rdb := master.Client(t)

	t.Run("acknowledged", func(t *testing.T) {
		// A generous WAIT timeout: WAIT returns as soon as the replica
		// acknowledges, and 100 ms (the default) can pass on a loaded machine.
		l := lock.New(lock.NewRedis(rdb, lock.RedisOptions{WaitReplicas: 1, WaitTimeout: 5 * time.Second}), lock.Options{})
		lk, err := l.Obtain(ctx, "a", 5*time.Second, lock.ObtainOptions{})
		require.NoError(t, err)
		assert.Equal(t, 1, lk.Replicas())
		require.NoError(t, lk.Release(ctx))
	})
	t.Run("too few is an error and releases", func(t *testing.T) {
		l := lock.New(lock.NewRedis(rdb, lock.RedisOptions{WaitReplicas: 2, WaitTimeout: 300 * time.Millisecond}), lock.Options{})
		_, err := l.Obtain(ctx, "b", 5*time.Second, lock.ObtainOptions{})
		var re *lock.ReplicaError
		require.ErrorAs(t, err, &re)
		assert.ErrorIs(t, err, lock.ErrNotReplicated)
		assert.Equal(t, lock.ReplicaError{Key: "b", Want: 2, Acked: 1}, *re)
		n, err := rdb.Exists(ctx, "lock:{b}").Result()
		require.NoError(t, err)
		assert.Zero(t, n, "an unreplicated lock must be released")
	})
	t.Run("too few allowed", func(t *testing.T) {
		l := lock.New(lock.NewRedis(rdb, lock.RedisOptions{WaitReplicas: 2, WaitTimeout: 300 * time.Millisecond, AllowUnreplicated: true}), lock.Options{})
		lk, err := l.Obtain(ctx, "c", 5*time.Second, lock.ObtainOptions{})
		require.NoError(t, err)
		assert.Equal(t, 1, lk.Replicas())
		require.NoError(t, lk.Release(ctx))
	})
	t.Run("ring unsupported", func(t *testing.T) {
		ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": master.Addr()}})
		t.Cleanup(func() { _ = ring.Close() })
		_, _, err := lock.New(lock.NewRedis(ring, lock.RedisOptions{WaitReplicas: 1}), lock.Options{}).
			TryObtain(ctx, "d", time.Second, lock.ObtainOptions{})
		assert.ErrorIs(t, err, lock.ErrWaitUnsupported)
	})
	t.Run("ring without wait", func(t *testing.T) {
		ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": master.Addr()}})
		t.Cleanup(func() { _ = ring.Close() })
		lk, err := lock.New(lock.NewRedis(ring, lock.RedisOptions{}), lock.Options{}).Obtain(ctx, "e", time.Second, lock.ObtainOptions{})
		require.NoError(t, err)
		require.NoError(t, lk.Release(ctx))
	})
}

// TestClusterFailover kills the master serving a lock and forces its
// replica to take over. With WAIT the lock was acknowledged by the replica
// and survives. Without it the lock may or may not survive; either way a
// later holder's token is greater and the old holder cannot write past a
// fence.
func TestClusterFailover(t *testing.T) {
	nodes := redistest.StartCluster(t)
	rc := nodes.Client(t)

	// Two keys on different masters, one failover each.
	keyWait, keyNoWait := "alpha", "beta"
	prefix := redistest.Prefix(t)
	r := lock.NewRedis(rc, lock.RedisOptions{Prefix: prefix})
	if nodes.MasterFor(t, r.LockKey(keyWait)) == nodes.MasterFor(t, r.LockKey(keyNoWait)) {
		keyNoWait = "gamma"
	}
	require.NotEqual(t, nodes.MasterFor(t, r.LockKey(keyWait)), nodes.MasterFor(t, r.LockKey(keyNoWait)))

	t.Run("with WAIT", func(t *testing.T) {
		ctx := ctxT(t)
		l := lock.New(lock.NewRedis(rc, lock.RedisOptions{Prefix: prefix, WaitReplicas: 1, WaitTimeout: time.Second}), lock.Options{})
		lk, err := l.Obtain(ctx, keyWait, 20*time.Second, lock.ObtainOptions{})
		require.NoError(t, err)
		assert.Equal(t, 1, lk.Replicas())

		nodes.MasterFor(t, r.LockKey(keyWait)).Kill(t)
		nodes.Failover(t, r.LockKey(keyWait), rc)

		_, ok, err := l.TryObtain(ctx, keyWait, time.Second, lock.ObtainOptions{})
		require.NoError(t, err)
		assert.False(t, ok, "acknowledged lock lost in failover")
		require.NoError(t, lk.Refresh(ctx, 20*time.Second), "holder keeps its lock")
		require.NoError(t, lk.Release(ctx))
	})
	t.Run("without WAIT", func(t *testing.T) {
		ctx := ctxT(t)
		l := lock.New(r, lock.Options{})
		lk, err := l.Obtain(ctx, keyNoWait, 20*time.Second, lock.ObtainOptions{})
		require.NoError(t, err)

		nodes.MasterFor(t, r.LockKey(keyNoWait)).Kill(t)
		nodes.Failover(t, r.LockKey(keyNoWait), rc)

		fence := lock.NewFence()
		require.NoError(t, fence.Admit("res", lk.Token()))
		lk2, ok, err := l.TryObtain(ctx, keyNoWait, time.Second, lock.ObtainOptions{})
		require.NoError(t, err)
		if ok { // the lock was lost with the master
			assert.Greater(t, lk2.Token(), lk.Token())
			require.NoError(t, fence.Admit("res", lk2.Token()))
			assert.ErrorIs(t, fence.Admit("res", lk.Token()), lock.ErrStaleToken)
			assert.ErrorIs(t, lk.Refresh(ctx, time.Second), lock.ErrNotHeld)
			require.NoError(t, lk2.Release(ctx))
		} else { // replicated in time: still held
			require.NoError(t, lk.Refresh(ctx, time.Second))
			require.NoError(t, lk.Release(ctx))
		}
	})
}

func TestRedisErrorsWrapped(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	l := lock.New(lock.NewRedis(rdb, lock.RedisOptions{}), lock.Options{})
	_, _, err := l.TryObtain(context.Background(), "k", time.Second, lock.ObtainOptions{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `lock: obtain "k"`)
	var op interface{ Timeout() bool }
	assert.True(t, errors.As(err, &op), "network error is wrapped, not replaced: %v", err)
}
