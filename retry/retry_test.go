package retry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sinew-dev/sinew/retry"
)

var errBoom = errors.New("boom")

// call records one attempt: its 1-based number and when it started, relative
// to the start of the test's bubble.
type call struct {
	n  int
	at time.Duration
}

// recorder is an operation that fails with errs[i] on attempt i+1 (nil ends
// the list: success), recording when each attempt started.
type recorder struct {
	start time.Time
	errs  []error
	calls []call
}

func newRecorder(errs ...error) *recorder {
	return &recorder{start: time.Now(), errs: errs}
}

func (r *recorder) fn(context.Context) (int, error) {
	n := len(r.calls) + 1
	r.calls = append(r.calls, call{n, time.Since(r.start)})
	if n <= len(r.errs) {
		return n, r.errs[n-1]
	}
	return n, nil
}

func (r *recorder) times() []time.Duration {
	var ts []time.Duration
	for _, c := range r.calls {
		ts = append(ts, c.at)
	}
	return ts
}

func repeat(err error, n int) []error {
	errs := make([]error, n)
	for i := range errs {
		errs[i] = err
	}
	return errs
}

// hook records OnRetry calls.
type hook struct {
	mu    sync.Mutex
	calls []string
}

func (h *hook) onRetry(attempt int, err error, d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, fmt.Sprintf("%d %v %v", attempt, err, d))
}

func TestFirstAttemptSucceeds(t *testing.T) {
	h := &hook{}
	p := retry.New(retry.Options{OnRetry: h.onRetry})
	calls := 0
	v, err := retry.Do(context.Background(), p, func(context.Context) (string, error) {
		calls++
		return "ok", nil
	})
	require.NoError(t, err)
	assert.Equal(t, "ok", v)
	assert.Equal(t, 1, calls)
	assert.Empty(t, h.calls)
}

func TestRetriesUntilSuccess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &hook{}
		p := retry.New(retry.Options{Backoff: retry.Constant(100 * time.Millisecond), OnRetry: h.onRetry})
		rec := newRecorder(errBoom, errBoom)
		v, err := retry.Do(t.Context(), p, rec.fn)
		require.NoError(t, err)
		assert.Equal(t, 3, v)
		assert.Equal(t, []time.Duration{0, 100 * time.Millisecond, 200 * time.Millisecond}, rec.times())
		assert.Equal(t, []string{"1 boom 100ms", "2 boom 100ms"}, h.calls)
	})
}

func TestPolicyDo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := retry.New(retry.Options{Backoff: retry.Constant(time.Second)})
		rec := newRecorder(errBoom)
		err := p.Do(t.Context(), func(ctx context.Context) error {
			_, err := rec.fn(ctx)
			return err
		})
		require.NoError(t, err)
		assert.Equal(t, []time.Duration{0, time.Second}, rec.times())

		rec = newRecorder(repeat(errBoom, 10)...)
		err = p.Do(t.Context(), func(ctx context.Context) error {
			_, err := rec.fn(ctx)
			return err
		})
		assert.ErrorIs(t, err, retry.ErrAttemptsExhausted)
		assert.ErrorIs(t, err, errBoom)
		assert.Len(t, rec.calls, 5)
	})
}

func TestAttemptsExhausted(t *testing.T) {
	for _, tc := range []struct {
		name        string
		maxAttempts int
		want        int
	}{
		{"default", 0, 5},
		{"one means no retry", 1, 1},
		{"three", 3, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := &hook{}
				p := retry.New(retry.Options{
					MaxAttempts: tc.maxAttempts,
					Backoff:     retry.Constant(time.Second),
					OnRetry:     h.onRetry,
				})
				rec := newRecorder(repeat(errBoom, 100)...)
				v, err := retry.Do(t.Context(), p, rec.fn)
				assert.Equal(t, tc.want, v, "value of the last attempt")
				assert.ErrorIs(t, err, retry.ErrAttemptsExhausted)
				assert.ErrorIs(t, err, errBoom)
				var re *retry.Error
				require.ErrorAs(t, err, &re)
				assert.Equal(t, tc.want, re.Attempts)
				assert.Equal(t, retry.ErrAttemptsExhausted, re.Reason)
				assert.Equal(t, errBoom, re.Last)
				assert.Len(t, rec.calls, tc.want)
				assert.Len(t, h.calls, tc.want-1, "no hook after the final attempt")
				assert.Equal(t, time.Duration(tc.want-1)*time.Second, time.Since(rec.start), "no wait after the final attempt")
			})
		})
	}
}

func TestUnlimitedAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := retry.New(retry.Options{MaxAttempts: -1, Backoff: retry.Constant(time.Second)})
		rec := newRecorder(repeat(errBoom, 50)...)
		v, err := retry.Do(t.Context(), p, rec.fn)
		require.NoError(t, err)
		assert.Equal(t, 51, v)
		assert.Equal(t, 50*time.Second, time.Since(rec.start))
	})
}

func TestZeroPolicyUsesDefaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var p retry.Policy
		rec := newRecorder(repeat(errBoom, 100)...)
		_, err := retry.Do(t.Context(), &p, rec.fn)
		assert.ErrorIs(t, err, retry.ErrAttemptsExhausted)
		assert.Len(t, rec.calls, 5)
		for i := 1; i < len(rec.calls); i++ {
			d := rec.calls[i].at - rec.calls[i-1].at
			limit := 100 * time.Millisecond << (i - 1)
			assert.Less(t, d, limit, "default full jitter below 100ms·2^(n−1) after attempt %d", i)
		}
	})
}

func TestNilPolicyPanics(t *testing.T) {
	assert.PanicsWithValue(t, "retry: nil *Policy", func() {
		_, _ = retry.Do(context.Background(), nil, func(context.Context) (int, error) { return 0, nil })
	})
	assert.PanicsWithValue(t, "retry: nil *Policy", func() {
		var p *retry.Policy
		_ = p.Do(context.Background(), func(context.Context) error { return nil })
	})
}

func TestNewPanicsOnNegativeDurations(t *testing.T) {
	assert.Panics(t, func() { retry.New(retry.Options{MaxDelay: -1}) })
	assert.Panics(t, func() { retry.New(retry.Options{MaxElapsed: -1}) })
}

// breakerOpen mimics package breaker's rejection: permanent by default, with a
// hint of when the breaker may close.
type breakerOpen struct{ wait time.Duration }

func (e *breakerOpen) Error() string             { return "breaker: open" }
func (e *breakerOpen) Permanent() bool           { return true }
func (e *breakerOpen) RetryAfter() time.Duration { return e.wait }

// notPermanent has a Permanent method that returns false.
type notPermanent struct{}

func (notPermanent) Error() string   { return "transient" }
func (notPermanent) Permanent() bool { return false }

func TestClassification(t *testing.T) {
	retryAll := func(error) bool { return true }
	retryNone := func(error) bool { return false }
	for _, tc := range []struct {
		name      string
		err       error
		retryable func(error) bool
		attempts  int   // attempts made when every attempt fails this way
		reason    error // why it stopped
	}{
		{"plain error retries", errBoom, nil, 3, retry.ErrAttemptsExhausted},
		{"Permanent stops", retry.Permanent(errBoom), nil, 1, retry.ErrPermanent},
		{"wrapped Permanent stops", fmt.Errorf("op: %w", retry.Permanent(errBoom)), nil, 1, retry.ErrPermanent},
		{"Permanent in a join stops", errors.Join(io.EOF, retry.Permanent(errBoom)), nil, 1, retry.ErrPermanent},
		{"Permanent beats predicate", retry.Permanent(errBoom), retryAll, 1, retry.ErrPermanent},
		{"context.Canceled from fn stops", context.Canceled, nil, 1, retry.ErrPermanent},
		{"wrapped DeadlineExceeded from fn stops", fmt.Errorf("dial: %w", context.DeadlineExceeded), nil, 1, retry.ErrPermanent},
		{"context error beats predicate", context.Canceled, retryAll, 1, retry.ErrPermanent},
		{"Permanent() true stops", &breakerOpen{}, nil, 1, retry.ErrPermanent},
		{"wrapped Permanent() true stops", fmt.Errorf("call: %w", &breakerOpen{}), nil, 1, retry.ErrPermanent},
		{"Permanent() false retries", notPermanent{}, nil, 3, retry.ErrAttemptsExhausted},
		{"predicate replaces Permanent()", &breakerOpen{}, retryAll, 3, retry.ErrAttemptsExhausted},
		{"predicate false stops", errBoom, retryNone, 1, retry.ErrPermanent},
		{"predicate decides on plain errors", errBoom, func(err error) bool { return !errors.Is(err, errBoom) }, 1, retry.ErrPermanent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := retry.New(retry.Options{MaxAttempts: 3, Retryable: tc.retryable, Backoff: retry.Constant(time.Millisecond)})
				rec := newRecorder(repeat(tc.err, 10)...)
				_, err := retry.Do(t.Context(), p, rec.fn)
				assert.Len(t, rec.calls, tc.attempts)
				assert.ErrorIs(t, err, tc.reason)
				assert.ErrorIs(t, err, tc.err)
			})
		})
	}
}

func TestPredicateSeesOnlyClassifiableErrors(t *testing.T) {
	var seen []error
	p := retry.New(retry.Options{MaxAttempts: 2, Backoff: retry.Constant(0), Retryable: func(err error) bool {
		seen = append(seen, err)
		return true
	}})
	for _, err := range []error{retry.Permanent(errBoom), context.Canceled, errBoom} {
		_ = p.Do(context.Background(), func(context.Context) error { return err })
	}
	assert.Equal(t, []error{errBoom, errBoom}, seen, "only the plain error reaches Retryable, once per failed attempt")
}

func TestRetryBreakerRejectionUsesItsHint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := retry.New(retry.Options{
			Retryable: func(err error) bool { return true },
			Backoff:   retry.Constant(time.Millisecond),
		})
		rec := newRecorder(&breakerOpen{wait: 3 * time.Second}, fmt.Errorf("x: %w", &breakerOpen{wait: time.Second}))
		_, err := retry.Do(t.Context(), p, rec.fn)
		require.NoError(t, err)
		assert.Equal(t, []time.Duration{0, 3 * time.Second, 4 * time.Second}, rec.times())
	})
}

func TestServerHint(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		maxDelay time.Duration
		want     time.Duration
	}{
		{"After replaces the strategy", retry.After(errBoom, 2*time.Second), 0, 2 * time.Second},
		{"hint deep in the chain", fmt.Errorf("get: %w", retry.After(errBoom, 7*time.Second)), 0, 7 * time.Second},
		{"hint in a join", errors.Join(io.EOF, retry.After(errBoom, 3*time.Second)), 0, 3 * time.Second},
		{"outermost hint wins (errors.As order)", retry.After(retry.After(errBoom, time.Second), 5*time.Second), 0, 5 * time.Second},
		{"capped by MaxDelay", retry.After(errBoom, time.Hour), 10 * time.Second, 10 * time.Second},
		{"capped by the default MaxDelay", retry.After(errBoom, time.Hour), 0, 30 * time.Second},
		{"negative hint: no wait", retry.After(errBoom, -time.Second), 0, 0},
		{"zero hint: no wait", retry.After(errBoom, 0), 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := &hook{}
				p := retry.New(retry.Options{MaxDelay: tc.maxDelay, Backoff: retry.Constant(time.Millisecond), OnRetry: h.onRetry})
				rec := newRecorder(tc.err)
				_, err := retry.Do(t.Context(), p, rec.fn)
				require.NoError(t, err)
				assert.Equal(t, []time.Duration{0, tc.want}, rec.times())
				assert.Equal(t, []string{fmt.Sprintf("1 %v %v", tc.err, tc.want)}, h.calls)
			})
		})
	}
}

func TestAfterAndPermanentKeepTheError(t *testing.T) {
	assert.NoError(t, retry.After(nil, time.Second))
	assert.NoError(t, retry.Permanent(nil))

	h := retry.After(errBoom, time.Second)
	assert.ErrorIs(t, h, errBoom)
	assert.Equal(t, "boom", h.Error())
	var hinted interface{ RetryAfter() time.Duration }
	require.ErrorAs(t, h, &hinted)
	assert.Equal(t, time.Second, hinted.RetryAfter())

	pe := retry.Permanent(errBoom)
	assert.ErrorIs(t, pe, errBoom)
	assert.Equal(t, "boom", pe.Error())
	var perm interface{ Permanent() bool }
	require.ErrorAs(t, pe, &perm)
	assert.True(t, perm.Permanent())
}

func TestCapsComputedDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := retry.New(retry.Options{MaxDelay: 3 * time.Second, Backoff: retry.Exponential(time.Second, time.Hour)})
		rec := newRecorder(errBoom, errBoom, errBoom, errBoom)
		_, err := retry.Do(t.Context(), p, rec.fn)
		require.NoError(t, err)
		// waits 1s, 2s, then 4s and 8s capped to 3s
		assert.Equal(t, []time.Duration{0, time.Second, 3 * time.Second, 6 * time.Second, 9 * time.Second}, rec.times())
	})
}

func TestNegativeStrategyDelayMeansNoWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := retry.New(retry.Options{Backoff: func(int, time.Duration, *rand.Rand) time.Duration { return -time.Hour }})
		rec := newRecorder(errBoom)
		_, err := retry.Do(t.Context(), p, rec.fn)
		require.NoError(t, err)
		assert.Equal(t, []time.Duration{0, 0}, rec.times())
	})
}

func TestStrategyArguments(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got []string
		p := retry.New(retry.Options{
			MaxDelay: 5 * time.Second,
			Backoff: func(attempt int, prev time.Duration, r *rand.Rand) time.Duration {
				require.NotNil(t, r)
				got = append(got, fmt.Sprintf("%d %v", attempt, prev))
				return time.Duration(attempt) * 2 * time.Second
			},
		})
		rec := newRecorder(errBoom, errBoom, retry.After(errBoom, time.Second), errBoom)
		_, err := retry.Do(t.Context(), p, rec.fn)
		require.NoError(t, err)
		// waits: 2s, 4s, then attempt 3's hint of 1s replaces the strategy
		// (not called), then 8s capped to 5s; attempt 4 sees the hinted 1s as
		// prev.
		assert.Equal(t, []string{"1 0s", "2 2s", "4 1s"}, got)
		assert.Equal(t, []time.Duration{0, 2 * time.Second, 6 * time.Second, 7 * time.Second, 12 * time.Second}, rec.times())
	})
}

func TestContextCancelledDuringWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &hook{}
		p := retry.New(retry.Options{MaxDelay: time.Hour, Backoff: retry.Constant(time.Hour), OnRetry: h.onRetry})
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(90*time.Second, cancel)
		rec := newRecorder(repeat(errBoom, 10)...)
		v, err := retry.Do(ctx, p, rec.fn)
		assert.Equal(t, 90*time.Second, time.Since(rec.start), "the wait ends at once")
		assert.Equal(t, 1, v)
		assert.ErrorIs(t, err, context.Canceled)
		assert.ErrorIs(t, err, errBoom)
		assert.NotErrorIs(t, err, retry.ErrDeadline)
		var re *retry.Error
		require.ErrorAs(t, err, &re)
		assert.Equal(t, 1, re.Attempts)
		assert.Equal(t, context.Canceled, re.Reason)
		assert.Len(t, h.calls, 1)
	})
}

func TestContextCancelledDuringAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := retry.New(retry.Options{Backoff: retry.Constant(time.Second)})
		ctx, cancel := context.WithCancel(t.Context())
		calls := 0
		_, err := retry.Do(ctx, p, func(context.Context) (int, error) {
			calls++
			if calls == 2 {
				cancel()
			}
			return 0, errBoom
		})
		assert.Equal(t, 2, calls)
		assert.ErrorIs(t, err, context.Canceled)
		assert.ErrorIs(t, err, errBoom)
	})
}

func TestContextCause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errShutdown := errors.New("shutting down")
		p := retry.New(retry.Options{Backoff: retry.Constant(time.Hour)})
		ctx, cancel := context.WithCancelCause(t.Context())
		time.AfterFunc(time.Second, func() { cancel(errShutdown) })
		err := p.Do(ctx, func(context.Context) error { return errBoom })
		assert.ErrorIs(t, err, context.Canceled)
		assert.ErrorIs(t, err, errShutdown)
		assert.ErrorIs(t, err, errBoom)
		assert.Equal(t, "retry: context canceled (shutting down) after 1 attempt: boom", err.Error())
	})
}

func TestContextAlreadyDone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := retry.New(retry.Options{})
	calls := 0
	err := p.Do(ctx, func(ctx context.Context) error {
		calls++
		return ctx.Err()
	})
	assert.Equal(t, 1, calls, "fn is called once, and sees the done context")
	assert.ErrorIs(t, err, context.Canceled)
}

func TestDeadlineAware(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &hook{}
		p := retry.New(retry.Options{MaxAttempts: -1, Backoff: retry.Constant(100 * time.Millisecond), OnRetry: h.onRetry})
		ctx, cancel := context.WithTimeout(t.Context(), 250*time.Millisecond)
		defer cancel()
		rec := newRecorder(repeat(errBoom, 100)...)
		_, err := retry.Do(ctx, p, rec.fn)
		// attempts at 0, 100ms, 200ms; a wait from 200ms would end at 300ms,
		// after the deadline, so the call returns at 200ms without waiting.
		assert.Equal(t, []time.Duration{0, 100 * time.Millisecond, 200 * time.Millisecond}, rec.times())
		assert.Equal(t, 200*time.Millisecond, time.Since(rec.start))
		assert.ErrorIs(t, err, retry.ErrDeadline)
		assert.ErrorIs(t, err, errBoom)
		assert.NoError(t, ctx.Err(), "returned before the deadline")
		assert.Len(t, h.calls, 2)
	})
}

func TestDeadlineAwareWaitEndingAtDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := retry.New(retry.Options{MaxAttempts: -1, Backoff: retry.Constant(100 * time.Millisecond)})
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		rec := newRecorder(repeat(errBoom, 100)...)
		_, err := retry.Do(ctx, p, rec.fn)
		// a wait ending exactly at the deadline leaves no time for an attempt
		assert.Equal(t, []time.Duration{0, 100 * time.Millisecond}, rec.times())
		assert.ErrorIs(t, err, retry.ErrDeadline)
	})
}

func TestDeadlineAwareHint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := retry.New(retry.Options{})
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		rec := newRecorder(retry.After(errBoom, 10*time.Second))
		_, err := retry.Do(ctx, p, rec.fn)
		assert.ErrorIs(t, err, retry.ErrDeadline)
		assert.Zero(t, time.Since(rec.start))
	})
}

func TestMaxElapsed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := retry.New(retry.Options{
			MaxAttempts: -1,
			MaxElapsed:  time.Second,
			Backoff:     retry.Constant(300 * time.Millisecond),
		})
		// The first attempt takes 2s; MaxElapsed counts from its failure.
		start := time.Now()
		var at []time.Duration
		_, err := retry.Do(t.Context(), p, func(context.Context) (int, error) {
			if len(at) == 0 {
				time.Sleep(2 * time.Second)
			}
			at = append(at, time.Since(start))
			return 0, errBoom
		})
		assert.ErrorIs(t, err, retry.ErrDeadline)
		assert.ErrorIs(t, err, errBoom)
		ms := time.Millisecond
		// failures at 2s, 2.3, 2.6, 2.9; a wait to 3.2s would pass 2s+1s.
		assert.Equal(t, []time.Duration{2000 * ms, 2300 * ms, 2600 * ms, 2900 * ms}, at)
		assert.Equal(t, 2900*ms, time.Since(start))
	})
}

func TestMaxElapsedAllowsWaitEndingExactly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := retry.New(retry.Options{MaxAttempts: -1, MaxElapsed: time.Second, Backoff: retry.Constant(500 * time.Millisecond)})
		rec := newRecorder(repeat(errBoom, 100)...)
		_, err := retry.Do(t.Context(), p, rec.fn)
		assert.ErrorIs(t, err, retry.ErrDeadline)
		assert.Equal(t, []time.Duration{0, 500 * time.Millisecond, time.Second}, rec.times())
	})
}

func TestZeroDelayChecksContext(t *testing.T) {
	p := retry.New(retry.Options{MaxAttempts: -1, Backoff: retry.Constant(0)})
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := p.Do(ctx, func(context.Context) error {
		calls++
		if calls == 1000 {
			cancel()
		}
		return errBoom
	})
	assert.Equal(t, 1000, calls)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestBudgetExhausted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := retry.NewBudget(retry.BudgetOptions{Ratio: 0.5, MinPerSecond: -1})
		h := &hook{}
		p := retry.New(retry.Options{MaxAttempts: 10, Budget: b, Backoff: retry.Constant(time.Second), OnRetry: h.onRetry})

		// Call 1 earns half a retry: not enough for one.
		rec := newRecorder(repeat(errBoom, 10)...)
		_, err := retry.Do(t.Context(), p, rec.fn)
		assert.ErrorIs(t, err, retry.ErrBudgetExhausted)
		assert.ErrorIs(t, err, errBoom)
		assert.Len(t, rec.calls, 1)
		assert.Empty(t, h.calls)

		// Call 2 brings the budget to one retry.
		rec = newRecorder(repeat(errBoom, 10)...)
		_, err = retry.Do(t.Context(), p, rec.fn)
		assert.ErrorIs(t, err, retry.ErrBudgetExhausted)
		assert.Len(t, rec.calls, 2)
		assert.Len(t, h.calls, 1)

		// Successful calls earn retries for later ones, up to the budget.
		for range 6 {
			require.NoError(t, p.Do(t.Context(), func(context.Context) error { return nil }))
		}
		rec = newRecorder(repeat(errBoom, 10)...)
		err = p.Do(t.Context(), func(ctx context.Context) error { _, err := rec.fn(ctx); return err })
		assert.ErrorIs(t, err, retry.ErrBudgetExhausted)
		assert.Len(t, rec.calls, 1+3, "6 successes and this call earn 3.5 retries")
	})
}

func TestBudgetSharedAcrossPolicies(t *testing.T) {
	b := retry.NewBudget(retry.BudgetOptions{Ratio: 1, MinPerSecond: -1})
	p1 := retry.New(retry.Options{Budget: b, MaxAttempts: -1, Backoff: retry.Constant(0)})
	p2 := retry.New(retry.Options{Budget: b, MaxAttempts: -1, Backoff: retry.Constant(0)})
	for range 3 {
		require.NoError(t, p1.Do(context.Background(), func(context.Context) error { return nil }))
	}
	calls := 0
	err := p2.Do(context.Background(), func(context.Context) error { calls++; return errBoom })
	assert.ErrorIs(t, err, retry.ErrBudgetExhausted)
	assert.Equal(t, 5, calls, "3 + 1 deposits allow 4 retries")
}

func TestErrorMessage(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    *retry.Policy
		errs []error
		want string
	}{
		{"attempts", retry.New(retry.Options{MaxAttempts: 2, Backoff: retry.Constant(0)}), repeat(errBoom, 5),
			"retry: attempts exhausted after 2 attempts: boom"},
		{"permanent", retry.New(retry.Options{}), []error{retry.Permanent(errBoom)},
			"retry: permanent error after 1 attempt: boom"},
		{"budget", retry.New(retry.Options{Budget: retry.NewBudget(retry.BudgetOptions{MinPerSecond: -1})}), []error{errBoom},
			"retry: retry budget exhausted after 1 attempt: boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := retry.Do(context.Background(), tc.p, newRecorder(tc.errs...).fn)
			assert.EqualError(t, err, tc.want)
		})
	}
}

func TestErrorsAsSeesLastError(t *testing.T) {
	p := retry.New(retry.Options{MaxAttempts: 2, Backoff: retry.Constant(0)})
	pathErr := &fsError{path: "/x"}
	err := p.Do(context.Background(), func(context.Context) error { return fmt.Errorf("open: %w", pathErr) })
	var got *fsError
	require.ErrorAs(t, err, &got)
	assert.Same(t, pathErr, got)
}

type fsError struct{ path string }

func (e *fsError) Error() string { return "bad path " + e.path }

// TestConcurrentCallsShareNothing runs many goroutines through one Policy
// (with a shared Budget and hook), each failing a different number of times;
// each must see exactly its own attempts. Run with -race.
func TestConcurrentCallsShareNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var hooks atomic.Int64
		p := retry.New(retry.Options{
			MaxAttempts: 8,
			Backoff:     retry.DecorrelatedJitter(time.Millisecond, time.Second),
			Budget:      retry.NewBudget(retry.BudgetOptions{Ratio: 10, Max: 1000}),
			OnRetry:     func(int, error, time.Duration) { hooks.Add(1) },
		})
		const n = 64
		var wg sync.WaitGroup
		results := make([]int, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				fails := i % 10
				results[i], errs[i] = retry.Do(t.Context(), p, func(context.Context) (int, error) {
					fails--
					if fails >= 0 {
						return 0, errBoom
					}
					return i, nil
				})
			})
		}
		wg.Wait()
		want := int64(0)
		for i := range n {
			fails := i % 10
			if fails < 8 {
				require.NoError(t, errs[i], "goroutine %d", i)
				assert.Equal(t, i, results[i])
				want += int64(fails)
			} else {
				assert.ErrorIs(t, errs[i], retry.ErrAttemptsExhausted)
				want += 7
			}
		}
		assert.Equal(t, want, hooks.Load())
	})
}

func TestFirstAttemptAllocatesNothing(t *testing.T) {
	ctx := context.Background()
	plain := retry.New(retry.Options{})
	budgeted := retry.New(retry.Options{Budget: retry.NewBudget(retry.BudgetOptions{})})
	var zero retry.Policy
	total := 0
	for _, tc := range []struct {
		name string
		call func()
	}{
		{"Do", func() {
			v, _ := retry.Do(ctx, plain, func(context.Context) (int, error) { total++; return total, nil })
			total += v
		}},
		{"Do with budget", func() {
			v, _ := retry.Do(ctx, budgeted, func(context.Context) (int, error) { total++; return total, nil })
			total += v
		}},
		{"zero Policy", func() {
			v, _ := retry.Do(ctx, &zero, func(context.Context) (int, error) { total++; return total, nil })
			total += v
		}},
		{"Policy.Do", func() {
			_ = plain.Do(ctx, func(context.Context) error { total++; return nil })
		}},
		{"Policy.Do with budget", func() {
			_ = budgeted.Do(ctx, func(context.Context) error { total++; return nil })
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Zero(t, testing.AllocsPerRun(1000, tc.call))
		})
	}
}

func TestDelayAllocatesNothing(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, s := range []retry.Strategy{
		retry.Constant(time.Second),
		retry.Exponential(time.Millisecond, time.Second),
		retry.FullJitter(time.Millisecond, time.Second),
		retry.EqualJitter(time.Millisecond, time.Second),
		retry.DecorrelatedJitter(time.Millisecond, time.Second),
	} {
		var prev time.Duration
		assert.Zero(t, testing.AllocsPerRun(1000, func() { prev = s(3, prev, r) }))
	}
}

// TestHookMayUseThePolicy shows OnRetry runs outside any lock: it may make a
// call through the same Policy (and Budget) without deadlock.
func TestHookMayUseThePolicy(t *testing.T) {
	var p *retry.Policy
	inner := 0
	p = retry.New(retry.Options{
		Backoff: retry.Constant(0),
		Budget:  retry.NewBudget(retry.BudgetOptions{}),
		OnRetry: func(int, error, time.Duration) {
			_ = p.Do(context.Background(), func(context.Context) error { inner++; return nil })
		},
	})
	outer := 0
	err := p.Do(context.Background(), func(context.Context) error {
		if outer++; outer < 3 {
			return errBoom
		}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 3, outer)
	assert.Equal(t, 2, inner)
}
