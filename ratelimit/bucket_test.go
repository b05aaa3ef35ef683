package ratelimit_test

import (
	"context"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sinew-dev/sinew/ratelimit"
)

// TestTokenBucket_SameDecisionsAsGCRA is a differential test: on random arrivals (times going
// back a little now and then, as a coarse clock's may), random n and several limits, the
// in-memory token bucket returns exactly GCRA's Results.
func TestTokenBucket_SameDecisionsAsGCRA(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	cases := []struct {
		name   string
		limits []ratelimit.Limit
	}{
		{"one", []ratelimit.Limit{ratelimit.Every(3, 100*time.Millisecond)}},
		{"burst", []ratelimit.Limit{ratelimit.Every(10, time.Second).WithBurst(25)}},
		{"multi", []ratelimit.Limit{ratelimit.Every(3, 100*time.Millisecond), ratelimit.Every(10, time.Second).WithBurst(5)}},
		{"odd-interval", []ratelimit.Limit{ratelimit.Every(7, 1000*time.Nanosecond+3), ratelimit.Every(1000, time.Hour)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gcra := ratelimit.NewMemory(tc.limits, ratelimit.MemoryOptions{})
			bucket := ratelimit.NewMemory(tc.limits, ratelimit.MemoryOptions{Algorithm: ratelimit.TokenBucket})
			base := time.Now()
			step := tc.limits[0].Period / time.Duration(tc.limits[0].Rate)
			var at time.Duration
			admitted := 0
			for i := range 5000 {
				at += time.Duration(rng.Int64N(int64(2*step))) - step/8
				at = max(at, 0)
				key := "k" + strconv.Itoa(rng.IntN(3))
				n := rng.IntN(4)
				if rng.IntN(500) == 0 {
					at += 10 * time.Hour // everything refills
				}
				want := gcra.AllowNAt(base.Add(at), key, n)
				got := bucket.AllowNAt(base.Add(at), key, n)
				require.Equal(t, want, got, "decision %d: %s n=%d at %v", i, key, n, at)
				if got.Allowed && n > 0 {
					admitted++
				}
			}
			assert.Greater(t, admitted, 100, "the test admits and denies")
		})
	}
}

// TestRedis_TokenBucketState checks the Redis representation: one hash {t, ts} per limit, the
// tokens left, a TTL of the time to refill, and nothing written by a denial.
func TestRedis_TokenBucketState(t *testing.T) {
	for _, b := range redisBackends() {
		if !strings.HasPrefix(b.name, "algo=token-bucket/") {
			continue
		}
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			c := clientOf(t, b)
			l := b.new(t, []ratelimit.Limit{ratelimit.PerHour(10), ratelimit.PerDay(100).WithBurst(20)}).(*ratelimit.Redis)
			assert.Contains(t, l.Keys("u")[0], "}:tb:10/1h0m0s/10")
			r, err := l.AllowN(ctx, "u", 4)
			require.NoError(t, err)
			require.True(t, r.Allowed)
			assert.Equal(t, 6, r.Remaining)
			near(t, 24*time.Minute, r.ResetAfter, time.Second)

			h, err := c.HGetAll(ctx, l.Keys("u")[0]).Result()
			require.NoError(t, err)
			tokens, err := strconv.ParseFloat(h["t"], 64)
			require.NoError(t, err)
			assert.InDelta(t, 6, tokens, 1e-6)
			assert.NotEmpty(t, h["ts"])
			pttl, err := c.PTTL(ctx, l.Keys("u")[0]).Result()
			require.NoError(t, err)
			near(t, 24*time.Minute, pttl, time.Second)
			h2, err := c.HGetAll(ctx, l.Keys("u")[1]).Result()
			require.NoError(t, err)
			tokens, err = strconv.ParseFloat(h2["t"], 64)
			require.NoError(t, err)
			assert.InDelta(t, 16, tokens, 1e-6)

			r, err = l.AllowN(ctx, "u", 7)
			require.NoError(t, err)
			assert.False(t, r.Allowed)
			near(t, 6*time.Minute, r.RetryAfter, time.Second)
			again, err := c.HGetAll(ctx, l.Keys("u")[0]).Result()
			require.NoError(t, err)
			assert.Equal(t, h, again, "a denial writes nothing")
		})
	}
}
