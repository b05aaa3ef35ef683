package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sinew-dev/sinew/breaker"
)

func ExampleDo() {
	b := breaker.New(breaker.Options{ConsecutiveFailures: 3, OpenDuration: 30 * time.Second})
	errDown := errors.New("connection refused")
	fetch := func(ctx context.Context) (string, error) { return "", errDown }

	for i := range 4 {
		_, err := breaker.Do(context.Background(), b, fetch)
		fmt.Printf("call %d: %v (breaker %v)\n", i+1, err, b.State())
	}
	// Output:
	// call 1: connection refused (breaker closed)
	// call 2: connection refused (breaker closed)
	// call 3: connection refused (breaker open)
	// call 4: breaker: open (breaker open)
}

func ExampleOpenError() {
	b := breaker.New(breaker.Options{ConsecutiveFailures: 1, OpenDuration: time.Minute})
	_, _ = breaker.Do(context.Background(), b, func(context.Context) (int, error) {
		return 0, errors.New("timeout")
	})

	_, err := breaker.Do(context.Background(), b, func(context.Context) (int, error) { return 1, nil })
	var oe *breaker.OpenError
	if errors.As(err, &oe) {
		wait := oe.RetryAfter()
		fmt.Println(errors.Is(err, breaker.ErrOpen), oe.Permanent(), wait > 59*time.Second && wait <= time.Minute)
	}
	// Output:
	// true true true
}

func ExampleBreaker_Allow() {
	b := breaker.New(breaker.Options{})
	// The two-step API, for middleware or streams: Allow before, Done after.
	p, err := b.Allow()
	if err != nil {
		fmt.Println("rejected:", err)
		return
	}
	p.Done(nil) // the call succeeded
	fmt.Println(b.Metrics().Counts.Calls, b.State())
	// Output:
	// 1 closed
}

func ExampleOptions_slowCalls() {
	// Trip when at least half of the last 50 calls took 2 s or more, or failed.
	b := breaker.New(breaker.Options{
		WindowSize:   50,
		MinimumCalls: 10,
		FailureRate:  0.5,
		SlowCall:     2 * time.Second,
		SlowCallRate: 0.5,
	})
	fmt.Println(b.State())
	// Output:
	// closed
}

func ExampleGroup() {
	var log []string
	nodes := breaker.NewGroup(breaker.GroupOptions[string]{
		Breaker: breaker.Options{ConsecutiveFailures: 2},
		OnStateChange: func(node string, from, to breaker.State) {
			log = append(log, fmt.Sprintf("%s: %v -> %v", node, from, to))
		},
	})
	call := func(node string, err error) {
		_, _ = breaker.Do(context.Background(), nodes.Get(node), func(context.Context) (struct{}, error) {
			return struct{}{}, err
		})
	}
	call("node-a", nil)
	call("node-b", errors.New("refused"))
	call("node-b", errors.New("refused"))
	fmt.Println(nodes.Get("node-a").State(), nodes.Get("node-b").State(), nodes.Len())
	fmt.Println(log)
	// Output:
	// closed open 2
	// [node-b: closed -> open]
}

func ExampleBreaker_ForceOpen() {
	b := breaker.New(breaker.Options{})
	b.ForceOpen() // e.g. during maintenance of the backend
	_, err := b.Allow()
	fmt.Println(err)
	b.Reset()
	_, err = b.Allow()
	fmt.Println(err)
	// Output:
	// breaker: forced open
	// <nil>
}
