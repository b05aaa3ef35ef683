package balancer

import (
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sinew-dev/sinew/breaker"
)

// ErrNoBackend is returned by the pick methods when there is no backend to pick: the balancer has
// no members, every member has weight 0, every member is marked down, or every backend that could
// be picked is ejected by its breaker.
var ErrNoBackend = errors.New("balancer: no backend available")

// ErrDuplicate is returned by [Balancer.Set] and [Balancer.Add] when a backend would be a member
// twice. Nothing is changed.
var ErrDuplicate = errors.New("balancer: duplicate backend")

// Policy is the rule a [Balancer] picks backends by.
type Policy uint8

const (
	// RoundRobin cycles through the available backends in member order, ignoring weights (a
	// weight of 0 still takes a backend out of rotation). One atomic add per pick.
	RoundRobin Policy = iota
	// WeightedRoundRobin is nginx's smooth weighted round-robin: backends are picked in
	// proportion to their weights, interleaved so that after any number of picks no backend is
	// more than one pick off its ideal share (it produces exactly nginx's sequence). The sequence
	// is precomputed per membership and health snapshot, so a pick is one atomic add and one
	// table read at any size, without a lock; a change of membership or health starts a new
	// sequence. See [MaxScheduleLength] for very large weight totals.
	WeightedRoundRobin
	// Random picks a uniformly random available backend, ignoring weights.
	Random
	// WeightedRandom picks a random available backend with probability proportional to its
	// weight (Vose's alias method: O(1) per pick).
	WeightedRandom
	// LeastConnections picks the backend with the fewest requests in flight relative to its
	// weight, scanning every available backend (ties broken at random). O(n) per pick. A
	// balancer only sees its own requests, so with many clients it is a partial view.
	LeastConnections
	// PowerOfTwo ("power of two choices", P2C) draws two distinct backends at random, in
	// proportion to their weights, and picks the one with fewer requests in flight relative to
	// its weight. O(1) per pick, and it avoids the herding of LeastConnections.
	PowerOfTwo
	// PeakEWMA is P2C comparing each candidate's cost: a peak-sensitive exponentially weighted
	// moving average of its observed latency (it jumps up to a slower observation at once and
	// decays towards faster ones over [Options.Decay]), times its requests in flight plus one,
	// divided by its weight. A failed request counts as at least [Options.FailurePenalty], so a
	// backend that fails fast does not attract traffic. This is Finagle's and Linkerd's default.
	// It reads the clock on Pick and Done (use [Balancer.PickAt] and [Pick.DoneAt] to supply it).
	PeakEWMA
	// ConsistentHash sends each key to the backend that owns it on a consistent-hash ring (see
	// [Balancer.PickKey]), bounded by load: a backend with more than [Options.LoadFactor] times the
	// average requests in flight is passed over for the next one on the ring, and an unavailable
	// owner for the next available one. [Balancer.Pick] without a key picks the least-loaded
	// available backend.
	ConsistentHash
	numPolicies
)

var policyNames = [...]string{"roundrobin", "wrr", "random", "wrandom", "leastconn", "p2c", "peakewma", "hash"}

// String returns the policy's short name, as used in benchmark names ("roundrobin", "wrr",
// "random", "wrandom", "leastconn", "p2c", "peakewma", "hash").
func (p Policy) String() string {
	if p < numPolicies {
		return policyNames[p]
	}
	return fmt.Sprintf("Policy(%d)", uint8(p))
}

// Policies lists every policy, in declaration order.
func Policies() []Policy {
	ps := make([]Policy, numPolicies)
	for i := range ps {
		ps[i] = Policy(i)
	}
	return ps
}

// tracksLoad reports whether the policy needs in-flight counts.
func (p Policy) tracksLoad() bool {
	return p == LeastConnections || p == PowerOfTwo || p == PeakEWMA || p == ConsistentHash
}

// Member is a backend and its weight, as given to [Balancer.Set].
type Member[B comparable] struct {
	// Backend is the caller's value identifying the backend (an address, a client, a node).
	Backend B
	// Weight is the backend's relative share of traffic for the weighted policies. A weight of 0
	// (or less) keeps the backend a member but sends it no traffic. There is no default.
	Weight int
}

// Options configure a [Balancer]. The zero value of every field means the default given in its
// comment.
type Options[B comparable] struct {
	// PanicThreshold, in [0, 1]: when fewer than this fraction of the members with a positive
	// weight are healthy (not marked down and not ejected by their breaker), the balancer stops
	// trusting health and balances over all of them, rather than overload the few that remain
	// (Envoy's panic mode). It needs at least one healthy backend: when none is, picks return
	// ErrNoBackend. Default 0.5; a negative value disables panic mode.
	PanicThreshold float64

	// Breaker, when set, gives each backend its own circuit breaker configured by it: a pick
	// only returns a backend whose breaker allows the call, the result given to Done is recorded
	// by that breaker, and a backend whose breaker is open is ejected (counted as unhealthy) until
	// the breaker lets probes through again. Its OnStateChange, if set, is still called. Default
	// nil: no breakers.
	Breaker *breaker.Options

	// SlowStart, when positive, ramps up the traffic to a backend that joins existing members, comes
	// back up after MarkDown, or whose breaker closes again: for SlowStart after that moment a
	// pick that lands on it is kept with probability max(0.1, elapsed/SlowStart), otherwise the
	// policy picks again. Default 0: no slow start.
	SlowStart time.Duration

	// Decay is PeakEWMA's time constant: an observation made t ago weighs exp(-t/Decay).
	// Default 10 s.
	Decay time.Duration
	// FailurePenalty is the least latency PeakEWMA records for a failed request (Done with a
	// non-nil error other than context.Canceled). Default 1 s; a negative value records the
	// measured latency of failures as is.
	FailurePenalty time.Duration

	// LoadFactor is ConsistentHash's load bound: a backend is passed over while its requests in
	// flight are at least LoadFactor times the average over the available backends (plus one).
	// Default 1.25; at least 1.
	LoadFactor float64
	// Name gives ConsistentHash the stable name of a backend, which places it on the ring: it
	// must be unique among members and the same in every process. Default fmt.Sprint(backend).
	Name func(B) string

	// Seed, when non-zero, makes the random choices (Random, WeightedRandom, PowerOfTwo, PeakEWMA,
	// tie-breaks and slow start) a deterministic sequence: a balancer used by one goroutine then
	// repeats its picks exactly, which simulations and tests need. Concurrent picks then share one
	// atomic counter. Default 0: the runtime's per-thread random source.
	Seed uint64
}

// MaxScheduleLength bounds WeightedRoundRobin's precomputed sequence. Weights are first divided by
// their greatest common divisor; if they still add up to more than this, they are scaled down in
// proportion (each positive weight staying at least 1) until they fit, which rounds the shares.
const MaxScheduleLength = 1 << 16

const (
	defaultPanicThreshold = 0.5
	defaultDecay          = 10 * time.Second
	defaultFailurePenalty = time.Second
	defaultLoadFactor     = 1.25
	slowStartMinFactor    = 0.1
	pickAttempts          = 4
)

// Balancer picks a backend of type B for each request according to its [Policy], skipping
// backends that are marked down or ejected by their breaker.
//
// Membership, weights and health live in an immutable snapshot replaced with one atomic store on
// every change, so a pick takes no lock and always sees a consistent set; per-backend state (the
// requests in flight, the latency average, the breaker) belongs to the backend and survives
// changes that keep it.
//
// A Balancer is safe for concurrent use. It must be created with [New]. It starts no goroutine.
type Balancer[B comparable] struct {
	policy  Policy
	rotate  bool // Pick may take the shortest path: RoundRobin or WeightedRoundRobin, not guarded
	fast    bool // Pick may take the fast path: policy up to PowerOfTwo, not guarded
	track   bool // policy counts requests in flight
	guarded bool // breakers or slow start may refuse a choice
	opts    Options[B]
	epoch   time.Time

	snap atomic.Pointer[snapshot[B]]

	// Counters written by every pick, each on its own cache line so that they do not slow down
	// the reads of the fields above.
	_     [64]byte
	rr    atomic.Uint32 // round-robin position
	_     [60]byte
	seed  atomic.Uint64 // splitmix64 state, when opts.Seed != 0
	_     [56]byte
	total atomic.Int64 // requests in flight over all backends (ConsistentHash only)
	_     [56]byte

	permits sync.Pool // of *permitBox, with opts.Breaker

	mu      sync.Mutex // protects members, byKey, hash and snapshot rebuilds
	members []*node[B]
	byKey   map[B]*node[B]
	hash    *hashState[B] // ring of the current membership, ConsistentHash only
}

// node is one backend and the state that follows it across membership changes.
type node[B comparable] struct {
	backend B
	bal     *Balancer[B]
	kind    uint8 // kind* bits: what Done has to do; a Pick carries the node only when non-zero

	inflight atomic.Int64
	ewma     atomic.Uint64 // float64 bits, nanoseconds
	stamp    atomic.Int64  // ns since epoch of the last EWMA update
	slowEnd  atomic.Int64  // ns since epoch at which slow start ends; 0 when none
	ejected  atomic.Bool   // breaker open
	avail    atomic.Bool   // in the current snapshot's pick set

	brk *breaker.Breaker

	// protected by bal.mu
	weight  int
	down    bool
	removed bool
}

// Bits of node.kind.
const (
	kindTrack   = 1 << iota // count requests in flight
	kindHash                // and their total over the balancer
	kindEWMA                // record latency
	kindBreaker             // report to the node's breaker
)

// snapshot is one immutable view of the membership and health. The fields the fast paths of
// Pick read come first, so that they share a cache line.
type snapshot[B comparable] struct {
	sched    []uint32   // rotation: indexes into set (0, 1, ..., n-1 for RoundRobin)
	schedMod uint64     // fastmod multiplier for len(sched)
	backends []B        // set[i].backend, one pointer hop closer
	set      []*node[B] // backends picks choose from
	setMod   uint64     // fastmod multiplier for len(set)
	weights  []int64    // weight of set[i]
	weighted bool       // weights differ
	panic    bool       // set holds unhealthy backends
	alias    alias      // over weights, when weighted
	hash     *hashState[B]
}

// New returns an empty balancer using policy; add backends with [Balancer.Set] or
// [Balancer.Add]. It panics if policy is unknown or an option is out of range (a PanicThreshold
// above 1, a negative SlowStart or Decay, or a LoadFactor below 1 other than 0).
func New[B comparable](policy Policy, opts Options[B]) *Balancer[B] {
	if policy >= numPolicies {
		panic(fmt.Sprintf("balancer: unknown policy %d", uint8(policy)))
	}
	switch {
	case opts.PanicThreshold > 1:
		panic("balancer: PanicThreshold above 1")
	case opts.SlowStart < 0:
		panic("balancer: negative SlowStart")
	case opts.Decay < 0:
		panic("balancer: negative Decay")
	case opts.LoadFactor != 0 && !(opts.LoadFactor >= 1):
		panic("balancer: LoadFactor below 1")
	}
	if opts.PanicThreshold == 0 {
		opts.PanicThreshold = defaultPanicThreshold
	}
	if opts.Decay == 0 {
		opts.Decay = defaultDecay
	}
	if opts.FailurePenalty == 0 {
		opts.FailurePenalty = defaultFailurePenalty
	}
	if opts.LoadFactor == 0 {
		opts.LoadFactor = defaultLoadFactor
	}
	if opts.Name == nil {
		opts.Name = func(b B) string { return fmt.Sprint(b) }
	}
	if opts.Breaker != nil {
		bo := *opts.Breaker
		opts.Breaker = &bo
	}
	b := &Balancer[B]{
		policy:  policy,
		track:   policy.tracksLoad(),
		guarded: opts.Breaker != nil || opts.SlowStart > 0,
		fast:    policy <= PowerOfTwo && opts.Breaker == nil && opts.SlowStart <= 0,
		rotate:  policy <= WeightedRoundRobin && opts.Breaker == nil && opts.SlowStart <= 0,
		opts:    opts,
		epoch:   time.Now(),
		byKey:   map[B]*node[B]{},
	}
	b.permits.New = func() any { return new(permitBox) }
	b.seed.Store(opts.Seed)
	b.mu.Lock()
	_ = b.rebuild(true) // no members: cannot fail
	b.mu.Unlock()
	return b
}

// Policy returns the balancer's policy.
func (b *Balancer[B]) Policy() Policy { return b.policy }

// Set replaces the membership with members in one step. Backends that stay keep their requests in
// flight, latency average and breaker; backends that leave are forgotten (requests in flight to
// them still end with Done, which then changes nothing that matters); backends that join start
// fresh, with slow start if configured. It returns ErrDuplicate, changing nothing, if a backend
// appears twice, and for ConsistentHash an error from package hashring if two names collide.
func (b *Balancer[B]) Set(members []Member[B]) error {
	seen := make(map[B]struct{}, len(members))
	for _, m := range members {
		if _, dup := seen[m.Backend]; dup {
			return fmt.Errorf("%w: %v", ErrDuplicate, m.Backend)
		}
		seen[m.Backend] = struct{}{}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	old := b.members
	oldWeights := make([]int, len(old))
	for i, n := range old {
		oldWeights[i] = n.weight
	}
	next := make([]*node[B], len(members))
	for i, m := range members {
		n, ok := b.byKey[m.Backend]
		if !ok {
			n = b.newNode(m.Backend, len(old) > 0)
		}
		n.weight = max(m.Weight, 0)
		next[i] = n
	}
	b.members = next
	if err := b.rebuild(true); err != nil {
		b.members = old
		for i, n := range old {
			n.weight = oldWeights[i]
		}
		return err
	}
	for _, n := range old {
		if _, ok := seen[n.backend]; !ok {
			n.removed = true
			delete(b.byKey, n.backend)
		}
	}
	for _, n := range next {
		b.byKey[n.backend] = n
	}
	return nil
}

// Add adds one backend with the given weight (0 or less: a member that gets no traffic). It
// returns ErrDuplicate if backend is already a member, and for ConsistentHash an error from package
// hashring if its name collides with a member's. Every membership change rebuilds the snapshot
// (O(n), plus WeightedRoundRobin's sequence or ConsistentHash's ring): add many backends with one
// Set rather than many Adds.
func (b *Balancer[B]) Add(backend B, weight int) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.byKey[backend]; ok {
		return fmt.Errorf("%w: %v", ErrDuplicate, backend)
	}
	n := b.newNode(backend, len(b.members) > 0)
	n.weight = max(weight, 0)
	b.members = append(b.members[:len(b.members):len(b.members)], n)
	if err := b.rebuild(true); err != nil {
		b.members = b.members[:len(b.members)-1]
		return err
	}
	b.byKey[backend] = n
	return nil
}

// Remove removes backend and reports whether it was a member.
func (b *Balancer[B]) Remove(backend B) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, ok := b.byKey[backend]
	if !ok {
		return false
	}
	next := make([]*node[B], 0, len(b.members)-1)
	for _, m := range b.members {
		if m != n {
			next = append(next, m)
		}
	}
	b.members = next
	delete(b.byKey, backend)
	n.removed = true
	_ = b.rebuild(true) // removing cannot make names collide
	return true
}

// SetWeight changes backend's weight (0 or less: no traffic) and reports whether it is a member.
func (b *Balancer[B]) SetWeight(backend B, weight int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, ok := b.byKey[backend]
	if !ok {
		return false
	}
	n.weight = max(weight, 0)
	_ = b.rebuild(true) // same names, cannot collide
	return true
}

// MarkDown takes backend out of rotation (a failed health check, a drain) until [Balancer.MarkUp],
// and reports whether it is a member. Requests in flight to it are unaffected. In panic mode (see
// [Options.PanicThreshold]) a backend marked down may still be picked.
func (b *Balancer[B]) MarkDown(backend B) bool { return b.setDown(backend, true) }

// MarkUp puts a backend marked down back in rotation (with slow start, if configured) and reports
// whether it is a member.
func (b *Balancer[B]) MarkUp(backend B) bool { return b.setDown(backend, false) }

func (b *Balancer[B]) setDown(backend B, down bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, ok := b.byKey[backend]
	if !ok {
		return false
	}
	if n.down != down {
		n.down = down
		if !down {
			b.startSlow(n)
		}
		_ = b.rebuild(false)
	}
	return true
}

// Status describes one member, as reported by [Balancer.Members].
type Status[B comparable] struct {
	Backend B
	Weight  int
	// Down reports a MarkDown not undone by MarkUp.
	Down bool
	// Ejected reports that the backend's breaker is open.
	Ejected bool
	// Available reports whether picks currently choose among this backend (healthy, positive
	// weight, or in panic mode).
	Available bool
	// InFlight is the number of picks not yet Done. It is counted only by the policies that use
	// it (LeastConnections, PowerOfTwo, PeakEWMA, ConsistentHash), and is 0 for the others.
	InFlight int
	// Latency is PeakEWMA's current latency average (0 before the first Done, and for the other
	// policies).
	Latency time.Duration
	// Breaker is the backend's breaker, nil without [Options.Breaker].
	Breaker *breaker.Breaker
}

// Members returns the status of every member, in member order.
func (b *Balancer[B]) Members() []Status[B] {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Status[B], len(b.members))
	for i, n := range b.members {
		out[i] = Status[B]{
			Backend:   n.backend,
			Weight:    n.weight,
			Down:      n.down,
			Ejected:   n.ejected.Load(),
			Available: n.avail.Load(),
			InFlight:  int(n.inflight.Load()),
			Latency:   time.Duration(f64(n.ewma.Load())),
			Breaker:   n.brk,
		}
	}
	return out
}

// newNode makes a node for a joining backend, with slow start if it joins existing members;
// called with b.mu held.
func (b *Balancer[B]) newNode(backend B, join bool) *node[B] {
	n := &node[B]{backend: backend, bal: b}
	if b.track {
		n.kind |= kindTrack
	}
	if b.policy == ConsistentHash {
		n.kind |= kindHash
	}
	if b.policy == PeakEWMA {
		n.kind |= kindEWMA
	}
	if b.opts.Breaker != nil {
		n.kind |= kindBreaker
	}
	if join {
		b.startSlow(n)
	}
	if b.opts.Breaker != nil {
		bo := *b.opts.Breaker
		user := bo.OnStateChange
		bo.OnStateChange = func(from, to breaker.State) {
			b.breakerChanged(n, from, to)
			if user != nil {
				user(from, to)
			}
		}
		n.brk = breaker.New(bo)
	}
	return n
}

// startSlow starts n's slow start, if configured.
func (b *Balancer[B]) startSlow(n *node[B]) {
	if b.opts.SlowStart > 0 {
		n.slowEnd.Store(b.now() + int64(b.opts.SlowStart))
	}
}

// breakerChanged ejects or restores n when its breaker opens or stops being open. It runs outside
// the breaker's lock, on the goroutine the breaker delivers changes on.
func (b *Balancer[B]) breakerChanged(n *node[B], from, to breaker.State) {
	ejected := to == breaker.Open || to == breaker.ForcedOpen
	b.mu.Lock()
	defer b.mu.Unlock()
	if n.removed {
		return
	}
	if to == breaker.Closed && from != breaker.Disabled {
		b.startSlow(n)
	}
	if n.ejected.Load() != ejected {
		n.ejected.Store(ejected)
		_ = b.rebuild(false)
	}
}

// rebuild publishes a new snapshot from b.members; called with b.mu held. membership reports
// whether names or weights may have changed (the hash ring is rebuilt only then).
func (b *Balancer[B]) rebuild(membership bool) error {
	s := &snapshot[B]{}
	if b.policy == ConsistentHash {
		if membership || b.hash == nil {
			h, err := b.buildHash()
			if err != nil {
				return err
			}
			b.hash = h
		}
		s.hash = b.hash
	}
	var eligible, healthy []*node[B]
	for _, n := range b.members {
		if n.weight <= 0 {
			continue
		}
		eligible = append(eligible, n)
		if !n.down && !n.ejected.Load() {
			healthy = append(healthy, n)
		}
	}
	s.set = healthy
	if len(healthy) > 0 && b.opts.PanicThreshold > 0 &&
		float64(len(healthy)) < b.opts.PanicThreshold*float64(len(eligible)) {
		s.set, s.panic = eligible, true
	}
	s.weights = make([]int64, len(s.set))
	s.backends = make([]B, len(s.set))
	for i, n := range s.set {
		s.backends[i] = n.backend
		s.weights[i] = int64(n.weight)
		if s.weights[i] != s.weights[0] {
			s.weighted = true
		}
	}
	if s.weighted && (b.policy == WeightedRandom || b.policy == PowerOfTwo || b.policy == PeakEWMA) {
		s.alias = newAlias(s.weights)
	}
	if len(s.set) > 0 {
		s.setMod = fastmodMultiplier(len(s.set))
		switch b.policy {
		case RoundRobin:
			s.sched = roundRobinSchedule(len(s.set))
		case WeightedRoundRobin:
			s.sched = smoothSchedule(s.weights)
		}
		if s.sched != nil {
			s.schedMod = fastmodMultiplier(len(s.sched))
		}
	}
	for _, n := range b.members {
		n.avail.Store(false)
	}
	for _, n := range s.set {
		n.avail.Store(true)
	}
	b.snap.Store(s)
	return nil
}

// since returns t as nanoseconds since the balancer's epoch.
func (b *Balancer[B]) since(t time.Time) int64 { return int64(t.Sub(b.epoch)) }

// now returns the current time as nanoseconds since the balancer's epoch. It is since(time.Now())
// but reads only the monotonic clock (time.Since's fast path), about a third cheaper.
func (b *Balancer[B]) now() int64 { return int64(time.Since(b.epoch)) }

// rand64 returns a random 64-bit value.
func (b *Balancer[B]) rand64() uint64 {
	if b.opts.Seed == 0 {
		return rand.Uint64()
	}
	z := b.seed.Add(0x9e3779b97f4a7c15)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// fastmodMultiplier returns the multiplier with which fastmod computes k mod n (Lemire, Kaser and
// Kurz, "Faster remainder by direct computation", 2019).
func fastmodMultiplier(n int) uint64 { return ^uint64(0)/uint64(n) + 1 }

// next advances a rotation counter and returns its previous position mod n
// (m is n's fastmod multiplier). It is deliberately not generic: inside the
// generic Balancer methods the compiler called atomic.Uint32.Add out of line,
// while here it is inlined as a single LOCK XADD (about 2 ns less per pick
// on the development VM, where the locked add itself costs ~17 ns).
func next(ctr *atomic.Uint32, m uint64, n int) int {
	return fastmod(ctr.Add(1)-1, m, n)
}

// fastmod returns k mod n for the multiplier m of n: two multiplications instead of a division.
func fastmod(k uint32, m uint64, n int) int {
	hi, _ := bits.Mul64(m*uint64(k), uint64(n))
	return int(hi)
}

// below maps 32 random bits to [0, n).
func below(r uint32, n int) int { return int((uint64(r) * uint64(n)) >> 32) }

// Pick is one pick: the backend to send the request to, and the accounting to close with Done.
// Call [Pick.Done] (or [Pick.DoneAt]) exactly once, when the request ends, whatever its outcome;
// the zero Pick's Done does nothing. Calling Done twice on a pick (or on copies of it) is a bug: it
// releases the in-flight count twice and, with breakers, may report the result under the permit
// of another pick.
type Pick[B comparable] struct {
	// Backend is the backend picked.
	Backend B

	// Two words at most besides Backend: a Pick of a one- or two-word backend is then small
	// enough to stay in registers (a five-word Pick went through memory, with store-forwarding
	// stalls, which doubled the cost of a round-robin pick).
	n   *node[B]   // nil when Done has nothing to do (see node.kind)
	box *permitBox // the breaker's permit, with Options.Breaker
}

// permitBox carries a breaker permit from Pick to Done. Boxes are recycled through the balancer's
// pool, so that a pick with breakers does not allocate either.
type permitBox struct {
	permit breaker.Permit
}

// Pick picks a backend for one request. It returns ErrNoBackend if no backend can be picked (see
// [ErrNoBackend]). For PeakEWMA and during slow start it reads the clock.
func (b *Balancer[B]) Pick() (Pick[B], error) {
	if b.rotate {
		// RoundRobin and WeightedRoundRobin without breakers or slow start: one atomic add and
		// two table reads, and a Pick without a node, so that Done has nothing to do.
		s := b.snap.Load()
		if k := len(s.sched); k > 0 {
			return Pick[B]{Backend: s.backends[s.sched[next(&b.rr, s.schedMod, k)]]}, nil
		}
	}
	return b.pickRest()
}

// pickRest is Pick beyond its shortest path.
func (b *Balancer[B]) pickRest() (Pick[B], error) {
	if !b.fast {
		return b.pick(-1)
	}
	// Fast path: no clock, nothing can refuse the policy's choice.
	s := b.snap.Load()
	if len(s.set) == 0 {
		return Pick[B]{}, ErrNoBackend
	}
	var i int
	switch b.policy {
	case PowerOfTwo:
		i = powerOfTwo(b, s)
	case Random:
		i = random(b, s)
	default:
		i = b.choose(s, 0)
	}
	if !b.track {
		return Pick[B]{Backend: s.backends[i]}, nil
	}
	n := s.set[i]
	n.inflight.Add(1)
	return Pick[B]{Backend: s.backends[i], n: n}, nil
}

// PickAt is [Balancer.Pick] at time now, for PeakEWMA's decay and slow start, instead of reading
// the clock. Times must not go backwards by much: an earlier time is taken as no time elapsed.
func (b *Balancer[B]) PickAt(now time.Time) (Pick[B], error) { return b.pick(b.since(now)) }

// pick implements Pick; now is ns since epoch, or -1 if not read yet.
func (b *Balancer[B]) pick(now int64) (Pick[B], error) {
	s := b.snap.Load()
	if len(s.set) == 0 {
		return Pick[B]{}, ErrNoBackend
	}
	if b.policy == PeakEWMA && now < 0 {
		now = b.now()
	}
	n := s.set[b.choose(s, now)]
	if !b.guarded {
		// No breakers and no slow start: nothing can refuse the policy's choice.
		if !b.track {
			return Pick[B]{Backend: n.backend}, nil
		}
		n.inflight.Add(1)
		if b.policy == ConsistentHash {
			b.total.Add(1)
		}
		return Pick[B]{Backend: n.backend, n: n}, nil
	}
	for attempt := 1; ; attempt++ {
		if p, ok := b.take(s, n, &now, attempt == pickAttempts); ok {
			return p, nil
		}
		if attempt == pickAttempts {
			return b.scan(s, -1)
		}
		n = s.set[b.choose(s, now)]
	}
}

// choose returns the index in s.set of the policy's choice.
func (b *Balancer[B]) choose(s *snapshot[B], now int64) int {
	switch b.policy {
	case RoundRobin, WeightedRoundRobin:
		return smoothRoundRobin(b, s)
	case Random:
		return random(b, s)
	case WeightedRandom:
		return weightedRandom(b, s)
	case PowerOfTwo:
		return powerOfTwo(b, s)
	case PeakEWMA:
		return peakEWMA(b, s, now)
	default: // LeastConnections, ConsistentHash without a key
		return leastConnections(b, s)
	}
}

// take tries to return a pick of n: it may be refused by slow start (unless last) or by n's
// breaker.
func (b *Balancer[B]) take(s *snapshot[B], n *node[B], now *int64, last bool) (Pick[B], bool) {
	if end := n.slowEnd.Load(); end != 0 && !last {
		if *now < 0 {
			*now = b.now()
		}
		if *now >= end {
			n.slowEnd.CompareAndSwap(end, 0)
		} else {
			f := max(slowStartMinFactor, 1-float64(end-*now)/float64(b.opts.SlowStart))
			if float64(b.rand64()>>11)/(1<<53) >= f {
				return Pick[B]{}, false
			}
		}
	}
	p := Pick[B]{Backend: n.backend}
	if n.kind != 0 {
		p.n = n
	}
	if n.brk != nil {
		permit, err := n.brk.Allow()
		if err != nil && !s.panic {
			return Pick[B]{}, false
		}
		box := b.permits.Get().(*permitBox)
		box.permit = permit
		p.box = box
	}
	if b.track {
		n.inflight.Add(1)
		if b.policy == ConsistentHash {
			b.total.Add(1)
		}
	}
	return p, true
}

// scan is the last resort when the policy's candidates were all refused: the first backend of
// the set, from a random start, that its breaker lets through. skip is an index not to try again.
func (b *Balancer[B]) scan(s *snapshot[B], skip int) (Pick[B], error) {
	from := below(uint32(b.rand64()), len(s.set))
	now := int64(-1)
	for k := range s.set {
		i := (from + k) % len(s.set)
		if i == skip {
			continue
		}
		if p, ok := b.take(s, s.set[i], &now, true); ok {
			return p, nil
		}
	}
	return Pick[B]{}, ErrNoBackend
}

// Done ends the request: it releases the in-flight count, reports err to the backend's breaker and,
// for PeakEWMA, records latency (reading the clock). Pass the request's error as the outcome: nil
// for a success, including answers such as "not found" that say nothing about the backend's health.
// context.Canceled is not held against the backend. For RoundRobin, WeightedRoundRobin, Random and
// WeightedRandom without breakers there is nothing to do, and Done returns at once.
func (p Pick[B]) Done(err error, latency time.Duration) {
	if p.n != nil { // small enough to be inlined: a pick with nothing to account costs one test
		p.done(err, latency)
	}
}

// DoneAt is [Pick.Done] at time now, instead of reading the clock.
func (p Pick[B]) DoneAt(now time.Time, err error, latency time.Duration) {
	if p.n != nil {
		p.doneAt(now, err, latency)
	}
}

func (p Pick[B]) done(err error, latency time.Duration) {
	if p.n.kind&kindEWMA != 0 {
		p.n.observe(p.n.bal.now(), err, latency)
	}
	p.finish(err)
}

func (p Pick[B]) doneAt(now time.Time, err error, latency time.Duration) {
	if p.n.kind&kindEWMA != 0 {
		p.n.observe(p.n.bal.since(now), err, latency)
	}
	p.finish(err)
}

func (p Pick[B]) finish(err error) {
	n := p.n
	if n.kind&kindTrack != 0 {
		n.inflight.Add(-1)
		if n.kind&kindHash != 0 {
			n.bal.total.Add(-1)
		}
	}
	if box := p.box; box != nil {
		permit := box.permit
		box.permit = breaker.Permit{}
		n.bal.permits.Put(box)
		permit.Done(err)
	}
}
