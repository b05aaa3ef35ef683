package crdt

import (
	"encoding"
	"slices"

	"github.com/sinew-dev/sinew/vclock"
)

// GCounter is a grow-only counter: one count per replica, merged by
// pointwise maximum, whose value is the sum of the counts. The counts are
// a [vclock.Clock] (sorted by replica ID), so merging counters over the
// same replicas is one comparison of the replica sets and one pass over the
// counts, with no allocation.
//
// Inc returns a delta (a GCounter holding only the incremented count) to
// ship instead of the full state; Merge takes a full state or a delta.
//
// A replica that has left for good can be pruned: [GCounter.Prune] moves
// its count onto a live replica and leaves a small marker so that old
// copies of the departed count merged later are not counted twice.
//
// The zero value is a counter at 0, ready to use. A GCounter is a value
// owned by its caller and not safe for concurrent use; see the package
// documentation.
type GCounter struct {
	counts vclock.Clock // replica -> count; a pruned replica's count is kept only above its mark
	marks  []pruneMark  // sorted by departed
}

// pruneMark records that departed's count, up to count, was moved onto
// into's count.
type pruneMark struct {
	departed, into string
	count          uint64
}

// mark returns the mark of id, if any.
func (c *GCounter) mark(id string) (pruneMark, bool) {
	for _, m := range c.marks {
		if m.departed == id {
			return m, true
		}
	}
	return pruneMark{}, false
}

// markedCount returns the count of id's mark, 0 without one.
func (c *GCounter) markedCount(id string) uint64 {
	m, _ := c.mark(id)
	return m.count
}

var (
	_ encoding.BinaryAppender    = GCounter{}
	_ encoding.BinaryMarshaler   = GCounter{}
	_ encoding.BinaryUnmarshaler = (*GCounter)(nil)
)

// Inc adds n to replica's count and returns the delta: a counter holding
// replica's new count (and the prune marks of the replicas pruned into
// it, which must travel with the count). The count saturates at
// math.MaxUint64.
func (c *GCounter) Inc(replica string, n uint64) GCounter {
	v := satAdd(c.base(replica), n)
	if v <= c.markedCount(replica) {
		return GCounter{} // n == 0 at a pruned replica: nothing changes
	}
	c.counts.Set(replica, v)
	d := GCounter{counts: vclock.Of(vclock.Dot{ID: replica, Counter: v})}
	for _, m := range c.marks {
		if m.into == replica {
			d.marks = append(d.marks, m)
		}
	}
	return d
}

// base returns the count of replica to add to: its count, or, if it was
// pruned and its count is hidden under the mark, the mark. (Only a pruned
// replica that came back, against the rules of Prune, has a mark.)
func (c *GCounter) base(replica string) uint64 {
	return max(c.counts.Get(replica), c.markedCount(replica))
}

// Value returns the sum of the counts (modulo 2^64, which only a forged
// state can reach).
func (c GCounter) Value() uint64 {
	var sum uint64
	for _, n := range c.counts.All() {
		sum += n
	}
	for _, m := range c.marks {
		if n := c.counts.Get(m.departed); n > 0 {
			sum -= m.count // n > m.count: the part above the mark counts
		}
	}
	return sum
}

// Count returns replica's own contribution to the value.
func (c GCounter) Count(replica string) uint64 {
	n := c.counts.Get(replica)
	if p := c.markedCount(replica); n > p {
		return n - p
	}
	return 0
}

// Replicas returns the number of replicas with a count (not counting
// pruned ones).
func (c GCounter) Replicas() int { return c.counts.Len() }

// Merge sets c to the least upper bound of c and o, a full state or a
// delta: the pointwise maximum of the counts and of the prune marks. It
// does not allocate when o has no replica that c lacks and neither side
// has prune marks, and never shares memory with o.
func (c *GCounter) Merge(o GCounter) {
	c.counts.Merge(o.counts)
	if len(o.marks) == 0 && len(c.marks) == 0 {
		return
	}
	if len(o.marks) > 0 {
		c.marks = mergeMarks(c.marks, o.marks)
	}
	c.normalise()
}

// mergeMarks returns the union of two sorted mark lists in a new slice.
// For a replica in both it keeps the larger count (ties, which only a
// second pruner of one replica can cause, go to the greater into).
func mergeMarks(a, b []pruneMark) []pruneMark {
	out := make([]pruneMark, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch x, y := a[i], b[j]; {
		case x.departed < y.departed:
			out = append(out, x)
			i++
		case x.departed > y.departed:
			out = append(out, y)
			j++
		default:
			if y.count > x.count || (y.count == x.count && y.into > x.into) {
				x = y
			}
			out = append(out, x)
			i++
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// normalise drops the counts at or below their prune mark: they were
// moved onto another replica's count.
func (c *GCounter) normalise() {
	for _, m := range c.marks {
		if n := c.counts.Get(m.departed); n > 0 && n <= m.count {
			c.counts.Set(m.departed, 0)
		}
	}
}

// Prune removes the departed replica's count and adds it to into's count,
// so the value is unchanged and the counter no longer carries departed.
// It records a prune mark (departed, into, its count) that stops copies of
// departed's count merged later from being counted again; a count of
// departed above the mark (increments that had not reached this replica)
// still counts. It returns the delta to ship to the other replicas; the
// mark also travels with every later delta of into.
//
// This is Akka's pruning of removed nodes, and it has the same rules:
//
//   - departed must have stopped for good: never increment it again. (If
//     it does, its new increments count from the mark, but a replica that
//     has not merged the mark yet counts the moved count twice until it
//     does.)
//   - into must be the replica calling Prune, and one replica only must
//     prune a given departed replica (Akka uses the cluster leader). Two
//     replicas pruning the same replica would both add its count.
//   - the mark stays until [GCounter.ForgetPruned] removes it.
//
// Prune panics if departed == into.
func (c *GCounter) Prune(departed, into string) GCounter {
	if departed == into {
		panic("crdt: Prune of a replica into itself")
	}
	n := c.counts.Get(departed)
	old, _ := c.mark(departed)
	if n <= old.count {
		return GCounter{}
	}
	v := satAdd(c.base(into), n-old.count)
	c.counts.Set(into, v)
	c.counts.Set(departed, 0)
	m := pruneMark{departed: departed, into: into, count: n}
	c.marks = mergeMarks(c.marks, []pruneMark{m})
	return GCounter{counts: vclock.Of(vclock.Dot{ID: into, Counter: v}), marks: []pruneMark{m}}
}

// ForgetPruned removes the prune mark of departed, so that the counter no
// longer mentions it at all. Call it only once every replica has merged
// the prune (Akka waits a long, configured time): a state that still
// carries departed's count, merged after its mark is forgotten, counts it
// twice. ForgetPruned is not a lattice operation and returns no delta;
// every replica must call it. It reports whether there was a mark.
func (c *GCounter) ForgetPruned(departed string) bool {
	for i, m := range c.marks {
		if m.departed == departed {
			c.marks = slices.Delete(slices.Clone(c.marks), i, i+1)
			if len(c.marks) == 0 {
				c.marks = nil
			}
			return true
		}
	}
	return false
}

// Pruned returns the pruned replicas, each with the count that was moved
// onto another replica.
func (c GCounter) Pruned() []vclock.Dot {
	var out []vclock.Dot
	for _, m := range c.marks {
		out = append(out, vclock.Dot{ID: m.departed, Counter: m.count})
	}
	return out
}

// Clone returns an independent copy of c.
func (c GCounter) Clone() GCounter {
	return GCounter{counts: c.counts.Clone(), marks: slices.Clone(c.marks)}
}

// AppendBinary appends the canonical binary encoding of c to b: a type
// byte, the counts as a vector clock, uvarint(number of prune marks), then
// for each mark by increasing departed ID: uvarint(len) departed,
// uvarint(len) into, uvarint(count). Equal counters encode to identical
// bytes. The error is always nil.
func (c GCounter) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, tagGCounter)
	return c.appendBody(b), nil
}

func (c GCounter) appendBody(b []byte) []byte {
	b, _ = c.counts.AppendBinary(b)
	b = appendUvarint(b, uint64(len(c.marks)))
	for _, m := range c.marks {
		b = appendString(b, m.departed)
		b = appendString(b, m.into)
		b = appendUvarint(b, m.count)
	}
	return b
}

// MarshalBinary returns the canonical binary encoding of c. The error is
// always nil.
func (c GCounter) MarshalBinary() ([]byte, error) { return c.AppendBinary(nil) }

// UnmarshalBinary sets c to the counter encoded in data. It returns an
// error wrapping [ErrMalformed] if data is not exactly one canonical
// encoding of a GCounter, and then leaves c unchanged.
func (c *GCounter) UnmarshalBinary(data []byte) error {
	r := reader{b: data}
	r.tag(tagGCounter, "GCounter")
	v := readGCounter(&r)
	if err := r.end(); err != nil {
		return err
	}
	*c = v
	return nil
}

func readGCounter(r *reader) GCounter {
	var c GCounter
	c.counts = r.clock()
	n := r.count("prune mark count", 3)
	if n > 0 {
		c.marks = make([]pruneMark, 0, n)
	}
	for i := 0; i < n && r.err == nil; i++ {
		m := pruneMark{departed: string(r.bytes("departed ID")), into: string(r.bytes("into ID")), count: r.uvarint("mark count")}
		switch {
		case r.err != nil:
		case m.count == 0:
			r.fail("zero prune mark")
		case m.departed == m.into:
			r.fail("replica %q pruned into itself", m.departed)
		case i > 0 && c.marks[i-1].departed >= m.departed:
			r.fail("prune marks not strictly increasing")
		case c.counts.Get(m.departed) != 0 && c.counts.Get(m.departed) <= m.count:
			r.fail("count of %q is at or below its prune mark", m.departed)
		}
		c.marks = append(c.marks, m)
	}
	return c
}
