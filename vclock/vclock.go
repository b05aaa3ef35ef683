package vclock

import (
	"bytes"
	"encoding/binary"
	"iter"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Dot names one event: the Counter-th event recorded by replica ID. Counters
// start at 1; a Dot with Counter 0 names no event.
//
// A Clock entry (ID, n) stands for the dots (ID, 1) … (ID, n), which is how a
// causal context of an OR-Set can be a Clock. Dot is a plain value, safe to
// copy and to share between goroutines that only read it.
type Dot struct {
	ID      string
	Counter uint64
}

// Order is the result of comparing two vector clocks. The values of Before,
// Equal and After have the signs that [cmp.Compare] would give.
type Order int

const (
	// Before means the receiver happened before the argument: every counter
	// is ≤ the argument's and at least one is <.
	Before Order = -1
	// Equal means both clocks have the same counter for every replica
	// (absent entries count as 0).
	Equal Order = 0
	// After means the receiver happened after the argument: every counter is
	// ≥ the argument's and at least one is >.
	After Order = 1
	// Concurrent means neither clock descends from the other: each has a
	// counter greater than the other's.
	Concurrent Order = 2
)

// String returns "before", "equal", "after" or "concurrent".
func (o Order) String() string {
	switch o {
	case Before:
		return "before"
	case Equal:
		return "equal"
	case After:
		return "after"
	case Concurrent:
		return "concurrent"
	}
	return "Order(" + strconv.Itoa(int(o)) + ")"
}

// Clock is a vector clock: a counter per replica ID, kept as a slice of
// entries sorted by ID (byte-wise) with no zero counters. A replica that has
// no entry has counter 0, so a zero entry and an absent entry are the same
// thing everywhere: in Get, Compare, Equal and the encodings.
//
// The zero value is an empty clock, ready to use.
//
// # Copy semantics
//
// A Clock holds slices. Assigning a Clock (b := a), passing it by value or
// storing it in a struct copies the slice headers but shares the backing
// arrays, as with any slice: both copies read the same clock until one of
// them is mutated (Tick, Set, Merge, Prune, Reset, UnmarshalBinary, …).
// After that only the mutated copy may be used; the other may show part of
// the change or be corrupt, like a slice after an append that reused its
// array. Call [Clock.Clone] for an independent clock you may mutate
// separately. Passing a Clock by value to a method or function that only
// reads it, such as Merge's argument or Compare's, is always fine.
//
// No method makes a clock share memory with another: Merge copies entries
// out of its argument, and no method retains its argument after it
// returns. IDs are immutable strings and are shared freely.
//
// Methods that only read the clock have value receivers; methods that
// mutate it have pointer receivers.
//
// A Clock is not safe for concurrent use: guard it with a mutex if several
// goroutines mutate it, or if one mutates while others read.
type Clock struct {
	e []Dot // sorted by ID, strictly increasing; every Counter > 0

	// ids is the replica set of e in one block: uvarint(len(ID)) ID for
	// each entry. Equal ids mean equal replica sets, so Merge and Compare
	// of clocks over the same replicas check every ID with one bytes.Equal
	// instead of a string comparison per entry. Rebuilt by reindex whenever
	// the replica set changes.
	ids []byte
}

// appendIDs appends the ids block of e to b.
func appendIDs(b []byte, e []Dot) []byte {
	for _, d := range e {
		b = binary.AppendUvarint(b, uint64(len(d.ID)))
		b = append(b, d.ID...)
	}
	return b
}

// reindex rebuilds c.ids after a change of the replica set, reusing its
// backing array.
func (c *Clock) reindex() {
	c.ids = appendIDs(c.ids[:0], c.e)
}

// Of returns a clock holding the given entries. Entries with a zero counter
// are dropped; if an ID appears more than once, the largest counter wins.
// It is meant for tests, examples and building clocks from external data.
func Of(entries ...Dot) Clock {
	e := make([]Dot, 0, len(entries))
	for _, d := range entries {
		if d.Counter != 0 {
			e = append(e, d)
		}
	}
	slices.SortFunc(e, func(a, b Dot) int {
		if c := strings.Compare(a.ID, b.ID); c != 0 {
			return c
		}
		// Larger counter first so that Compact keeps it.
		switch {
		case a.Counter > b.Counter:
			return -1
		case a.Counter < b.Counter:
			return 1
		}
		return 0
	})
	e = slices.CompactFunc(e, func(a, b Dot) bool { return a.ID == b.ID })
	if len(e) == 0 {
		return Clock{}
	}
	return Clock{e: e, ids: appendIDs(nil, e)}
}

// search returns the index of id in c, or where it would be inserted.
func (c Clock) search(id string) (int, bool) {
	// A hand-written binary search: slices.BinarySearchFunc with a closure
	// is noticeably slower for short clocks.
	lo, hi := 0, len(c.e)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if c.e[m].ID < id {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(c.e) && c.e[lo].ID == id
}

// Get returns the counter of replica id, 0 if the clock has no entry for it.
func (c Clock) Get(id string) uint64 {
	if i, ok := c.search(id); ok {
		return c.e[i].Counter
	}
	return 0
}

// Contains reports whether the clock has seen dot d, that is whether
// d.Counter ≤ c.Get(d.ID). Every clock contains the dots with Counter 0.
func (c Clock) Contains(d Dot) bool {
	return d.Counter <= c.Get(d.ID)
}

// Len returns the number of replicas with a non-zero counter.
func (c Clock) Len() int { return len(c.e) }

// IsZero reports whether every counter is zero (the clock is empty).
func (c Clock) IsZero() bool { return len(c.e) == 0 }

// All returns an iterator over the (ID, counter) entries in ascending ID
// order. Zero counters are never yielded. The clock must not be mutated
// during the iteration.
func (c Clock) All() iter.Seq2[string, uint64] {
	return func(yield func(string, uint64) bool) {
		for _, d := range c.e {
			if !yield(d.ID, d.Counter) {
				return
			}
		}
	}
}

// Dots returns the entries as a new slice sorted by ID, one Dot per replica
// holding that replica's counter. The caller owns the result.
func (c Clock) Dots() []Dot {
	if len(c.e) == 0 {
		return nil
	}
	return slices.Clone(c.e)
}

// Clone returns an independent copy of c: mutating one never affects the
// other.
func (c Clock) Clone() Clock {
	if len(c.e) == 0 {
		return Clock{}
	}
	return Clock{e: slices.Clone(c.e), ids: slices.Clone(c.ids)}
}

// Reset empties the clock, keeping its backing array for reuse: a following
// Merge of a clock no larger than the old one does not allocate. The
// backing array is still shared with any copy made by assignment.
func (c *Clock) Reset() {
	clear(c.e) // drop ID references so they can be collected
	c.e = c.e[:0]
	c.ids = c.ids[:0]
}

// Tick increments the counter of replica id and returns its new value. It
// records a local event at replica id (and is the only method a replica
// normally calls with its own ID). It allocates only when a new replica is
// added and the backing array is full.
//
// A counter saturates at math.MaxUint64 instead of wrapping to 0; only a
// forged clock can get there (at one tick a nanosecond it takes 584 years).
func (c *Clock) Tick(id string) uint64 {
	i, ok := c.search(id)
	if ok {
		if c.e[i].Counter != math.MaxUint64 {
			c.e[i].Counter++
		}
		return c.e[i].Counter
	}
	c.e = slices.Insert(c.e, i, Dot{ID: id, Counter: 1})
	c.reindex()
	return 1
}

// Set sets the counter of replica id to n; n = 0 removes the entry. Set can
// move a counter backwards, which no replica should do to a clock that it
// has shared: use Tick and Merge for that. Set is for building clocks from
// external data.
func (c *Clock) Set(id string, n uint64) {
	i, ok := c.search(id)
	switch {
	case ok && n != 0:
		c.e[i].Counter = n
	case ok:
		c.e = slices.Delete(c.e, i, i+1)
		c.reindex()
	case n != 0:
		c.e = slices.Insert(c.e, i, Dot{ID: id, Counter: n})
		c.reindex()
	}
}

// Merge sets c to the pointwise maximum of c and o, the least clock that
// descends from both. Its cost is linear in len(c)+len(o); when both clocks
// have the same replicas (the steady state) it is one comparison of the
// replica sets and one pass over the counters. Merge does not allocate when
// o has no replica that c lacks, nor when c has room for the new replicas,
// as after a Reset of a clock at least as large as the result. o is only
// read, and c never shares memory with o afterwards.
func (c *Clock) Merge(o Clock) {
	a, b := c.e, o.e
	if len(b) == 0 {
		return
	}
	if len(a) == 0 {
		c.e = append(a[:0], b...)
		c.ids = append(c.ids[:0], o.ids...)
		return
	}
	// Fast path: the same replicas in both clocks, which is the steady state
	// of a stable membership. One comparison of the replica sets, then a
	// walk over the counters.
	if len(a) == len(b) && bytes.Equal(c.ids, o.ids) {
		b = b[:len(a)]
		for i := range a {
			a[i].Counter = max(a[i].Counter, b[i].Counter)
		}
		return
	}

	// Count the replicas of o missing from c, raising shared counters as we
	// go (this is all the work when there are none).
	missing := 0
	for i, j := 0, 0; j < len(b); {
		if i == len(a) {
			missing += len(b) - j
			break
		}
		switch strings.Compare(a[i].ID, b[j].ID) {
		case 0:
			a[i].Counter = max(a[i].Counter, b[j].Counter)
			i++
			j++
		case -1:
			i++
		default:
			missing++
			j++
		}
	}
	if missing == 0 {
		return
	}

	n := len(a) + missing
	if n > cap(a) {
		// Merge forwards into a fresh array (shared counters are already
		// raised in a).
		out := make([]Dot, 0, n)
		i, j := 0, 0
		for i < len(a) && j < len(b) {
			switch strings.Compare(a[i].ID, b[j].ID) {
			case 0:
				out = append(out, a[i])
				i++
				j++
			case -1:
				out = append(out, a[i])
				i++
			default:
				out = append(out, b[j])
				j++
			}
		}
		out = append(out, a[i:]...)
		out = append(out, b[j:]...)
		c.e = out
		c.reindex()
		return
	}

	// Merge backwards in place: the write position w stays ahead of the
	// unread part of a by the number of o's replicas still to place.
	//
	// o may share c's array (c.Merge(copy of c), or a copy mutated since,
	// see the Clock doc): clocks share arrays only from the first element,
	// so then one of a, b is a prefix of the other, and as a is shorter here
	// w == j at every step: each b[j] is read before, or written onto,
	// itself.
	out := a[:n]
	i, j, w := len(a)-1, len(b)-1, n-1
	for j >= 0 {
		cmp := 1 // the order of b[j] against a[i]; a is exhausted when i < 0
		if i >= 0 {
			cmp = strings.Compare(b[j].ID, a[i].ID)
		}
		if cmp <= 0 {
			if cmp == 0 {
				j--
			}
			out[w] = a[i]
			i--
		} else {
			out[w] = b[j]
			j--
		}
		w--
	}
	c.e = out
	c.reindex()
}

// Compare reports how c is ordered against o in the happened-before partial
// order: Before, Equal, After or Concurrent. Absent entries count as 0. It
// does not allocate and stops as soon as the clocks are known to be
// concurrent.
func (c Clock) Compare(o Clock) Order {
	a, b := c.e, o.e
	// less: some counter of c is below o's; more: some counter is above.
	less, more := false, false
	i, j := 0, 0
	if len(a) == len(b) && bytes.Equal(c.ids, o.ids) {
		// Fast path for equal replica sets: only counters differ.
		b = b[:len(a)]
		for k := range a {
			if x, y := a[k].Counter, b[k].Counter; x != y {
				if x < y {
					less = true
				} else {
					more = true
				}
			}
		}
		i, j = len(a), len(b)
	}
	for i < len(a) && j < len(b) {
		switch strings.Compare(a[i].ID, b[j].ID) {
		case 0:
			if x, y := a[i].Counter, b[j].Counter; x < y {
				less = true
			} else if x > y {
				more = true
			}
			i++
			j++
		case -1: // only c has this ID, and its counter is > 0
			more = true
			i++
		default: // only o has y
			less = true
			j++
		}
		if less && more {
			return Concurrent
		}
	}
	if i < len(a) {
		more = true
	}
	if j < len(b) {
		less = true
	}
	switch {
	case less && more:
		return Concurrent
	case less:
		return Before
	case more:
		return After
	}
	return Equal
}

// Equal reports whether c and o have the same counter for every replica.
// It is faster than Compare(o) == Equal.
func (c Clock) Equal(o Clock) bool {
	if len(c.e) != len(o.e) || !bytes.Equal(c.ids, o.ids) {
		return false
	}
	b := o.e[:len(c.e)]
	for i, d := range c.e {
		if d.Counter != b[i].Counter {
			return false
		}
	}
	return true
}

// Before reports whether c happened before o (c < o).
func (c Clock) Before(o Clock) bool { return c.Compare(o) == Before }

// After reports whether c happened after o (c > o).
func (c Clock) After(o Clock) bool { return c.Compare(o) == After }

// Concurrent reports whether neither of c and o descends from the other.
func (c Clock) Concurrent(o Clock) bool { return c.Compare(o) == Concurrent }

// Descends reports whether c has seen every event o has seen (c ≥ o): c is
// After or Equal to o. A replica may drop o's data when its own clock
// descends from o's.
func (c Clock) Descends(o Clock) bool {
	r := c.Compare(o)
	return r == After || r == Equal
}

// Prune removes every entry for which drop returns true and returns the
// number removed. It is the explicit way to forget replicas, for example
// those removed from membership, so that clocks stop growing.
//
// Pruning loses causal information, and Riak's experience with vector-clock
// pruning shows what that costs:
//
//   - False concurrency: a clock pruned of replica r, compared with an
//     unpruned ancestor that has an entry for r, is reported Concurrent
//     rather than After, so a newer value looks like a conflict (spurious
//     siblings).
//   - Missed conflicts: if two truly concurrent clocks differ only in r's
//     entry and both are pruned of r, one now looks Equal to or After the
//     other, and a write can be silently lost. A pruned replica that later
//     resumes ticking under the same ID restarts from 1 and its new events
//     look older than ones already seen.
//
// Prune only replicas that will never issue events again under that ID,
// and prune them from every clock in the system (or accept the risks
// above). drop is called once per entry, in ascending ID order.
func (c *Clock) Prune(drop func(id string, counter uint64) bool) int {
	n := len(c.e)
	c.e = slices.DeleteFunc(c.e, func(d Dot) bool { return drop(d.ID, d.Counter) })
	if len(c.e) != n {
		c.reindex()
	}
	return n - len(c.e)
}

// String returns the clock as {"id":counter, …} in ascending ID order, with
// IDs quoted as Go strings.
func (c Clock) String() string {
	var b []byte
	b = append(b, '{')
	for i, d := range c.e {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = strconv.AppendQuote(b, d.ID)
		b = append(b, ':')
		b = strconv.AppendUint(b, d.Counter, 10)
	}
	b = append(b, '}')
	return string(b)
}
