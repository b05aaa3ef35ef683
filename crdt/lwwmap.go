package crdt

import (
	"bytes"
	"iter"
	"maps"
	"slices"

	"github.com/sinew-dev/sinew/vclock"
)

// LWWMap is a map from keys to values in which keys are added and removed
// like the elements of an [ORSet] (a concurrent write beats a delete:
// add-wins, with no tombstones) and the value of a key written concurrently
// at several replicas is the one with the greatest HLC timestamp, ties
// broken by the greater replica ID.
//
// Each write is tagged with a fresh dot and replaces the writes of its key
// that the writing replica has seen, whatever their timestamps: timestamps
// only order writes that are concurrent. (With an HLC per replica, updated
// with every received timestamp, a write that saw another also has a
// greater timestamp, so this agrees with plain last-writer-wins.) Until a
// replica that saw them writes the key again, concurrent writes are all
// kept, which is what lets a delete that saw only one of them leave the
// other, and Get returns their winner. A delete removes the writes it saw
// and keeps nothing; the causal context, one counter per replica, is what
// stops merges from bringing them back.
//
// This is the LWW-Map of issue 8 rather than an OR-Map of arbitrary nested
// CRDTs: a correct OR-Map needs nested types that share the map's causal
// context (the "causal CRDTs" of Almeida et al.), which the counters here
// are not; a key set plus a map of independently merged values, as in
// Akka's ORMap, is not associative when a key is removed and re-added
// concurrently.
//
// Set and Delete return deltas; Merge takes a full state or a delta. The
// binary encoding takes a [Codec] for the keys and one for the values.
// The zero value is an empty map, ready to use. An LWWMap is a value owned
// by its caller and not safe for concurrent use; values are copied by
// assignment (treat values holding pointers as immutable).
type LWWMap[K comparable, V any] struct {
	entries map[K][]mapWrite[V] // live writes of each key, sorted by dot; never empty
	ctx     causalContext
}

// mapWrite is one write of a key: its dot (whose ID is the writer), its
// timestamp and its value.
type mapWrite[V any] struct {
	d   vclock.Dot
	ts  vclock.Timestamp
	val V
}

// wins reports whether w beats x in last-writer-wins order.
func (w *mapWrite[V]) wins(x *mapWrite[V]) bool {
	if c := w.ts.Compare(x.ts); c != 0 {
		return c > 0
	}
	if w.d.ID != x.d.ID {
		return w.d.ID > x.d.ID
	}
	return w.d.Counter > x.d.Counter
}

func hasWrite[V any](ws []mapWrite[V], d vclock.Dot) bool {
	for i := range ws {
		if ws[i].d == d {
			return true
		}
	}
	return false
}

func sameWrites[V any](a, b []mapWrite[V]) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].d != b[i].d {
			return false
		}
	}
	return true
}

// Set writes v to key k at replica with timestamp ts (from the replica's
// [vclock.HLC]) and returns the delta.
func (m *LWWMap[K, V]) Set(replica string, ts vclock.Timestamp, k K, v V) LWWMap[K, V] {
	d := m.ctx.next(replica)
	if d.Counter == 0 {
		return LWWMap[K, V]{} // only a forged state gets here
	}
	w := mapWrite[V]{d: d, ts: ts, val: v}
	delta := LWWMap[K, V]{entries: map[K][]mapWrite[V]{k: {w}}}
	for _, old := range m.entries[k] {
		delta.ctx.add(old.d)
	}
	delta.ctx.add(d)
	if m.entries == nil {
		m.entries = make(map[K][]mapWrite[V])
	}
	ws := m.entries[k]
	clear(ws)
	m.entries[k] = append(ws[:0], w)
	m.ctx.add(d)
	return delta
}

// Delete removes key k and returns the delta. Writes of k that this map
// has not seen survive it. Deleting an absent key returns an empty delta.
func (m *LWWMap[K, V]) Delete(k K) LWWMap[K, V] {
	ws, ok := m.entries[k]
	if !ok {
		return LWWMap[K, V]{}
	}
	var delta LWWMap[K, V]
	for _, w := range ws {
		delta.ctx.add(w.d)
	}
	delete(m.entries, k)
	return delta
}

// winner returns the write of ws that wins.
func winner[V any](ws []mapWrite[V]) *mapWrite[V] {
	best := &ws[0]
	for i := 1; i < len(ws); i++ {
		if ws[i].wins(best) {
			best = &ws[i]
		}
	}
	return best
}

// Get returns the value of k and whether k is in the map.
func (m LWWMap[K, V]) Get(k K) (V, bool) {
	ws, ok := m.entries[k]
	if !ok {
		var zero V
		return zero, false
	}
	return winner(ws).val, true
}

// Contains reports whether k is in the map.
func (m LWWMap[K, V]) Contains(k K) bool {
	_, ok := m.entries[k]
	return ok
}

// Len returns the number of keys.
func (m LWWMap[K, V]) Len() int { return len(m.entries) }

// Keys returns an iterator over the keys, in no particular order.
func (m LWWMap[K, V]) Keys() iter.Seq[K] { return maps.Keys(m.entries) }

// All returns an iterator over the keys and their values, in no particular
// order. The map must not be changed during the iteration.
func (m LWWMap[K, V]) All() iter.Seq2[K, V] {
	return func(yield func(K, V) bool) {
		for k, ws := range m.entries {
			if !yield(k, winner(ws).val) {
				return
			}
		}
	}
}

// Merge sets m to the least upper bound of m and o, a full state or a
// delta: a write survives if both sides have it, or if one side has it and
// the other never saw it. It does not allocate when both sides have the
// same causal context, and never shares memory with o (values are copied
// by assignment).
func (m *LWWMap[K, V]) Merge(o LWWMap[K, V]) {
	equal := m.ctx.equal(&o.ctx)
	for k, ws := range m.entries {
		ows, inO := o.entries[k]
		if inO && sameWrites(ws, ows) {
			continue
		}
		kept := slices.DeleteFunc(ws, func(w mapWrite[V]) bool {
			return !hasWrite(ows, w.d) && (equal || o.ctx.contains(w.d))
		})
		if len(kept) == 0 {
			delete(m.entries, k)
		} else {
			m.entries[k] = kept
		}
	}
	if equal || m.ctx.covers(&o.ctx) {
		return
	}
	for k, ows := range o.entries {
		var ws []mapWrite[V]
		had := false
		for _, w := range ows {
			if m.ctx.contains(w.d) {
				continue
			}
			if !had {
				ws, had = m.entries[k], true
			}
			ws = append(ws, w)
		}
		if had {
			slices.SortFunc(ws, func(a, b mapWrite[V]) int { return dotCompare(a.d, b.d) })
			if m.entries == nil {
				m.entries = make(map[K][]mapWrite[V])
			}
			m.entries[k] = ws
		}
	}
	m.ctx.merge(&o.ctx)
}

// Clone returns an independent copy of m (values are copied by
// assignment).
func (m LWWMap[K, V]) Clone() LWWMap[K, V] {
	c := LWWMap[K, V]{ctx: m.ctx.clone()}
	if len(m.entries) > 0 {
		c.entries = make(map[K][]mapWrite[V], len(m.entries))
		for k, ws := range m.entries {
			c.entries[k] = slices.Clone(ws)
		}
	}
	return c
}

// AppendBinary appends the canonical binary encoding of m to b, using kc
// for the keys and vc for the values. Equal maps encode to identical
// bytes. The form is
//
//	type byte, causal context (vector clock, then the cloud of dots)
//	uvarint(number of keys)
//	for each key, by increasing byte-wise order of its encoding:
//	    uvarint(len(key)) key uvarint(number of writes)
//	    for each write, by increasing dot:
//	        dot, 12-byte timestamp, uvarint(len(value)) value
func (m LWWMap[K, V]) AppendBinary(b []byte, kc Codec[K], vc Codec[V]) []byte {
	b = append(b, tagLWWMap)
	b = m.ctx.appendBinary(b)
	type keyed struct {
		enc []byte
		ws  []mapWrite[V]
	}
	keys := make([]keyed, 0, len(m.entries))
	for k, ws := range m.entries {
		keys = append(keys, keyed{kc.AppendValue(nil, k), ws})
	}
	slices.SortFunc(keys, func(a, b keyed) int { return bytes.Compare(a.enc, b.enc) })
	b = appendUvarint(b, uint64(len(keys)))
	var scratch []byte
	for _, k := range keys {
		b = appendUvarint(b, uint64(len(k.enc)))
		b = append(b, k.enc...)
		b = appendUvarint(b, uint64(len(k.ws)))
		for _, w := range k.ws {
			b, _ = w.d.AppendBinary(b)
			b, _ = w.ts.AppendBinary(b)
			b, scratch = appendValue(b, scratch, vc, w.val)
		}
	}
	return b
}

// DecodeLWWMap decodes a map encoded by [LWWMap.AppendBinary] with the same
// codecs. data must hold exactly one canonical encoding of a well-formed
// map (every write dot in the causal context and used once); anything else
// is an error wrapping [ErrMalformed]. It never panics, and never
// allocates more than a small multiple of len(data) (plus what the codecs
// allocate).
func DecodeLWWMap[K comparable, V any](data []byte, kc Codec[K], vc Codec[V]) (LWWMap[K, V], error) {
	r := reader{b: data}
	r.tag(tagLWWMap, "LWWMap")
	var m LWWMap[K, V]
	m.ctx = readContext(&r)
	n := r.count("key count", 2)
	if n > 0 {
		m.entries = make(map[K][]mapWrite[V], n)
	}
	seen := make(map[vclock.Dot]struct{})
	var prev []byte
	for i := 0; i < n && r.err == nil; i++ {
		start := r.p
		k := value(&r, kc, "key")
		raw := r.b[start:r.p]
		if r.err == nil && i > 0 && compareFramed(prev, raw) >= 0 {
			r.fail("keys not in strictly increasing order")
		}
		prev = raw
		nw := r.count("write count", 2+vclock.TimestampSize+1)
		if r.err == nil && nw == 0 {
			r.fail("key with no writes")
		}
		ws := make([]mapWrite[V], 0, nw)
		for j := 0; j < nw && r.err == nil; j++ {
			w := mapWrite[V]{d: r.dot(), ts: r.timestamp()}
			w.val = value(&r, vc, "value")
			if r.err != nil {
				break
			}
			_, dup := seen[w.d]
			switch {
			case w.d.Counter == 0 || !m.ctx.contains(w.d) || dup:
				r.fail("write dot %q:%d invalid, outside the context or used twice", w.d.ID, w.d.Counter)
			case j > 0 && dotCompare(ws[j-1].d, w.d) >= 0:
				r.fail("writes not in increasing dot order")
			}
			seen[w.d] = struct{}{}
			ws = append(ws, w)
		}
		m.entries[k] = ws
	}
	if err := r.end(); err != nil {
		return LWWMap[K, V]{}, err
	}
	return m, nil
}
