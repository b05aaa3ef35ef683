// Package retry_test compares sinew's retry package with cenkalti/backoff/v5
// and avast/retry-go/v5 on the two hot paths: a call whose first attempt
// succeeds, and one delay computation.
//
//	cd bench && go test -run '^$' -bench . -cpu 1,2 -count 6 ./retry/ | tee retry.txt
//	benchstat -col /impl retry.txt
package retry_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	retrygo "github.com/avast/retry-go/v5"
	"github.com/cenkalti/backoff/v5"

	"github.com/sinew-dev/sinew/retry"
)

// op is the operation under test, an indirect call as in every library.
var op = func(context.Context) (int, error) { return 1, nil }

var sink int

func firstTryImpls() []struct {
	name string
	call func(ctx context.Context) int
} {
	policy := retry.New(retry.Options{})
	retrier := retrygo.NewWithData[int](retrygo.Attempts(5), retrygo.Context(context.Background()))
	return []struct {
		name string
		call func(ctx context.Context) int
	}{
		{"direct", func(ctx context.Context) int {
			v, _ := op(ctx)
			return v
		}},
		{"sinew", func(ctx context.Context) int {
			v, _ := retry.Do(ctx, policy, op)
			return v
		}},
		{"cenkalti", func(ctx context.Context) int {
			v, _ := backoff.Retry(ctx, func() (int, error) { return op(ctx) }, backoff.WithMaxTries(5))
			return v
		}},
		{"retrygo", func(ctx context.Context) int {
			v, _ := retrier.Do(func() (int, error) { return op(ctx) })
			return v
		}},
	}
}

// BenchmarkFirstTry: the first attempt succeeds. Each library is set up once
// and reused, as a service would (cenkalti/backoff has no reusable object: its
// Retry takes options per call).
func BenchmarkFirstTry(b *testing.B) {
	ctx := context.Background()
	for _, impl := range firstTryImpls() {
		b.Run("impl="+impl.name, func(b *testing.B) {
			b.ReportAllocs()
			s := 0
			for b.Loop() {
				s += impl.call(ctx)
			}
			sink = s
		})
	}
}

// BenchmarkFirstTryParallel is BenchmarkFirstTry from GOMAXPROCS goroutines
// sharing one policy (vary with -cpu).
func BenchmarkFirstTryParallel(b *testing.B) {
	ctx := context.Background()
	for _, impl := range firstTryImpls() {
		b.Run("impl="+impl.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				s := 0
				for pb.Next() {
					s += impl.call(ctx)
				}
				sink = s
			})
		})
	}
}

// runtimeSource is the source a sinew Policy uses: math/rand/v2's runtime
// generator.
type runtimeSource struct{}

func (runtimeSource) Uint64() uint64 { return rand.Uint64() }

// BenchmarkDelay: one computation of the next wait, exponential from 100ms
// capped at 30s, attempts cycling 1..10. sinew and retry-go use full jitter;
// cenkalti/backoff has only its ±50% randomisation (and a stateful,
// non-thread-safe backoff object, reset every 10 draws here).
func BenchmarkDelay(b *testing.B) {
	const base, maxDelay = 100 * time.Millisecond, 30 * time.Second
	b.Run("impl=sinew", func(b *testing.B) {
		b.ReportAllocs()
		s := retry.FullJitter(base, maxDelay)
		r := rand.New(runtimeSource{})
		var d time.Duration
		attempt := 0
		for b.Loop() {
			attempt = attempt%10 + 1
			d = s(attempt, d, r)
		}
		sink = int(d)
	})
	b.Run("impl=cenkalti", func(b *testing.B) {
		b.ReportAllocs()
		eb := backoff.NewExponentialBackOff()
		eb.InitialInterval, eb.MaxInterval, eb.Multiplier = base, maxDelay, 2
		var d time.Duration
		n := 0
		for b.Loop() {
			if n++; n%10 == 0 {
				eb.Reset()
			}
			d = eb.NextBackOff()
		}
		sink = int(d)
	})
	b.Run("impl=retrygo", func(b *testing.B) {
		b.ReportAllocs()
		r := retrygo.New(retrygo.Delay(base), retrygo.MaxDelay(maxDelay))
		var d time.Duration
		var attempt uint
		for b.Loop() {
			attempt = attempt%10 + 1
			d = retrygo.FullJitterBackoffDelay(attempt, nil, r)
		}
		sink = int(d)
	})
}
