package lock_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sinew-dev/sinew/internal/redistest"
	"github.com/sinew-dev/sinew/lock"
	"github.com/sinew-dev/sinew/retry"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// store is one lock store reached through n independent clients.
type store struct {
	name    string
	clients func(t *testing.T, n int) []lock.Backend
}

// stores returns every backend kind: the behavioural suite runs on each.
func stores() []store {
	return []store{
		{"memory", func(t *testing.T, n int) []lock.Backend {
			m := lock.NewMemory()
			out := make([]lock.Backend, n)
			for i := range out {
				out[i] = m
			}
			return out
		}},
		{"standalone", func(t *testing.T, n int) []lock.Backend {
			prefix := redistest.Prefix(t)
			out := make([]lock.Backend, n)
			for i := range out {
				out[i] = lock.NewRedis(redistest.Standalone(t), lock.RedisOptions{Prefix: prefix})
			}
			return out
		}},
		{"cluster", func(t *testing.T, n int) []lock.Backend {
			prefix := redistest.Prefix(t)
			out := make([]lock.Backend, n)
			for i := range out {
				out[i] = lock.NewRedis(redistest.Cluster(t), lock.RedisOptions{Prefix: prefix})
			}
			return out
		}},
		{"redlock", func(t *testing.T, n int) []lock.Backend {
			servers := []*redistest.Server{
				redistest.StartServer(t, redistest.ServerOptions{}),
				redistest.StartServer(t, redistest.ServerOptions{}),
				redistest.StartServer(t, redistest.ServerOptions{}),
			}
			out := make([]lock.Backend, n)
			for i := range out {
				rs := make([]*lock.Redis, len(servers))
				for j, s := range servers {
					rs[j] = lock.NewRedis(s.Client(t), lock.RedisOptions{})
				}
				out[i] = lock.NewRedlock(rs, lock.RedlockOptions{})
			}
			return out
		}},
	}
}

func forEachStore(t *testing.T, fn func(t *testing.T, bs []lock.Backend)) {
	for _, s := range stores() {
		t.Run("store="+s.name, func(t *testing.T) {
			fn(t, s.clients(t, 2))
		})
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestObtainTryObtainRelease(t *testing.T) {
	forEachStore(t, func(t *testing.T, bs []lock.Backend) {
		ctx := ctxT(t)
		a, b := lock.New(bs[0], lock.Options{}), lock.New(bs[1], lock.Options{})

		la, err := a.Obtain(ctx, "k", 10*time.Second, lock.ObtainOptions{})
		require.NoError(t, err)
		assert.Equal(t, "k", la.Key())
		assert.NotZero(t, la.Token())
		assert.NoError(t, la.Context().Err())

		_, ok, err := b.TryObtain(ctx, "k", 10*time.Second, lock.ObtainOptions{})
		require.NoError(t, err)
		assert.False(t, ok, "second owner must not get a held lock")
		// Regression (bsm/redislock): a second Obtain through the same
		// Locker is another owner, never a re-entry that shares the lock.
		_, ok, err = a.TryObtain(ctx, "k", 10*time.Second, lock.ObtainOptions{})
		require.NoError(t, err)
		assert.False(t, ok, "same Locker, second call")

		// Obtain gives up with ErrNotObtained while the lock is held.
		one := retry.New(retry.Options{MaxAttempts: 2, Backoff: retry.Constant(time.Millisecond)})
		_, err = b.Obtain(ctx, "k", 10*time.Second, lock.ObtainOptions{Retry: one})
		assert.ErrorIs(t, err, lock.ErrNotObtained)
		assert.ErrorIs(t, err, retry.ErrAttemptsExhausted)

		require.NoError(t, la.Release(ctx))
		assert.ErrorIs(t, context.Cause(la.Context()), lock.ErrReleased)
		assert.ErrorIs(t, la.Release(ctx), lock.ErrNotHeld, "second release")
		assert.ErrorIs(t, la.Refresh(ctx, time.Second), lock.ErrNotHeld)

		lb, ok, err := b.TryObtain(ctx, "k", 10*time.Second, lock.ObtainOptions{})
		require.NoError(t, err)
		require.True(t, ok)
		assert.Greater(t, lb.Token(), la.Token())

		// Another key is independent.
		lc, ok, err := a.TryObtain(ctx, "other", 10*time.Second, lock.ObtainOptions{})
		require.NoError(t, err)
		require.True(t, ok)
		require.NoError(t, lc.Release(ctx))
		require.NoError(t, lb.Release(ctx))
	})
}

func TestObtainWaitsForRelease(t *testing.T) {
	forEachStore(t, func(t *testing.T, bs []lock.Backend) {
		ctx := ctxT(t)
		a, b := lock.New(bs[0], lock.Options{}), lock.New(bs[1], lock.Options{})
		la, err := a.Obtain(ctx, "k", 10*time.Second, lock.ObtainOptions{})
		require.NoError(t, err)
		go func() {
			time.Sleep(30 * time.Millisecond)
			_ = la.Release(context.Background())
		}()
		lb, err := b.Obtain(ctx, "k", 10*time.Second, lock.ObtainOptions{})
		require.NoError(t, err)
		assert.Greater(t, lb.Token(), la.Token())
		require.NoError(t, lb.Release(ctx))
	})
}

func TestRefreshAndTTL(t *testing.T) {
	forEachStore(t, func(t *testing.T, bs []lock.Backend) {
		ctx := ctxT(t)
		l := lock.New(bs[0], lock.Options{})
		lk, err := l.Obtain(ctx, "k", 2*time.Second, lock.ObtainOptions{})
		require.NoError(t, err)
		ttl, held, err := lk.TTL(ctx)
		require.NoError(t, err)
		assert.True(t, held)
		assert.LessOrEqual(t, ttl, 2*time.Second)
		assert.Greater(t, ttl, time.Second)

		require.NoError(t, lk.Refresh(ctx, 10*time.Second))
		ttl, held, err = lk.TTL(ctx)
		require.NoError(t, err)
		assert.True(t, held)
		assert.Greater(t, ttl, 5*time.Second)
		require.NoError(t, lk.Release(ctx))

		ttl, held, err = lk.TTL(ctx)
		require.NoError(t, err)
		assert.False(t, held)
		assert.Zero(t, ttl)
	})
}

func TestExpiryIsDetected(t *testing.T) {
	forEachStore(t, func(t *testing.T, bs []lock.Backend) {
		ctx := ctxT(t)
		a, b := lock.New(bs[0], lock.Options{}), lock.New(bs[1], lock.Options{})
		la, err := a.Obtain(ctx, "k", 40*time.Millisecond, lock.ObtainOptions{})
		require.NoError(t, err)
		select {
		case <-la.Context().Done():
		case <-time.After(5 * time.Second):
			t.Fatal("lost-lock context not cancelled after expiry")
		}
		assert.ErrorIs(t, context.Cause(la.Context()), lock.ErrNotHeld)
		time.Sleep(10 * time.Millisecond) // past the store's TTL too

		lb, err := b.Obtain(ctx, "k", 10*time.Second, lock.ObtainOptions{})
		require.NoError(t, err)
		assert.Greater(t, lb.Token(), la.Token())
		assert.ErrorIs(t, la.Refresh(ctx, time.Second), lock.ErrNotHeld)
		assert.ErrorIs(t, la.Release(ctx), lock.ErrNotHeld)
		// The stale release did not free the new holder's lock.
		_, held, err := lb.TTL(ctx)
		require.NoError(t, err)
		assert.True(t, held)
		require.NoError(t, lb.Release(ctx))
	})
}

// TestStaleHolder is Kleppmann's scenario: a holder pauses past its TTL,
// another takes the lock and writes; the first wakes up and writes with its
// old token. The fence rejects it, and its refresh and release fail.
func TestStaleHolder(t *testing.T) {
	forEachStore(t, func(t *testing.T, bs []lock.Backend) {
		ctx := ctxT(t)
		a, b := lock.New(bs[0], lock.Options{}), lock.New(bs[1], lock.Options{})
		fence := lock.NewFence()
		var file []string
		write := func(lk *lock.Lock, v string) error {
			return fence.Do("file", lk.Token(), func() error {
				file = append(file, v)
				return nil
			})
		}

		la, err := a.Obtain(ctx, "file", 50*time.Millisecond, lock.ObtainOptions{})
		require.NoError(t, err)
		require.NoError(t, write(la, "a1"))
		time.Sleep(80 * time.Millisecond) // the "GC pause"

		lb, err := b.Obtain(ctx, "file", 10*time.Second, lock.ObtainOptions{})
		require.NoError(t, err)
		require.NoError(t, write(lb, "b1"))

		err = write(la, "a2")
		assert.ErrorIs(t, err, lock.ErrStaleToken)
		assert.Equal(t, []string{"a1", "b1"}, file)
		assert.ErrorIs(t, la.Refresh(ctx, time.Second), lock.ErrNotHeld)
		assert.ErrorIs(t, la.Release(ctx), lock.ErrNotHeld)

		require.NoError(t, write(lb, "b2"), "the current holder may write again")
		_, held, err := lb.TTL(ctx)
		require.NoError(t, err)
		assert.True(t, held, "the stale release must not free the new holder's lock")
		require.NoError(t, lb.Release(ctx))
	})
}

// TestMutualExclusion runs 32 contenders over 4 clients, each incrementing a
// shared counter with a non-atomic read-modify-write under the lock.
func TestMutualExclusion(t *testing.T) {
	const (
		clients    = 4
		contenders = 32
		rounds     = 40 // per contender: 1280 increments per store
	)
	for _, s := range stores() {
		t.Run("store="+s.name, func(t *testing.T) {
			ctx := ctxT(t)
			bs := s.clients(t, clients)
			// The counter lives in Redis for Redis stores (GET then SET, two
			// round trips apart), in a plain variable for memory.
			var (
				get func(ctx context.Context) (int, error)
				set func(ctx context.Context, v int) error
			)
			if s.name == "memory" {
				var v int
				get = func(context.Context) (int, error) { return v, nil }
				set = func(_ context.Context, n int) error { v = n; return nil }
			} else {
				rdb := redistest.Standalone(t)
				key := redistest.Prefix(t) + "counter"
				get = func(ctx context.Context) (int, error) {
					n, err := rdb.Get(ctx, key).Int()
					if errors.Is(err, redis.Nil) {
						return 0, nil
					}
					return n, err
				}
				set = func(ctx context.Context, n int) error { return rdb.Set(ctx, key, n, 0).Err() }
			}
			policy := retry.New(retry.Options{MaxAttempts: -1, Backoff: retry.FullJitter(200*time.Microsecond, 5*time.Millisecond)})
			rounds := rounds
			if s.name == "redlock" {
				// Redlock livelocks under heavy contention (split votes
				// release everywhere): fewer rounds, longer backoff.
				rounds = 8
				policy = retry.New(retry.Options{MaxAttempts: -1, Backoff: retry.FullJitter(time.Millisecond, 40*time.Millisecond)})
			}
			var (
				mu     sync.Mutex // protects tokens, errs
				tokens []uint64
				errs   []error
				wg     sync.WaitGroup
			)
			for c := range contenders {
				l := lock.New(bs[c%clients], lock.Options{})
				wg.Go(func() {
					for range rounds {
						err := func() error {
							lk, err := l.Obtain(ctx, "counter", 5*time.Second, lock.ObtainOptions{Retry: policy})
							if err != nil {
								return err
							}
							mu.Lock()
							tokens = append(tokens, lk.Token())
							mu.Unlock()
							n, err := get(ctx)
							if err != nil {
								return err
							}
							if err := set(ctx, n+1); err != nil {
								return err
							}
							return lk.Release(ctx)
						}()
						if err != nil {
							mu.Lock()
							errs = append(errs, err)
							mu.Unlock()
							return
						}
					}
				})
			}
			wg.Wait()
			require.Empty(t, errs)
			n, err := get(ctx)
			require.NoError(t, err)
			assert.Equal(t, contenders*rounds, n, "lost increments")
			require.Len(t, tokens, contenders*rounds)
			for i := 1; i < len(tokens); i++ {
				if tokens[i] <= tokens[i-1] {
					t.Fatalf("token %d (%d) not greater than token %d (%d)", i, tokens[i], i-1, tokens[i-1])
				}
			}
		})
	}
}

func TestObtainContextCancelled(t *testing.T) {
	forEachStore(t, func(t *testing.T, bs []lock.Backend) {
		l := lock.New(bs[0], lock.Options{})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := l.Obtain(ctx, "k", time.Second, lock.ObtainOptions{})
		assert.ErrorIs(t, err, context.Canceled)
		_, _, err = l.TryObtain(ctx, "k", time.Second, lock.ObtainOptions{})
		assert.ErrorIs(t, err, context.Canceled)

		held, err := l.Obtain(ctxT(t), "held", 10*time.Second, lock.ObtainOptions{})
		require.NoError(t, err)
		other := lock.New(bs[1], lock.Options{})

		// Cancelled while waiting: ctx.Err().
		ctx, cancel = context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		_, err = other.Obtain(ctx, "held", 10*time.Second, lock.ObtainOptions{})
		assert.ErrorIs(t, err, context.Canceled)

		// A deadline: Obtain gives up before it, or the deadline cuts it.
		ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err = other.Obtain(ctx, "held", 10*time.Second, lock.ObtainOptions{})
		if !errors.Is(err, context.DeadlineExceeded) {
			assert.ErrorIs(t, err, lock.ErrNotObtained)
			assert.ErrorIs(t, err, retry.ErrDeadline)
		}
		require.NoError(t, held.Release(ctxT(t)))
	})
}

func TestObtainGivesUpAfterTTLWithoutDeadline(t *testing.T) {
	forEachStore(t, func(t *testing.T, bs []lock.Backend) {
		ctx := ctxT(t)
		held, err := lock.New(bs[0], lock.Options{}).Obtain(ctx, "k", 10*time.Second, lock.ObtainOptions{})
		require.NoError(t, err)
		start := time.Now()
		_, err = lock.New(bs[1], lock.Options{}).Obtain(context.Background(), "k", 100*time.Millisecond, lock.ObtainOptions{})
		assert.ErrorIs(t, err, lock.ErrNotObtained)
		assert.Less(t, time.Since(start), 5*time.Second)
		require.NoError(t, held.Release(ctx))
	})
}

func TestAutoRenew(t *testing.T) {
	forEachStore(t, func(t *testing.T, bs []lock.Backend) {
		ctx := ctxT(t)
		a, b := lock.New(bs[0], lock.Options{}), lock.New(bs[1], lock.Options{})
		lk, err := a.Obtain(ctx, "k", 150*time.Millisecond, lock.ObtainOptions{AutoRenew: true})
		require.NoError(t, err)
		time.Sleep(400 * time.Millisecond) // several TTLs
		assert.NoError(t, lk.Context().Err(), "renewed lock reported lost")
		_, ok, err := b.TryObtain(ctx, "k", time.Second, lock.ObtainOptions{})
		require.NoError(t, err)
		assert.False(t, ok, "auto-renewed lock was taken")

		require.NoError(t, lk.Release(ctx))
		assert.ErrorIs(t, context.Cause(lk.Context()), lock.ErrReleased)
		// No renewal after unlock: the next holder keeps the lock.
		lb, ok, err := b.TryObtain(ctx, "k", 10*time.Second, lock.ObtainOptions{})
		require.NoError(t, err)
		require.True(t, ok)
		time.Sleep(100 * time.Millisecond)
		_, held, err := lb.TTL(ctx)
		require.NoError(t, err)
		assert.True(t, held)
		require.NoError(t, lb.Release(ctx))
	})
}

func TestAutoRenewReleaseRacesRenewal(t *testing.T) {
	forEachStore(t, func(t *testing.T, bs []lock.Backend) {
		ctx := ctxT(t)
		a := lock.New(bs[0], lock.Options{})
		for i := range 20 {
			key := "k" + strconv.Itoa(i)
			lk, err := a.Obtain(ctx, key, 300*time.Millisecond, lock.ObtainOptions{AutoRenew: true, RenewEvery: time.Millisecond})
			require.NoError(t, err)
			time.Sleep(time.Duration(i%5) * time.Millisecond)
			require.NoError(t, lk.Release(ctx))
			_, held, err := lk.TTL(ctx)
			require.NoError(t, err)
			assert.False(t, held, "renewal after unlock recreated %s", key)
			// Nothing re-extends the key later.
			lb, ok, err := a.TryObtain(ctx, key, time.Second, lock.ObtainOptions{})
			require.NoError(t, err)
			require.True(t, ok, key)
			require.NoError(t, lb.Release(ctx))
		}
	})
}

func TestMaxHold(t *testing.T) {
	forEachStore(t, func(t *testing.T, bs []lock.Backend) {
		ctx := ctxT(t)
		a, b := lock.New(bs[0], lock.Options{}), lock.New(bs[1], lock.Options{})
		start := time.Now()
		lk, err := a.Obtain(ctx, "k", 200*time.Millisecond, lock.ObtainOptions{AutoRenew: true, MaxHold: 500 * time.Millisecond})
		require.NoError(t, err)
		<-lk.Context().Done()
		assert.ErrorIs(t, context.Cause(lk.Context()), lock.ErrMaxHold)
		assert.GreaterOrEqual(t, time.Since(start), 450*time.Millisecond, "lost before MaxHold")
		err = lk.Refresh(ctx, time.Second)
		assert.ErrorIs(t, err, lock.ErrNotHeld)
		assert.ErrorIs(t, err, lock.ErrMaxHold)
		// The store lets it go at MaxHold too.
		lb, err := b.Obtain(ctx, "k", time.Second, lock.ObtainOptions{})
		require.NoError(t, err)
		assert.Less(t, time.Since(start), time.Second)
		require.NoError(t, lb.Release(ctx))
	})
}

// TestLostContextOnDeletion deletes (as a stale release would, or an
// operator) the lock behind an auto-renewing holder's back.
func TestLostContextOnDeletion(t *testing.T) {
	ctx := ctxT(t)
	for _, c := range []struct {
		name string
		rdb  func(t *testing.T) redis.Scripter
	}{
		{"standalone", func(t *testing.T) redis.Scripter { return redistest.Standalone(t) }},
		{"cluster", func(t *testing.T) redis.Scripter { return redistest.Cluster(t) }},
	} {
		t.Run("store="+c.name, func(t *testing.T) {
			rdb := c.rdb(t)
			r := lock.NewRedis(rdb, lock.RedisOptions{Prefix: redistest.Prefix(t)})
			lk, err := lock.New(r, lock.Options{}).Obtain(ctx, "k", 5*time.Second, lock.ObtainOptions{AutoRenew: true, RenewEvery: 20 * time.Millisecond})
			require.NoError(t, err)
			require.NoError(t, rdb.Eval(ctx, "return redis.call('DEL', KEYS[1])", []string{r.LockKey("k")}).Err())
			select {
			case <-lk.Context().Done():
			case <-time.After(3 * time.Second):
				t.Fatal("lost-lock context not cancelled after deletion")
			}
			assert.ErrorIs(t, context.Cause(lk.Context()), lock.ErrNotHeld)
			assert.ErrorIs(t, lk.Release(ctx), lock.ErrNotHeld)
		})
	}
}

func TestPanics(t *testing.T) {
	l := lock.New(lock.NewMemory(), lock.Options{})
	ctx := context.Background()
	for _, c := range []struct {
		name string
		fn   func()
	}{
		{"nil backend", func() { lock.New(nil, lock.Options{}) }},
		{"drift factor", func() { lock.New(lock.NewMemory(), lock.Options{DriftFactor: 1}) }},
		{"empty key", func() { _, _ = l.Obtain(ctx, "", time.Second, lock.ObtainOptions{}) }},
		{"tiny ttl", func() { _, _, _ = l.TryObtain(ctx, "k", 2*time.Millisecond, lock.ObtainOptions{}) }},
		{"tiny refresh", func() {
			lk, _ := lock.New(lock.NewMemory(), lock.Options{}).Obtain(ctx, "r", time.Second, lock.ObtainOptions{})
			_ = lk.Refresh(ctx, time.Millisecond)
		}},
		{"negative MaxHold", func() { _, _ = l.Obtain(ctx, "k", time.Second, lock.ObtainOptions{MaxHold: -1}) }},
		{"nil client", func() { lock.NewRedis(nil, lock.RedisOptions{}) }},
		{"brace prefix", func() { lock.NewRedis(redis.NewClient(&redis.Options{}), lock.RedisOptions{Prefix: "{x}"}) }},
		{"no redlock servers", func() { lock.NewRedlock(nil, lock.RedlockOptions{}) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			assert.PanicsWithValue(t, panicValue(c.fn), c.fn)
		})
	}
}

// panicValue returns what fn panics with, requiring a "lock: " message.
func panicValue(fn func()) (v any) {
	defer func() {
		v = recover()
		if s, ok := v.(string); !ok || len(s) < 6 || s[:6] != "lock: " {
			v = fmt.Sprintf("bad panic %v", v)
		}
	}()
	fn()
	return nil
}
