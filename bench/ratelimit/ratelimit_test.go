// Package ratelimit_test compares sinew's Redis limiter with go-redis/redis_rate v10 on the same
// redis-server (started by internal/redistest), with the same limit and keys: one caller at a
// time (serial) and 64 goroutines at once (parallel=64). Both are GCRA in one Lua script; sinew
// pipelines concurrent calls automatically. All use a default go-redis client, except
// impl=sinew-ctxclient, whose client has ContextTimeoutEnabled: sinew then makes the round trip
// on the calling goroutine instead of handing it to one of its sender goroutines (go-redis
// bounds the read by the budget). The in-memory limiter is measured alongside.
//
//	cd bench && go test -run '^$' -bench . -benchmem -count 6 ./ratelimit/ | tee ratelimit.txt
//	benchstat -col /impl ratelimit.txt
package ratelimit_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/sinew-dev/sinew/internal/redistest"
	"github.com/sinew-dev/sinew/ratelimit"
)

func TestMain(m *testing.M) { redistest.Main(m) }

const nkeys = 1024

// benchLimit admits every call of a benchmark (its burst is never reached) while each call
// pushes the key's state 100 ms ahead, so keys live between calls as they do under real limits.
// (With a huge rate instead, the state would expire 1 ms after each call and every call would
// create its key anew.)
var benchLimit = ratelimit.Limit{Rate: 10, Period: time.Second, Burst: 1 << 30}

var keys = func() []string {
	k := make([]string, nkeys)
	for i := range k {
		k[i] = "user:" + strconv.Itoa(i)
	}
	return k
}()

// allow is one decision by one implementation.
type allow func(ctx context.Context, key string) (bool, error)

type impl struct {
	name string
	make func(b *testing.B, rdb *redis.Client, prefix string) allow
}

var impls = []impl{
	{"sinew-ctxclient", func(b *testing.B, rdb *redis.Client, prefix string) allow {
		ctxRDB := redis.NewClient(&redis.Options{Addr: rdb.Options().Addr, ContextTimeoutEnabled: true})
		b.Cleanup(func() { _ = ctxRDB.Close() })
		l := ratelimit.NewRedis(ctxRDB, []ratelimit.Limit{benchLimit}, ratelimit.RedisOptions{Prefix: prefix, Budget: 5 * time.Second, Hooks: ratelimit.Hooks{OnError: func(_ string, err error) { b.Log("redis error: ", err) }}})
		b.Cleanup(func() { _ = l.Close() })
		return func(ctx context.Context, key string) (bool, error) {
			r, err := l.Allow(ctx, key)
			if r.Fallback {
				b.Fatal("fallback decision")
			}
			return r.Allowed, err
		}
	}},
	{"sinew", func(b *testing.B, rdb *redis.Client, prefix string) allow {
		l := ratelimit.NewRedis(rdb, []ratelimit.Limit{benchLimit}, ratelimit.RedisOptions{Prefix: prefix, Budget: 5 * time.Second, Hooks: ratelimit.Hooks{OnError: func(_ string, err error) { b.Log("redis error: ", err) }}})
		b.Cleanup(func() { _ = l.Close() })
		return func(ctx context.Context, key string) (bool, error) {
			r, err := l.Allow(ctx, key)
			if r.Fallback {
				b.Fatal("fallback decision")
			}
			return r.Allowed, err
		}
	}},
	{"redis_rate", func(b *testing.B, rdb *redis.Client, prefix string) allow {
		l := redis_rate.NewLimiter(rdb)
		lim := redis_rate.Limit{Rate: benchLimit.Rate, Period: benchLimit.Period, Burst: benchLimit.Burst}
		return func(ctx context.Context, key string) (bool, error) {
			r, err := l.Allow(ctx, prefix+key, lim)
			if err != nil {
				return false, err
			}
			return r.Allowed > 0, nil
		}
	}},
}

// BenchmarkRedisAllow measures one Allow on a key out of 1024, serially and from 64 goroutines.
// decisions/s is the throughput.
func BenchmarkRedisAllow(b *testing.B) {
	for _, mode := range []struct {
		name     string
		parallel int // goroutines; 0: serial
	}{{"serial", 0}, {"parallel=64", 64}} {
		for _, im := range impls {
			b.Run("impl="+im.name+"/mode="+mode.name, func(b *testing.B) {
				rdb := redistest.Standalone(b)
				fn := im.make(b, rdb, redistest.Prefix(b))
				ctx := context.Background()
				b.ReportAllocs()
				if mode.parallel == 0 {
					i := 0
					for b.Loop() {
						if ok, err := fn(ctx, keys[i%nkeys]); err != nil || !ok {
							b.Fatal(ok, err)
						}
						i++
					}
				} else {
					var next atomic.Int64
					b.SetParallelism(max(1, mode.parallel/testingProcs()))
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							i := next.Add(1)
							if ok, err := fn(ctx, keys[i%nkeys]); err != nil || !ok {
								b.Error(ok, err)
								return
							}
						}
					})
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
			})
		}
	}
}

// BenchmarkMemoryAllow measures sinew's in-memory limiter: one key, and 1024 keys in parallel,
// reading the system clock per decision (clock=system) or a 1 ms coarse clock (clock=coarse).
func BenchmarkMemoryAllow(b *testing.B) {
	ctx := context.Background()
	for _, clock := range []struct {
		name string
		tick time.Duration
	}{{"system", 0}, {"coarse", time.Millisecond}} {
		opts := ratelimit.MemoryOptions{Tick: clock.tick}
		b.Run("impl=sinew-memory/clock="+clock.name+"/mode=serial", func(b *testing.B) {
			l := ratelimit.NewMemory([]ratelimit.Limit{benchLimit}, opts)
			defer func() { _ = l.Close() }()
			b.ReportAllocs()
			for b.Loop() {
				_, _ = l.Allow(ctx, "user:42")
			}
		})
		b.Run("impl=sinew-memory/clock="+clock.name+"/mode=parallel", func(b *testing.B) {
			l := ratelimit.NewMemory([]ratelimit.Limit{benchLimit}, opts)
			defer func() { _ = l.Close() }()
			var next atomic.Int64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := next.Add(1000)
				for pb.Next() {
					i++
					_, _ = l.Allow(ctx, keys[i%nkeys])
				}
			})
		})
	}
}

// BenchmarkRedisAllowInterleaved alternates one call of each implementation per iteration and
// times each, so load drift on a busy machine hits all of them alike. It reports each one's
// mean latency (<impl>-ns/call) and sinew's latency relative to redis_rate.
func BenchmarkRedisAllowInterleaved(b *testing.B) {
	rdb := redistest.Standalone(b)
	prefix := redistest.Prefix(b)
	fns := make([]allow, len(impls))
	for i, im := range impls {
		fns[i] = im.make(b, rdb, prefix+im.name+":")
	}
	ctx := context.Background()
	spent := make([]time.Duration, len(impls))
	i := 0
	for b.Loop() {
		for j, fn := range fns {
			start := time.Now()
			if ok, err := fn(ctx, keys[i%nkeys]); err != nil || !ok {
				b.Fatal(ok, err)
			}
			spent[j] += time.Since(start)
		}
		i++
	}
	for j, im := range impls {
		b.ReportMetric(float64(spent[j].Nanoseconds())/float64(b.N), im.name+"-ns/call")
	}
	rr := spent[len(impls)-1]
	for j, im := range impls[:len(impls)-1] {
		b.ReportMetric(float64(spent[j])/float64(rr), im.name+"/redis_rate")
	}
}
