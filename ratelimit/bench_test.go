package ratelimit_test

import (
	"context"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sinew-dev/sinew/internal/redistest"
	"github.com/sinew-dev/sinew/ratelimit"
)

// BenchmarkMemoryAllow measures the in-memory limiter on one key and on 1024 keys in parallel,
// with one limit and with two, reading the system clock on every decision (clock=system) or a
// coarse clock refreshed every millisecond (clock=coarse, [ratelimit.MemoryOptions.Tick]).
func BenchmarkMemoryAllow(b *testing.B) {
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "user:" + strconv.Itoa(i)
	}
	ctx := context.Background()
	for _, clock := range []struct {
		name string
		tick time.Duration
	}{{"system", 0}, {"coarse", time.Millisecond}} {
		for _, nl := range []int{1, 2} {
			limits := []ratelimit.Limit{ratelimit.PerSecond(1 << 30), ratelimit.PerHour(1 << 30)}[:nl]
			opts := ratelimit.MemoryOptions{Tick: clock.tick}
			name := "impl=memory/clock=" + clock.name + "/limits=" + strconv.Itoa(nl)
			b.Run(name+"/mode=serial", func(b *testing.B) {
				l := ratelimit.NewMemory(limits, opts)
				defer func() { _ = l.Close() }()
				b.ReportAllocs()
				cpu0 := cpuTime()
				for b.Loop() {
					_, _ = l.Allow(ctx, "user:42")
				}
				b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
			})
			b.Run(name+"/mode=parallel", func(b *testing.B) {
				l := ratelimit.NewMemory(limits, opts)
				defer func() { _ = l.Close() }()
				var seq atomic.Int64
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					i := int(seq.Add(1)) * 97
					for pb.Next() {
						i++
						_, _ = l.Allow(ctx, keys[i&1023])
					}
				})
			})
		}
	}
}

// BenchmarkRedisAllow measures the Redis limiter on the standalone test server, serially and
// from 64 goroutines, with a client that bounds reads by the context (ctxclient=true: the
// round trip runs on the caller's goroutine) and with a default client (round trips on the
// limiter's sender goroutines).
func BenchmarkRedisAllow(b *testing.B) {
	ctx := context.Background()
	for _, ctxClient := range []bool{true, false} {
		for _, par := range []int{0, 64} {
			mode := "serial"
			if par > 0 {
				mode = "parallel=" + strconv.Itoa(par)
			}
			b.Run("impl=redis/ctxclient="+strconv.FormatBool(ctxClient)+"/mode="+mode, func(b *testing.B) {
				rdb := redis.NewClient(&redis.Options{Addr: redistest.Standalone(b).Options().Addr, ContextTimeoutEnabled: ctxClient})
				b.Cleanup(func() { _ = rdb.Close() })
				// every call admitted, and each pushes its key's state 100 ms ahead so keys live
				// between calls, as under real limits
				l := ratelimit.NewRedis(rdb, []ratelimit.Limit{{Rate: 10, Period: time.Second, Burst: 1 << 30}},
					ratelimit.RedisOptions{Prefix: redistest.Prefix(b), Budget: 5 * time.Second})
				b.Cleanup(func() { _ = l.Close() })
				b.ReportAllocs()
				var seq atomic.Int64
				if par == 0 {
					for b.Loop() {
						if r, err := l.Allow(ctx, "k"+strconv.Itoa(int(seq.Add(1)&1023))); err != nil || r.Fallback {
							b.Fatal(r, err)
						}
					}
				} else {
					b.SetParallelism(max(1, par/testingProcs()))
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							if r, err := l.Allow(ctx, "k"+strconv.Itoa(int(seq.Add(1)&1023))); err != nil || r.Fallback {
								b.Error(r, err)
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

// testingProcs is GOMAXPROCS as set by -cpu (read, never changed), to spread goroutines.
func testingProcs() int { return runtime.GOMAXPROCS(0) }

// cpuTime returns the CPU time used by the process so far. On a loaded machine, CPU time per
// operation is a steadier figure than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
