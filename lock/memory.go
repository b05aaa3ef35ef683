package lock

import (
	"context"
	"sync"
	"time"
)

// Memory is an in-process [Backend] for single-process use and tests, with
// the same semantics as [Redis], fencing tokens included. Its zero value is
// not usable; call [NewMemory]. It is safe for concurrent use.
//
// Tokens come from one counter shared by all keys, which is at least the
// wall-clock time in microseconds at creation plus the monotonic time since,
// so they also increase across restarts of the process as long as the
// clock does not step back. Expired locks are swept as the map grows, so
// memory stays proportional to the locks held. Its methods never block;
// like the Redis backends they return ctx.Err() if ctx is already done.
type Memory struct {
	base time.Time // creation, with its monotonic reading

	mu      sync.Mutex // protects the fields below
	locks   map[string]memLock
	last    uint64 // last token issued
	sweepAt int    // sweep expired locks when len(locks) reaches this
}

type memLock struct {
	owner   string
	expires time.Time
}

const minSweep = 64

// NewMemory returns an empty in-memory backend.
func NewMemory() *Memory {
	return &Memory{base: time.Now(), locks: make(map[string]memLock), sweepAt: minSweep}
}

// held returns key's lock if it is live at now. mu held.
func (m *Memory) held(key string, now time.Time) (memLock, bool) {
	l, ok := m.locks[key]
	if ok && !now.Before(l.expires) {
		delete(m.locks, key)
		return memLock{}, false
	}
	return l, ok
}

// Acquire implements [Backend].
func (m *Memory) Acquire(ctx context.Context, key, owner string, ttl time.Duration) (Grant, bool, error) {
	if err := ctx.Err(); err != nil {
		return Grant{}, false, err
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.held(key, now); ok && l.owner != owner {
		return Grant{}, false, nil
	}
	if len(m.locks) >= m.sweepAt {
		for k, l := range m.locks {
			if !now.Before(l.expires) {
				delete(m.locks, k)
			}
		}
		m.sweepAt = max(2*len(m.locks), minSweep)
	}
	m.locks[key] = memLock{owner: owner, expires: now.Add(ttl)}
	tok := uint64(m.base.UnixMicro() + now.Sub(m.base).Microseconds())
	m.last = max(m.last+1, tok)
	return Grant{Token: m.last}, true, nil
}

// Extend implements [Backend].
func (m *Memory) Extend(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.held(key, now)
	if !ok || l.owner != owner {
		return false, nil
	}
	m.locks[key] = memLock{owner: owner, expires: now.Add(ttl)}
	return true, nil
}

// Release implements [Backend].
func (m *Memory) Release(ctx context.Context, key, owner string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.held(key, now)
	if !ok || l.owner != owner {
		return false, nil
	}
	delete(m.locks, key)
	return true, nil
}

// TTL implements [Backend].
func (m *Memory) TTL(ctx context.Context, key, owner string) (time.Duration, bool, error) {
	if err := ctx.Err(); err != nil {
		return 0, false, err
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.held(key, now)
	if !ok || l.owner != owner {
		return 0, false, nil
	}
	return l.expires.Sub(now), true, nil
}
