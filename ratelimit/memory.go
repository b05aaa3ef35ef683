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
}

// Memory is an in-process limiter enforcing one or more limits per key, with the same API as
// [Redis], by GCRA or another [Algorithm]. It is for a single process, and it is what a [Redis] limiter falls back on.
//
// Keys are spread over 64 shards, each a map behind its own mutex. A key whose every limit is
// back to its full capacity holds no information, so it is dropped: each shard sweeps such idle
// keys when its map has doubled since the last sweep, on the goroutine that inserts a key. No
// goroutine is ever started, so a Memory limiter needs no Close.
//
// Times are kept in nanoseconds from the monotonic clock; the emission interval Period/Rate is
// rounded up to a whole nanosecond, so rounding never admits more than the limit. A GCRA
// limit's tolerance (interval × burst) is capped at 2^61 ns, about 73 years.
//
// A Memory limiter is safe for concurrent use.
type Memory struct {
	limits   []Limit
	interval []int64   // emission interval per limit, ns
	tau      []int64   // burst tolerance per limit: interval × burst, ns
	inv      []float64 // 1 / interval per limit
	minBurst int       // the most events one decision may ask
	algo     Algorithm
	stride   int // state values per limit
	base     time.Time
	seed     maphash.Seed
	hooks    Hooks
	shards   [memShards]memShard
}

type memShard struct {
	mu      sync.Mutex
	m       map[string][]int64 // key → theoretical arrival time per limit, ns since base
	sweepAt int                // sweep idle keys when len(m) reaches this
	_       [40]byte           // keep shards on separate cache lines
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
	if m.algo != GCRA {
		m.stride = windowState
	}
	for _, l := range limits {
		m.minBurst = min(m.minBurst, capacity(l, m.algo))
		iv := l.interval()
		m.interval = append(m.interval, iv)
		m.inv = append(m.inv, 1/float64(iv))
		// the tolerance, capped far from overflow: 2^61 ns is 73 years
		m.tau = append(m.tau, min(iv, 1<<61)*min(int64(l.burst()), (1<<61)/iv))
	}
	if m.algo > FixedWindow {
		panic("ratelimit: unknown algorithm " + m.algo.String())
	}
	for i := range m.shards {
		m.shards[i].m = make(map[string][]int64)
		m.shards[i].sweepAt = sweepFloor
	}
	return m
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
	r := m.allowAt(int64(time.Since(m.base)), key, n) // one monotonic clock read
	m.hooks.decided(key, r)
	return r, nil
}

// AllowNAt is AllowN at time now, for tests and simulations; it calls no hooks and does not
// check n against the bursts (a larger n is always denied). Times before the limiter was
// created count as its creation time. It panics if n is negative.
func (m *Memory) AllowNAt(now time.Time, key string, n int) Result {
	if n < 0 {
		panic("ratelimit: negative n")
	}
	return m.allowAt(max(int64(now.Sub(m.base)), 0), key, n)
}

// allowAt decides at t nanoseconds after m.base.
func (m *Memory) allowAt(t int64, key string, n int) Result {
	s := &m.shards[maphash.String(m.seed, key)%memShards]
	s.mu.Lock()
	st, ok := s.m[key]
	if !ok {
		r, allowed := m.decideAny(nil, t, n)
		if allowed && n > 0 {
			if len(s.m) >= s.sweepAt {
				m.sweep(s, t)
			}
			st = make([]int64, len(m.limits)*m.stride)
			if m.algo != GCRA {
				for i := range m.limits {
					st[i*windowState] = math.MinInt64 // no window yet
				}
			}
			m.commitAny(st, t, n)
			s.m[key] = st
		}
		s.mu.Unlock()
		return r
	}
	r, allowed := m.decideAny(st, t, n)
	if allowed && n > 0 {
		m.commitAny(st, t, n)
	}
	s.mu.Unlock()
	return r
}

func (m *Memory) decideAny(st []int64, t int64, n int) (Result, bool) {
	if m.algo == GCRA {
		return m.decide(st, t, n)
	}
	return m.decideWindow(st, t, n)
}

func (m *Memory) commitAny(st []int64, t int64, n int) {
	if m.algo == GCRA {
		m.commit(st, t, n)
		return
	}
	m.commitWindow(st, t, n)
}

// decide computes the result of n events at t given the stored arrival times (nil: none).
func (m *Memory) decide(tats []int64, t int64, n int) (Result, bool) {
	allowed := true
	best, bestRemain, bestRetry := 0, int64(-1), int64(-1)
	var bestReset int64
	for i, iv := range m.interval {
		tat := t
		if tats != nil && tats[i] > t {
			tat = tats[i]
		}
		cost := int64(1 << 62) // saturated: more than any tolerance
		if int64(n) <= (1<<61)/iv {
			cost = iv * int64(n)
		}
		newTAT := tat + cost
		if wait := newTAT - m.tau[i] - t; wait > 0 {
			// denied by this limit: the binding one is the longest wait
			if allowed || wait > bestRetry {
				best, bestRetry, bestReset = i, wait, tat-t
				bestRemain = m.div(m.tau[i]-(tat-t), i)
			}
			allowed = false
			continue
		}
		if !allowed {
			continue
		}
		remain := m.div(m.tau[i]-(newTAT-t), i)
		if bestRemain < 0 || remain < bestRemain {
			best, bestRemain, bestReset = i, remain, newTAT-t
		}
	}
	r := Result{
		Allowed:    allowed,
		Limit:      m.limits[best],
		Remaining:  int(max(bestRemain, 0)),
		ResetAfter: time.Duration(bestReset),
	}
	if !allowed {
		r.RetryAfter = time.Duration(bestRetry)
	}
	return r, allowed
}

// div returns x / m.interval[i] for x ≥ 0 (0 for x < 0) by a multiplication with the
// reciprocal, corrected to the exact quotient: a 64-bit division costs ten times more.
func (m *Memory) div(x int64, i int) int64 {
	if x <= 0 {
		return 0
	}
	iv := m.interval[i]
	q := int64(float64(x) * m.inv[i])
	for q*iv > x {
		q--
	}
	for (q+1)*iv <= x {
		q++
	}
	return q
}

func (m *Memory) commit(tats []int64, t int64, n int) {
	for i, iv := range m.interval {
		tats[i] = max(tats[i], t) + iv*int64(n)
	}
}

// sweep drops keys whose every limit is back to its full burst; the caller holds s.mu.
func (m *Memory) sweep(s *memShard, t int64) {
	for k, st := range s.m {
		if m.algo == GCRA && slices.Max(st) <= t || m.algo != GCRA && m.idleWindow(st, t) {
			delete(s.m, k)
		}
	}
	s.sweepAt = max(2*len(s.m), sweepFloor)
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
	if m.algo > FixedWindow {
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
