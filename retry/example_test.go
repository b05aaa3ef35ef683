package retry_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/sinew-dev/sinew/retry"
)

func ExampleDo() {
	policy := retry.New(retry.Options{
		MaxAttempts: 4,
		Backoff:     retry.FullJitter(time.Millisecond, 10*time.Millisecond),
		OnRetry: func(attempt int, err error, _ time.Duration) {
			fmt.Printf("attempt %d failed: %v\n", attempt, err)
		},
	})

	calls := 0
	greeting, err := retry.Do(context.Background(), policy, func(ctx context.Context) (string, error) {
		calls++
		if calls < 3 {
			return "", errors.New("connection refused")
		}
		return "hello", nil
	})
	fmt.Println(greeting, err)
	// Output:
	// attempt 1 failed: connection refused
	// attempt 2 failed: connection refused
	// hello <nil>
}

func ExamplePolicy_Do() {
	policy := retry.New(retry.Options{MaxAttempts: 3, Backoff: retry.Constant(time.Millisecond)})

	errUnavailable := errors.New("unavailable")
	err := policy.Do(context.Background(), func(ctx context.Context) error {
		return errUnavailable
	})
	fmt.Println(err)
	fmt.Println(errors.Is(err, retry.ErrAttemptsExhausted), errors.Is(err, errUnavailable))
	// Output:
	// retry: attempts exhausted after 3 attempts: unavailable
	// true true
}

func ExamplePermanent() {
	policy := retry.New(retry.Options{})
	errNotFound := errors.New("not found")

	calls := 0
	err := policy.Do(context.Background(), func(ctx context.Context) error {
		calls++
		return retry.Permanent(errNotFound) // retrying cannot help
	})
	fmt.Println(calls, errors.Is(err, retry.ErrPermanent), errors.Is(err, errNotFound))
	// Output: 1 true true
}

// A server's Retry-After header becomes the next wait, capped by MaxDelay.
func ExampleAfter() {
	policy := retry.New(retry.Options{
		MaxDelay: 20 * time.Millisecond,
		OnRetry: func(attempt int, err error, delay time.Duration) {
			fmt.Printf("attempt %d: %v; waiting %v\n", attempt, err, delay)
		},
	})

	statuses := []int{http.StatusServiceUnavailable, http.StatusOK}
	err := policy.Do(context.Background(), func(ctx context.Context) error {
		status := statuses[0]
		statuses = statuses[1:]
		if status == http.StatusServiceUnavailable {
			header := http.Header{"Retry-After": {"1"}} // seconds
			secs, _ := strconv.Atoi(header.Get("Retry-After"))
			return retry.After(errors.New("503 Service Unavailable"), time.Duration(secs)*time.Second)
		}
		return nil
	})
	fmt.Println(err)
	// Output:
	// attempt 1: 503 Service Unavailable; waiting 20ms
	// <nil>
}

// A Budget shared by every caller of a dependency keeps retries to a fraction
// of calls once the budget's floor is spent.
func ExampleNewBudget() {
	budget := retry.NewBudget(retry.BudgetOptions{Ratio: 0.5, MinPerSecond: -1})
	policy := retry.New(retry.Options{Budget: budget, Backoff: retry.Constant(0)})

	for range 4 { // four successful calls earn two retries
		_ = policy.Do(context.Background(), func(context.Context) error { return nil })
	}
	calls := 0
	err := policy.Do(context.Background(), func(context.Context) error {
		calls++
		return errors.New("overloaded")
	})
	fmt.Println(calls, err)
	// Output: 3 retry: retry budget exhausted after 3 attempts: overloaded
}

// Strategies are pure functions of the attempt, the previous wait and a random
// source, so a seeded source gives repeatable delays.
func ExampleFullJitter() {
	s := retry.FullJitter(100*time.Millisecond, time.Second)
	r := rand.New(rand.NewPCG(1, 2))
	for attempt := 1; attempt <= 5; attempt++ {
		d := s(attempt, 0, r)
		limit := min(time.Second, 100*time.Millisecond<<(attempt-1))
		fmt.Printf("attempt %d: %v <= d < %v: %v\n", attempt, 0, limit, d < limit)
	}
	// Output:
	// attempt 1: 0 <= d < 100ms: true
	// attempt 2: 0 <= d < 200ms: true
	// attempt 3: 0 <= d < 400ms: true
	// attempt 4: 0 <= d < 800ms: true
	// attempt 5: 0 <= d < 1s: true
}

func ExampleExponential() {
	s := retry.Exponential(100*time.Millisecond, time.Second)
	for attempt := 1; attempt <= 6; attempt++ {
		fmt.Print(s(attempt, 0, nil), " ")
	}
	fmt.Println()
	// Output: 100ms 200ms 400ms 800ms 1s 1s
}

func ExampleDecorrelatedJitter() {
	base := 100 * time.Millisecond
	s := retry.DecorrelatedJitter(base, 5*time.Second)
	r := rand.New(rand.NewPCG(7, 7))
	prev := time.Duration(0) // no wait yet: the formula takes prev = base
	for attempt := 1; attempt <= 4; attempt++ {
		d := s(attempt, prev, r)
		hi := min(5*time.Second, 3*max(prev, base))
		fmt.Printf("attempt %d: base <= d < min(cap, 3·prev): %v\n", attempt, base <= d && d < hi)
		prev = d
	}
	// Output:
	// attempt 1: base <= d < min(cap, 3·prev): true
	// attempt 2: base <= d < min(cap, 3·prev): true
	// attempt 3: base <= d < min(cap, 3·prev): true
	// attempt 4: base <= d < min(cap, 3·prev): true
}

// A breaker rejection (an error with Permanent() returning true and a
// RetryAfter hint) is not retried by default; a Retryable predicate can opt in,
// and the wait then follows the breaker's hint.
func ExampleOptions_retryable() {
	errOpen := &breakerOpen{wait: 5 * time.Millisecond}
	policy := retry.New(retry.Options{
		Retryable: func(err error) bool { return true }, // retry breaker rejections too
		OnRetry: func(attempt int, err error, delay time.Duration) {
			fmt.Printf("attempt %d: %v; waiting %v\n", attempt, err, delay)
		},
	})
	calls := 0
	err := policy.Do(context.Background(), func(context.Context) error {
		if calls++; calls == 1 {
			return errOpen
		}
		return nil
	})
	fmt.Println(err)
	// Output:
	// attempt 1: breaker: open; waiting 5ms
	// <nil>
}
