package vclock

import "sync/atomic"

// Lamport is a Lamport logical clock: a single counter that orders events
// consistently with causality (if a happened before b, a's time is less
// than b's) but, unlike a vector clock, cannot detect concurrency.
//
// The zero value is a clock at time 0, ready to use. A Lamport is safe for
// concurrent use (it is one atomic counter) and must not be copied after
// first use. It saturates at math.MaxUint64 instead of wrapping.
type Lamport struct {
	n atomic.Uint64
}

// Now returns the current time without recording an event.
func (l *Lamport) Now() uint64 { return l.n.Load() }

// Tick records a local or send event and returns its time, one more than
// the previous time.
func (l *Lamport) Tick() uint64 {
	for {
		cur := l.n.Load()
		if cur == ^uint64(0) {
			return cur
		}
		if l.n.CompareAndSwap(cur, cur+1) {
			return cur + 1
		}
	}
}

// Update records the receipt of a message stamped remote and returns the
// time of the receive event: one more than the larger of remote and the
// current time.
func (l *Lamport) Update(remote uint64) uint64 {
	for {
		cur := l.n.Load()
		next := max(cur, remote)
		if next != ^uint64(0) {
			next++
		}
		if next == cur || l.n.CompareAndSwap(cur, next) {
			return next
		}
	}
}
