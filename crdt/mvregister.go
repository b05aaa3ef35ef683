package crdt

import (
	"slices"

	"github.com/sinew-dev/sinew/vclock"
)

// MVRegister is a multi-value register: a write replaces the values its
// replica has seen, and writes that are concurrent (neither saw the other)
// are all kept, for the application to resolve, as Dynamo's and Riak's
// siblings. The next write at any replica that has merged them replaces
// them all.
//
// It is built like [ORSet]: every write is tagged with a fresh dot, and a
// causal context records the dots seen, so overwritten values leave
// nothing behind.
//
// Write returns the delta; Merge takes a full state or a delta. The zero
// value is a register that was never written, ready to use. An MVRegister
// is a value owned by its caller and not safe for concurrent use. Values
// are copied by assignment: if T holds pointers, treat the values as
// immutable once written.
type MVRegister[T any] struct {
	vals []taggedElem[T] // sorted by dot; every dot is in ctx
	ctx  causalContext
}

// Write sets the register to v at replica, replacing every value it holds,
// and returns the delta.
func (r *MVRegister[T]) Write(replica string, v T) MVRegister[T] {
	d := r.ctx.next(replica)
	if d.Counter == 0 {
		return MVRegister[T]{} // only a forged state gets here
	}
	delta := MVRegister[T]{vals: []taggedElem[T]{{d, v}}}
	for _, t := range r.vals {
		delta.ctx.add(t.d)
	}
	delta.ctx.add(d)
	clear(r.vals)
	r.vals = append(r.vals[:0], taggedElem[T]{d, v})
	r.ctx.add(d)
	return delta
}

// Values returns the values in a new slice: one value, several concurrent
// ones ordered by the replica ID and counter of their writes, or none if
// the register was never written.
func (r MVRegister[T]) Values() []T {
	out := make([]T, len(r.vals))
	for i, t := range r.vals {
		out[i] = t.e
	}
	return out
}

// Len returns the number of values.
func (r MVRegister[T]) Len() int { return len(r.vals) }

// Merge sets r to the least upper bound of r and o, a full state or a
// delta: a value survives if both sides have it, or if one side has it and
// the other never saw it. It does not allocate when both sides have the
// same causal context, and never shares memory with o.
func (r *MVRegister[T]) Merge(o MVRegister[T]) {
	if r.ctx.equal(&o.ctx) {
		r.vals = slices.DeleteFunc(r.vals, func(t taggedElem[T]) bool { return !hasDot(o.vals, t.d) })
		return
	}
	var out []taggedElem[T]
	for _, t := range r.vals {
		if hasDot(o.vals, t.d) || !o.ctx.contains(t.d) {
			out = append(out, t)
		}
	}
	for _, t := range o.vals {
		if !r.ctx.contains(t.d) {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b taggedElem[T]) int { return dotCompare(a.d, b.d) })
	r.vals = out
	r.ctx.merge(&o.ctx)
}

func hasDot[T any](vals []taggedElem[T], d vclock.Dot) bool {
	for _, t := range vals {
		if t.d == d {
			return true
		}
	}
	return false
}

// Clone returns an independent copy of r (values are copied by
// assignment).
func (r MVRegister[T]) Clone() MVRegister[T] {
	return MVRegister[T]{vals: slices.Clone(r.vals), ctx: r.ctx.clone()}
}

// AppendBinary appends the canonical binary encoding of r to b, using c for
// the values: a type byte, the causal context, uvarint(number of values),
// then for each value by increasing dot: the dot and uvarint(len(value))
// value.
func (r MVRegister[T]) AppendBinary(b []byte, c Codec[T]) []byte {
	b = append(b, tagMVRegister)
	b = r.ctx.appendBinary(b)
	b = appendUvarint(b, uint64(len(r.vals)))
	var scratch []byte
	for _, t := range r.vals {
		b, _ = t.d.AppendBinary(b)
		b, scratch = appendValue(b, scratch, c, t.e)
	}
	return b
}

// DecodeMVRegister decodes a register encoded by [MVRegister.AppendBinary]
// with the same codec. data must hold exactly one canonical encoding of a
// well-formed register (every dot in the causal context); anything else
// is an error wrapping [ErrMalformed]. It never panics, and never
// allocates more than a small multiple of len(data) (plus what the codec
// allocates).
func DecodeMVRegister[T any](data []byte, c Codec[T]) (MVRegister[T], error) {
	rd := reader{b: data}
	rd.tag(tagMVRegister, "MVRegister")
	var r MVRegister[T]
	r.ctx = readContext(&rd)
	n := rd.count("value count", 3)
	if n > 0 {
		r.vals = make([]taggedElem[T], 0, n)
	}
	for i := 0; i < n && rd.err == nil; i++ {
		d := rd.dot()
		v := value(&rd, c, "value")
		if rd.err != nil {
			break
		}
		switch {
		case d.Counter == 0 || !r.ctx.contains(d):
			rd.fail("value dot %q:%d outside the causal context", d.ID, d.Counter)
		case i > 0 && dotCompare(r.vals[i-1].d, d) >= 0:
			rd.fail("value dots not strictly increasing")
		}
		r.vals = append(r.vals, taggedElem[T]{d, v})
	}
	if err := rd.end(); err != nil {
		return MVRegister[T]{}, err
	}
	return r, nil
}
