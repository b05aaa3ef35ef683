package balancer_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sinew-dev/sinew/balancer"
	"github.com/sinew-dev/sinew/breaker"
)

const testSeed = 42

func members(weights ...int) []balancer.Member[string] {
	ms := make([]balancer.Member[string], len(weights))
	for i, w := range weights {
		ms[i] = balancer.Member[string]{Backend: string(rune('a' + i)), Weight: w}
	}
	return ms
}

func newBal(t *testing.T, p balancer.Policy, opts balancer.Options[string], weights ...int) *balancer.Balancer[string] {
	t.Helper()
	if opts.Seed == 0 {
		opts.Seed = testSeed
	}
	b := balancer.New[string](p, opts)
	require.NoError(t, b.Set(members(weights...)))
	return b
}

// pickDone picks and immediately reports success, returning the backend.
func pickDone(t *testing.T, b *balancer.Balancer[string]) string {
	t.Helper()
	p, err := b.Pick()
	require.NoError(t, err)
	p.Done(nil, time.Millisecond)
	return p.Backend
}

// counts picks n times (each Done at once) and counts backends.
func counts(t *testing.T, b *balancer.Balancer[string], n int) map[string]int {
	t.Helper()
	c := map[string]int{}
	for range n {
		c[pickDone(t, b)]++
	}
	return c
}

func TestPolicyString(t *testing.T) {
	want := []string{"roundrobin", "wrr", "random", "wrandom", "leastconn", "p2c", "peakewma", "hash"}
	var got []string
	for _, p := range balancer.Policies() {
		got = append(got, p.String())
	}
	assert.Equal(t, want, got)
	assert.Equal(t, "Policy(200)", balancer.Policy(200).String())
}

func TestNewPanicsOnBadOptions(t *testing.T) {
	tests := []struct {
		name   string
		policy balancer.Policy
		opts   balancer.Options[string]
	}{
		{"unknown policy", balancer.Policy(99), balancer.Options[string]{}},
		{"panic threshold above 1", balancer.RoundRobin, balancer.Options[string]{PanicThreshold: 1.5}},
		{"negative slow start", balancer.RoundRobin, balancer.Options[string]{SlowStart: -1}},
		{"negative decay", balancer.PeakEWMA, balancer.Options[string]{Decay: -1}},
		{"load factor below 1", balancer.ConsistentHash, balancer.Options[string]{LoadFactor: 0.5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Panics(t, func() { balancer.New[string](tt.policy, tt.opts) })
		})
	}
}

func TestNoBackend(t *testing.T) {
	for _, p := range balancer.Policies() {
		t.Run(p.String(), func(t *testing.T) {
			b := balancer.New[string](p, balancer.Options[string]{})
			_, err := b.Pick()
			assert.ErrorIs(t, err, balancer.ErrNoBackend, "no members")
			_, err = b.PickKey("k")
			assert.ErrorIs(t, err, balancer.ErrNoBackend, "no members, by key")

			require.NoError(t, b.Set(members(0, 0, -3)))
			_, err = b.Pick()
			assert.ErrorIs(t, err, balancer.ErrNoBackend, "zero weights")

			require.NoError(t, b.Set(members(1, 2)))
			b.MarkDown("a")
			b.MarkDown("b")
			_, err = b.Pick()
			assert.ErrorIs(t, err, balancer.ErrNoBackend, "all down")
			_, err = b.PickKey("k")
			assert.ErrorIs(t, err, balancer.ErrNoBackend, "all down, by key")

			b.MarkUp("b")
			assert.Equal(t, "b", pickDone(t, b))
		})
	}
}

func TestRoundRobinOrder(t *testing.T) {
	b := newBal(t, balancer.RoundRobin, balancer.Options[string]{}, 1, 5, 1)
	var got []string
	for range 7 {
		got = append(got, pickDone(t, b))
	}
	assert.Equal(t, []string{"a", "b", "c", "a", "b", "c", "a"}, got, "weights are ignored")
}

// maxDeviation picks n times and returns the largest |picks_i - k*w_i/W| over all prefixes k.
func maxDeviation(t *testing.T, b *balancer.Balancer[string], weights []int, n int) float64 {
	t.Helper()
	total := 0
	for _, w := range weights {
		total += w
	}
	got := make([]int, len(weights))
	worst := 0.0
	for k := 1; k <= n; k++ {
		got[pickDone(t, b)[0]-'a']++
		for i, w := range weights {
			worst = max(worst, math.Abs(float64(got[i])-float64(k)*float64(w)/float64(total)))
		}
	}
	return worst
}

func TestSmoothWeightedRoundRobin(t *testing.T) {
	tests := []struct {
		name    string
		weights []int
	}{
		{"5,1,1", []int{5, 1, 1}},
		{"1..10", []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{"100,1,1,1", []int{100, 1, 1, 1}},
		{"common divisor", []int{20, 10, 10}},
		{"single", []int{3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBal(t, balancer.WeightedRoundRobin, balancer.Options[string]{}, tt.weights...)
			total := 0
			for _, w := range tt.weights {
				total += w
			}
			dev := maxDeviation(t, b, tt.weights, 3*total)
			assert.Less(t, dev, 1.0, "max deviation from the ideal share")
		})
	}
	t.Run("nginx sequence", func(t *testing.T) {
		b := newBal(t, balancer.WeightedRoundRobin, balancer.Options[string]{}, 5, 1, 1)
		var got string
		for range 7 {
			got += pickDone(t, b)
		}
		assert.Equal(t, "aabacaa", got)
	})
	t.Run("huge weights are scaled", func(t *testing.T) {
		b := newBal(t, balancer.WeightedRoundRobin, balancer.Options[string]{}, 1_000_000_007, 1_000_000_009, 1)
		c := counts(t, b, balancer.MaxScheduleLength)
		assert.InDelta(t, 0.5, float64(c["a"])/balancer.MaxScheduleLength, 0.001)
		assert.InDelta(t, 0.5, float64(c["b"])/balancer.MaxScheduleLength, 0.001)
		assert.Equal(t, 1, c["c"], "each positive weight stays at least 1")
	})
}

func TestWeightedShares(t *testing.T) {
	const n = 60000
	// LeastConnections breaks ties uniformly, so with every request done at once (all loads 0)
	// it does not follow weights: TestLoadAware checks its weighting. PowerOfTwo then keeps its
	// first candidate, drawn by weight (from 32 random bits, see twoChoices).
	for _, weights := range [][]int{{1, 2, 3}, {100, 1, 1, 1}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}} {
		total := 0
		for _, w := range weights {
			total += w
		}
		for _, p := range []balancer.Policy{balancer.WeightedRandom, balancer.PowerOfTwo} {
			t.Run(fmt.Sprintf("%s/%v", p, weights), func(t *testing.T) {
				b := newBal(t, p, balancer.Options[string]{}, weights...)
				c := counts(t, b, n)
				for i, w := range weights {
					name := string(rune('a' + i))
					assert.InDelta(t, float64(w)/float64(total), float64(c[name])/n, 0.01, "share of %s (seed %d)", name, testSeed)
				}
			})
		}
	}
	weights := []int{1, 2, 3}
	t.Run("random ignores weights", func(t *testing.T) {
		b := newBal(t, balancer.Random, balancer.Options[string]{}, weights...)
		c := counts(t, b, n)
		for _, name := range []string{"a", "b", "c"} {
			assert.InDelta(t, 1.0/3, float64(c[name])/n, 0.02, "share of %s (seed %d)", name, testSeed)
		}
	})
}

// TestLoadAware holds requests in flight and checks that the load-aware policies send the next
// ones to the least-loaded backends, relative to weight.
func TestLoadAware(t *testing.T) {
	for _, p := range []balancer.Policy{balancer.LeastConnections, balancer.PowerOfTwo, balancer.PeakEWMA} {
		t.Run(p.String(), func(t *testing.T) {
			b := newBal(t, p, balancer.Options[string]{}, 1, 3)
			var held []balancer.Pick[string]
			for range 400 {
				pk, err := b.Pick()
				require.NoError(t, err)
				held = append(held, pk)
			}
			c := map[string]int{}
			for _, st := range b.Members() {
				c[st.Backend] = st.InFlight
			}
			// Two backends: P2C always compares both, so in-flight counts stay in the ratio of
			// the weights (to within one request) for every load-aware policy.
			assert.InDelta(t, 100, c["a"], 1, "in flight on a")
			assert.InDelta(t, 300, c["b"], 1, "in flight on b")
			for _, pk := range held {
				pk.Done(nil, time.Millisecond)
			}
			for _, st := range b.Members() {
				assert.Equal(t, 0, st.InFlight, st.Backend)
			}
		})
	}
}

func TestPeakEWMA(t *testing.T) {
	base := time.Now()
	at := func(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }
	share := func(b *balancer.Balancer[string], from, n int, lat map[string]time.Duration, fail string) map[string]int {
		c := map[string]int{}
		for k := range n {
			now := at(from + k)
			pk, err := b.PickAt(now)
			require.NoError(t, err)
			var perr error
			if pk.Backend == fail {
				perr = errors.New("boom")
			}
			pk.DoneAt(now.Add(lat[pk.Backend]), perr, lat[pk.Backend])
			c[pk.Backend]++
		}
		return c
	}
	t.Run("slow backend gets less", func(t *testing.T) {
		b := newBal(t, balancer.PeakEWMA, balancer.Options[string]{}, 1, 1, 1)
		c := share(b, 0, 3000, map[string]time.Duration{"a": 50 * time.Millisecond, "b": time.Millisecond, "c": time.Millisecond}, "")
		assert.Less(t, c["a"], 100, "picks of the 50x slower backend: %v", c)
		st := b.Members()
		assert.Equal(t, 50*time.Millisecond, st[0].Latency.Round(time.Millisecond), "peak is kept")
	})
	t.Run("fast failures count as slow", func(t *testing.T) {
		b := newBal(t, balancer.PeakEWMA, balancer.Options[string]{}, 1, 1, 1)
		c := share(b, 0, 3000, map[string]time.Duration{"a": 0, "b": time.Millisecond, "c": time.Millisecond}, "a")
		assert.Less(t, c["a"], 10, "picks of the failing backend: %v", c)
	})
	t.Run("penalty decays", func(t *testing.T) {
		b := newBal(t, balancer.PeakEWMA, balancer.Options[string]{Decay: time.Second}, 1, 1)
		lat := map[string]time.Duration{"a": 0, "b": time.Millisecond}
		share(b, 0, 100, lat, "a")
		c := share(b, 100, 100, lat, "")
		assert.Less(t, c["a"], 5, "right after the failure: %v", c)
		c = share(b, 60_000, 100, lat, "") // a minute later a's penalty has decayed
		assert.Greater(t, c["a"], 30, "a minute later: %v", c)
	})
	t.Run("canceled is not a failure", func(t *testing.T) {
		b := newBal(t, balancer.PeakEWMA, balancer.Options[string]{}, 1)
		pk, err := b.PickAt(at(0))
		require.NoError(t, err)
		pk.DoneAt(at(1), fmt.Errorf("wrapped: %w", context.Canceled), time.Millisecond)
		assert.Equal(t, time.Millisecond, b.Members()[0].Latency)
	})
}

// TestPeakEWMAZeroLatency is the regression test for a 3x slower PeakEWMA pick: latencies of 0
// (or decayed towards 0) used to leave a subnormal float as the average, whose arithmetic is very
// slow on x86. The average now stays at least 1 ns, and a long idle time decays it to that floor.
func TestPeakEWMAZeroLatency(t *testing.T) {
	base := time.Now()
	b := newBal(t, balancer.PeakEWMA, balancer.Options[string]{Decay: time.Second}, 1, 1)
	for k := range 100 {
		pk, err := b.PickAt(base.Add(time.Duration(k) * time.Millisecond))
		require.NoError(t, err)
		pk.DoneAt(base.Add(time.Duration(k)*time.Millisecond), nil, 0)
	}
	for _, st := range b.Members() {
		assert.Equal(t, time.Nanosecond, st.Latency, "measured 0: at the floor, still measured (%s)", st.Backend)
	}

	b = newBal(t, balancer.PeakEWMA, balancer.Options[string]{Decay: time.Second}, 1)
	pk, err := b.PickAt(base)
	require.NoError(t, err)
	pk.DoneAt(base, nil, time.Second)
	later := base.Add(10 * time.Hour) // 36,000 decay constants: exp(-36000) underflows
	pk, err = b.PickAt(later)
	require.NoError(t, err)
	pk.DoneAt(later, nil, 0)
	assert.Equal(t, time.Nanosecond, b.Members()[0].Latency)
}

func TestPanicThreshold(t *testing.T) {
	tests := []struct {
		name      string
		threshold float64
		down      int // of 4
		wantAll   bool
	}{
		{"default, half down: healthy only", 0, 2, false},
		{"default, three down: all", 0, 3, true},
		{"disabled, three down: healthy only", -1, 3, false},
		{"0.8, one down: all", 0.8, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBal(t, balancer.RoundRobin, balancer.Options[string]{PanicThreshold: tt.threshold}, 1, 1, 1, 1)
			for i := range tt.down {
				b.MarkDown(string(rune('a' + i)))
			}
			c := counts(t, b, 40)
			if tt.wantAll {
				assert.Len(t, c, 4, "panic mode spreads over all: %v", c)
			} else {
				assert.Len(t, c, 4-tt.down, "only healthy: %v", c)
			}
			avail := 0
			for _, st := range b.Members() {
				if st.Available {
					avail++
				}
			}
			assert.Equal(t, len(c), avail)
		})
	}
}

func TestMembership(t *testing.T) {
	b := newBal(t, balancer.LeastConnections, balancer.Options[string]{}, 1, 1)
	pa, err := b.Pick()
	require.NoError(t, err)
	pb, err := b.Pick()
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"a", "b"}, []string{pa.Backend, pb.Backend})

	// Replace the set: a stays (with its in-flight request), b leaves, c joins.
	require.NoError(t, b.Set([]balancer.Member[string]{{Backend: "a", Weight: 1}, {Backend: "c", Weight: 1}}))
	st := b.Members()
	require.Len(t, st, 2)
	assert.Equal(t, "a", st[0].Backend)
	assert.Equal(t, 1, st[0].InFlight, "a keeps its in-flight count")
	assert.Equal(t, 0, st[1].InFlight)
	assert.Equal(t, "c", pickDone(t, b), "least loaded")
	pa.Done(nil, 0)
	pb.Done(nil, 0) // b was removed: harmless
	assert.Equal(t, 0, b.Members()[0].InFlight)

	err = b.Set(members(1, 1, 1)[:1])
	require.NoError(t, err)
	err = b.Set([]balancer.Member[string]{{Backend: "x", Weight: 1}, {Backend: "x", Weight: 2}})
	assert.ErrorIs(t, err, balancer.ErrDuplicate)
	assert.Len(t, b.Members(), 1, "failed Set changes nothing")

	require.NoError(t, b.Add("d", 2))
	assert.ErrorIs(t, b.Add("d", 1), balancer.ErrDuplicate)
	assert.True(t, b.SetWeight("d", 0))
	assert.False(t, b.SetWeight("zz", 1))
	assert.Equal(t, "a", pickDone(t, b), "d has weight 0")
	assert.True(t, b.Remove("a"))
	assert.False(t, b.Remove("a"))
	_, err = b.Pick()
	assert.ErrorIs(t, err, balancer.ErrNoBackend)
	assert.True(t, b.SetWeight("d", 1))
	assert.Equal(t, "d", pickDone(t, b))
	assert.False(t, b.MarkDown("nope"))
	assert.False(t, b.MarkUp("nope"))
}

func TestSeedIsDeterministic(t *testing.T) {
	for _, p := range []balancer.Policy{balancer.Random, balancer.WeightedRandom, balancer.PowerOfTwo, balancer.LeastConnections} {
		t.Run(p.String(), func(t *testing.T) {
			seq := func() []string {
				b := newBal(t, p, balancer.Options[string]{Seed: 7}, 1, 2, 3, 4)
				var out []string
				for range 50 {
					out = append(out, pickDone(t, b))
				}
				return out
			}
			assert.Equal(t, seq(), seq())
		})
	}
}

func TestBreakerEjection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var changes []string
		var mu sync.Mutex
		b := newBal(t, balancer.RoundRobin, balancer.Options[string]{
			PanicThreshold: -1,
			Breaker: &breaker.Options{ConsecutiveFailures: 2, OpenDuration: time.Second,
				OnStateChange: func(from, to breaker.State) {
					mu.Lock()
					changes = append(changes, fmt.Sprint(from, "->", to))
					mu.Unlock()
				}},
		}, 1, 1, 1)
		boom := errors.New("boom")
		// a fails twice: its breaker opens and it leaves the rotation.
		for range 6 {
			p, err := b.Pick()
			require.NoError(t, err)
			if p.Backend == "a" {
				p.Done(boom, 0)
			} else {
				p.Done(nil, 0)
			}
		}
		st := b.Members()
		assert.True(t, st[0].Ejected)
		assert.False(t, st[0].Available)
		assert.Equal(t, breaker.Open, st[0].Breaker.State())
		c := counts(t, b, 20)
		assert.Equal(t, map[string]int{"b": 10, "c": 10}, c)

		// After the open duration a probe goes to a; its success closes the breaker.
		time.Sleep(time.Second)
		synctest.Wait()
		assert.False(t, b.Members()[0].Ejected)
		c = counts(t, b, 30)
		assert.Equal(t, 10, c["a"], "a is back: %v", c)
		assert.Equal(t, breaker.Closed, b.Members()[0].Breaker.State())
		mu.Lock()
		assert.Equal(t, []string{"closed->open", "open->half-open", "half-open->closed"}, changes, "user callback still called")
		mu.Unlock()
	})
}

func TestBreakerAllEjected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBal(t, balancer.PowerOfTwo, balancer.Options[string]{
			Breaker: &breaker.Options{ConsecutiveFailures: 1, OpenDuration: time.Second},
		}, 1, 1)
		for range 2 {
			p, err := b.Pick()
			require.NoError(t, err)
			p.Done(errors.New("boom"), 0)
		}
		for _, st := range b.Members() {
			require.True(t, st.Ejected, st.Backend)
		}
		_, err := b.Pick()
		assert.ErrorIs(t, err, balancer.ErrNoBackend)
	})
}

func TestBreakerHalfOpenRefusal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// One probe at a time: while a's probe is out, picks that land on a go elsewhere.
		b := newBal(t, balancer.RoundRobin, balancer.Options[string]{
			PanicThreshold: -1,
			Breaker:        &breaker.Options{ConsecutiveFailures: 1, OpenDuration: time.Second},
		}, 1, 1)
		p, err := b.Pick()
		require.NoError(t, err)
		require.Equal(t, "a", p.Backend)
		p.Done(errors.New("boom"), 0)
		time.Sleep(time.Second)
		synctest.Wait()
		var probe balancer.Pick[string]
		for probe.Backend != "a" {
			probe, err = b.Pick()
			require.NoError(t, err)
			if probe.Backend != "a" {
				probe.Done(nil, 0)
			}
		}
		c := counts(t, b, 10)
		assert.Equal(t, map[string]int{"b": 10}, c)
		probe.Done(nil, 0)
		c = counts(t, b, 10)
		assert.Equal(t, map[string]int{"a": 5, "b": 5}, c)
	})
}

func TestSlowStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBal(t, balancer.RoundRobin, balancer.Options[string]{SlowStart: 10 * time.Second}, 1, 1)
		require.NoError(t, b.Add("c", 1))
		// c's effective weight is f = max(0.1, elapsed/SlowStart) against 1 for a and b.
		want := func(f float64) float64 { return 3000 * f / (2 + f) }
		c := counts(t, b, 3000)
		assert.InDelta(t, want(0.1), c["c"], 40, "at first about 10%% of its weight: %v", c)
		time.Sleep(5 * time.Second)
		c = counts(t, b, 3000)
		assert.InDelta(t, want(0.5), c["c"], 80, "half way: about half its weight: %v", c)
		time.Sleep(5 * time.Second)
		c = counts(t, b, 3000)
		assert.Equal(t, 1000, c["c"], "after slow start: its full share")

		b.MarkDown("c")
		b.MarkUp("c")
		c = counts(t, b, 3000)
		assert.Less(t, c["c"], 200, "slow start again after MarkUp: %v", c)
	})
}

func TestConcurrentPicksAndChanges(t *testing.T) {
	for _, p := range balancer.Policies() {
		t.Run(p.String(), func(t *testing.T) {
			b := balancer.New[string](p, balancer.Options[string]{
				SlowStart: time.Millisecond,
				Breaker:   &breaker.Options{ConsecutiveFailures: 3, OpenDuration: time.Millisecond},
			})
			require.NoError(t, b.Set(members(1, 2, 3, 4)))
			var wg sync.WaitGroup
			for g := range 4 {
				wg.Go(func() {
					for i := range 2000 {
						pk, err := b.PickKey(fmt.Sprint(i))
						if err != nil {
							continue
						}
						var e error
						if (i+g)%7 == 0 {
							e = errors.New("boom")
						}
						pk.Done(e, time.Microsecond)
					}
				})
			}
			wg.Go(func() {
				for i := range 200 {
					switch i % 4 {
					case 0:
						_ = b.Set(members(1, 2, 3, 4, 5)[i%2:])
					case 1:
						b.MarkDown("c")
					case 2:
						b.SetWeight("d", i%5)
					case 3:
						b.MarkUp("c")
					}
				}
			})
			wg.Wait()
			for _, st := range b.Members() {
				assert.Equal(t, 0, st.InFlight, st.Backend)
			}
		})
	}
}

func TestPickAllocs(t *testing.T) {
	for _, p := range balancer.Policies() {
		for _, c := range []struct {
			name string
			opts balancer.Options[string]
		}{
			{"", balancer.Options[string]{}},
			{"/breaker", balancer.Options[string]{Breaker: &breaker.Options{}}},
		} {
			t.Run(p.String()+c.name, func(t *testing.T) {
				b := newBal(t, p, c.opts, 1, 2, 3, 4, 5)
				allocs := testing.AllocsPerRun(1000, func() {
					pk, err := b.PickKey("user:1")
					if err != nil {
						panic(err)
					}
					pk.Done(nil, time.Millisecond)
				})
				assert.Equal(t, 0.0, allocs)
			})
		}
	}
}

// TestDoneWithoutAccounting checks the policies that track nothing: their picks carry no
// per-backend state, and Done (also after the backend left) changes nothing.
func TestDoneWithoutAccounting(t *testing.T) {
	tests := []struct {
		name   string
		policy balancer.Policy
		opts   balancer.Options[string]
	}{
		{"roundrobin", balancer.RoundRobin, balancer.Options[string]{}},
		{"wrr", balancer.WeightedRoundRobin, balancer.Options[string]{}},
		{"random", balancer.Random, balancer.Options[string]{}},
		{"wrandom", balancer.WeightedRandom, balancer.Options[string]{}},
		{"roundrobin with slow start", balancer.RoundRobin, balancer.Options[string]{SlowStart: time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBal(t, tt.policy, tt.opts, 1, 2, 3)
			var held []balancer.Pick[string]
			for range 30 {
				pk, err := b.Pick()
				require.NoError(t, err)
				held = append(held, pk)
			}
			require.True(t, b.Remove("a"))
			for k, pk := range held {
				if k%2 == 0 {
					pk.Done(errors.New("boom"), time.Second)
				} else {
					pk.DoneAt(time.Now(), nil, time.Millisecond)
				}
			}
			for _, st := range b.Members() {
				assert.Equal(t, 0, st.InFlight, st.Backend)
				assert.Equal(t, time.Duration(0), st.Latency, st.Backend)
				assert.True(t, st.Available, st.Backend)
			}
			c := counts(t, b, 50)
			assert.Equal(t, 50, c["b"]+c["c"], "picks after a left: %v", c)
		})
	}
}

// TestBreakerPermitsFollowTheirPick holds many picks with breakers and ends them out of order,
// twice (permits are recycled between picks): each result reaches the breaker of its own backend.
func TestBreakerPermitsFollowTheirPick(t *testing.T) {
	for _, p := range []balancer.Policy{balancer.RoundRobin, balancer.PowerOfTwo, balancer.PeakEWMA} {
		t.Run(p.String(), func(t *testing.T) {
			b := newBal(t, p, balancer.Options[string]{
				Breaker: &breaker.Options{FailureRate: -1}, // never trips
			}, 1, 1, 1)
			picked := map[string]int{}
			for range 2 {
				var held []balancer.Pick[string]
				for range 12 {
					pk, err := b.Pick()
					require.NoError(t, err)
					held = append(held, pk)
					picked[pk.Backend]++
				}
				for k := len(held) - 1; k >= 0; k-- {
					var err error
					if held[k].Backend == "a" {
						err = errors.New("boom")
					}
					held[k].Done(err, time.Millisecond)
				}
			}
			require.Positive(t, picked["a"])
			for _, st := range b.Members() {
				m := st.Breaker.Metrics()
				want := 0
				if st.Backend == "a" {
					want = picked["a"]
				}
				assert.Equal(t, want, m.Counts.Failures, "failures reported to %s's breaker", st.Backend)
				assert.Equal(t, 0, st.InFlight, st.Backend)
			}
		})
	}
}

func TestZeroPickDone(t *testing.T) {
	var p balancer.Pick[string]
	assert.NotPanics(t, func() {
		p.Done(nil, 0)
		p.DoneAt(time.Now(), errors.New("x"), 0)
	})
}

func TestConsistentHash(t *testing.T) {
	b := newBal(t, balancer.ConsistentHash, balancer.Options[string]{}, 1, 1, 1, 1)
	t.Run("a key sticks to its owner", func(t *testing.T) {
		for i := range 200 {
			key := fmt.Sprint("user:", i)
			owner, ok := b.Owner(key)
			require.True(t, ok)
			for range 3 {
				p, err := b.PickKey(key)
				require.NoError(t, err)
				assert.Equal(t, owner, p.Backend, key)
				p.Done(nil, 0)
			}
		}
	})
	t.Run("keys spread over the members", func(t *testing.T) {
		c := map[string]int{}
		for i := range 4000 {
			p, err := b.PickKey(fmt.Sprint("k", i))
			require.NoError(t, err)
			c[p.Backend]++
			p.Done(nil, 0)
		}
		for _, name := range []string{"a", "b", "c", "d"} {
			assert.InDelta(t, 1000, c[name], 150, "keys of %s: %v", name, c)
		}
	})
	t.Run("bounded load", func(t *testing.T) {
		// Hold requests for one key: once its owner has LoadFactor times the average in flight,
		// the key spills to other backends.
		var held []balancer.Pick[string]
		c := map[string]int{}
		for range 100 {
			p, err := b.PickKey("hot")
			require.NoError(t, err)
			c[p.Backend]++
			held = append(held, p)
		}
		owner, _ := b.Owner("hot")
		for _, st := range b.Members() {
			// cap = 1.25 * (total+1)/4: every backend ends near 25 in flight.
			assert.LessOrEqual(t, st.InFlight, 33, "%s (owner %s): %v", st.Backend, owner, c)
		}
		assert.Greater(t, c[owner], c["a"]+c["b"]+c["c"]+c["d"]-c[owner]-75, "owner keeps the most: %v", c)
		for _, p := range held {
			p.Done(nil, 0)
		}
	})
	t.Run("owner down", func(t *testing.T) {
		owner, _ := b.Owner("user:7")
		b.MarkDown(owner)
		defer b.MarkUp(owner)
		p, err := b.PickKey("user:7")
		require.NoError(t, err)
		assert.NotEqual(t, owner, p.Backend)
		p.Done(nil, 0)
		again, _ := b.Owner("user:7")
		assert.Equal(t, owner, again, "Owner ignores health")
	})
	t.Run("pick without key is least loaded", func(t *testing.T) {
		p1, err := b.PickKey("x")
		require.NoError(t, err)
		seen := map[string]bool{p1.Backend: true}
		var held []balancer.Pick[string]
		for range 3 {
			p, err := b.Pick()
			require.NoError(t, err)
			seen[p.Backend] = true
			held = append(held, p)
		}
		assert.Len(t, seen, 4, "each pick went to an idle backend")
		p1.Done(nil, 0)
		for _, p := range held {
			p.Done(nil, 0)
		}
	})
	t.Run("name collision", func(t *testing.T) {
		b := balancer.New[int](balancer.ConsistentHash, balancer.Options[int]{Name: func(int) string { return "same" }})
		require.NoError(t, b.Add(1, 1))
		assert.Error(t, b.Add(2, 1))
		assert.Len(t, b.Members(), 1, "failed Add changes nothing")
		assert.Error(t, b.Set([]balancer.Member[int]{{Backend: 1, Weight: 5}, {Backend: 2, Weight: 1}}))
		st := b.Members()
		require.Len(t, st, 1, "failed Set changes nothing")
		assert.Equal(t, 1, st[0].Weight, "failed Set keeps weights")
	})
	t.Run("Owner of other policies", func(t *testing.T) {
		rr := newBal(t, balancer.RoundRobin, balancer.Options[string]{}, 1)
		_, ok := rr.Owner("k")
		assert.False(t, ok)
	})
}

// TestSmoothWeightedRoundRobinRandomWeights checks nginx's smoothness bound on random weight sets:
// no backend is ever more than one pick off its ideal share (exactly one can happen, e.g. for
// weights 2,5,17,17,17,4,5,1; the sets of TestSmoothWeightedRoundRobin stay strictly below one).
func TestSmoothWeightedRoundRobinRandomWeights(t *testing.T) {
	const seed = 12345
	rng := rand.New(rand.NewPCG(seed, 0))
	for trial := range 500 {
		weights := make([]int, 2+rng.IntN(8))
		total := 0
		for i := range weights {
			weights[i] = 1 + rng.IntN(20)
			total += weights[i]
		}
		b := newBal(t, balancer.WeightedRoundRobin, balancer.Options[string]{}, weights...)
		dev := maxDeviation(t, b, weights, 2*total)
		if !assert.LessOrEqual(t, dev, 1.0+1e-9, "trial %d, weights %v (seed %d)", trial, weights, seed) {
			return
		}
	}
}
