package ratelimit

import (
	"context"
	"hash/maphash"
	"math"
	"slices"
	"sync"
	"time"
)

// memShards is the number of independently locked shards of a [Memory] limiter.
const memShards = 64

// sweepFloor is the smallest number of keys a shard holds before it sweeps idle keys.
const sweepFloor = 64

// MemoryOptions configure a [Memory] limiter. The zero value is ready to use.
type MemoryOptions struct {
	// Algorithm is how events are counted. Default [GCRA].
	Algorithm Algorithm
	// Hooks observe decisions. OnError and OnFallback are never called by a Memory limiter.
	Hooks Hooks
	// Tick, when positive, makes decisions read a coarse clock instead of the system clock:
	// a goroutine owned by the limiter stores the monotonic time every Tick, and each
	// decision reads it with one atomic load (reading the system clock costs 35–65 ns, as
	// much as the rest of a decision). Decisions are then made at Tick's granularity: the
	// coarse clock lags real time by up to Tick (longer while the process is starved of CPU),
	// so over any span T at most Burst + Rate×(T+lag)/Period events are admitted and
	// RetryAfter may be up to Tick too long. 1 ms suits limits whose interval Period/Rate is
	// several milliseconds or more; for finer limits leave it 0. [Memory.AllowNAt] is exact
	// either way. Call [Memory.Close] to stop the goroutine. Default 0: each decision reads
	// the system clock and no goroutine is started.
	Tick time.Duration
}

// Memory is an in-process limiter enforcing one or more limits per key, with the same API as
// [Redis], by GCRA or another [Algorithm]. It is for a single process, and it is what a
// [Redis] limiter falls back on.
//
// Keys are spread over 64 shards, each a map behind its own mutex. A key whose every limit is
// back to its full capacity holds no information, so it is dropped: each shard sweeps such idle
// keys when its map has doubled since the last sweep, on the goroutine that inserts a key.
//
// Each key's state is allocated in whole 64-byte cache lines, so that keys decided on different
// cores do not slow each other down.
//
// Times are kept in nanoseconds from the monotonic clock; the emission interval Period/Rate is
// rounded up to a whole nanosecond, so rounding never admits more than the limit. A GCRA
// limit's tolerance (interval × burst) is capped at 2^61 ns, about 73 years.
//
// With [MemoryOptions.Tick] set, a goroutine owned by the limiter refreshes a coarse clock
// until [Memory.Close]; otherwise no goroutine is started and Close need not be called.
//
// A Memory limiter is safe for concurrent use.
type Memory struct {
	limits   []Limit
	lim      []memLimit // per limit, what decisions compute with
	minBurst int        // the most events one decision may ask
	algo     Algorithm
	stride   int // state values per limit
	base     time.Time
	seed     maphash.Seed
	hooks    Hooks
	clock    *coarseClock // nil: read the system clock on every decision
	// shards are allocated alone: 64 × 64 bytes, page-aligned, so each is one cache line
	shards *[memShards]memShard
}

// memLimit is one limit as a Memory limiter computes with it.
type memLimit struct {
	iv   int64   // emission interval Period/Rate, ns, rounded up
	tau  int64   // burst tolerance: iv × burst, ns, capped at 2^61
	inv  float64 // 1 / iv
	maxN int64   // the largest n whose cost iv × n is computed: 2^61 / iv
}

type memShard struct {
	mu      sync.Mutex
	m       map[string][]int64 // key → its state: stride values per limit, times in ns since base
	sweepAt int                // sweep idle keys when len(m) reaches this
	_       [40]byte           // pad to 64 bytes: one cache line each
}

var _ Limiter = (*Memory)(nil)

// NewMemory returns an in-memory limiter enforcing every one of limits on each key.
// It panics if limits is empty or holds a limit with a non-positive rate or period or a
// negative burst, or if opts.Algorithm is unknown.
func NewMemory(limits []Limit, opts MemoryOptions) *Memory {
	checkLimits(limits)
	m := &Memory{
		limits:   slices.Clone(limits),
		minBurst: math.MaxInt,
		algo:     opts.Algorithm,
		stride:   1,
		base:     time.Now(),
		seed:     maphash.MakeSeed(),
		hooks:    opts.Hooks,
	}
	switch m.algo {
	case SlidingWindow, FixedWindow:
		m.stride = windowState
	case TokenBucket:
		m.stride = 2
	}
	for _, l := range limits {
		m.minBurst = min(m.minBurst, capacity(l, m.algo))
		iv := l.interval()
		m.lim = append(m.lim, memLimit{
			iv:   iv,
			inv:  1 / float64(iv),
			maxN: (1 << 61) / iv,
			// the tolerance, capped far from overflow: 2^61 ns is 73 years
			tau: min(iv, 1<<61) * min(int64(l.burst()), (1<<61)/iv),
		})
	}
	if m.algo > TokenBucket {
		panic("ratelimit: unknown algorithm " + m.algo.String())
	}
	m.shards = new([memShards]memShard)
	for i := range m.shards {
		m.shards[i].m = make(map[string][]int64)
		m.shards[i].sweepAt = sweepFloor
	}
	if opts.Tick > 0 {
		m.clock = startCoarseClock(m.base, opts.Tick)
	}
	return m
}

// Close stops the coarse clock's goroutine, if [MemoryOptions.Tick] started one, and waits
// for it to end. Later decisions read the system clock. Close is idempotent, never fails, and
// may be called concurrently with decisions.
func (m *Memory) Close() error {
	if m.clock != nil {
		m.clock.stop()
	}
	return nil
}

// now returns the time in nanoseconds since m.base, from the coarse clock when there is one.
func (m *Memory) now() int64 {
	if c := m.clock; c != nil {
		if t := c.now.Load(); t >= 0 {
			return t
		}
	}
	return int64(time.Since(m.base))
}

// Limits returns the limits enforced, in the order given to [NewMemory].
func (m *Memory) Limits() []Limit { return slices.Clone(m.limits) }

// Allow is AllowN(ctx, key, 1).
func (m *Memory) Allow(ctx context.Context, key string) (Result, error) {
	return m.AllowN(ctx, key, 1)
}

// AllowN reports whether n events for key are admitted now and consumes them if so; see
// [Limiter]. ctx is not used: the call never blocks. It returns [ErrExceedsBurst] when n is
// larger than the smallest capacity, and panics if n is negative.
func (m *Memory) AllowN(_ context.Context, key string, n int) (Result, error) {
	if n > m.minBurst {
		return Result{}, ErrExceedsBurst
	}
	if n < 0 {
		panic("ratelimit: negative n")
	}
	var r Result
	m.allowAt(m.now(), key, n, &r)
	if m.hooks.OnAllowed != nil || m.hooks.OnDenied != nil {
		m.hooks.decided(key, r)
	}
	return r, nil
}

// AllowNAt is AllowN at time now, for tests and simulations; it calls no hooks, reads no
// clock (not even the coarse one), and does not check n against the bursts (a larger n is
// always denied). Times before the limiter was created count as its creation time. It panics
// if n is negative.
func (m *Memory) AllowNAt(now time.Time, key string, n int) Result {
	if n < 0 {
		panic("ratelimit: negative n")
	}
	var r Result
	m.allowAt(max(int64(now.Sub(m.base)), 0), key, n, &r)
	return r
}

// allowAt decides at t nanoseconds after m.base into r.
func (m *Memory) allowAt(t int64, key string, n int, r *Result) {
	s := &m.shards[maphash.String(m.seed, key)%memShards]
	s.mu.Lock()
	st, ok := s.m[key]
	if !ok {
		if m.decideAny(nil, t, n, r) && n > 0 {
			if len(s.m) >= s.sweepAt {
				m.sweep(s, t)
			}
			// whole cache lines (8 values), so that keys decided on different cores never
			// share one: sharing costs more than the decision
			st = make([]int64, len(m.limits)*m.stride, (len(m.limits)*m.stride+7)&^7)
			if m.algo == SlidingWindow || m.algo == FixedWindow {
				for i := range m.limits {
					st[i*windowState] = math.MinInt64 // no window yet
				}
			}
			if m.algo == TokenBucket {
				for i := range m.limits {
					st[2*i] = m.lim[i].tau // a full bucket, refilled now
					st[2*i+1] = t
				}
			}
			m.commitAny(st, t, n)
			s.m[key] = st
		}
		s.mu.Unlock()
		return
	}
	if m.decideAny(st, t, n, r) && n > 0 {
		m.commitAny(st, t, n)
	}
	s.mu.Unlock()
}

// decideAny computes into r the result of n events at t given the state st (nil: none) and
// reports whether they are admitted.
func (m *Memory) decideAny(st []int64, t int64, n int, r *Result) bool {
	switch m.algo {
	case GCRA:
		return m.decide(st, t, n, r)
	case TokenBucket:
		return m.decideBucket(st, t, n, r)
	}
	var allowed bool
	*r, allowed = m.decideWindow(st, t, n)
	return allowed
}

func (m *Memory) commitAny(st []int64, t int64, n int) {
	switch m.algo {
	case GCRA:
		m.commit(st, t, n)
	case TokenBucket:
		m.commitBucket(st, t, n)
	default:
		m.commitWindow(st, t, n)
	}
}

// cost returns n events' worth of limit i in nanoseconds, saturated above any tolerance.
func (m *Memory) cost(i, n int) int64 {
	if l := &m.lim[i]; int64(n) <= l.maxN {
		return l.iv * int64(n)
	}
	return 1 << 62
}

// decide computes into r the result of n events at t given the stored arrival times (nil:
// none) and reports whether they are admitted.
func (m *Memory) decide(tats []int64, t int64, n int, r *Result) bool {
	allowed := true
	best, bestRemain, bestRetry := 0, int64(-1), int64(-1)
	var bestReset int64
	for i := range m.lim {
		tau := m.lim[i].tau
		tat := t
		if tats != nil && tats[i] > t {
			tat = tats[i]
		}
		newTAT := tat + m.cost(i, n)
		if wait := newTAT - tau - t; wait > 0 {
			// denied by this limit: the binding one is the longest wait
			if allowed || wait > bestRetry {
				best, bestRetry, bestReset = i, wait, tat-t
				bestRemain = m.div(tau-(tat-t), i)
			}
			allowed = false
			continue
		}
		if !allowed {
			continue
		}
		remain := m.div(tau-(newTAT-t), i)
		if bestRemain < 0 || remain < bestRemain {
			best, bestRemain, bestReset = i, remain, newTAT-t
		}
	}
	m.fill(r, allowed, best, bestRemain, bestRetry, bestReset)
	return allowed
}

// fill sets r from a decision's binding limit and figures.
func (m *Memory) fill(r *Result, allowed bool, best int, remain, retry, reset int64) {
	r.Allowed = allowed
	r.Limit = m.limits[best]
	r.Remaining = int(max(remain, 0))
	r.ResetAfter = time.Duration(reset)
	if !allowed {
		r.RetryAfter = time.Duration(retry)
	}
}

// div returns x / m.lim[i].iv for x ≥ 0 (0 for x < 0) by a multiplication with the
// reciprocal, corrected to the exact quotient: a 64-bit division costs ten times more.
func (m *Memory) div(x int64, i int) int64 {
	if x <= 0 {
		return 0
	}
	l := &m.lim[i]
	iv := l.iv
	q := int64(float64(x) * l.inv)
	for q*iv > x {
		q--
	}
	for (q+1)*iv <= x {
		q++
	}
	return q
}

func (m *Memory) commit(tats []int64, t int64, n int) {
	for i := range m.lim {
		tats[i] = max(tats[i], t) + m.cost(i, n)
	}
}

// sweep drops keys whose every limit is back to its full burst; the caller holds s.mu.
func (m *Memory) sweep(s *memShard, t int64) {
	for k, st := range s.m {
		if m.idle(st, t) {
			delete(s.m, k)
		}
	}
	s.sweepAt = max(2*len(s.m), sweepFloor)
}

// idle reports whether state st holds no information at t: every limit is back to its full
// capacity.
func (m *Memory) idle(st []int64, t int64) bool {
	switch m.algo {
	case GCRA:
		return slices.Max(st) <= t
	case TokenBucket:
		return m.idleBucket(st, t)
	}
	return m.idleWindow(st, t)
}

// Wait is WaitN(ctx, key, 1).
func (m *Memory) Wait(ctx context.Context, key string) error { return waitN(ctx, m, key, 1) }

// WaitN blocks until n events for key are admitted; see [Limiter]. It returns ctx.Err() when
// ctx is done first, [ErrWouldExceedDeadline] when admission would come after ctx's deadline,
// and [ErrExceedsBurst] when n is larger than the smallest capacity.
func (m *Memory) WaitN(ctx context.Context, key string, n int) error {
	return waitN(ctx, m, key, n)
}

// Reset forgets key. It never fails.
func (m *Memory) Reset(_ context.Context, key string) error {
	s := &m.shards[maphash.String(m.seed, key)%memShards]
	s.mu.Lock()
	delete(s.m, key)
	s.mu.Unlock()
	return nil
}

// Len returns the number of keys held, idle ones not yet swept included.
func (m *Memory) Len() int {
	n := 0
	if m.algo > TokenBucket {
		panic("ratelimit: unknown algorithm " + m.algo.String())
	}
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}
