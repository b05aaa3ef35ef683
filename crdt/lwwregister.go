package crdt

import (
	"github.com/sinew-dev/sinew/vclock"
)

// LWWRegister is a last-writer-wins register: it holds the value of the
// write with the greatest HLC timestamp, ties between replicas broken by
// the greater replica ID. Concurrent writes are resolved by dropping all
// but one; use [MVRegister] to keep them.
//
// Timestamps come from a [vclock.HLC] per replica: call Now for each write,
// and Update with the timestamp of every register received, so that a
// write issued after seeing another gets a greater timestamp even if the
// wall clocks disagree. A replica must never use one timestamp for two
// different values (an HLC never returns a timestamp twice): two writes
// with the same timestamp and replica would make Merge depend on order.
//
// Set returns the delta, which for a register is the register itself.
// The zero value is a register that was never written, ready to use.
// A LWWRegister is a value owned by its caller and not safe for concurrent
// use. Values are copied by assignment: if T holds pointers, treat the
// values as immutable once written.
type LWWRegister[T any] struct {
	val     T
	ts      vclock.Timestamp
	replica string
	set     bool
}

// newer reports whether a write (ts, replica) beats the register's.
func (r *LWWRegister[T]) newer(ts vclock.Timestamp, replica string) bool {
	if !r.set {
		return true
	}
	if c := ts.Compare(r.ts); c != 0 {
		return c > 0
	}
	return replica > r.replica
}

// Set writes v at replica with timestamp ts and returns the delta: a
// register holding just this write. If the register already holds a later
// write, the new one loses: Set changes nothing, and the delta loses
// wherever it is merged.
func (r *LWWRegister[T]) Set(replica string, ts vclock.Timestamp, v T) LWWRegister[T] {
	w := LWWRegister[T]{val: v, ts: ts, replica: replica, set: true}
	r.Merge(w)
	return w
}

// Get returns the value, and false if the register was never written.
func (r LWWRegister[T]) Get() (T, bool) { return r.val, r.set }

// Timestamp returns the timestamp and replica of the write the register
// holds, and false if it was never written.
func (r LWWRegister[T]) Timestamp() (ts vclock.Timestamp, replica string, ok bool) {
	return r.ts, r.replica, r.set
}

// Merge keeps the later of the two writes. It does not allocate.
func (r *LWWRegister[T]) Merge(o LWWRegister[T]) {
	if o.set && r.newer(o.ts, o.replica) {
		*r = o
	}
}

// AppendBinary appends the canonical binary encoding of r to b, using c for
// the value: a type byte, then 0 for a register never written, or 1, the
// 12-byte timestamp, uvarint(len(replica)) replica, uvarint(len(value))
// value.
func (r LWWRegister[T]) AppendBinary(b []byte, c Codec[T]) []byte {
	b = append(b, tagLWW)
	if !r.set {
		return append(b, 0)
	}
	b = append(b, 1)
	b, _ = r.ts.AppendBinary(b)
	b = appendString(b, r.replica)
	b, _ = appendValue(b, nil, c, r.val)
	return b
}

// DecodeLWWRegister decodes a register encoded by [LWWRegister.AppendBinary]
// with the same codec. data must hold exactly one canonical encoding;
// anything else is an error wrapping [ErrMalformed]. It never panics.
func DecodeLWWRegister[T any](data []byte, c Codec[T]) (LWWRegister[T], error) {
	rd := reader{b: data}
	rd.tag(tagLWW, "LWWRegister")
	var r LWWRegister[T]
	switch rd.byte1("flag") {
	case 0:
	case 1:
		r.set = true
		r.ts = rd.timestamp()
		r.replica = string(rd.bytes("replica ID"))
		r.val = value(&rd, c, "value")
	default:
		rd.fail("invalid flag")
	}
	if err := rd.end(); err != nil {
		return LWWRegister[T]{}, err
	}
	return r, nil
}
