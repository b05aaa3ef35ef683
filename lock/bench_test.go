package lock_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/sinew-dev/sinew/internal/redistest"
	"github.com/sinew-dev/sinew/lock"
)

// BenchmarkObtainRelease measures one uncontended Obtain+Release cycle
// (two round trips on Redis, fencing token included).
//
//	go test -run '^$' -bench ObtainRelease -benchtime 200ms -count 3 ./lock/
func BenchmarkObtainRelease(b *testing.B) {
	for _, c := range []struct {
		name    string
		backend func(b *testing.B) lock.Backend
	}{
		{"memory", func(*testing.B) lock.Backend { return lock.NewMemory() }},
		{"standalone", func(b *testing.B) lock.Backend {
			return lock.NewRedis(redistest.Standalone(b), lock.RedisOptions{Prefix: redistest.Prefix(b)})
		}},
	} {
		b.Run("impl=sinew/backend="+c.name, func(b *testing.B) {
			l := lock.New(c.backend(b), lock.Options{})
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				lk, err := l.Obtain(ctx, "bench", time.Minute, lock.ObtainOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if err := lk.Release(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkObtainReleaseParallel runs cycles on distinct keys from many
// goroutines.
func BenchmarkObtainReleaseParallel(b *testing.B) {
	l := lock.New(lock.NewRedis(redistest.Standalone(b), lock.RedisOptions{Prefix: redistest.Prefix(b)}), lock.Options{})
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		key := strconv.FormatUint(uint64(time.Now().UnixNano()), 36)
		for pb.Next() {
			lk, err := l.Obtain(ctx, key, time.Minute, lock.ObtainOptions{})
			if err != nil {
				b.Error(err)
				return
			}
			if err := lk.Release(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkFenceAdmit(b *testing.B) {
	f := lock.NewFence()
	var tok uint64
	b.ReportAllocs()
	for b.Loop() {
		tok++
		_ = f.Admit("r", tok)
	}
}
