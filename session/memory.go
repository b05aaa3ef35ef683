package session

import (
	"context"
	"maps"
	"sync"
	"time"
)

// MemoryStore keeps sessions in process memory. It is the embedded default
// for single-process programs and tests and behaves like [RedisStore] on
// every path: both deadlines are checked on each load and write with the
// local clock, writes are per field, rotation kills the old ID at once.
// Sessions are lost when the process exits; WAIT-style durability is not
// available (results report 0 replicas).
//
// Expired sessions are deleted when they are next touched and, a few at a
// time, whenever a session is created, so memory stays bounded by the
// sessions that are live or recently expired; it starts no goroutine.
//
// A MemoryStore is safe for concurrent use. The zero value is not usable;
// call [NewMemoryStore].
type MemoryStore struct {
	mu       sync.Mutex                     // protects sessions, users
	sessions map[string]*memEntry           // by token hash
	users    map[string]map[string]struct{} // user -> token hashes
}

type memEntry struct {
	fields  map[string][]byte
	user    string
	created time.Time
	abs     time.Time
	idle    time.Duration
	seen    time.Time
	moved   string    // non-empty: a rotation stub forwarding here until abs
	movedTo time.Time // end of the grace window
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty in-memory store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{
		sessions: make(map[string]*memEntry),
		users:    make(map[string]map[string]struct{}),
	}
}

// sweepBatch bounds the expired entries examined per create.
const sweepBatch = 32

// live reports whether e is usable at now; it deletes e otherwise.
// It returns the entry's status. Callers hold mu.
func (s *MemoryStore) live(h string, e *memEntry, now time.Time) status {
	if e.moved != "" {
		if !now.Before(e.movedTo) {
			s.remove(h, e)
			return statusGone
		}
		return statusOK
	}
	if !now.Before(e.abs) || !now.Before(e.seen.Add(e.idle)) {
		s.remove(h, e)
		return statusExpired
	}
	return statusOK
}

func (s *MemoryStore) remove(h string, e *memEntry) {
	delete(s.sessions, h)
	if e.user != "" {
		if set := s.users[e.user]; set != nil {
			delete(set, h)
			if len(set) == 0 {
				delete(s.users, e.user)
			}
		}
	}
}

func (s *MemoryStore) bind(h, user string) {
	set := s.users[user]
	if set == nil {
		set = make(map[string]struct{})
		s.users[user] = set
	}
	set[h] = struct{}{}
}

func (e *memEntry) expires() time.Time {
	x := e.seen.Add(e.idle)
	if e.abs.Before(x) {
		return e.abs
	}
	return x
}

// get returns the live entry for h, following a rotation forward once.
func (s *MemoryStore) get(h string, now time.Time) (string, *memEntry, status) {
	e, ok := s.sessions[h]
	if !ok {
		return h, nil, statusGone
	}
	if st := s.live(h, e, now); st != statusOK {
		return h, e, st
	}
	if e.moved != "" {
		h = e.moved
		e, ok = s.sessions[h]
		if !ok || e.moved != "" {
			return h, nil, statusGone
		}
		if st := s.live(h, e, now); st != statusOK {
			return h, e, st
		}
	}
	return h, e, statusOK
}

func cloneFields(m map[string][]byte) map[string][]byte {
	out := make(map[string][]byte, len(m))
	for k, v := range m {
		out[k] = append([]byte(nil), v...)
	}
	return out
}

func (s *MemoryStore) create(_ context.Context, h string, rec record, _ wait) (stored, status, error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, e := range s.sessions {
		if n++; n > sweepBatch {
			break
		}
		s.live(k, e, now)
	}
	if _, ok := s.sessions[h]; ok {
		return stored{}, statusGone, nil
	}
	e := &memEntry{fields: cloneFields(rec.fields), user: rec.user, idle: rec.idle, seen: now}
	if rec.created.IsZero() {
		e.created, e.abs = now, now.Add(rec.life)
	} else {
		e.created, e.abs = rec.created, rec.abs
	}
	if !now.Before(e.abs) {
		return stored{}, statusExpired, nil
	}
	s.sessions[h] = e
	if e.user != "" {
		s.bind(h, e.user)
	}
	return stored{hash: h, abs: e.abs, expires: e.expires()}, statusOK, nil
}

func (s *MemoryStore) load(_ context.Context, h string, touch time.Duration) (loaded, status, error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	h, e, st := s.get(h, now)
	if st != statusOK {
		if st == statusExpired {
			return loaded{user: e.user}, st, nil
		}
		return loaded{}, st, nil
	}
	touched := false
	if now.Sub(e.seen) >= touch {
		e.seen, touched = now, true
	}
	return loaded{hash: h, fields: cloneFields(e.fields), user: e.user, abs: e.abs, expires: e.expires(), touched: touched}, statusOK, nil
}

// apply writes ch to e. Callers hold mu.
func (s *MemoryStore) apply(h string, e *memEntry, ch changes, now time.Time) {
	for k, v := range ch.set {
		e.fields[k] = append([]byte(nil), v...)
	}
	for _, k := range ch.del {
		delete(e.fields, k)
	}
	if ch.userSet && ch.user != e.user {
		if e.user != "" {
			if set := s.users[e.user]; set != nil {
				delete(set, h)
				if len(set) == 0 {
					delete(s.users, e.user)
				}
			}
		}
		e.user = ch.user
		if e.user != "" {
			s.bind(h, e.user)
		}
	}
	e.seen = now
}

func (s *MemoryStore) commit(_ context.Context, h string, ch changes, _ wait) (stored, status, error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	h, e, st := s.get(h, now)
	if st != statusOK {
		if st == statusExpired {
			return stored{user: e.user}, st, nil
		}
		return stored{}, st, nil
	}
	s.apply(h, e, ch, now)
	return stored{hash: h, abs: e.abs, expires: e.expires()}, statusOK, nil
}

func (s *MemoryStore) rotate(_ context.Context, oldH, newH string, ch changes, grace time.Duration, _ wait) (stored, status, error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.sessions[oldH]
	if !ok || e.moved != "" {
		return stored{}, statusGone, nil
	}
	if st := s.live(oldH, e, now); st != statusOK {
		return stored{user: e.user}, st, nil
	}
	if _, ok := s.sessions[newH]; ok {
		return stored{}, statusGone, nil
	}
	s.apply(oldH, e, ch, now)
	s.remove(oldH, e)
	ne := &memEntry{fields: e.fields, user: e.user, created: e.created, abs: e.abs, idle: e.idle, seen: now}
	s.sessions[newH] = ne
	if ne.user != "" {
		s.bind(newH, ne.user)
	}
	if grace > 0 {
		until := now.Add(grace)
		if e.abs.Before(until) {
			until = e.abs
		}
		s.sessions[oldH] = &memEntry{moved: newH, movedTo: until, user: ""}
	}
	return stored{hash: newH, abs: ne.abs, expires: ne.expires()}, statusOK, nil
}

func (s *MemoryStore) destroy(_ context.Context, h string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.sessions[h]; ok {
		s.remove(h, e)
	}
	return nil
}

func (s *MemoryStore) revokeUser(_ context.Context, user string) (int, error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for h := range maps.Clone(s.users[user]) {
		e := s.sessions[h]
		if e == nil {
			continue
		}
		if s.live(h, e, now) == statusOK {
			n++
		}
		s.remove(h, e)
	}
	// Rotation stubs forward to sessions removed above, so they are dead too.
	delete(s.users, user)
	return n, nil
}
