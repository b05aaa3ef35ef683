package crdt

import (
	"slices"

	"github.com/sinew-dev/sinew/vclock"
)

// liveIndex lists the live dots of an ORSet (the dots tagging its
// elements) per replica, in counter order, so that two sets with the same
// causal context can be compared in one sequential pass instead of a map
// lookup per element: the fast path of Merge with an identical state.
//
// A removed dot is not deleted at once but flagged dead (the high bit of
// its counter; real counters never reach it, see add), and a column is
// compacted when more than half of it is dead, so removes cost a binary
// search. Columns with no live dot are dropped, so that equal live sets
// have the same columns. Dots whose counter has the high bit set (only a
// forged state has them) are only counted, in huge, and sets holding any
// never take the fast path.
//
// A stale index is not maintained at all (deltas start stale, so that a
// mutation does not pay for an index of its delta) and never compares
// equal; Merge rebuilds the index of its receiver when it is stale.
type liveIndex struct {
	cols  map[string]*column
	huge  int
	stale bool
}

type column struct {
	ctrs []uint64 // increasing by counter value; dead ones have deadBit set
	dead int
}

const deadBit = 1 << 63

func (c *column) find(ctr uint64) (int, bool) {
	lo, hi := 0, len(c.ctrs)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if c.ctrs[m]&^deadBit < ctr {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(c.ctrs) && c.ctrs[lo]&^deadBit == ctr
}

// add records d as live. It must not be live already.
func (l *liveIndex) add(d vclock.Dot) {
	if l.stale {
		return
	}
	if d.Counter&deadBit != 0 {
		l.huge++
		return
	}
	if l.cols == nil {
		l.cols = make(map[string]*column)
	}
	c := l.cols[d.ID]
	if c == nil {
		c = &column{}
		l.cols[d.ID] = c
	}
	if n := len(c.ctrs); n == 0 || c.ctrs[n-1]&^deadBit < d.Counter {
		c.ctrs = append(c.ctrs, d.Counter)
		return
	}
	i, ok := c.find(d.Counter)
	switch {
	case !ok:
		c.ctrs = slices.Insert(c.ctrs, i, d.Counter)
	case c.ctrs[i]&deadBit != 0:
		c.ctrs[i] = d.Counter
		c.dead--
	}
}

// del records d as no longer live. It must be live.
func (l *liveIndex) del(d vclock.Dot) {
	if l.stale {
		return
	}
	if d.Counter&deadBit != 0 {
		l.huge--
		return
	}
	c := l.cols[d.ID]
	if c == nil {
		return
	}
	i, ok := c.find(d.Counter)
	if !ok || c.ctrs[i]&deadBit != 0 {
		return
	}
	c.ctrs[i] |= deadBit
	c.dead++
	switch {
	case c.dead == len(c.ctrs):
		delete(l.cols, d.ID)
	case c.dead > 8 && 2*c.dead > len(c.ctrs):
		c.ctrs = slices.DeleteFunc(c.ctrs, func(x uint64) bool { return x&deadBit != 0 })
		c.dead = 0
	}
}

// clone returns an independent, compacted copy.
func (l *liveIndex) clone() liveIndex {
	out := liveIndex{huge: l.huge, stale: l.stale}
	if len(l.cols) == 0 {
		return out
	}
	out.cols = make(map[string]*column, len(l.cols))
	for id, c := range l.cols {
		ctrs := make([]uint64, 0, len(c.ctrs)-c.dead)
		for _, x := range c.ctrs {
			if x&deadBit == 0 {
				ctrs = append(ctrs, x)
			}
		}
		out.cols[id] = &column{ctrs: ctrs}
	}
	return out
}

// same reports whether both indexes hold the same live dots.
func (l *liveIndex) same(o *liveIndex) bool {
	if l.stale || o.stale || l.huge != 0 || o.huge != 0 || len(l.cols) != len(o.cols) {
		return false
	}
	for id, c := range l.cols {
		oc := o.cols[id]
		if oc == nil || len(c.ctrs)-c.dead != len(oc.ctrs)-oc.dead {
			return false
		}
		if c.dead == 0 && oc.dead == 0 {
			if !slices.Equal(c.ctrs, oc.ctrs) {
				return false
			}
			continue
		}
		a, b := c.ctrs, oc.ctrs
		i, j := 0, 0
		for {
			for i < len(a) && a[i]&deadBit != 0 {
				i++
			}
			for j < len(b) && b[j]&deadBit != 0 {
				j++
			}
			if i == len(a) || j == len(b) {
				if i != len(a) || j != len(b) {
					return false
				}
				break
			}
			if a[i] != b[j] {
				return false
			}
			i++
			j++
		}
	}
	return true
}

// count returns the number of live dots.
func (l *liveIndex) count() int {
	n := l.huge
	for _, c := range l.cols {
		n += len(c.ctrs) - c.dead
	}
	return n
}
