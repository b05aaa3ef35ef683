package crdt

import (
	"bytes"
	"iter"
	"maps"
	"slices"
)

// GSet is a grow-only set: elements are added and never removed, and
// merge is set union.
//
// Add returns a delta (a set holding the new element) to ship instead of
// the full state; Merge takes a full state or a delta. The binary encoding
// takes a [Codec] for the elements.
//
// The zero value is an empty set, ready to use. A GSet is a value owned by
// its caller and not safe for concurrent use; see the package
// documentation.
type GSet[E comparable] struct {
	m map[E]struct{}
}

// Add adds e and returns the delta: a set holding e (even if e was
// already there, so that shipping the delta always conveys the add).
func (s *GSet[E]) Add(e E) GSet[E] {
	if s.m == nil {
		s.m = make(map[E]struct{})
	}
	s.m[e] = struct{}{}
	return GSet[E]{m: map[E]struct{}{e: {}}}
}

// Contains reports whether e is in the set.
func (s GSet[E]) Contains(e E) bool {
	_, ok := s.m[e]
	return ok
}

// Len returns the number of elements.
func (s GSet[E]) Len() int { return len(s.m) }

// All returns an iterator over the elements, in no particular order. The
// set must not be changed during the iteration.
func (s GSet[E]) All() iter.Seq[E] { return maps.Keys(s.m) }

// Elements returns the elements in a new slice, in no particular order.
func (s GSet[E]) Elements() []E { return slices.Collect(maps.Keys(s.m)) }

// Merge adds every element of o, a full state or a delta. It allocates only
// for elements s lacks and never shares memory with o.
func (s *GSet[E]) Merge(o GSet[E]) {
	if len(o.m) == 0 {
		return
	}
	if s.m == nil {
		s.m = make(map[E]struct{}, len(o.m))
	}
	for e := range o.m {
		s.m[e] = struct{}{}
	}
}

// Clone returns an independent copy of s.
func (s GSet[E]) Clone() GSet[E] {
	if len(s.m) == 0 {
		return GSet[E]{}
	}
	return GSet[E]{m: maps.Clone(s.m)}
}

// AppendBinary appends the canonical binary encoding of s to b, using c for
// the elements: a type byte, uvarint(number of elements), then each
// element as uvarint(length) and its encoding, in increasing byte-wise
// order of the encodings. Equal sets encode to identical bytes.
func (s GSet[E]) AppendBinary(b []byte, c Codec[E]) []byte {
	b = append(b, tagGSet)
	enc := make([][]byte, 0, len(s.m))
	for e := range s.m {
		enc = append(enc, c.AppendValue(nil, e))
	}
	slices.SortFunc(enc, bytes.Compare)
	b = appendUvarint(b, uint64(len(enc)))
	for _, v := range enc {
		b = appendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return b
}

// DecodeGSet decodes a set encoded by [GSet.AppendBinary] with the same
// codec. data must hold exactly one canonical encoding; anything else is an
// error wrapping [ErrMalformed]. It never panics, and never allocates more
// than a small multiple of len(data) (plus what the codec allocates).
func DecodeGSet[E comparable](data []byte, c Codec[E]) (GSet[E], error) {
	r := reader{b: data}
	r.tag(tagGSet, "GSet")
	n := r.count("element count", 1)
	var s GSet[E]
	if n > 0 {
		s.m = make(map[E]struct{}, n)
	}
	var prev []byte
	for i := 0; i < n && r.err == nil; i++ {
		start := r.p
		e := value(&r, c, "element")
		raw := r.b[start:r.p]
		if r.err == nil && i > 0 && compareFramed(prev, raw) >= 0 {
			r.fail("elements not in strictly increasing order")
		}
		prev = raw
		s.m[e] = struct{}{}
	}
	if err := r.end(); err != nil {
		return GSet[E]{}, err
	}
	return s, nil
}

// compareFramed compares two length-framed values by their payloads.
func compareFramed(a, b []byte) int {
	return bytes.Compare(skipLen(a), skipLen(b))
}

func skipLen(b []byte) []byte {
	for i, c := range b {
		if c < 0x80 {
			return b[i+1:]
		}
	}
	return nil
}
