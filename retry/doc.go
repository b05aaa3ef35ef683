// Package retry calls an operation again when it fails, waiting between
// attempts with exponential backoff and jitter, within limits on attempts,
// elapsed time, the context's deadline and a shared retry budget.
//
// A [Policy] is configured once with [New] and shared by any number of
// goroutines. Two functions run an operation under it:
//
//   - [Do], generic, for an operation returning a value and an error:
//     retry.Do(ctx, p, func(ctx context.Context) (T, error));
//   - [Policy.Do], for an operation returning only an error:
//     p.Do(ctx, func(ctx context.Context) error).
//
// As in sethvargo/go-retry, the generic part is a function rather than a
// type, so one Policy serves operations of every result type.
//
// # Usage
//
//	var policy = retry.New(retry.Options{
//		MaxAttempts: 4,
//		Backoff:     retry.FullJitter(50*time.Millisecond, 2*time.Second),
//		Budget:      retry.NewBudget(retry.BudgetOptions{}),
//	})
//
//	user, err := retry.Do(ctx, policy, func(ctx context.Context) (User, error) {
//		u, err := client.GetUser(ctx, id)
//		if isNotFound(err) {
//			return u, retry.Permanent(err) // retrying cannot help
//		}
//		return u, err
//	})
//	if errors.Is(err, retry.ErrBudgetExhausted) {
//		// the dependency is failing for most callers; shed load
//	}
//
// # Attempts and waits
//
// Attempt numbers are 1-based everywhere: attempt 1 is the first call, and
// Options.MaxAttempts counts it. After attempt n fails, the wait before attempt
// n+1 comes from the error's server hint if it has one, else from the
// [Strategy] given attempt n and the previous wait; either way it is capped by
// Options.MaxDelay. Options.OnRetry is called just before each wait, never
// after the final attempt.
//
// The strategies are pure functions of (attempt, previous wait, random source)
// implementing the formulas of the AWS Architecture Blog post "Exponential
// Backoff And Jitter": [Constant], [Exponential], [FullJitter] (the default),
// [EqualJitter] and [DecorrelatedJitter]. Any func with the [Strategy]
// signature can be plugged in.
//
// # Classification
//
// By default every error is retried except:
//
//  1. context errors (context.Canceled, context.DeadlineExceeded, or errors
//     wrapping them), whether the operation returned one or ctx itself is
//     done;
//  2. errors wrapped by [Permanent], anywhere in the chain;
//  3. errors with, anywhere in the chain, a method Permanent() bool that
//     returns true. Package breaker's rejection error has such a method, so a
//     call rejected by an open breaker is not retried by default.
//
// Options.Retryable, when set, replaces check 3 only: checks 1 and 2 always
// stop the call. So a predicate may choose to retry breaker rejections, and
// the wait then follows the breaker's RetryAfter hint.
//
// # Server hints
//
// An error with, anywhere in its chain, a method RetryAfter() time.Duration
// carries a server hint (an HTTP Retry-After header, gRPC retry pushback, an
// open breaker's remaining cool-down). The next wait is then that hint instead
// of the strategy's delay, capped by Options.MaxDelay (a negative hint means
// no wait). [After] attaches a hint to any error. The first hint found in the
// order errors.As searches wins.
//
// # Deadlines and cancellation
//
// Cancelling the context ends a wait at once. A wait that would end at or after
// the context's deadline, or beyond Options.MaxElapsed (measured from the first
// failure), is never started: the call returns at once with [ErrDeadline].
//
// # Retry budget
//
// A [Budget] caps retries at a ratio of calls plus a small per-second floor,
// like Finagle's RetryBudget and gRPC's retry throttling, so that when a
// dependency fails for everyone, retries do not multiply its load. One Budget
// may be shared by many policies. When it is empty the call returns with
// [ErrBudgetExhausted].
//
// # Errors
//
// A failed call returns an [*Error] that matches, with errors.Is and
// errors.As, both the last attempt's error and the reason retrying stopped:
// [ErrAttemptsExhausted], [ErrBudgetExhausted], [ErrDeadline] or
// [ErrPermanent], or, when the context was cancelled or expired, ctx.Err()
// (and context.Cause(ctx)).
//
// # Randomness
//
// Jitter draws from math/rand/v2's runtime generator (a ChaCha8 stream per
// thread, lock-free, seeded by the runtime) through one stateless *rand.Rand
// per Policy, so concurrent calls never contend on a random source. Strategies
// take the *rand.Rand as an argument, so tests can pass a seeded
// rand.New(rand.NewPCG(seed, seq)) and get exact, repeatable delays.
//
// # Concurrency
//
// A Policy is immutable after [New] and safe for concurrent use; all per-call
// state (attempt number, previous wait, clock, timer) lives on the calling
// goroutine's stack, so calls never share it. A Budget is safe for concurrent
// use. Strategies, Options.Retryable and Options.OnRetry run on the calling
// goroutine, outside any lock, and must be safe for concurrent use when the
// Policy is shared.
//
// # Performance
//
// When the first attempt succeeds, Do costs a few nanoseconds over calling the
// operation directly and allocates nothing: the clock is not read, no random
// number is drawn and no timer is made until an attempt fails. With a Budget,
// each call adds one deposit, a single atomic load once the budget is full.
package retry
