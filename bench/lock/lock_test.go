// Package lock_test compares sinew's lock package with bsm/redislock and
// go-redsync/redsync: one uncontended Obtain+Release cycle against a single
// Redis server, and (sinew and redsync, which implement Redlock) against
// three independent servers. sinew issues a fencing token in every cycle;
// the others have none. On three servers sinew makes one more parallel
// round trip to synchronise the quorum's token counters when the servers
// issued different tokens, which they do not when the key was taken less
// than 5ms earlier, as in these loops; RedlockOptions.
// UnsyncedTokens skips it always (impl=sinew-unsynced).
//
//	cd bench && go test -run '^$' -bench . -benchtime 200ms -count 6 ./lock/ | tee lock.txt
//	benchstat -col /impl lock.txt
//
// On a shared machine the load drifts between sub-benchmarks;
// BenchmarkObtainReleaseInterleaved runs the implementations' cycles in
// turn within each iteration and reports each one's mean cycle time
// (µs/cycle-<impl>), so drift affects them alike.
package lock_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/bsm/redislock"
	"github.com/go-redsync/redsync/v4"
	redsyncredis "github.com/go-redsync/redsync/v4/redis"
	"github.com/go-redsync/redsync/v4/redis/goredis/v9"
	"github.com/redis/go-redis/v9"

	"github.com/sinew-dev/sinew/internal/redistest"
	"github.com/sinew-dev/sinew/lock"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// cycle is one Obtain+Release of key.
type cycle func(ctx context.Context, key string) error

func sinewCycle(b lock.Backend) cycle {
	l := lock.New(b, lock.Options{})
	return func(ctx context.Context, key string) error {
		lk, err := l.Obtain(ctx, key, time.Minute, lock.ObtainOptions{})
		if err != nil {
			return err
		}
		return lk.Release(ctx)
	}
}

func redislockCycle(rdb *redis.Client) cycle {
	c := redislock.New(rdb)
	return func(ctx context.Context, key string) error {
		lk, err := c.Obtain(ctx, key, time.Minute, nil)
		if err != nil {
			return err
		}
		return lk.Release(ctx)
	}
}

func redsyncCycle(rdbs ...*redis.Client) cycle {
	pools := make([]redsyncredis.Pool, len(rdbs))
	for i, r := range rdbs {
		pools[i] = goredis.NewPool(r)
	}
	rs := redsync.New(pools...)
	return func(ctx context.Context, key string) error {
		m := rs.NewMutex(key, redsync.WithExpiry(time.Minute), redsync.WithTries(1))
		if err := m.LockContext(ctx); err != nil {
			return err
		}
		_, err := m.UnlockContext(ctx)
		return err
	}
}

func servers(b *testing.B, n int) []*redis.Client {
	out := make([]*redis.Client, n)
	for i := range out {
		out[i] = redistest.StartServer(b, redistest.ServerOptions{}).Client(b)
	}
	return out
}

// impls returns the implementations on one server and on three.
func impls(b *testing.B) []impl {
	one := servers(b, 1)
	three := servers(b, 3)
	sinewRedlock := make([]*lock.Redis, len(three))
	for i, c := range three {
		sinewRedlock[i] = lock.NewRedis(c, lock.RedisOptions{})
	}
	return []impl{
		{"sinew", 1, sinewCycle(lock.NewRedis(one[0], lock.RedisOptions{}))},
		{"redislock", 1, redislockCycle(one[0])},
		{"redsync", 1, redsyncCycle(one[0])},
		{"sinew", 3, sinewCycle(lock.NewRedlock(sinewRedlock, lock.RedlockOptions{}))},
		{"sinew-unsynced", 3, sinewCycle(lock.NewRedlock(sinewRedlock, lock.RedlockOptions{UnsyncedTokens: true}))},
		{"redsync", 3, redsyncCycle(three...)},
	}
}

type impl struct {
	name  string
	nodes int
	cycle cycle
}

func BenchmarkObtainRelease(b *testing.B) {
	for _, c := range impls(b) {
		b.Run("impl="+c.name+"/nodes="+string(rune('0'+c.nodes)), func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := c.cycle(ctx, "bench:"+c.name); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkObtainReleaseInterleaved runs one cycle of every implementation
// per iteration, in a random order, and reports each one's mean
// and median cycle time (µs/cycle-<impl>, µs-median-<impl>), so that drift
// and the VM's pauses affect them alike; the median is the steadier figure
// on a noisy machine. Each key is then taken about once per iteration.
//
//	cd bench && go test -run '^$' -bench Interleaved -benchtime 5000x -count 6 ./lock/
func BenchmarkObtainReleaseInterleaved(b *testing.B) {
	for _, nodes := range []int{1, 3} {
		b.Run("nodes="+string(rune('0'+nodes)), func(b *testing.B) {
			var cs []impl
			for _, c := range impls(b) {
				if c.nodes == nodes {
					cs = append(cs, c)
				}
			}
			ctx := context.Background()
			times := make([][]time.Duration, len(cs))
			b.ReportAllocs()
			// A fresh order every iteration, so each implementation follows
			// each other equally often. With a fixed rotation sinew
			// followed redsync in two cycles of three and measured 3-6%
			// slower than redislock, while head to head (the two alone,
			// either order) it measured 0-5% faster: what ran just before
			// a cycle matters on this 2-core VM.
			rng := rand.New(rand.NewPCG(1, 2))
			order := make([]int, len(cs))
			for i := range order {
				order[i] = i
			}
			for b.Loop() {
				rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
				for _, i := range order {
					start := time.Now()
					if err := cs[i].cycle(ctx, "bench:"+cs[i].name); err != nil {
						b.Fatal(err)
					}
					times[i] = append(times[i], time.Since(start))
				}
			}
			for i, c := range cs {
				var total time.Duration
				for _, d := range times[i] {
					total += d
				}
				slices.Sort(times[i])
				b.ReportMetric(float64(total.Nanoseconds())/1e3/float64(len(times[i])), "µs/cycle-"+c.name)
				b.ReportMetric(float64(times[i][len(times[i])/2].Nanoseconds())/1e3, "µs-median-"+c.name)
			}
		})
	}
}
