package retry_test

import (
	"context"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/sinew-dev/sinew/retry"
)

// op is the operation under test: an indirect call, as the retried one is.
var op = func(context.Context) (int, error) { return 1, nil }

var opErr = func(context.Context) error { return nil }

var sink int

// BenchmarkFirstTry measures a call whose first attempt succeeds, against
// calling the operation directly. Run with -cpu 1,2 for the parallel forms.
func BenchmarkFirstTry(b *testing.B) {
	ctx := context.Background()
	plain := retry.New(retry.Options{})
	budgeted := retry.New(retry.Options{Budget: retry.NewBudget(retry.BudgetOptions{})})
	// Fill the budget, as in steady healthy traffic.
	for range 10000 {
		_ = budgeted.Do(ctx, opErr)
	}
	impls := []struct {
		name string
		call func() int
	}{
		{"direct", func() int { v, _ := op(ctx); return v }},
		{"sinew", func() int { v, _ := retry.Do(ctx, plain, op); return v }},
		{"sinew-method", func() int { _ = plain.Do(ctx, opErr); return 1 }},
		{"sinew-budget", func() int { v, _ := retry.Do(ctx, budgeted, op); return v }},
	}
	for _, impl := range impls {
		b.Run("impl="+impl.name, func(b *testing.B) {
			b.ReportAllocs()
			s := 0
			for b.Loop() {
				s += impl.call()
			}
			sink = s
		})
	}
	for _, impl := range impls {
		b.Run("impl="+impl.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				s := 0
				for pb.Next() {
					s += impl.call()
				}
				sink = s
			})
		})
	}
}

// BenchmarkDelay measures one delay computation by each strategy, with the
// runtime random source the Policy uses and with a seeded PCG.
func BenchmarkDelay(b *testing.B) {
	for _, src := range []struct {
		name string
		r    *rand.Rand
	}{
		{"runtime", rand.New(runtimeSource{})},
		{"pcg", rand.New(rand.NewPCG(1, 2))},
	} {
		for _, st := range []struct {
			name string
			s    retry.Strategy
		}{
			{"constant", retry.Constant(time.Second)},
			{"exponential", retry.Exponential(100*time.Millisecond, 30*time.Second)},
			{"full", retry.FullJitter(100*time.Millisecond, 30*time.Second)},
			{"equal", retry.EqualJitter(100*time.Millisecond, 30*time.Second)},
			{"decorrelated", retry.DecorrelatedJitter(100*time.Millisecond, 30*time.Second)},
		} {
			b.Run("strategy="+st.name+"/rand="+src.name, func(b *testing.B) {
				b.ReportAllocs()
				var prev time.Duration
				attempt := 0
				for b.Loop() {
					attempt = attempt%10 + 1
					prev = st.s(attempt, prev, src.r)
				}
				sink = int(prev)
			})
		}
	}
}

// runtimeSource mirrors the package's own source (math/rand/v2's runtime
// generator) for BenchmarkDelay.
type runtimeSource struct{}

func (runtimeSource) Uint64() uint64 { return rand.Uint64() }

// BenchmarkRetryPath measures a call that fails once and then succeeds after
// a zero wait: the cost of the slow path (classifying the error, computing a
// delay, a second attempt).
func BenchmarkRetryPath(b *testing.B) {
	p := retry.New(retry.Options{Backoff: retry.Constant(0)})
	ctx := context.Background()
	b.ReportAllocs()
	fail := true
	fn := func(context.Context) (int, error) {
		fail = !fail
		if !fail {
			return 0, errBoom
		}
		return 1, nil
	}
	for b.Loop() {
		v, _ := retry.Do(ctx, p, fn)
		sink += v
	}
}

// BenchmarkContention runs the AWS post's contention simulation (see
// sim_test.go) and reports, per strategy and number of clients, the mean
// number of calls the server handled (calls/run) and the mean virtual time
// until the last client succeeded (virtual-ms/run), over simRuns seeded runs.
// The figures are deterministic; ns/op is the simulator's own cost.
func BenchmarkContention(b *testing.B) {
	for _, clients := range []int{10, 50, 100} {
		for _, st := range simStrategies {
			b.Run("clients="+strconv.Itoa(clients)+"/strategy="+st.name, func(b *testing.B) {
				var calls float64
				var completion time.Duration
				for b.Loop() {
					calls, completion = simMeans(clients, simRuns, st.s)
				}
				b.ReportMetric(calls, "calls/run")
				b.ReportMetric(float64(completion)/float64(time.Millisecond), "virtual-ms/run")
			})
		}
	}
}
