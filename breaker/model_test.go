package breaker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// model is the reference breaker for the differential test: slow and obviously correct. It keeps
// every call recorded in the current closed period in a slice and recomputes the window from it
// each time; it reads no clock (now is passed in, as nanoseconds since the breaker's creation);
// it has no fast path, no bits and no lock. It follows the documented contract of Options, not
// the implementation.
type model struct {
	o        Options // normalized, as the breaker under test has them
	minCalls int

	state     State
	gen       int
	calls     []modelCall // recorded in this closed period, oldest first
	consec    int
	trips     int
	openUntil int64
	probes    []modelProbe
	ticket    int64
	successes int
}

type modelCall struct {
	at            int64
	failure, slow bool
}

type modelProbe struct{ ticket, start, deadline int64 }

type modelPermit struct {
	gen    int
	state  State
	start  int64
	ticket int64
}

func newModel(o Options) *model {
	m := &model{o: o, minCalls: o.MinimumCalls}
	if o.Window == CountWindow && m.minCalls > o.WindowSize {
		m.minCalls = o.WindowSize
	}
	return m
}

func (m *model) setState(s State, now int64) {
	m.state = s
	m.gen++
	m.probes = nil
	m.successes = 0
	if s == Closed {
		m.calls = nil
		m.consec = 0
	}
}

func (m *model) due(now int64) {
	if m.state == Open && now >= m.openUntil {
		m.setState(HalfOpen, now)
	}
}

// window returns the calls the sliding window holds at now.
func (m *model) window(now int64) []modelCall {
	if m.o.Window == CountWindow {
		if len(m.calls) > m.o.WindowSize {
			return m.calls[len(m.calls)-m.o.WindowSize:]
		}
		return m.calls
	}
	width := int64(m.o.WindowDuration) / int64(m.o.WindowBuckets)
	oldest := now/width - int64(m.o.WindowBuckets) + 1 // first bucket still in the window
	var in []modelCall
	for _, c := range m.calls {
		if c.at/width >= oldest {
			in = append(in, c)
		}
	}
	return in
}

func (m *model) counts(now int64) Counts {
	c := Counts{ConsecutiveFailures: m.consec}
	for _, call := range m.window(now) {
		c.Calls++
		if call.failure {
			c.Failures++
		}
		if call.slow {
			c.SlowCalls++
		}
	}
	return c
}

func (m *model) open(now int64) {
	m.trips++
	d := m.o.OpenDuration
	if m.o.MaxOpenDuration > d {
		d = time.Duration(min(float64(m.o.OpenDuration)*math.Pow(m.o.OpenBackoff, float64(m.trips-1)), float64(m.o.MaxOpenDuration)))
	}
	m.openUntil = now + int64(d)
	m.setState(Open, now)
}

// allow returns a permit, or false and the RetryAfter of the rejection.
func (m *model) allow(now int64) (modelPermit, time.Duration, bool) {
	m.due(now)
	switch m.state {
	case Open:
		return modelPermit{}, time.Duration(m.openUntil - now), false
	case ForcedOpen:
		return modelPermit{}, m.o.OpenDuration, false
	case HalfOpen:
		var live []modelProbe
		for _, p := range m.probes {
			if p.deadline > now {
				live = append(live, p)
			}
		}
		m.probes = live
		if len(m.probes) >= m.o.HalfOpenProbes {
			earliest := m.probes[0].deadline
			for _, p := range m.probes {
				earliest = min(earliest, p.deadline)
			}
			return modelPermit{}, time.Duration(earliest - now), false
		}
		m.ticket++
		m.probes = append(m.probes, modelProbe{m.ticket, now, now + int64(m.o.ProbeLease)})
		return modelPermit{gen: m.gen, state: HalfOpen, start: now, ticket: m.ticket}, 0, true
	}
	return modelPermit{gen: m.gen, state: m.state, start: now}, 0, true
}

func (m *model) done(p modelPermit, now int64, o Outcome) {
	m.due(now)
	if p.gen != m.gen {
		return
	}
	slow := m.o.SlowCall > 0 && now-p.start >= int64(m.o.SlowCall)
	switch m.state {
	case Closed:
		if o == Ignored {
			return
		}
		m.calls = append(m.calls, modelCall{at: now, failure: o == Failure, slow: slow})
		if o == Failure {
			m.consec++
		} else {
			m.consec = 0
		}
		if m.tripRule(m.counts(now)) {
			m.open(now)
		}
	case HalfOpen:
		i := -1
		for j, pr := range m.probes {
			if pr.ticket == p.ticket {
				i = j
			}
		}
		if i < 0 {
			return
		}
		expired := m.probes[i].deadline <= now
		m.probes = append(m.probes[:i], m.probes[i+1:]...)
		switch {
		case expired || o == Ignored:
		case o == Failure || slow:
			m.open(now)
		default:
			m.successes++
			if m.successes >= m.o.HalfOpenSuccesses {
				m.trips = 0
				m.setState(Closed, now)
			}
		}
	}
}

func (m *model) tripRule(c Counts) bool {
	o := m.o
	if o.ConsecutiveFailures > 0 && c.ConsecutiveFailures >= o.ConsecutiveFailures {
		return true
	}
	if c.Calls > 0 && c.Calls >= m.minCalls {
		if o.FailureRate > 0 && c.Failures > 0 && float64(c.Failures)/float64(c.Calls) >= o.FailureRate {
			return true
		}
		if o.SlowCall > 0 && o.SlowCallRate > 0 && c.SlowCalls > 0 && float64(c.SlowCalls)/float64(c.Calls) >= o.SlowCallRate {
			return true
		}
	}
	return o.TripRule != nil && (c.Failures > 0 || c.SlowCalls > 0) && o.TripRule(c)
}

func (m *model) reset(now int64) {
	m.trips = 0
	m.setState(Closed, now)
}

// The differential test runs the breaker and the model through the same seeded sequence of
// calls (synchronous and overlapping), outcomes, durations, sleeps and manual controls, in a
// synctest bubble, and compares after every step: the state, every Allow decision, every
// rejection's RetryAfter and the window's counts. Times are multiples of a quarter bucket, so
// the time window's coarse clock is exact at every call.
func TestDifferential(t *testing.T) {
	const tick = 250 * time.Millisecond
	configs := []struct {
		name string
		opts Options
	}{
		{"count", Options{
			WindowSize: 10, MinimumCalls: 5, FailureRate: 0.5, ConsecutiveFailures: 4,
			HalfOpenProbes: 2, HalfOpenSuccesses: 2, ProbeLease: 6 * tick,
			OpenDuration: 8 * tick, MaxOpenDuration: 64 * tick,
		}},
		{"count-slow", Options{
			WindowSize: 8, MinimumCalls: 4, FailureRate: 0.6, SlowCall: 2 * tick, SlowCallRate: 0.5,
			HalfOpenProbes: 3, HalfOpenSuccesses: 2, ProbeLease: 4 * tick, OpenDuration: 4 * tick,
		}},
		{"time", Options{
			Window: TimeWindow, WindowDuration: 4 * time.Second, WindowBuckets: 4, MinimumCalls: 4,
			FailureRate: 0.5, SlowCall: 3 * tick, SlowCallRate: 0.75, HalfOpenProbes: 2,
			HalfOpenSuccesses: 1, ProbeLease: 5 * tick, OpenDuration: 6 * tick,
			MaxOpenDuration: 30 * tick, OpenBackoff: 1.5,
		}},
		{"time-triprule", Options{
			Window: TimeWindow, WindowDuration: 2 * time.Second, WindowBuckets: 8, MinimumCalls: 1000,
			FailureRate: -1, TripRule: func(c Counts) bool { return c.Failures >= 3 },
			HalfOpenProbes: 1, HalfOpenSuccesses: 3, ProbeLease: 3 * tick, OpenDuration: 5 * tick,
		}},
		{"defaults", Options{}},
	}
	for _, cfg := range configs {
		for seed := uint64(1); seed <= 12; seed++ {
			t.Run(fmt.Sprintf("%s/seed=%d", cfg.name, seed), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) { runDifferential(t, cfg.opts, seed, tick) })
			})
		}
	}
}

type pendingCall struct {
	p  Permit
	mp modelPermit
}

func runDifferential(t *testing.T, opts Options, seed uint64, tick time.Duration) {
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 4))
	b := New(opts)
	m := newModel(b.opts)
	now := func() int64 { return int64(time.Since(b.base)) }
	errFail := errors.New("backend down")
	outcome := func(pFail float64) (Outcome, error) {
		switch x := rng.Float64(); {
		case x < 0.05:
			return Ignored, context.Canceled
		case x < 0.05+pFail:
			return Failure, errFail
		}
		return Success, nil
	}
	sleep := func(d time.Duration) {
		time.Sleep(d)
		synctest.Wait() // let the timers due at this instant run
	}
	var pending []pendingCall
	pFail := 0.1
	seen := map[string]int{}
	const steps = 1500
	for step := range steps {
		if step%60 == 0 {
			pFail = []float64{0.02, 0.2, 0.5, 0.9}[rng.IntN(4)]
		}
		where := fmt.Sprintf("seed %d step %d at %v", seed, step, time.Duration(now()))
		switch x := rng.IntN(100); {
		case x < 45: // a call through Allow/Done, taking some time
			p, err := b.Allow()
			mp, retry, ok := m.allow(now())
			require.Equal(t, ok, err == nil, "allow %s: %v", where, err)
			if !ok {
				seen["reject-"+m.state.String()]++
				var oe *OpenError
				require.ErrorAs(t, err, &oe)
				assert.Equal(t, retry, oe.RetryAfter(), "RetryAfter %s", where)
				break
			}
			sleep(time.Duration(rng.IntN(5)) * tick)
			o, err := outcome(pFail)
			p.Done(err)
			m.done(mp, now(), o)
		case x < 60: // a call that overlaps others
			if len(pending) >= 6 {
				break
			}
			p, err := b.Allow()
			mp, _, ok := m.allow(now())
			require.Equal(t, ok, err == nil, "allow %s: %v", where, err)
			if ok {
				pending = append(pending, pendingCall{p, mp})
			}
		case x < 75: // an overlapping call reports, maybe late
			if len(pending) == 0 {
				break
			}
			i := rng.IntN(len(pending))
			o, err := outcome(pFail)
			pending[i].p.Done(err)
			m.done(pending[i].mp, now(), o)
			pending = append(pending[:i], pending[i+1:]...)
		case x < 98:
			if rng.IntN(10) == 0 {
				sleep(time.Duration(1+rng.IntN(48)) * tick)
			} else {
				sleep(time.Duration(1+rng.IntN(8)) * tick)
			}
		case rng.IntN(4) == 0:
			b.Reset()
			m.reset(now())
		case rng.IntN(3) == 0:
			if rng.IntN(2) == 0 {
				b.ForceOpen()
				if m.state != ForcedOpen {
					m.setState(ForcedOpen, now())
				}
			} else {
				b.Disable()
				if m.state != Disabled {
					m.setState(Disabled, now())
				}
			}
		default:
			if m.state == ForcedOpen || m.state == Disabled {
				b.Reset()
				m.reset(now())
			}
		}
		m.due(now())
		seen[m.state.String()]++
		require.Equal(t, m.state, b.State(), "state %s", where)
		got := b.Metrics()
		require.Equal(t, m.counts(now()), got.Counts, "counts %s (state %v)", where, m.state)
		require.Equal(t, m.trips, got.Trips, "trips %s", where)
		seen[fmt.Sprintf("trips=%d", min(m.trips, 3))]++
	}
	if testing.Verbose() {
		t.Logf("steps per state: %v", seen)
	}
	// The sequence must have gone through the interesting states, or it proves little.
	for _, s := range []string{"closed", "open", "half-open", "reject-open"} {
		assert.NotZero(t, seen[s], "never %s", s)
	}
}
