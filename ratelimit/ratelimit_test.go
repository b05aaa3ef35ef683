package ratelimit_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sinew-dev/sinew/internal/redistest"
	"github.com/sinew-dev/sinew/ratelimit"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// backend makes limiters of one kind for a test.
type backend struct {
	name string
	new  func(t *testing.T, limits []ratelimit.Limit) ratelimit.Limiter
}

// redisBackends are the Redis limiters, standalone and Cluster, under GCRA and the token
// bucket (which decide alike).
func redisBackends() []backend {
	var out []backend
	for _, b := range allBackends() {
		if strings.Contains(b.name, "/redis=") {
			out = append(out, b)
		}
	}
	return out
}

// allBackends are GCRA and the token bucket, which make the same decisions, on every backend:
// in memory with each clock, and on Redis standalone and Cluster.
func allBackends() []backend {
	var out []backend
	for _, algo := range []ratelimit.Algorithm{ratelimit.GCRA, ratelimit.TokenBucket} {
		for _, b := range algoBackends(algo) {
			b.name = "algo=" + algo.String() + "/" + b.name
			out = append(out, b)
		}
	}
	return out
}

// near asserts that got is within tol of want.
func near(t *testing.T, want, got, tol time.Duration) {
	t.Helper()
	assert.InDelta(t, float64(want), float64(got), float64(tol), "want %v got %v", want, got)
}

func TestLimiter_BurstThenDeny(t *testing.T) {
	for _, b := range allBackends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			l := b.new(t, []ratelimit.Limit{ratelimit.PerMinute(3)})
			for i := range 3 {
				r, err := l.Allow(ctx, "alice")
				require.NoError(t, err)
				assert.True(t, r.Allowed, "call %d", i)
				assert.Equal(t, 2-i, r.Remaining)
				assert.Equal(t, ratelimit.PerMinute(3), r.Limit)
				assert.Zero(t, r.RetryAfter)
				assert.False(t, r.Fallback)
				near(t, time.Duration(i+1)*20*time.Second, r.ResetAfter, time.Second)
			}
			r, err := l.Allow(ctx, "alice")
			require.NoError(t, err)
			assert.False(t, r.Allowed)
			assert.Equal(t, 0, r.Remaining)
			near(t, 20*time.Second, r.RetryAfter, time.Second)
			near(t, 60*time.Second, r.ResetAfter, time.Second)

			// another key is independent
			r, err = l.Allow(ctx, "bob")
			require.NoError(t, err)
			assert.True(t, r.Allowed)
		})
	}
}

func TestLimiter_AllowN(t *testing.T) {
	for _, b := range allBackends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			l := b.new(t, []ratelimit.Limit{ratelimit.PerHour(10)})
			r, err := l.AllowN(ctx, "k", 7)
			require.NoError(t, err)
			assert.True(t, r.Allowed)
			assert.Equal(t, 3, r.Remaining)

			r, err = l.AllowN(ctx, "k", 4)
			require.NoError(t, err)
			assert.False(t, r.Allowed, "4 > 3 remaining")
			assert.Equal(t, 3, r.Remaining, "a denial consumes nothing")
			near(t, 6*time.Minute, r.RetryAfter, time.Second)

			r, err = l.AllowN(ctx, "k", 0)
			require.NoError(t, err)
			assert.True(t, r.Allowed)
			assert.Equal(t, 3, r.Remaining, "n=0 only reports")

			r, err = l.AllowN(ctx, "k", 3)
			require.NoError(t, err)
			assert.True(t, r.Allowed)
			assert.Equal(t, 0, r.Remaining)

			_, err = l.AllowN(ctx, "k", 11)
			assert.ErrorIs(t, err, ratelimit.ErrExceedsBurst)
		})
	}
}

func TestLimiter_MultiLimitAtomic(t *testing.T) {
	for _, b := range allBackends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			minute, hour := ratelimit.PerMinute(3), ratelimit.PerHour(5)
			l := b.new(t, []ratelimit.Limit{minute, hour})
			assert.Equal(t, []ratelimit.Limit{minute, hour}, l.Limits())

			for range 3 {
				r, err := l.Allow(ctx, "user")
				require.NoError(t, err)
				assert.True(t, r.Allowed)
			}
			// the minute limit denies; the hour limit must not be charged
			for range 5 {
				r, err := l.Allow(ctx, "user")
				require.NoError(t, err)
				assert.False(t, r.Allowed)
				assert.Equal(t, minute, r.Limit)
			}
			// two events fit the hour limit, none the minute one: the denial names the minute
			// limit with its wait, and consumes nothing from either
			r, err := l.AllowN(ctx, "user", 2)
			require.NoError(t, err)
			assert.False(t, r.Allowed)
			assert.Equal(t, minute, r.Limit)
			near(t, 40*time.Second, r.RetryAfter, time.Second)

			// with a burst of 3, asking 3 more is denied by both; the hour limit waits longest
			r, err = l.AllowN(ctx, "user", 3)
			require.NoError(t, err)
			assert.False(t, r.Allowed)
			assert.Equal(t, hour, r.Limit)
			near(t, 12*time.Minute, r.RetryAfter, time.Second)

			require.NoError(t, l.Reset(ctx, "user"))
			r, err = l.AllowN(ctx, "user", 3)
			require.NoError(t, err)
			assert.True(t, r.Allowed)
			assert.Equal(t, minute, r.Limit, "binding: fewest remaining")
			assert.Equal(t, 0, r.Remaining)
		})
	}
}

func TestLimiter_BindingLimitIsFewestRemaining(t *testing.T) {
	for _, b := range allBackends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			small, big := ratelimit.PerHour(2), ratelimit.PerSecond(100)
			l := b.new(t, []ratelimit.Limit{big, small})
			r, err := l.Allow(ctx, "k")
			require.NoError(t, err)
			assert.Equal(t, small, r.Limit)
			assert.Equal(t, 1, r.Remaining)
		})
	}
}

// everyBackend is every algorithm on every backend.
func everyBackend() []backend {
	var out []backend
	for _, algo := range []ratelimit.Algorithm{ratelimit.GCRA, ratelimit.TokenBucket, ratelimit.SlidingWindow, ratelimit.FixedWindow} {
		for _, b := range algoBackends(algo) {
			b.name = "algo=" + algo.String() + "/" + b.name
			out = append(out, b)
		}
	}
	return out
}

// long is a limit of one event whose windows (aligned to the epoch) are 1000 hours long, so no
// window ends during a test.
var long = ratelimit.Every(1, 1000*time.Hour)

func TestLimiter_Wait(t *testing.T) {
	for _, b := range everyBackend() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			l := b.new(t, []ratelimit.Limit{long})
			require.NoError(t, l.Wait(ctx, "k"))

			dctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			err := l.Wait(dctx, "k")
			assert.ErrorIs(t, err, ratelimit.ErrWouldExceedDeadline)
			assert.ErrorIs(t, err, context.DeadlineExceeded)

			cctx, cancel2 := context.WithCancel(ctx)
			cancel2()
			assert.ErrorIs(t, l.Wait(cctx, "k"), context.Canceled)

			assert.ErrorIs(t, l.WaitN(ctx, "k", 2), ratelimit.ErrExceedsBurst)
		})
	}
}

func TestLimiter_KeysWithBraces(t *testing.T) {
	for _, b := range everyBackend() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			l := b.new(t, []ratelimit.Limit{long, ratelimit.Every(2, 2000*time.Hour)})
			for _, key := range []string{"", "}", "{x}", "a}b{c", "{}", "ünï cödé"} {
				r, err := l.Allow(ctx, key)
				require.NoError(t, err, "key %q", key)
				assert.True(t, r.Allowed, "key %q", key)
				r, err = l.Allow(ctx, key)
				require.NoError(t, err)
				assert.False(t, r.Allowed, "key %q", key)
			}
		})
	}
}

// TestLimiter_ShortPeriod runs a limit of one event per millisecond: the keys must expire (a
// TTL of at least 1 ms, never "no TTL") and admission resume.
func TestLimiter_ShortPeriod(t *testing.T) {
	for _, b := range everyBackend() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			l := b.new(t, []ratelimit.Limit{ratelimit.Every(1, time.Millisecond)})
			c := clientOf(t, b)
			admitted := 0
			start := time.Now()
			for admitted < 3 && time.Since(start) < 10*time.Second {
				r, err := l.Allow(ctx, "fast")
				require.NoError(t, err)
				if r.Allowed {
					admitted++
				}
				assertTTLs(t, c, l, "fast")
			}
			elapsed := time.Since(start)
			assert.Equal(t, 3, admitted, "admission resumes after 1 ms")
			assert.LessOrEqual(t, admitted, 2+int(elapsed/time.Millisecond), "windows touched")
		})
	}
}

func TestLimiter_DayPeriodTTL(t *testing.T) {
	for _, b := range redisBackends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			l := b.new(t, []ratelimit.Limit{ratelimit.PerDay(2), ratelimit.Every(1, 500*time.Microsecond)})
			r, err := l.Allow(ctx, "d")
			require.NoError(t, err)
			require.True(t, r.Allowed)
			rl := l.(*ratelimit.Redis)
			pttl, err := clientOf(t, b).PTTL(ctx, rl.Keys("d")[0]).Result()
			require.NoError(t, err)
			near(t, 12*time.Hour, pttl, time.Minute)
		})
	}
}

// clientOf returns a plain client on the backend's server, for inspecting keys.
func clientOf(t *testing.T, b backend) redis.Cmdable {
	switch {
	case strings.HasSuffix(b.name, "redis=cluster"):
		return redistest.Cluster(t)
	case strings.HasSuffix(b.name, "redis=standalone"):
		return redistest.Standalone(t)
	}
	return nil
}

// assertTTLs checks that every key of key either does not exist or has a TTL.
func assertTTLs(t *testing.T, c redis.Cmdable, l ratelimit.Limiter, key string) {
	t.Helper()
	rl, ok := l.(*ratelimit.Redis)
	if !ok {
		return
	}
	for _, k := range rl.Keys(key) {
		d, err := c.PTTL(context.Background(), k).Result()
		require.NoError(t, err)
		assert.NotEqual(t, time.Duration(-1), d, "key %s has no TTL", k)
	}
}

func TestRedis_TTLOnEveryPath(t *testing.T) {
	for _, b := range redisBackends() {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			c := clientOf(t, b)
			l := b.new(t, []ratelimit.Limit{ratelimit.PerSecond(2), ratelimit.PerMinute(5)}).(*ratelimit.Redis)
			check := func(step string) {
				for _, k := range l.Keys("t") {
					d, err := c.PTTL(ctx, k).Result()
					require.NoError(t, err)
					assert.NotEqual(t, time.Duration(-1), d, "%s: %s has no TTL", step, k)
				}
			}
			_, err := l.AllowN(ctx, "t", 0)
			require.NoError(t, err)
			check("peek on empty")
			for range 2 {
				_, err = l.Allow(ctx, "t")
				require.NoError(t, err)
				check("allowed")
			}
			r, err := l.Allow(ctx, "t")
			require.NoError(t, err)
			assert.False(t, r.Allowed)
			check("denied")
			n, err := c.Exists(ctx, l.Keys("t")...).Result()
			require.NoError(t, err)
			assert.Equal(t, int64(2), n, "one key per limit")
			for _, k := range l.Keys("t") {
				d, err := c.PTTL(ctx, k).Result()
				require.NoError(t, err)
				assert.Greater(t, d, time.Duration(0))
			}
			require.NoError(t, l.Reset(ctx, "t"))
			n, err = c.Exists(ctx, l.Keys("t")...).Result()
			require.NoError(t, err)
			assert.Zero(t, n)
		})
	}
}

func TestRedis_KeysShareASlotAndPrefix(t *testing.T) {
	l := ratelimit.NewRedis(redistest.Standalone(t),
		[]ratelimit.Limit{ratelimit.PerMinute(5), ratelimit.PerHour(100).WithBurst(10)}, ratelimit.RedisOptions{})
	assert.Equal(t, []string{"ratelimit:{alice}:5/1m0s/5", "ratelimit:{alice}:100/1h0m0s/10"}, l.Keys("alice"))
	keys := l.Keys("a}b")
	require.Len(t, keys, 2)
	assert.Equal(t, redisSlot(keys[0]), redisSlot(keys[1]))
	assert.NotEqual(t, redisSlot(l.Keys("x")[0]), redisSlot(l.Keys("y")[0]), "keys are not all on one slot")
	assert.Panics(t, func() {
		ratelimit.NewRedis(redistest.Standalone(t), []ratelimit.Limit{ratelimit.PerSecond(1)},
			ratelimit.RedisOptions{Prefix: "a{b}:"})
	})
}

// redisSlot is the hash-tag part of a key, which decides its Cluster slot.
func redisSlot(key string) string {
	for i := 0; i < len(key); i++ {
		if key[i] == '{' {
			for j := i + 1; j < len(key); j++ {
				if key[j] == '}' {
					if j > i+1 {
						return key[i+1 : j]
					}
					return key
				}
			}
			return key
		}
	}
	return key
}

// TestRedis_ScriptFlush removes the script from the server between calls, alone and batched:
// decisions continue from Redis, with no error and no fallback.
func TestRedis_ScriptFlush(t *testing.T) {
	ctx := context.Background()
	flushers := map[bool]func(){
		false: func() { require.NoError(t, redistest.Standalone(t).ScriptFlush(ctx).Err()) },
		true: func() {
			require.NoError(t, redistest.Cluster(t).ForEachShard(ctx, func(ctx context.Context, c *redis.Client) error {
				return c.ScriptFlush(ctx).Err()
			}))
		},
	}
	for _, b := range redisBackends() {
		t.Run(b.name, func(t *testing.T) {
			var errs atomic.Int64
			limits := []ratelimit.Limit{ratelimit.PerHour(1000)}
			cluster := strings.HasSuffix(b.name, "redis=cluster")
			var client ratelimit.Client = redistest.Standalone(t)
			if cluster {
				client = redistest.Cluster(t)
			}
			algo := ratelimit.GCRA
			if strings.HasPrefix(b.name, "algo=token-bucket/") {
				algo = ratelimit.TokenBucket
			}
			l := ratelimit.NewRedis(client, limits, ratelimit.RedisOptions{
				Prefix: redistest.Prefix(t), Budget: 5 * time.Second, Algorithm: algo,
				Hooks: ratelimit.Hooks{OnError: func(string, error) { errs.Add(1) }}})
			for i := range 3 {
				flushers[cluster]()
				r, err := l.Allow(ctx, "k")
				require.NoError(t, err)
				assert.True(t, r.Allowed)
				assert.False(t, r.Fallback, "call %d", i)
				assert.Equal(t, 999-i, r.Remaining)
			}
			// batched: many concurrent calls after a flush
			flushers[cluster]()
			var wg sync.WaitGroup
			var fallbacks atomic.Int64
			for i := range 64 {
				wg.Go(func() {
					r, err := l.Allow(ctx, "k"+string(rune('a'+i%26)))
					if err != nil || r.Fallback || !r.Allowed {
						fallbacks.Add(1)
					}
				})
			}
			wg.Wait()
			assert.Zero(t, fallbacks.Load())
			assert.Zero(t, errs.Load())
		})
	}
}
