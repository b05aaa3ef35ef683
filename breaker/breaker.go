package breaker

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// The state word packs what the lock-free paths need into one atomic load: the state, whether
// the window is clean (see Breaker), two constant configuration bits and the generation, which
// every transition (and Reset) increments so that a permit can tell whether it still belongs to
// the state that issued it.
const (
	stateMask uint64 = 7      // State
	cleanBit  uint64 = 1 << 3 // Closed and the window holds nothing that a success could change
	slowBit   uint64 = 1 << 4 // Options.SlowCall is set: permits carry a start time
	timeBit   uint64 = 1 << 5 // Options.Window is TimeWindow
	genShift         = 8
)

// Breaker is a circuit breaker: it lets calls to a dependency through while they mostly succeed
// (Closed), rejects them for a while once too many fail or are slow (Open), then lets a few
// probes through (HalfOpen) whose results close it again or reopen it. See [Options] for the
// rules and the package documentation for usage.
//
// Call through [Do], or with the two-step [Breaker.Allow] and [Permit.Done] where the call is not
// a single function (middleware, streams). Read the state with [Breaker.State] and the numbers
// with [Breaker.Metrics].
//
// A Breaker is safe for concurrent use. It must be created with [New]; the zero Breaker is not
// usable. It starts no goroutine of its own: the end of the open state is a [time.AfterFunc]
// timer, and a time-based window advances its clock with a timer that runs only while calls
// arrive, so there is nothing to close.
//
// # Design
//
// Everything that changes the breaker (recording a failure, a transition, a probe) happens
// under one mutex, in plain code that is easy to check against the reference model in the
// tests. Two paths avoid the mutex, because they are the ones taken millions of times a second:
//
//   - A successful call while Closed with a clean window. The window is clean when it holds
//     no failure and no slow call, there is no run of consecutive failures and, for a count
//     window, it is full. Recording a success in a full count window of successes replaces a
//     success by a success: nothing changes, no rule can trip, so such a call records nothing
//     at all and reads no clock. Allow is one atomic load, Done one more. A time window must
//     still count the success (successes age out with time, and rates are relative to them),
//     which costs one atomic add on a running total striped over cache lines by goroutine (so
//     that cores do not fight over one line); the current bucket absorbs the successes counted
//     since the window last moved when a coarse clock, which a timer refreshes every quarter
//     bucket while calls arrive, moves it (so a call may land in the previous bucket up to a
//     quarter bucket late), because reading the clock per call would cost more than the rest
//     of the call. A goroutine that records a failure clears the clean bit before it changes
//     the window, so a lock-free success is always ordered before the change or sees it and
//     takes the mutex.
//   - A rejection while Open. The state word says Open and the rejection returns the
//     [*OpenError] built when the breaker opened: two atomic loads, no clock, no allocation.
//     The open state ends by a timer at its deadline; [Breaker.State] and [Breaker.Metrics]
//     also read the clock, so they never report an Open that is already due to end. Allow and
//     Do do not, so they may reject for the moment between the deadline and the timer's
//     goroutine running (in a testing/synctest bubble: call synctest.Wait after sleeping to the
//     deadline, or State).
//
// Reading the clock is what costs most here (about 40 to 70 ns), so only the rules that need it
// read it: SlowCall (two reads per call), a trip (one), half-open probes (one per Allow and
// Done), and the time window's coarse clock (once per quarter bucket).
type Breaker struct {
	// Read on every call; written only under mu.
	word    atomic.Uint64
	openErr atomic.Pointer[OpenError] // the rejection while Open or ForcedOpen
	tw      *timeWindow               // nil for a count window; buckets written lock-free
	_       [40]byte

	rejections atomic.Uint64 // only with Options.CountRejections
	_          [56]byte

	opts     Options // normalized
	classify func(error) Outcome
	base     time.Time // monotonic origin of all nanosecond times below
	minCalls int

	mu        sync.Mutex // protects everything below, and the time window's locked fields
	state     State
	gen       uint64
	clean     bool
	cw        countWindow
	consec    int         // consecutive failures
	trips     int         // trips since last closed
	openUntil int64       // ns since base, while Open
	timer     *time.Timer // ends the open state
	probes    []probe     // running probes, while HalfOpen
	successes int         // successful probes, while HalfOpen
	ticket    int64       // last probe ticket issued
	hoErr     *OpenError  // cached half-open rejection
	events    []transition
	draining  bool
}

type probe struct {
	ticket   int64
	start    int64 // ns since base
	deadline int64 // start + ProbeLease
}

type transition struct{ from, to State }

// New returns a Closed breaker configured by opts (see [Options] for the defaults). It panics if
// a field is out of range (a negative size or duration, a rate above 1, a Jitter outside [0, 1],
// an OpenBackoff below 1 or an unknown Window).
func New(opts Options) *Breaker {
	o := opts
	switch {
	case o.Window > TimeWindow:
		panic("breaker: unknown Options.Window")
	case o.WindowSize < 0 || o.WindowBuckets < 0 || o.MinimumCalls < 0 || o.ConsecutiveFailures < 0 ||
		o.HalfOpenProbes < 0 || o.HalfOpenSuccesses < 0:
		panic("breaker: negative size or count in Options")
	case o.WindowBuckets > 0xffff:
		panic("breaker: Options.WindowBuckets above 65535")
	case o.WindowDuration < 0 || o.SlowCall < 0 || o.ProbeLease < 0 || o.OpenDuration < 0 || o.MaxOpenDuration < 0:
		panic("breaker: negative duration in Options")
	case o.FailureRate > 1 || o.SlowCallRate > 1 || math.IsNaN(o.FailureRate) || math.IsNaN(o.SlowCallRate):
		panic("breaker: rate in Options above 1")
	case o.Jitter < 0 || o.Jitter > 1 || math.IsNaN(o.Jitter):
		panic("breaker: Options.Jitter outside [0, 1]")
	case o.OpenBackoff != 0 && !(o.OpenBackoff >= 1):
		panic("breaker: Options.OpenBackoff below 1")
	}
	if o.WindowSize == 0 {
		o.WindowSize = 100
	}
	if o.WindowDuration == 0 {
		o.WindowDuration = 60 * time.Second
	}
	if o.WindowBuckets == 0 {
		o.WindowBuckets = 10
	}
	if o.MinimumCalls == 0 {
		o.MinimumCalls = 20
	}
	if o.FailureRate == 0 {
		o.FailureRate = 0.5
	}
	if o.SlowCallRate == 0 {
		o.SlowCallRate = 1
	}
	if o.HalfOpenProbes == 0 {
		o.HalfOpenProbes = 1
	}
	if o.HalfOpenSuccesses == 0 {
		o.HalfOpenSuccesses = 1
	}
	if o.ProbeLease == 0 {
		o.ProbeLease = 10 * time.Second
	}
	if o.OpenDuration == 0 {
		o.OpenDuration = 10 * time.Second
	}
	if o.OpenBackoff == 0 {
		o.OpenBackoff = 2
	}
	b := &Breaker{opts: o, classify: o.Classify, base: time.Now(), minCalls: o.MinimumCalls}
	if b.classify == nil {
		b.classify = DefaultClassify
	}
	if o.Window == CountWindow {
		b.cw.ring = make([]uint8, o.WindowSize)
		b.minCalls = min(b.minCalls, o.WindowSize)
	} else {
		b.tw = newTimeWindow(o.WindowDuration, o.WindowBuckets)
	}
	b.clean = b.isClean(b.countsLocked())
	b.publish()
	return b
}

// publish stores the state word. Call with mu held.
func (b *Breaker) publish() {
	w := uint64(b.state) | b.gen<<genShift
	if b.clean {
		w |= cleanBit
	}
	if b.opts.SlowCall > 0 {
		w |= slowBit
	}
	if b.tw != nil {
		w |= timeBit
	}
	b.word.Store(w)
}

// since returns the monotonic nanoseconds since New (one clock read).
func (b *Breaker) since() int64 { return int64(time.Since(b.base)) }

func (b *Breaker) at(ns int64) time.Time { return b.base.Add(time.Duration(ns)) }

// Permit is the right to make one call, returned by [Breaker.Allow]. Report the call's result
// with Done exactly once. The zero Permit (returned with a rejection) does nothing.
type Permit struct {
	b   *Breaker
	w   uint64 // state word when allowed
	aux int64  // Closed: start, ns since base, when tracking slow calls; HalfOpen: probe ticket
}

// Probe reports whether the permit is a half-open probe, whose result decides whether the
// breaker closes.
func (p Permit) Probe() bool { return State(p.w&stateMask) == HalfOpen }

// Done records the result of the permitted call: a nil err is a success, any other error is
// classified by [Options.Classify]. When SlowCall is set, the call's duration is the time since
// Allow. A result that arrives after the breaker left the state that issued the permit (a call
// that started before the breaker opened, a probe whose lease expired) is discarded. Done must be
// called exactly once per permit: a second call on a Closed permit would count the call twice.
func (p Permit) Done(err error) {
	// A success in a clean window: a count window changes nothing (see Breaker), a time window
	// counts it lock-free.
	if err == nil && p.w&(stateMask|cleanBit|slowBit) == cleanBit && p.b.word.Load() == p.w {
		if p.w&timeBit != 0 {
			p.b.tw.success(p.b)
		}
		return
	}
	p.done(err)
}

// done is Done's slow path; err is nil for a panic.
func (p Permit) done(err error) { p.report(err, false) }

func (p Permit) report(err error, panicked bool) {
	b := p.b
	if b == nil {
		return
	}
	st := State(p.w & stateMask)
	if st != Closed && st != HalfOpen {
		return // Disabled
	}
	o := Success
	if panicked {
		o = Failure
	} else if err != nil {
		o = b.classify(err)
	}
	if st == Closed && o == Ignored {
		return
	}
	if st == HalfOpen {
		b.record(p, o, false, b.since())
		return
	}
	slow := p.w&slowBit != 0 && b.since()-p.aux >= int64(b.opts.SlowCall)
	if o == Success && !slow && p.w&cleanBit != 0 && b.word.Load() == p.w {
		if b.tw == nil {
			return
		}
		b.tw.success(b)
		return
	}
	b.record(p, o, slow, 0)
}

// Allow asks to make one call. It returns a [Permit] whose Done must be called with the call's
// result, or a rejection: an [*OpenError] matching [ErrOpen] when the breaker is Open or
// ForcedOpen, or HalfOpen with all [Options.HalfOpenProbes] slots taken. A Disabled breaker
// allows every call.
func (b *Breaker) Allow() (Permit, error) {
	w := b.word.Load()
	switch {
	case w&(stateMask|slowBit) == uint64(Closed):
		return Permit{b: b, w: w}, nil
	case w&stateMask == uint64(Open) && !b.opts.CountRejections:
		return Permit{}, b.openErr.Load()
	}
	return b.allowSlow(w)
}

func (b *Breaker) allowSlow(w uint64) (Permit, error) {
	for {
		switch State(w & stateMask) {
		case Closed:
			return Permit{b: b, w: w, aux: b.since()}, nil
		case Open, ForcedOpen:
			if b.opts.CountRejections {
				b.rejections.Add(1)
			}
			return Permit{}, b.openErr.Load()
		case Disabled:
			return Permit{b: b, w: w}, nil
		}
		if p, err, ok := b.allowProbe(); ok {
			return p, err
		}
		w = b.word.Load() // the state changed under us: start over
	}
}

// allowProbe takes a half-open probe slot. ok is false if the breaker is no longer HalfOpen.
func (b *Breaker) allowProbe() (p Permit, err error, ok bool) {
	now := b.since()
	b.mu.Lock()
	if b.state != HalfOpen {
		b.mu.Unlock()
		return Permit{}, nil, false
	}
	b.expireProbes(now)
	if len(b.probes) < b.opts.HalfOpenProbes {
		b.ticket++
		b.probes = append(b.probes, probe{ticket: b.ticket, start: now, deadline: now + int64(b.opts.ProbeLease)})
		p = Permit{b: b, w: b.word.Load(), aux: b.ticket}
		b.mu.Unlock()
		return p, nil, true
	}
	earliest := b.probes[0].deadline
	for _, pr := range b.probes[1:] {
		earliest = min(earliest, pr.deadline)
	}
	if e := b.hoErr; e == nil || !e.until.Equal(b.at(earliest)) {
		b.hoErr = &OpenError{state: HalfOpen, until: b.at(earliest)}
	}
	e := b.hoErr
	b.mu.Unlock()
	if b.opts.CountRejections {
		b.rejections.Add(1)
	}
	return Permit{}, e, true
}

// expireProbes frees the slots of probes whose lease has ended. Call with mu held.
func (b *Breaker) expireProbes(now int64) {
	live := b.probes[:0]
	for _, pr := range b.probes {
		if pr.deadline > now {
			live = append(live, pr)
		}
	}
	b.probes = live
}

// Do calls fn through the breaker b and returns its results. If b rejects the call, fn is not
// called and Do returns T's zero value and an [*OpenError] matching [ErrOpen]. Otherwise fn's
// error is recorded as by [Permit.Done]; a panic in fn (or runtime.Goexit) is recorded as a
// failure and keeps unwinding. ctx is passed to fn; Do itself does not wait and does not check
// it.
func Do[T any](ctx context.Context, b *Breaker, fn func(context.Context) (T, error)) (T, error) {
	// Allow and Done by hand: the compiler will not inline both into a generic function.
	w := b.word.Load()
	p := Permit{b: b, w: w}
	if w&(stateMask|slowBit) != uint64(Closed) {
		if w&stateMask == uint64(Open) && !b.opts.CountRejections {
			var zero T
			return zero, b.openErr.Load()
		}
		var err error
		if p, err = b.allowSlow(w); err != nil {
			var zero T
			return zero, err
		}
	}
	returned := false
	defer func() {
		if !returned {
			p.report(nil, true)
		}
	}()
	v, err := fn(ctx)
	returned = true
	if err == nil && p.w&(stateMask|cleanBit|slowBit) == cleanBit && b.word.Load() == p.w {
		if p.w&timeBit != 0 {
			b.tw.success(b)
		}
		return v, nil
	}
	p.done(err)
	return v, err
}

// record applies a result that the lock-free paths could not. now (ns since base) is needed
// only for a probe, whose slowness record works out from its start.
func (b *Breaker) record(p Permit, o Outcome, slow bool, now int64) {
	b.mu.Lock()
	if p.w>>genShift == b.gen {
		switch b.state {
		case Closed:
			b.recordClosed(o == Failure, slow)
		case HalfOpen:
			b.recordProbe(p.aux, o, now)
		}
	}
	b.unlockAndNotify()
}

// recordClosed records one call in the window and trips if a rule says so. Call with mu held.
func (b *Breaker) recordClosed(failure, slow bool) {
	if b.tw != nil {
		b.tw.touchLocked(b)
	}
	if (failure || slow) && b.clean {
		b.clean = false // before the window changes: see Breaker
		b.publish()
	}
	if b.tw != nil {
		b.tw.addLocked(failure, slow)
	} else {
		b.cw.add(failure, slow)
	}
	if failure {
		b.consec++
	} else {
		b.consec = 0
	}
	c := b.countsLocked()
	if b.shouldTrip(c) {
		b.trip(b.since())
		return
	}
	b.setClean(b.isClean(c))
}

func (b *Breaker) shouldTrip(c Counts) bool {
	o := &b.opts
	if o.ConsecutiveFailures > 0 && c.ConsecutiveFailures >= o.ConsecutiveFailures {
		return true
	}
	if c.Calls >= b.minCalls && c.Calls > 0 {
		if o.FailureRate > 0 && c.Failures > 0 && c.FailureRate() >= o.FailureRate {
			return true
		}
		if o.SlowCall > 0 && o.SlowCallRate > 0 && c.SlowCalls > 0 && c.SlowCallRate() >= o.SlowCallRate {
			return true
		}
	}
	return o.TripRule != nil && (c.Failures > 0 || c.SlowCalls > 0) && o.TripRule(c)
}

func (b *Breaker) isClean(c Counts) bool {
	return b.state == Closed && c.Failures == 0 && c.SlowCalls == 0 && b.consec == 0 &&
		(b.tw != nil || c.Calls == b.opts.WindowSize)
}

func (b *Breaker) setClean(clean bool) {
	if clean != b.clean {
		b.clean = clean
		b.publish()
	}
}

// recordProbe applies a half-open probe's result. Call with mu held.
func (b *Breaker) recordProbe(ticket int64, o Outcome, now int64) {
	i := -1
	for j, pr := range b.probes {
		if pr.ticket == ticket {
			i = j
			break
		}
	}
	if i < 0 {
		return // its lease expired and its slot was taken back
	}
	pr := b.probes[i]
	b.probes = append(b.probes[:i], b.probes[i+1:]...)
	expired := pr.deadline <= now
	slow := b.opts.SlowCall > 0 && now-pr.start >= int64(b.opts.SlowCall)
	switch {
	case expired || o == Ignored:
	case o == Failure || slow:
		b.trip(now)
	default:
		b.successes++
		if b.successes >= b.opts.HalfOpenSuccesses {
			b.close()
		}
	}
}

// trip opens the breaker at now (ns since base). Call with mu held.
func (b *Breaker) trip(now int64) {
	b.trips++
	d := b.openDuration()
	b.openUntil = now + int64(d)
	b.openErr.Store(&OpenError{state: Open, until: b.at(b.openUntil), at: b.openUntil}) // before the word says Open
	gen := b.setState(Open)
	b.timer = time.AfterFunc(d, func() { b.openElapsed(gen) })
}

// openDuration is the open duration for the current trip. Call with mu held.
func (b *Breaker) openDuration() time.Duration {
	o := &b.opts
	d := o.OpenDuration
	if o.MaxOpenDuration > d {
		f := float64(d) * math.Pow(o.OpenBackoff, float64(b.trips-1))
		d = o.MaxOpenDuration
		if f < float64(d) {
			d = time.Duration(f)
		}
	}
	if o.Jitter > 0 {
		d -= time.Duration(o.Jitter * rand.Float64() * float64(d))
	}
	return max(d, 1)
}

// close moves to Closed with an empty window. Call with mu held.
func (b *Breaker) close() {
	b.trips = 0
	b.setState(Closed)
}

// setState moves to state s, starting a new generation, and queues the change for
// OnStateChange. It returns the new generation. Call with mu held.
func (b *Breaker) setState(s State) uint64 {
	from := b.state
	b.state = s
	b.gen++
	b.probes = b.probes[:0]
	b.successes = 0
	b.hoErr = nil
	if b.timer != nil && s != Open {
		b.timer.Stop()
		b.timer = nil
	}
	if s == Closed {
		b.consec = 0
		b.cw.reset()
		if b.tw != nil {
			b.tw.resetLocked(b)
		}
	}
	b.clean = b.isClean(b.countsLocked())
	b.publish()
	if b.opts.OnStateChange != nil && from != s {
		b.events = append(b.events, transition{from, s})
	}
	return b.gen
}

// openElapsed ends the open state of generation gen, from its timer.
func (b *Breaker) openElapsed(gen uint64) {
	b.mu.Lock()
	if b.gen == gen && b.state == Open {
		b.timer = nil
		b.setState(HalfOpen)
	}
	b.unlockAndNotify()
}

// applyDue applies the transitions whose time has come. Call with mu held.
func (b *Breaker) applyDue(now int64) {
	if b.state == Open && now >= b.openUntil {
		b.setState(HalfOpen)
	}
	if b.tw != nil {
		b.tw.advanceLocked(now)
		if b.state == Closed {
			b.setClean(b.isClean(b.countsLocked()))
		}
	}
}

// unlockAndNotify releases mu and delivers queued state changes to OnStateChange.
func (b *Breaker) unlockAndNotify() {
	if len(b.events) == 0 || b.draining {
		b.mu.Unlock()
		return
	}
	b.draining = true
	for len(b.events) > 0 {
		ev := b.events[0]
		b.events = b.events[1:]
		if len(b.events) == 0 {
			b.events = nil
		}
		b.mu.Unlock()
		b.deliver(ev)
		b.mu.Lock()
	}
	b.draining = false
	b.mu.Unlock()
}

// deliver calls OnStateChange; if it panics, the next change will be delivered by whoever makes
// one.
func (b *Breaker) deliver(ev transition) {
	delivered := false
	defer func() {
		if !delivered {
			b.mu.Lock()
			b.draining = false
			b.mu.Unlock()
		}
	}()
	b.opts.OnStateChange(ev.from, ev.to)
	delivered = true
}

// State returns the breaker's state. It applies a transition that is due: it never reports Open
// once the open duration has ended (it reads the clock only while Open).
func (b *Breaker) State() State {
	s := State(b.word.Load() & stateMask)
	if s != Open {
		return s
	}
	now := b.since()
	if e := b.openErr.Load(); e != nil && e.state == Open && now < e.at {
		return s
	}
	b.mu.Lock()
	if b.state == Open && now >= b.openUntil {
		b.setState(HalfOpen)
	}
	s = b.state
	b.unlockAndNotify()
	return s
}

// Metrics returns a snapshot of the breaker, after applying the transitions that are due and
// moving a time window to the present.
func (b *Breaker) Metrics() Metrics {
	now := b.since()
	b.mu.Lock()
	b.applyDue(now)
	c := b.countsLocked()
	m := Metrics{
		State:        b.state,
		Counts:       c,
		FailureRate:  c.FailureRate(),
		SlowCallRate: c.SlowCallRate(),
		Rejections:   b.rejections.Load(),
		Trips:        b.trips,
	}
	b.unlockAndNotify()
	return m
}

// countsLocked returns the window's counts. Call with mu held.
func (b *Breaker) countsLocked() Counts {
	var c Counts
	if b.tw != nil {
		c = b.tw.countsLocked()
	} else {
		c = Counts{Calls: b.cw.size, Failures: b.cw.failures, SlowCalls: b.cw.slow}
	}
	c.ConsecutiveFailures = b.consec
	return c
}

// ForceOpen moves the breaker to ForcedOpen: every call is rejected (with RetryAfter equal to
// OpenDuration, as there is no deadline) until [Breaker.Reset].
func (b *Breaker) ForceOpen() {
	b.mu.Lock()
	if b.state != ForcedOpen {
		b.openErr.Store(&OpenError{state: ForcedOpen, hint: b.opts.OpenDuration})
		b.setState(ForcedOpen)
	}
	b.unlockAndNotify()
}

// Disable moves the breaker to Disabled (forced closed): every call is allowed and nothing is
// recorded until [Breaker.Reset].
func (b *Breaker) Disable() {
	b.mu.Lock()
	if b.state != Disabled {
		b.setState(Disabled)
	}
	b.unlockAndNotify()
}

// Reset moves the breaker to Closed with an empty window, from any state, and forgets past trips
// (the next open duration is OpenDuration again). Results of calls allowed before Reset are
// discarded.
func (b *Breaker) Reset() {
	b.mu.Lock()
	b.trips = 0
	b.setState(Closed)
	b.unlockAndNotify()
}
