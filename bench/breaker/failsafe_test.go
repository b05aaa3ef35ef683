package breaker_test

// failsafe-go's circuitbreaker package needs github.com/bits-and-blooms/bitset in bench/go.sum:
//
//	cd bench && go get github.com/failsafe-go/failsafe-go/circuitbreaker@v0.9.8

import (
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
)

var _ = func() int {
	succeed := func() (int, error) { return 1, nil }
	more = append(more, impl{
		name: "failsafe",
		closed: func() func() bool {
			ex := failsafe.With[int](circuitbreaker.NewWithDefaults[int]())
			return func() bool {
				_, err := ex.Get(succeed)
				return err == nil
			}
		},
		open: func() func() bool {
			cb := circuitbreaker.NewBuilder[int]().WithDelay(time.Hour).Build()
			cb.Open()
			ex := failsafe.With[int](cb)
			return func() bool {
				_, err := ex.Get(succeed)
				return err == nil
			}
		},
	})
	return 0
}()
