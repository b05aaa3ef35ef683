package breaker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var errDown = errors.New("backend down")

// call makes one call through Do with the given error.
func call(b *Breaker, err error) error {
	_, e := Do(context.Background(), b, func(context.Context) (int, error) { return 0, err })
	return e
}

func TestDefaults(t *testing.T) {
	b := New(Options{})
	o := b.opts
	assert.Equal(t, CountWindow, o.Window)
	assert.Equal(t, 100, o.WindowSize)
	assert.Equal(t, 20, o.MinimumCalls)
	assert.Equal(t, 0.5, o.FailureRate)
	assert.Equal(t, 1.0, o.SlowCallRate)
	assert.Equal(t, 1, o.HalfOpenProbes)
	assert.Equal(t, 1, o.HalfOpenSuccesses)
	assert.Equal(t, 10*time.Second, o.ProbeLease)
	assert.Equal(t, 10*time.Second, o.OpenDuration)
	assert.Equal(t, 2.0, o.OpenBackoff)
	assert.Equal(t, Closed, b.State())
}

func TestNewPanicsOnInvalidOptions(t *testing.T) {
	for name, o := range map[string]Options{
		"negative size":     {WindowSize: -1},
		"negative duration": {OpenDuration: -time.Second},
		"rate above 1":      {FailureRate: 1.5},
		"jitter above 1":    {Jitter: 2},
		"backoff below 1":   {OpenBackoff: 0.5},
		"unknown window":    {Window: 7},
		"too many buckets":  {Window: TimeWindow, WindowBuckets: 70000},
	} {
		t.Run(name, func(t *testing.T) {
			assert.PanicsWithValue(t, panicMessage(t, o), func() { New(o) })
		})
	}
}

func panicMessage(t *testing.T, o Options) (msg any) {
	defer func() { msg = recover() }()
	New(o)
	t.Fatal("New did not panic")
	return nil
}

func TestStateAndOutcomeStrings(t *testing.T) {
	assert.Equal(t, "closed", Closed.String())
	assert.Equal(t, "open", Open.String())
	assert.Equal(t, "half-open", HalfOpen.String())
	assert.Equal(t, "forced-open", ForcedOpen.String())
	assert.Equal(t, "disabled", Disabled.String())
	assert.Equal(t, "State(9)", State(9).String())
	assert.Equal(t, "success", Success.String())
	assert.Equal(t, "failure", Failure.String())
	assert.Equal(t, "ignored", Ignored.String())
	assert.Equal(t, "Outcome(9)", Outcome(9).String())
}

func TestTripRules(t *testing.T) {
	tests := []struct {
		name  string
		opts  Options
		calls []error // the breaker must be Open right after the last one, not before
	}{
		{"consecutive failures", Options{ConsecutiveFailures: 3, FailureRate: -1},
			[]error{errDown, errDown, nil, errDown, errDown, errDown}},
		{"failure rate needs minimum calls", Options{WindowSize: 10, MinimumCalls: 4, FailureRate: 0.5},
			[]error{errDown, errDown, errDown, nil}},
		{"failure rate over the last N calls", Options{WindowSize: 4, MinimumCalls: 4, FailureRate: 0.75},
			[]error{errDown, errDown, nil, nil, nil, errDown, errDown, errDown}},
		{"ignored calls are not counted", Options{ConsecutiveFailures: 2, FailureRate: -1},
			[]error{errDown, context.Canceled, errDown}},
		{"custom rule", Options{FailureRate: -1, TripRule: func(c Counts) bool { return c.Failures >= 2 }},
			[]error{errDown, nil, nil, errDown}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := New(tt.opts)
			for i, err := range tt.calls {
				require.Equal(t, Closed, b.State(), "before call %d", i)
				require.Equal(t, err, call(b, err))
			}
			assert.Equal(t, Open, b.State())
			assert.ErrorIs(t, call(b, nil), ErrOpen)
		})
	}
}

func TestSlowCallRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New(Options{WindowSize: 4, MinimumCalls: 4, SlowCall: time.Second, SlowCallRate: 0.5})
		slow := func(d time.Duration) {
			_, _ = Do(context.Background(), b, func(context.Context) (int, error) {
				time.Sleep(d)
				return 1, nil
			})
		}
		slow(time.Second)
		slow(10 * time.Millisecond)
		slow(999 * time.Millisecond)
		assert.Equal(t, Counts{Calls: 3, SlowCalls: 1}, b.Metrics().Counts)
		slow(2 * time.Second) // 2 slow of 4
		assert.Equal(t, Open, b.State())
	})
}

func TestClassify(t *testing.T) {
	errBadRequest := errors.New("bad request")
	b := New(Options{ConsecutiveFailures: 2, Classify: func(err error) Outcome {
		if errors.Is(err, errBadRequest) {
			return Success // the backend answered: not its fault
		}
		return DefaultClassify(err)
	}})
	for range 5 {
		_ = call(b, errBadRequest)
		_ = call(b, context.Canceled)
		_ = call(b, errDown)
	}
	assert.Equal(t, Closed, b.State())
	assert.Equal(t, 10, b.Metrics().Counts.Calls)
	assert.Equal(t, Ignored, DefaultClassify(fmt.Errorf("wrapped: %w", context.Canceled)))
	assert.Equal(t, Failure, DefaultClassify(context.DeadlineExceeded))
}

func TestOpenErrorContract(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New(Options{ConsecutiveFailures: 1, OpenDuration: 4 * time.Second})
		_ = call(b, errDown)
		time.Sleep(time.Second)
		_, err := Do(context.Background(), b, succeed)
		require.ErrorIs(t, err, ErrOpen)
		var oe *OpenError
		require.ErrorAs(t, err, &oe)
		assert.Equal(t, 3*time.Second, oe.RetryAfter())
		assert.True(t, oe.Permanent())
		assert.Equal(t, Open, oe.State())
		assert.Equal(t, "breaker: open", err.Error())

		// The same value is shared by rejections, and RetryAfter is computed when asked.
		_, err2 := b.Allow()
		assert.Same(t, oe, err2)
		time.Sleep(2 * time.Second)
		assert.Equal(t, time.Second, oe.RetryAfter())
		time.Sleep(5 * time.Second)
		assert.Equal(t, time.Duration(0), oe.RetryAfter())

		// The interface package retry relies on, without importing breaker.
		var perm interface {
			Permanent() bool
			RetryAfter() time.Duration
		}
		require.ErrorAs(t, err, &perm)
		assert.True(t, perm.Permanent())
	})
}

// TestStateAppliesDueTransition: right at the end of the open duration State reports HalfOpen,
// whether or not the timer's goroutine has run yet.
func TestStateAppliesDueTransition(t *testing.T) {
	for range 20 {
		synctest.Test(t, func(t *testing.T) {
			b := New(Options{ConsecutiveFailures: 1, OpenDuration: time.Second})
			_ = call(b, errDown)
			time.Sleep(999 * time.Millisecond)
			assert.Equal(t, Open, b.State())
			time.Sleep(time.Millisecond) // no synctest.Wait: the timer may not have run
			assert.Equal(t, HalfOpen, b.State())
			assert.Equal(t, HalfOpen, b.Metrics().State)
		})
	}
}

func TestHalfOpenClosesAfterSuccesses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New(Options{ConsecutiveFailures: 1, OpenDuration: time.Second, HalfOpenProbes: 2, HalfOpenSuccesses: 3})
		_ = call(b, errDown)
		time.Sleep(time.Second)
		synctest.Wait()
		require.Equal(t, HalfOpen, b.State())
		p1, err := b.Allow()
		require.NoError(t, err)
		assert.True(t, p1.Probe())
		p2, err := b.Allow()
		require.NoError(t, err)
		_, err = b.Allow()
		require.ErrorIs(t, err, ErrOpen, "third concurrent probe")
		var oe *OpenError
		require.ErrorAs(t, err, &oe)
		assert.Equal(t, HalfOpen, oe.State())
		assert.Equal(t, 10*time.Second, oe.RetryAfter(), "until the earliest lease ends")
		p1.Done(nil)
		p2.Done(nil)
		assert.Equal(t, HalfOpen, b.State())
		require.NoError(t, call(b, nil))
		assert.Equal(t, Closed, b.State())
		assert.Equal(t, Counts{}, b.Metrics().Counts, "a new closed period starts empty")
	})
}

func TestHalfOpenFailureReopensWithGrowingDuration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New(Options{ConsecutiveFailures: 1, OpenDuration: time.Second, MaxOpenDuration: 5 * time.Second})
		_ = call(b, errDown)
		var want []time.Duration
		for _, d := range []time.Duration{1, 2, 4, 5, 5} {
			want = append(want, d*time.Second)
		}
		var got []time.Duration
		for range want {
			_, err := b.Allow()
			var oe *OpenError
			require.ErrorAs(t, err, &oe)
			d := oe.RetryAfter()
			got = append(got, d)
			time.Sleep(d)
			synctest.Wait()
			require.Equal(t, HalfOpen, b.State())
			_ = call(b, errDown) // the probe fails
		}
		assert.Equal(t, want, got)
		assert.Equal(t, 6, b.Metrics().Trips)

		time.Sleep(5 * time.Second)
		synctest.Wait()
		require.NoError(t, call(b, nil)) // the probe succeeds: closed, and the growth starts over
		assert.Equal(t, Closed, b.State())
		assert.Equal(t, 0, b.Metrics().Trips)
		_ = call(b, errDown)
		_, err := b.Allow()
		var oe *OpenError
		require.ErrorAs(t, err, &oe)
		assert.Equal(t, time.Second, oe.RetryAfter())
	})
}

func TestJitterShortensOpenDuration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		seen := map[time.Duration]bool{}
		for range 50 {
			b := New(Options{ConsecutiveFailures: 1, OpenDuration: 10 * time.Second, Jitter: 0.5})
			_ = call(b, errDown)
			_, err := b.Allow()
			var oe *OpenError
			require.ErrorAs(t, err, &oe)
			d := oe.RetryAfter()
			assert.True(t, d > 5*time.Second-time.Nanosecond && d <= 10*time.Second, "%v", d)
			seen[d] = true
		}
		assert.Greater(t, len(seen), 10, "jitter varies")
	})
}

// Bug class (failsafe-go): a probe that panics must not leave the breaker stuck half-open.
func TestPanickingProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New(Options{ConsecutiveFailures: 1, OpenDuration: time.Second})
		_ = call(b, errDown)
		time.Sleep(time.Second)
		synctest.Wait()
		require.Equal(t, HalfOpen, b.State())
		assert.PanicsWithValue(t, "boom", func() {
			_, _ = Do(context.Background(), b, func(context.Context) (int, error) { panic("boom") })
		})
		assert.Equal(t, Open, b.State(), "the panic counted as a failed probe")
		time.Sleep(time.Second)
		synctest.Wait()
		require.NoError(t, call(b, nil))
		assert.Equal(t, Closed, b.State())
	})
}

func TestPanicCountsAsFailureInClosed(t *testing.T) {
	b := New(Options{ConsecutiveFailures: 2})
	for range 2 {
		func() {
			defer func() { assert.Equal(t, "boom", recover()) }()
			_, _ = Do(context.Background(), b, func(context.Context) (int, error) { panic("boom") })
		}()
	}
	assert.Equal(t, Open, b.State())
}

// Bug class: a probe that never reports frees its slot after the lease, and its late result is
// discarded.
func TestStuckProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New(Options{ConsecutiveFailures: 1, OpenDuration: time.Second, ProbeLease: 3 * time.Second})
		_ = call(b, errDown)
		time.Sleep(time.Second)
		synctest.Wait()
		stuck, err := b.Allow()
		require.NoError(t, err)
		time.Sleep(2999 * time.Millisecond)
		_, err = b.Allow()
		require.ErrorIs(t, err, ErrOpen, "the slot is still leased")
		time.Sleep(time.Millisecond)
		p, err := b.Allow()
		require.NoError(t, err, "the lease ended: a new probe may run")
		stuck.Done(errDown) // late: discarded, does not reopen
		assert.Equal(t, HalfOpen, b.State())
		p.Done(nil)
		assert.Equal(t, Closed, b.State())
	})
}

// Bug class: results of calls that started before a transition are discarded.
func TestLateResultsDiscarded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New(Options{ConsecutiveFailures: 2, OpenDuration: time.Second})
		early, err := b.Allow() // starts while closed
		require.NoError(t, err)
		_ = call(b, errDown)
		_ = call(b, errDown)
		require.Equal(t, Open, b.State())
		time.Sleep(time.Second)
		synctest.Wait()
		require.NoError(t, call(b, nil)) // probe closes it
		require.Equal(t, Closed, b.State())
		early.Done(errDown) // from the previous closed period
		assert.Equal(t, Counts{}, b.Metrics().Counts)

		p, err := b.Allow()
		require.NoError(t, err)
		b.Reset()
		p.Done(errDown)
		assert.Equal(t, Counts{}, b.Metrics().Counts, "results from before Reset are discarded")
	})
}

// Bug class: 100 callers arriving at a half-open breaker never run more probes than allowed.
func TestHalfOpenHerd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const probes = 3
		b := New(Options{ConsecutiveFailures: 1, OpenDuration: time.Second, HalfOpenProbes: probes, HalfOpenSuccesses: 50})
		_ = call(b, errDown)
		time.Sleep(time.Second)
		synctest.Wait()
		var running, maxRunning, ran, rejected atomic.Int64
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				for range 5 {
					_, err := Do(context.Background(), b, func(context.Context) (int, error) {
						n := running.Add(1)
						for {
							m := maxRunning.Load()
							if n <= m || maxRunning.CompareAndSwap(m, n) {
								break
							}
						}
						ran.Add(1)
						time.Sleep(10 * time.Millisecond)
						running.Add(-1)
						return 1, nil
					})
					if err != nil {
						rejected.Add(1)
						time.Sleep(time.Millisecond)
					}
				}
			})
		}
		wg.Wait()
		assert.Equal(t, int64(probes), maxRunning.Load())
		assert.Equal(t, int64(500), ran.Load()+rejected.Load())
		assert.Greater(t, rejected.Load(), int64(0))
	})
}

// The herd again without synctest, with real scheduling, for the race detector.
func TestHalfOpenHerdRealTime(t *testing.T) {
	const probes = 2
	b := New(Options{ConsecutiveFailures: 1, OpenDuration: time.Millisecond, HalfOpenProbes: probes, HalfOpenSuccesses: 1 << 30})
	_ = call(b, errDown)
	for b.State() != HalfOpen {
		time.Sleep(time.Millisecond)
	}
	var running, maxRunning atomic.Int64
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			for range 50 {
				_, _ = Do(context.Background(), b, func(context.Context) (int, error) {
					n := running.Add(1)
					for {
						m := maxRunning.Load()
						if n <= m || maxRunning.CompareAndSwap(m, n) {
							break
						}
					}
					running.Add(-1)
					return 1, nil
				})
			}
		})
	}
	wg.Wait()
	assert.LessOrEqual(t, maxRunning.Load(), int64(probes))
	assert.Equal(t, HalfOpen, b.State())
}

// Bug class (gobreaker): callbacks run outside the lock, in order, and may call the breaker.
func TestCallbackReentry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var b *Breaker
		var log []string
		b = New(Options{ConsecutiveFailures: 1, OpenDuration: time.Second, OnStateChange: func(from, to State) {
			m := b.Metrics() // would deadlock under the lock
			log = append(log, fmt.Sprintf("%v->%v (now %v)", from, to, m.State))
			if to == HalfOpen {
				b.ForceOpen() // a change made from a callback is delivered after it returns
				log = append(log, "forced")
			}
			if to == ForcedOpen {
				_, err := b.Allow()
				assert.ErrorIs(t, err, ErrOpen)
				b.Reset()
			}
		}})
		_ = call(b, errDown)
		time.Sleep(time.Second)
		synctest.Wait()
		assert.Equal(t, []string{
			"closed->open (now open)",
			"open->half-open (now half-open)",
			"forced",
			"half-open->forced-open (now forced-open)",
			"forced-open->closed (now closed)",
		}, log)
		assert.Equal(t, Closed, b.State())
	})
}

// Callbacks from many goroutines come one at a time, and each starts where the last ended.
func TestCallbackOrderUnderConcurrency(t *testing.T) {
	var mu sync.Mutex
	var inCallback atomic.Int32
	last := Closed
	changes := 0
	var b *Breaker
	b = New(Options{ConsecutiveFailures: 1, OpenDuration: time.Microsecond, OnStateChange: func(from, to State) {
		if inCallback.Add(1) != 1 {
			t.Error("callbacks overlap")
		}
		mu.Lock()
		if from != last {
			t.Errorf("change %v->%v after one to %v", from, to, last)
		}
		last = to
		changes++
		mu.Unlock()
		_ = b.State()
		inCallback.Add(-1)
	}})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				if (i+g)%3 == 0 {
					_ = call(b, errDown)
				} else {
					_ = call(b, nil)
				}
				if i%500 == 0 {
					b.Reset()
				}
			}
		})
	}
	wg.Wait()
	_ = b.State()
	mu.Lock()
	defer mu.Unlock()
	assert.Greater(t, changes, 10)
	assert.Equal(t, b.State(), last, "the last change delivered is the current state")
}

func TestPanickingCallbackDoesNotStopDelivery(t *testing.T) {
	var got []State
	b := New(Options{ConsecutiveFailures: 1, OnStateChange: func(_, to State) {
		got = append(got, to)
		if to == Open {
			panic("callback bug")
		}
	}})
	assert.Panics(t, func() { _ = call(b, errDown) })
	b.Reset()
	assert.Equal(t, []State{Open, Closed}, got)
}

func TestManualControl(t *testing.T) {
	b := New(Options{ConsecutiveFailures: 1, OpenDuration: 7 * time.Second})
	b.ForceOpen()
	assert.Equal(t, ForcedOpen, b.State())
	_, err := Do(context.Background(), b, succeed)
	var oe *OpenError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, 7*time.Second, oe.RetryAfter())
	assert.Equal(t, "breaker: forced open", oe.Error())

	b.Disable()
	assert.Equal(t, Disabled, b.State())
	for range 10 {
		assert.Equal(t, errDown, call(b, errDown), "disabled lets everything through")
	}
	assert.Equal(t, Disabled, b.State())
	assert.Equal(t, Counts{}, b.Metrics().Counts, "and records nothing")

	b.Reset()
	assert.Equal(t, Closed, b.State())
	_ = call(b, errDown)
	assert.Equal(t, Open, b.State())
	b.Reset()
	assert.Equal(t, Closed, b.State())
	require.NoError(t, call(b, nil))
}

func TestTimeWindowAgesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New(Options{Window: TimeWindow, WindowDuration: 10 * time.Second, WindowBuckets: 10, MinimumCalls: 10})
		for range 4 {
			_ = call(b, errDown)
		}
		for range 6 {
			_ = call(b, nil)
		}
		assert.Equal(t, Counts{Calls: 10, Failures: 4}, b.Metrics().Counts)
		time.Sleep(5 * time.Second)
		for range 3 {
			_ = call(b, nil)
		}
		assert.Equal(t, Counts{Calls: 13, Failures: 4}, b.Metrics().Counts)
		time.Sleep(5 * time.Second)
		assert.Equal(t, Counts{Calls: 3}, b.Metrics().Counts, "the first bucket dropped out")
		time.Sleep(time.Minute)
		assert.Equal(t, Counts{}, b.Metrics().Counts)
		// Failures long gone do not help trip: 5 of 10 in the window now.
		for range 5 {
			_ = call(b, nil)
		}
		for range 4 {
			_ = call(b, errDown)
		}
		assert.Equal(t, Closed, b.State())
		_ = call(b, errDown)
		assert.Equal(t, Open, b.State())
	})
}

// The coarse clock of a time window stops when calls stop and restarts with the next call.
func TestTimeWindowCoarseClockIdles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := New(Options{Window: TimeWindow, WindowDuration: 4 * time.Second, WindowBuckets: 4})
		for range 30 {
			_ = call(b, nil)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		b.mu.Lock()
		running := b.tw.running
		b.mu.Unlock()
		assert.False(t, running, "no ticking while idle")
		_ = call(b, nil) // a success in a clean window, the lock-free path
		assert.Equal(t, Counts{Calls: 1}, b.Metrics().Counts)
		time.Sleep(time.Second)
		_ = call(b, nil)
		time.Sleep(3500 * time.Millisecond)
		assert.Equal(t, Counts{Calls: 1}, b.Metrics().Counts)
	})
}

func TestRejectionCount(t *testing.T) {
	b := New(Options{ConsecutiveFailures: 1, CountRejections: true})
	_ = call(b, errDown)
	for range 5 {
		_ = call(b, nil)
	}
	_, _ = b.Allow()
	assert.Equal(t, uint64(6), b.Metrics().Rejections)

	quiet := New(Options{ConsecutiveFailures: 1})
	_ = call(quiet, errDown)
	_ = call(quiet, nil)
	assert.Equal(t, uint64(0), quiet.Metrics().Rejections, "not counted by default")
}

func TestMetrics(t *testing.T) {
	b := New(Options{WindowSize: 10, MinimumCalls: 10})
	for i := range 8 {
		if i%4 == 0 {
			_ = call(b, errDown)
		} else {
			_ = call(b, nil)
		}
	}
	m := b.Metrics()
	assert.Equal(t, Metrics{State: Closed, Counts: Counts{Calls: 8, Failures: 2}, FailureRate: 0.25}, m)
	assert.Equal(t, 0.0, Counts{}.FailureRate())
	assert.Equal(t, 0.0, Counts{}.SlowCallRate())
	assert.Equal(t, 0.5, Counts{Calls: 4, SlowCalls: 2}.SlowCallRate())
}

func TestZeroPermitIsNoop(t *testing.T) {
	var p Permit
	p.Done(errDown)
	assert.False(t, p.Probe())
}

func TestDoPassesContextAndValue(t *testing.T) {
	type key struct{}
	ctx := context.WithValue(context.Background(), key{}, "v")
	b := New(Options{})
	got, err := Do(ctx, b, func(ctx context.Context) (string, error) { return ctx.Value(key{}).(string), nil })
	require.NoError(t, err)
	assert.Equal(t, "v", got)
}

func TestAllocations(t *testing.T) {
	ctx := context.Background()
	cases := map[string]*Breaker{
		"closed count": New(Options{}),
		"closed time":  New(Options{Window: TimeWindow}),
		"closed slow":  New(Options{SlowCall: time.Second}),
	}
	for name, b := range cases {
		for range 200 {
			_, _ = Do(ctx, b, succeed)
		}
		assert.Zero(t, testing.AllocsPerRun(1000, func() { _, _ = Do(ctx, b, succeed) }), name)
		assert.Zero(t, testing.AllocsPerRun(1000, func() {
			p, _ := b.Allow()
			p.Done(nil)
		}), name)
	}
	open := New(Options{ConsecutiveFailures: 1, OpenDuration: time.Hour})
	_ = call(open, errDown)
	assert.Zero(t, testing.AllocsPerRun(1000, func() { _, _ = Do(ctx, open, succeed) }), "open")
	assert.Zero(t, testing.AllocsPerRun(1000, func() { _, _ = open.Allow() }), "open Allow")
}

// The lock-free success path and the locked failure path race under -race; the counts stay
// consistent with what was recorded.
func TestConcurrentRecording(t *testing.T) {
	for _, opts := range []Options{
		{WindowSize: 1000, FailureRate: -1},
		{Window: TimeWindow, WindowDuration: time.Hour, FailureRate: -1},
	} {
		b := New(opts)
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for i := range 200 {
					if g == 0 && i%10 == 0 {
						_ = call(b, errDown)
					} else {
						_ = call(b, nil)
					}
				}
			})
		}
		wg.Wait()
		assert.Equal(t, Counts{Calls: 800, Failures: 20}, b.Metrics().Counts)
	}
}
