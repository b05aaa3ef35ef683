package balancer

// Everything that depends on package hashring's API is in this file.

import (
	"fmt"

	"github.com/sinew-dev/sinew/hashring"
)

// hashState is the consistent-hash ring of one membership.
type hashState[B comparable] struct {
	ring *hashring.Ring[*node[B]]
}

// buildHash builds the ring of the current members with a positive weight; called with b.mu held.
func (b *Balancer[B]) buildHash() (*hashState[B], error) {
	ms := make([]hashring.Member[*node[B]], 0, len(b.members))
	for _, n := range b.members {
		if n.weight > 0 {
			ms = append(ms, hashring.Member[*node[B]]{Name: b.opts.Name(n.backend), Node: n, Weight: float64(n.weight)})
		}
	}
	r := hashring.NewRing[*node[B]](hashring.Options{})
	if err := r.Set(ms); err != nil {
		return nil, fmt.Errorf("balancer: %w", err)
	}
	return &hashState[B]{ring: r}, nil
}

// unavailableLoad is the load reported to the ring for a backend picks must not choose, so that
// the bounded walk passes it over.
const unavailableLoad = 1 << 50

// nodeLoad is the live load of a backend for the bounded-load walk.
func nodeLoad[B comparable](n *node[B]) int64 {
	if !n.avail.Load() {
		return unavailableLoad
	}
	return n.inflight.Load()
}

// PickKey picks the backend for key. With ConsistentHash it is the key's owner on the ring, unless
// the owner has at least [Options.LoadFactor] times the average requests in flight, in which case
// the walk goes on clockwise to the first backend under that bound (consistent hashing with bounded
// loads); backends that are not available (down, ejected, weight 0) are passed over the same way.
// If the ring offers no available backend, or the one it offers is refused by its breaker, it
// picks the least-loaded available backend. With any other policy the key is ignored and PickKey
// is [Balancer.Pick]. It returns ErrNoBackend if no backend can be picked.
func (b *Balancer[B]) PickKey(key string) (Pick[B], error) {
	if b.policy != ConsistentHash {
		return b.Pick()
	}
	s := b.snap.Load()
	if len(s.set) == 0 {
		return Pick[B]{}, ErrNoBackend
	}
	now := int64(-1)
	if n, ok := s.hash.ring.GetBounded(key, b.opts.LoadFactor-1, b.total.Load(), nodeLoad[B]); ok && n.avail.Load() {
		if p, ok := b.take(s, n, &now, true); ok {
			return p, nil
		}
	}
	i := leastConnections(b, s)
	if p, ok := b.take(s, s.set[i], &now, true); ok {
		return p, nil
	}
	return b.scan(s, i)
}

// Owner returns the backend that owns key on a ConsistentHash balancer's ring, whatever its health
// and load (the backend [Balancer.PickKey] prefers); ok is false if the ring is empty or the policy
// is not ConsistentHash.
func (b *Balancer[B]) Owner(key string) (backend B, ok bool) {
	s := b.snap.Load()
	if s.hash == nil {
		return backend, false
	}
	n, ok := s.hash.ring.Get(key)
	if !ok {
		return backend, false
	}
	return n.backend, true
}
