package crdt

import (
	"cmp"
	"slices"
	"strings"

	"github.com/sinew-dev/sinew/vclock"
)

// causalContext is the set of dots a replica has seen, kept compact: a
// vector clock for the contiguous prefix of each replica's dots and a dot
// cloud for the dots after a gap. It is normalised after every change:
// every cloud dot has Counter > clock.Get(ID)+1 (the dot right after the
// prefix is always folded into the clock), and the cloud is sorted by
// [dotCompare] without duplicates. Two contexts hold the same dots exactly
// when their clocks and clouds are equal, which makes the encoding
// canonical.
type causalContext struct {
	clock vclock.Clock
	cloud []vclock.Dot
}

// dotCompare orders dots by ID, then by counter.
func dotCompare(a, b vclock.Dot) int {
	if c := strings.Compare(a.ID, b.ID); c != 0 {
		return c
	}
	return cmp.Compare(a.Counter, b.Counter)
}

// contains reports whether the context has seen d.
func (c *causalContext) contains(d vclock.Dot) bool {
	if c.clock.Contains(d) {
		return true
	}
	if len(c.cloud) == 0 {
		return false
	}
	_, ok := slices.BinarySearchFunc(c.cloud, d, dotCompare)
	return ok
}

// next returns the next dot of replica id: one past every dot of id the
// context has seen.
func (c *causalContext) next(id string) vclock.Dot {
	n := c.clock.Get(id)
	for _, d := range c.cloud {
		if d.ID == id {
			n = max(n, d.Counter)
		}
	}
	return vclock.Dot{ID: id, Counter: n + 1}
}

// add records d.
func (c *causalContext) add(d vclock.Dot) {
	cur := c.clock.Get(d.ID)
	switch {
	case d.Counter <= cur:
		return
	case d.Counter == cur+1:
		c.clock.Set(d.ID, d.Counter)
		if len(c.cloud) > 0 {
			c.compact()
		}
		return
	}
	i, ok := slices.BinarySearchFunc(c.cloud, d, dotCompare)
	if !ok {
		c.cloud = slices.Insert(c.cloud, i, d)
	}
}

// compact folds into the clock every cloud dot that extends its prefix and
// drops the cloud dots the clock covers.
func (c *causalContext) compact() {
	out := c.cloud[:0]
	for _, d := range c.cloud {
		cur := c.clock.Get(d.ID)
		switch {
		case d.Counter <= cur:
		case d.Counter == cur+1:
			c.clock.Set(d.ID, d.Counter)
		default:
			out = append(out, d)
		}
	}
	clear(c.cloud[len(out):])
	if len(out) == 0 {
		out = nil
	}
	c.cloud = out
}

// merge adds every dot of o. It never shares memory with o.
func (c *causalContext) merge(o *causalContext) {
	c.clock.Merge(o.clock)
	if len(o.cloud) > 0 {
		c.cloud = unionDots(c.cloud, o.cloud)
	}
	if len(c.cloud) > 0 {
		c.compact()
	}
}

// unionDots returns the sorted union of two sorted dot lists in a new
// slice.
func unionDots(a, b []vclock.Dot) []vclock.Dot {
	out := make([]vclock.Dot, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch dotCompare(a[i], b[j]) {
		case -1:
			out = append(out, a[i])
			i++
		case 1:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// equal reports whether both contexts hold the same dots.
func (c *causalContext) equal(o *causalContext) bool {
	return c.clock.Equal(o.clock) && slices.Equal(c.cloud, o.cloud)
}

// covers reports whether c holds every dot of o.
func (c *causalContext) covers(o *causalContext) bool {
	// A normalised context never holds the dot right after its clock
	// prefix in the cloud, so c holds o's prefix 1..n only if its clock
	// does.
	if !c.clock.Descends(o.clock) {
		return false
	}
	for _, d := range o.cloud {
		if !c.contains(d) {
			return false
		}
	}
	return true
}

// clone returns an independent copy.
func (c *causalContext) clone() causalContext {
	return causalContext{clock: c.clock.Clone(), cloud: slices.Clone(c.cloud)}
}

// appendBinary appends clock, uvarint(len(cloud)), then each cloud dot.
func (c *causalContext) appendBinary(b []byte) []byte {
	b, _ = c.clock.AppendBinary(b)
	b = appendUvarint(b, uint64(len(c.cloud)))
	for _, d := range c.cloud {
		b, _ = d.AppendBinary(b)
	}
	return b
}

// readContext decodes a context and checks that it is normalised.
func readContext(r *reader) causalContext {
	var c causalContext
	c.clock = r.clock()
	n := r.count("cloud size", 2)
	if n > 0 {
		c.cloud = make([]vclock.Dot, 0, n)
	}
	for i := 0; i < n && r.err == nil; i++ {
		d := r.dot()
		if r.err != nil {
			break
		}
		switch cur := c.clock.Get(d.ID); {
		case d.Counter <= cur || d.Counter == cur+1:
			r.fail("cloud dot %s:%d is not beyond the clock", d.ID, d.Counter)
		case i > 0 && dotCompare(c.cloud[i-1], d) >= 0:
			r.fail("cloud dots not strictly increasing")
		}
		c.cloud = append(c.cloud, d)
	}
	return c
}
