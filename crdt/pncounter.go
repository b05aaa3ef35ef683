package crdt

import (
	"encoding"

	"github.com/sinew-dev/sinew/vclock"
)

// PNCounter is a counter that goes up and down: two [GCounter]s, one for
// increments and one for decrements, whose difference is the value.
//
// Inc and Dec return deltas; Merge takes a full state or a delta. The zero
// value is a counter at 0, ready to use. A PNCounter is a value owned by
// its caller and not safe for concurrent use; see the package
// documentation.
type PNCounter struct {
	p, n GCounter
}

var (
	_ encoding.BinaryAppender    = PNCounter{}
	_ encoding.BinaryMarshaler   = PNCounter{}
	_ encoding.BinaryUnmarshaler = (*PNCounter)(nil)
)

// Inc adds n at replica and returns the delta.
func (c *PNCounter) Inc(replica string, n uint64) PNCounter {
	return PNCounter{p: c.p.Inc(replica, n)}
}

// Dec subtracts n at replica and returns the delta.
func (c *PNCounter) Dec(replica string, n uint64) PNCounter {
	return PNCounter{n: c.n.Inc(replica, n)}
}

// Value returns the increments minus the decrements. The difference is
// computed modulo 2^64 and read as an int64, so it is exact while the true
// value fits in an int64.
func (c PNCounter) Value() int64 {
	return int64(c.p.Value() - c.n.Value())
}

// Merge sets c to the least upper bound of c and o, a full state or a
// delta. It does not allocate when o has no replica that c lacks, and never
// shares memory with o.
func (c *PNCounter) Merge(o PNCounter) {
	c.p.Merge(o.p)
	c.n.Merge(o.n)
}

// Prune moves the departed replica's increments and decrements onto into,
// keeping the value, and returns the delta. The rules of [GCounter.Prune]
// apply: departed has stopped for good, into is the replica calling Prune,
// and one replica only prunes a given departed replica. It panics if
// departed == into.
func (c *PNCounter) Prune(departed, into string) PNCounter {
	return PNCounter{p: c.p.Prune(departed, into), n: c.n.Prune(departed, into)}
}

// ForgetPruned removes the prune marks of departed; see
// [GCounter.ForgetPruned] for when that is safe. It reports whether there
// was a mark.
func (c *PNCounter) ForgetPruned(departed string) bool {
	a := c.p.ForgetPruned(departed)
	b := c.n.ForgetPruned(departed)
	return a || b
}

// Increments returns the grow-only counter of increments. It shares memory
// with c: use it only to read.
func (c PNCounter) Increments() GCounter { return c.p }

// Decrements returns the grow-only counter of decrements. It shares memory
// with c: use it only to read.
func (c PNCounter) Decrements() GCounter { return c.n }

// Pruned returns the union of the replicas pruned from the increments and
// decrements, with their larger mark.
func (c PNCounter) Pruned() []vclock.Dot {
	var m vclock.Clock
	for _, d := range c.p.Pruned() {
		m.Merge(vclock.Of(d))
	}
	for _, d := range c.n.Pruned() {
		m.Merge(vclock.Of(d))
	}
	return m.Dots()
}

// Clone returns an independent copy of c.
func (c PNCounter) Clone() PNCounter { return PNCounter{p: c.p.Clone(), n: c.n.Clone()} }

// AppendBinary appends the canonical binary encoding of c to b: a type
// byte, then the increments and decrements as in [GCounter.AppendBinary]
// without their type bytes. The error is always nil.
func (c PNCounter) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, tagPNCounter)
	b = c.p.appendBody(b)
	return c.n.appendBody(b), nil
}

// MarshalBinary returns the canonical binary encoding of c. The error is
// always nil.
func (c PNCounter) MarshalBinary() ([]byte, error) { return c.AppendBinary(nil) }

// UnmarshalBinary sets c to the counter encoded in data. It returns an
// error wrapping [ErrMalformed] if data is not exactly one canonical
// encoding of a PNCounter, and then leaves c unchanged.
func (c *PNCounter) UnmarshalBinary(data []byte) error {
	r := reader{b: data}
	r.tag(tagPNCounter, "PNCounter")
	var v PNCounter
	v.p = readGCounter(&r)
	v.n = readGCounter(&r)
	if err := r.end(); err != nil {
		return err
	}
	*c = v
	return nil
}
