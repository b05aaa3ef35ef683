// Package breaker_test compares sinew's breaker with sony/gobreaker/v2 and failsafe-go on the
// two cases that matter on a hot path: a successful call through a Closed breaker, and a call
// rejected by an Open one. Each library is used through its one-call API (breaker.Do,
// CircuitBreaker.Execute, Executor.Get) with its default settings.
//
//	cd bench && go test -run '^$' -bench . -benchmem -cpu 1,2 -count 6 ./breaker/ | tee breaker.txt
//	benchstat -col /impl breaker.txt
package breaker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/sinew-dev/sinew/breaker"
)

var errDown = errors.New("backend down")

// impl makes one call through a breaker; ok reports whether the call ran.
type impl struct {
	name string
	// closed returns a call function through a Closed breaker, open through an Open one.
	closed, open func() func() bool
}

func sinewImpl(name string, opts breaker.Options) impl {
	ctx := context.Background()
	succeed := func(context.Context) (int, error) { return 1, nil }
	return impl{
		name: name,
		closed: func() func() bool {
			b := breaker.New(opts)
			return func() bool {
				_, err := breaker.Do(ctx, b, succeed)
				return err == nil
			}
		},
		open: func() func() bool {
			o := opts
			o.ConsecutiveFailures, o.OpenDuration = 1, time.Hour
			b := breaker.New(o)
			_, _ = breaker.Do(ctx, b, func(context.Context) (int, error) { return 0, errDown })
			return func() bool {
				_, err := breaker.Do(ctx, b, succeed)
				return err == nil
			}
		},
	}
}

func impls() []impl {
	succeed := func() (int, error) { return 1, nil }
	return append([]impl{
		sinewImpl("sinew", breaker.Options{}),
		sinewImpl("sinew-timewindow", breaker.Options{Window: breaker.TimeWindow}),
		{
			name: "gobreaker",
			closed: func() func() bool {
				cb := gobreaker.NewCircuitBreaker[int](gobreaker.Settings{})
				return func() bool {
					_, err := cb.Execute(succeed)
					return err == nil
				}
			},
			open: func() func() bool {
				cb := gobreaker.NewCircuitBreaker[int](gobreaker.Settings{Timeout: time.Hour})
				for range 6 { // default ReadyToTrip: more than 5 consecutive failures
					_, _ = cb.Execute(func() (int, error) { return 0, errDown })
				}
				return func() bool {
					_, err := cb.Execute(succeed)
					return err == nil
				}
			},
		},
	}, more...)
}

// more holds the implementations registered by other files (failsafe_test.go).
var more []impl

func warm(b *testing.B, f func() bool, want bool) {
	for range 1000 {
		if f() != want {
			b.Fatalf("call ran = %v, want %v", !want, want)
		}
	}
}

func BenchmarkClosedSuccess(b *testing.B) {
	for _, im := range impls() {
		b.Run("impl="+im.name, func(b *testing.B) {
			f := im.closed()
			warm(b, f, true)
			b.ReportAllocs()
			for b.Loop() {
				f()
			}
		})
	}
}

func BenchmarkClosedSuccessParallel(b *testing.B) {
	for _, im := range impls() {
		b.Run("impl="+im.name, func(b *testing.B) {
			f := im.closed()
			warm(b, f, true)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					f()
				}
			})
		})
	}
}

func BenchmarkOpenReject(b *testing.B) {
	for _, im := range impls() {
		b.Run("impl="+im.name, func(b *testing.B) {
			f := im.open()
			warm(b, f, false)
			b.ReportAllocs()
			for b.Loop() {
				f()
			}
		})
	}
}

func BenchmarkOpenRejectParallel(b *testing.B) {
	for _, im := range impls() {
		b.Run("impl="+im.name, func(b *testing.B) {
			f := im.open()
			warm(b, f, false)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					f()
				}
			})
		})
	}
}
