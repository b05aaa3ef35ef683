package ratelimit_test

import (
	"context"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sinew-dev/sinew/breaker"
	"github.com/sinew-dev/sinew/internal/redistest"
	"github.com/sinew-dev/sinew/ratelimit"
)

// newClients returns n separate clients on the standalone server or the Cluster, standing for
// n application servers.
func newClients(t *testing.T, cluster bool, n int) []ratelimit.Client {
	var out []ratelimit.Client
	for range n {
		var c interface {
			ratelimit.Client
			Close() error
		}
		if cluster {
			c = redis.NewClusterClient(&redis.ClusterOptions{Addrs: redistest.Cluster(t).Options().Addrs})
		} else {
			c = redis.NewClient(&redis.Options{Addr: redistest.Standalone(t).Options().Addr})
		}
		t.Cleanup(func() { _ = c.Close() })
		out = append(out, c)
	}
	return out
}

// TestRedis_Exactness hammers one key from 4 clients × 64 goroutines and checks that no more
// than burst + rate × elapsed events were admitted under every limit, and nearly that many,
// under GCRA and under the token bucket.
func TestRedis_Exactness(t *testing.T) {
	cases := []struct {
		name   string
		limits []ratelimit.Limit
	}{
		{"gcra", []ratelimit.Limit{ratelimit.Every(200, time.Second).WithBurst(20)}},
		{"multi", []ratelimit.Limit{ratelimit.Every(1000, time.Second).WithBurst(10), ratelimit.PerMinute(60)}},
	}
	for _, algo := range []ratelimit.Algorithm{ratelimit.GCRA, ratelimit.TokenBucket} {
		for _, server := range []string{"standalone", "cluster"} {
			for _, tc := range cases {
				testExactness(t, algo, server, tc.limits, tc.name)
			}
		}
	}
}

func testExactness(t *testing.T, algo ratelimit.Algorithm, server string, limits []ratelimit.Limit, name string) {
	t.Run("algo="+algo.String()+"/redis="+server+"/limits="+name, func(t *testing.T) {
		prefix := redistest.Prefix(t)
		var admitted, fallbacks, failures atomic.Int64
		var wg sync.WaitGroup
		ctx := context.Background()
		var limiters []*ratelimit.Redis
		for _, c := range newClients(t, server == "cluster", 4) {
			l := ratelimit.NewRedis(c, limits, ratelimit.RedisOptions{Prefix: prefix, Budget: 10 * time.Second, Algorithm: algo})
			_, err := l.AllowN(ctx, "hot", 0) // connect; consumes nothing
			require.NoError(t, err)
			limiters = append(limiters, l)
		}
		start := time.Now()
		stop := start.Add(300 * time.Millisecond)
		for _, l := range limiters {
			for range 64 {
				wg.Go(func() {
					for time.Now().Before(stop) {
						r, err := l.Allow(ctx, "hot")
						switch {
						case err != nil:
							failures.Add(1)
						case r.Fallback:
							fallbacks.Add(1)
						case r.Allowed:
							admitted.Add(1)
						}
					}
				})
			}
		}
		wg.Wait()
		elapsed := time.Since(start)
		require.Zero(t, failures.Load())
		require.Zero(t, fallbacks.Load())
		bound := int64(1 << 62)
		for _, l := range limits {
			b := int64(l.Burst) + int64(l.Rate)*int64(elapsed)/int64(l.Period)
			if l.Burst == 0 {
				b += int64(l.Rate)
			}
			bound = min(bound, b)
		}
		t.Logf("admitted %d in %v, bound %d", admitted.Load(), elapsed, bound)
		assert.LessOrEqual(t, admitted.Load(), bound)
		assert.GreaterOrEqual(t, admitted.Load(), bound/2, "the limit is used, not starved")
	})
}

// TestRedis_PausedServer black-holes Redis: every decision, queued or not, comes back within
// the budget from the local fallback, which admits this instance's share of the limit.
func TestRedis_PausedServer(t *testing.T) {
	for _, ctxTimeout := range []bool{false, true} {
		t.Run("ContextTimeoutEnabled="+strconv.FormatBool(ctxTimeout), func(t *testing.T) {
			s := redistest.StartServer(t, redistest.ServerOptions{})
			c := redis.NewClient(&redis.Options{Addr: s.Addr(), ContextTimeoutEnabled: ctxTimeout})
			t.Cleanup(func() { _ = c.Close() })
			testPausedServer(t, s, c)
		})
	}
}

func testPausedServer(t *testing.T, s *redistest.Server, c *redis.Client) {
	var errs, fallbacks atomic.Int64
	budget := 50 * time.Millisecond
	l := ratelimit.NewRedis(c, []ratelimit.Limit{ratelimit.PerMinute(10)}, ratelimit.RedisOptions{
		Budget:    budget,
		Instances: 2,
		Hooks: ratelimit.Hooks{
			OnError:    func(string, error) { errs.Add(1) },
			OnFallback: func(string, ratelimit.Result, error) { fallbacks.Add(1) },
		},
	})
	ctx := context.Background()
	require.Eventually(t, func() bool { // warm up: a connection in the pool
		r, err := l.Allow(ctx, "warm")
		return err == nil && !r.Fallback
	}, 10*time.Second, 10*time.Millisecond)

	s.Pause(t)
	var wg sync.WaitGroup
	var admitted, slow atomic.Int64
	for range 64 {
		wg.Go(func() {
			start := time.Now()
			r, err := l.Allow(ctx, "k")
			if d := time.Since(start); d > budget+400*time.Millisecond {
				t.Logf("slow %v err=%v r=%+v", d, err, r)
				slow.Add(1)
			}
			if err == nil && r.Fallback && r.Allowed {
				admitted.Add(1)
			}
		})
	}
	wg.Wait()
	assert.Zero(t, slow.Load(), "decisions bounded by the budget")
	assert.Equal(t, int64(64), fallbacks.Load())
	assert.Equal(t, int64(5), admitted.Load(), "local share: 10/2")
	assert.Positive(t, errs.Load())

	// the breaker is open now: decisions are immediate and report no new error
	before := errs.Load()
	for range 100 {
		r, err := l.Allow(ctx, "other")
		require.NoError(t, err)
		assert.True(t, r.Fallback)
	}
	assert.LessOrEqual(t, errs.Load()-before, int64(2), "no error storm while Redis hangs")

	s.Resume(t)
	require.Eventually(t, func() bool {
		r, err := l.Allow(ctx, "k")
		return err == nil && !r.Fallback
	}, 15*time.Second, 20*time.Millisecond)
}

// TestRedis_KillRestart kills Redis and brings it back empty: decisions fall back without an
// error storm and return to Redis once it is back.
func TestRedis_KillRestart(t *testing.T) {
	s := redistest.StartServer(t, redistest.ServerOptions{})
	var errs atomic.Int64
	l := ratelimit.NewRedis(s.Client(t), []ratelimit.Limit{ratelimit.PerMinute(100)}, ratelimit.RedisOptions{
		Budget: 200 * time.Millisecond,
		Hooks:  ratelimit.Hooks{OnError: func(string, error) { errs.Add(1) }},
	})
	ctx := context.Background()
	require.Eventually(t, func() bool {
		r, err := l.Allow(ctx, "warm")
		return err == nil && !r.Fallback
	}, 10*time.Second, 10*time.Millisecond)

	s.Kill(t)
	for range 500 {
		r, err := l.Allow(ctx, "k")
		require.NoError(t, err)
		assert.True(t, r.Fallback)
	}
	assert.LessOrEqual(t, errs.Load(), int64(5), "breaker stops the error storm")

	s.Restart(t)
	require.Eventually(t, func() bool {
		r, err := l.Allow(ctx, "k")
		return err == nil && !r.Fallback
	}, 15*time.Second, 20*time.Millisecond)
}

func TestRedis_FailurePolicies(t *testing.T) {
	s := redistest.StartServer(t, redistest.ServerOptions{})
	c := s.Client(t)
	s.Kill(t)
	ctx := context.Background()
	lim := []ratelimit.Limit{ratelimit.PerMinute(2)}
	cases := []struct {
		policy  ratelimit.FailurePolicy
		allowed []bool
	}{
		{ratelimit.FailOpen, []bool{true, true, true}},
		{ratelimit.FailClosed, []bool{false, false, false}},
		{ratelimit.FailLocal, []bool{true, true, false}},
	}
	for _, tc := range cases {
		t.Run("policy="+tc.policy.String(), func(t *testing.T) {
			var fb atomic.Int64
			l := ratelimit.NewRedis(c, lim, ratelimit.RedisOptions{
				Failure: tc.policy,
				Hooks:   ratelimit.Hooks{OnFallback: func(string, ratelimit.Result, error) { fb.Add(1) }},
			})
			for i, want := range tc.allowed {
				r, err := l.Allow(ctx, "k")
				require.NoError(t, err)
				assert.True(t, r.Fallback)
				assert.Equal(t, want, r.Allowed, "call %d", i)
				assert.Equal(t, lim[0], r.Limit)
				if !r.Allowed {
					assert.Positive(t, r.RetryAfter)
				}
			}
			assert.Equal(t, int64(len(tc.allowed)), fb.Load())
		})
	}
}

// TestRedis_SharedOpenBreaker: with a breaker forced open, no call reaches Redis and FailClosed
// reports the breaker's remaining time.
func TestRedis_SharedOpenBreaker(t *testing.T) {
	br := breaker.New(breaker.Options{OpenDuration: time.Minute, ConsecutiveFailures: 1})
	var errs atomic.Int64
	l := ratelimit.NewRedis(redistest.Standalone(t), []ratelimit.Limit{ratelimit.PerSecond(5)}, ratelimit.RedisOptions{
		Prefix: redistest.Prefix(t), Breaker: br, Failure: ratelimit.FailClosed, Budget: 5 * time.Second,
		Hooks: ratelimit.Hooks{OnError: func(string, error) { errs.Add(1) }},
	})
	ctx := context.Background()
	r, err := l.Allow(ctx, "k")
	require.NoError(t, err)
	assert.False(t, r.Fallback)
	br.ForceOpen()
	r, err = l.Allow(ctx, "k")
	require.NoError(t, err)
	assert.True(t, r.Fallback)
	assert.False(t, r.Allowed)
	assert.Positive(t, r.RetryAfter)
	assert.Zero(t, errs.Load(), "a breaker rejection is not a Redis error")
	br.Reset()
	r, err = l.Allow(ctx, "k")
	require.NoError(t, err)
	assert.False(t, r.Fallback)
}

func TestRedis_CallerContext(t *testing.T) {
	l := ratelimit.NewRedis(redistest.Standalone(t), []ratelimit.Limit{ratelimit.PerSecond(5)},
		ratelimit.RedisOptions{Prefix: redistest.Prefix(t)})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := l.Allow(ctx, "k")
	assert.ErrorIs(t, err, context.Canceled)
}

func TestRedis_Hooks(t *testing.T) {
	var mu sync.Mutex
	var got []string
	record := func(s string) func(string, ratelimit.Result) {
		return func(key string, _ ratelimit.Result) {
			mu.Lock()
			got = append(got, s+":"+key)
			mu.Unlock()
		}
	}
	hooks := ratelimit.Hooks{OnAllowed: record("allowed"), OnDenied: record("denied")}
	for _, l := range []ratelimit.Limiter{
		ratelimit.NewMemory([]ratelimit.Limit{ratelimit.PerMinute(1)}, ratelimit.MemoryOptions{Hooks: hooks}),
		ratelimit.NewRedis(redistest.Standalone(t), []ratelimit.Limit{ratelimit.PerMinute(1)},
			ratelimit.RedisOptions{Prefix: redistest.Prefix(t), Hooks: hooks, Budget: 5 * time.Second}),
	} {
		got = nil
		for range 2 {
			_, err := l.Allow(context.Background(), "k")
			require.NoError(t, err)
		}
		assert.Equal(t, []string{"allowed:k", "denied:k"}, got)
	}
}

// TestRedis_ClusterFailover promotes the replica serving a key: decisions continue (in
// fallback during the switch at worst) and return to Redis, where the script is loaded again.
func TestRedis_ClusterFailover(t *testing.T) {
	nodes := redistest.StartCluster(t)
	c := nodes.Client(t)
	l := ratelimit.NewRedis(c, []ratelimit.Limit{ratelimit.PerHour(1000)}, ratelimit.RedisOptions{Budget: time.Second})
	ctx := context.Background()
	for range 3 {
		r, err := l.Allow(ctx, "k")
		require.NoError(t, err)
		require.False(t, r.Fallback)
	}
	nodes.Failover(t, l.Keys("k")[0], c)
	require.Eventually(t, func() bool {
		r, err := l.Allow(ctx, "k")
		return err == nil && !r.Fallback && r.Allowed
	}, 15*time.Second, 20*time.Millisecond)
	r, err := l.AllowN(ctx, "k", 0)
	require.NoError(t, err)
	assert.False(t, r.Fallback)
	assert.Less(t, r.Remaining, 997, "state survived the failover")
}

// TestRedis_Batching runs 128 goroutines on a private server and counts script calls: queued
// decisions went to Redis together, and every decision is still exact.
func TestRedis_Batching(t *testing.T) {
	s := redistest.StartServer(t, redistest.ServerOptions{})
	c := s.Client(t)
	ctx := context.Background()
	l := ratelimit.NewRedis(c, []ratelimit.Limit{ratelimit.PerHour(1000)}, ratelimit.RedisOptions{Budget: 10 * time.Second})
	var wg sync.WaitGroup
	var admitted, bad atomic.Int64
	for i := range 128 {
		wg.Go(func() {
			for range 20 {
				r, err := l.Allow(ctx, "k"+strconv.Itoa(i%4))
				switch {
				case err != nil || r.Fallback:
					bad.Add(1)
				case r.Allowed:
					admitted.Add(1)
				}
			}
		})
	}
	wg.Wait()
	require.Zero(t, bad.Load())
	assert.Equal(t, int64(128*20), admitted.Load(), "4 keys × burst 1000: all 2560 admitted")
	info, err := c.Info(ctx, "commandstats").Result()
	require.NoError(t, err)
	calls := 0
	for _, line := range strings.Split(info, "\n") {
		if strings.HasPrefix(line, "cmdstat_evalsha:") || strings.HasPrefix(line, "cmdstat_eval:") {
			v := strings.TrimPrefix(strings.SplitN(line, ",", 2)[0], "cmdstat_evalsha:calls=")
			v = strings.TrimPrefix(v, "cmdstat_eval:calls=")
			n, err := strconv.Atoi(v)
			require.NoError(t, err)
			calls += n
		}
	}
	t.Logf("%d decisions in %d script calls", 128*20, calls)
	assert.Less(t, calls, 128*20/2, "decisions were batched")
}

// senderGoroutines counts the goroutines a Redis limiter keeps for round trips.
func senderGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "created by github.com/sinew-dev/sinew/ratelimit.(*batcher).send")
}

// TestRedis_CloseStopsSenders: with a client that does not bound reads by the context, round
// trips run on long-lived sender goroutines, at most 2, which Close ends; decisions after Close
// still work. With ContextTimeoutEnabled no goroutine is started.
func TestRedis_CloseStopsSenders(t *testing.T) {
	ctx := context.Background()
	addr := redistest.Standalone(t).Options().Addr
	for _, ctxTimeout := range []bool{false, true} {
		t.Run("ContextTimeoutEnabled="+strconv.FormatBool(ctxTimeout), func(t *testing.T) {
			c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: ctxTimeout})
			t.Cleanup(func() { _ = c.Close() })
			before := senderGoroutines()
			l := ratelimit.NewRedis(c, []ratelimit.Limit{ratelimit.PerHour(1000)},
				ratelimit.RedisOptions{Prefix: redistest.Prefix(t), Budget: 5 * time.Second})
			var wg sync.WaitGroup
			for range 16 {
				wg.Go(func() {
					for range 10 {
						r, err := l.Allow(ctx, "k")
						assert.NoError(t, err)
						assert.False(t, r.Fallback)
					}
				})
			}
			wg.Wait()
			running := senderGoroutines() - before
			if ctxTimeout {
				assert.Zero(t, running)
			} else {
				assert.Positive(t, running)
				assert.LessOrEqual(t, running, 2)
			}
			require.NoError(t, l.Close())
			for i := 0; i < 1000 && senderGoroutines() != before; i++ {
				time.Sleep(time.Millisecond) // Close waited; let the goroutines leave the scheduler
			}
			assert.Equal(t, before, senderGoroutines(), "Close ended the senders")
			r, err := l.Allow(ctx, "k")
			require.NoError(t, err)
			assert.True(t, r.Allowed)
			assert.False(t, r.Fallback, "a closed limiter still decides on Redis")
			require.NoError(t, l.Close(), "Close is idempotent")
		})
	}
}
