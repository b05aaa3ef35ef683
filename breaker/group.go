package breaker

import (
	"sync"
	"sync/atomic"
	"time"
)

// GroupOptions configure a [Group].
type GroupOptions[K comparable] struct {
	// Breaker configures every breaker of the group. Its OnStateChange, if set, is called too,
	// before the group's.
	Breaker Options
	// MaxBreakers bounds the number of breakers held. When a new key would exceed it, breakers
	// not used since the last sweep are dropped first, then any others. Default 1024.
	MaxBreakers int
	// IdleTimeout drops breakers that Get has not returned for a while: a sweep, run when a new
	// key is added and at least IdleTimeout after the previous sweep, drops every breaker not
	// returned since the previous sweep. So a breaker is dropped only after at least IdleTimeout
	// idle, and, while new keys keep arriving, by about twice that. Get of an existing key reads
	// no clock. Default 10 minutes; a negative value disables idle eviction.
	IdleTimeout time.Duration
	// OnStateChange, when set, is called for every state change of every breaker of the group
	// with its key, under the same rules as [Options.OnStateChange].
	OnStateChange func(key K, from, to State)
}

// Group is a keyed set of breakers sharing one configuration: one per backend, host, node or
// tenant. Breakers are created on the first Get of their key, and dropped when idle or when the
// group is full (see [GroupOptions]). A dropped breaker keeps working for whoever still holds it,
// but the next Get of its key returns a new, Closed one.
//
// Get of an existing key takes no lock, reads no clock and does not allocate. A Group is safe for
// concurrent use; create it with [NewGroup].
type Group[K comparable] struct {
	opts GroupOptions[K]
	m    sync.Map // K -> *groupEntry

	mu        sync.Mutex // serializes insertions and evictions; protects n and lastSweep
	n         int
	lastSweep time.Time
}

type groupEntry struct {
	b    *Breaker
	used atomic.Bool // returned by Get since the last sweep
}

// NewGroup returns an empty group. It panics if opts.MaxBreakers is negative or opts.Breaker is
// invalid (see [New]).
func NewGroup[K comparable](opts GroupOptions[K]) *Group[K] {
	if opts.MaxBreakers < 0 {
		panic("breaker: negative GroupOptions.MaxBreakers")
	}
	if opts.MaxBreakers == 0 {
		opts.MaxBreakers = 1024
	}
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = 10 * time.Minute
	}
	New(opts.Breaker) // validate now rather than on the first Get
	return &Group[K]{opts: opts, lastSweep: time.Now()}
}

// Get returns the breaker for key, creating it if there is none.
func (g *Group[K]) Get(key K) *Breaker {
	if v, ok := g.m.Load(key); ok {
		e := v.(*groupEntry)
		if !e.used.Load() {
			e.used.Store(true)
		}
		return e.b
	}
	return g.insert(key)
}

// Lookup returns the breaker for key without creating one; ok is false if there is none. It does
// not count as a use for idle eviction.
func (g *Group[K]) Lookup(key K) (b *Breaker, ok bool) {
	v, ok := g.m.Load(key)
	if !ok {
		return nil, false
	}
	return v.(*groupEntry).b, true
}

// Remove drops the breaker for key and reports whether there was one.
func (g *Group[K]) Remove(key K) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.m.LoadAndDelete(key); ok {
		g.n--
		return true
	}
	return false
}

// Len returns the number of breakers held.
func (g *Group[K]) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n
}

// Range calls f for each key and breaker, in no particular order, until f returns false. f may
// call the group.
func (g *Group[K]) Range(f func(key K, b *Breaker) bool) {
	g.m.Range(func(k, v any) bool { return f(k.(K), v.(*groupEntry).b) })
}

func (g *Group[K]) insert(key K) *Breaker {
	g.mu.Lock()
	defer g.mu.Unlock()
	if v, ok := g.m.Load(key); ok {
		e := v.(*groupEntry)
		e.used.Store(true)
		return e.b
	}
	if now := time.Now(); g.opts.IdleTimeout > 0 && now.Sub(g.lastSweep) >= g.opts.IdleTimeout {
		// Every breaker not used since the last sweep, at least IdleTimeout ago, is idle.
		g.lastSweep = now
		g.evict(func(e *groupEntry) bool { return !e.used.Swap(false) }, -1)
	}
	if g.n >= g.opts.MaxBreakers {
		if g.evict(func(e *groupEntry) bool { return !e.used.Load() }, 1) == 0 {
			g.evict(func(*groupEntry) bool { return true }, 1)
		}
	}
	opts := g.opts.Breaker
	if f, keyed := opts.OnStateChange, g.opts.OnStateChange; keyed != nil {
		opts.OnStateChange = func(from, to State) {
			if f != nil {
				f(from, to)
			}
			keyed(key, from, to)
		}
	}
	e := &groupEntry{b: New(opts)}
	e.used.Store(true)
	g.m.Store(key, e)
	g.n++
	return e.b
}

// evict drops up to limit entries (all if limit < 0) for which drop returns true and returns how
// many it dropped. Call with mu held.
func (g *Group[K]) evict(drop func(*groupEntry) bool, limit int) int {
	n := 0
	g.m.Range(func(k, v any) bool {
		if drop(v.(*groupEntry)) {
			g.m.Delete(k)
			g.n--
			n++
		}
		return limit < 0 || n < limit
	})
	return n
}
