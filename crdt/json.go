package crdt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/sinew-dev/sinew/vclock"
)

// JSON encodings. They are for inspection, debugging and systems that
// speak JSON; the binary encodings are the compact canonical ones. Output
// is deterministic (sorted keys and lists), so equal states give identical
// JSON too. Decoders accept lists in any order, normalise the causal
// context, and reject, with an error wrapping ErrMalformed, states that are
// not well formed: a dot with counter 0, a dot used twice, or an element
// dot outside the causal context. JSON null leaves the receiver unchanged,
// as encoding/json expects. Replica IDs must be valid UTF-8 to encode.

// jsonDot is a dot in JSON: {"id":"a","n":3}.
type jsonDot struct {
	ID string `json:"id"`
	N  uint64 `json:"n"`
}

func toJSONDots(ds []vclock.Dot) []jsonDot {
	out := make([]jsonDot, len(ds))
	for i, d := range ds {
		out[i] = jsonDot{d.ID, d.Counter}
	}
	return out
}

// jsonContext is a causal context in JSON.
type jsonContext struct {
	Clock vclock.Clock `json:"clock"`
	Cloud []jsonDot    `json:"cloud,omitempty"`
}

func (c *causalContext) toJSON() jsonContext {
	return jsonContext{Clock: c.clock, Cloud: toJSONDots(c.cloud)}
}

func (j jsonContext) toContext() (causalContext, error) {
	c := causalContext{clock: j.Clock}
	for _, d := range j.Cloud {
		if d.N == 0 {
			return causalContext{}, malformed("JSON: cloud dot of %q with counter 0", d.ID)
		}
		c.add(vclock.Dot{ID: d.ID, Counter: d.N})
	}
	return c, nil
}

// unmarshalStrict decodes data into v, rejecting unknown fields and
// trailing data, and wraps errors with ErrMalformed.
func unmarshalStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: JSON: %w", ErrMalformed, err)
	}
	if dec.More() {
		return malformed("JSON: data after the value")
	}
	return nil
}

func isNull(data []byte) bool { return string(bytes.TrimSpace(data)) == "null" }

// jsonMark is a prune mark in JSON.
type jsonMark struct {
	Departed string `json:"departed"`
	Into     string `json:"into"`
	Count    uint64 `json:"count"`
}

type jsonGCounter struct {
	Counts vclock.Clock `json:"counts"`
	Pruned []jsonMark   `json:"pruned,omitempty"`
}

func (c GCounter) toJSON() jsonGCounter {
	j := jsonGCounter{Counts: c.counts}
	for _, m := range c.marks {
		j.Pruned = append(j.Pruned, jsonMark{Departed: m.departed, Into: m.into, Count: m.count})
	}
	return j
}

func (j jsonGCounter) toGCounter() (GCounter, error) {
	c := GCounter{counts: j.Counts}
	for _, m := range j.Pruned {
		if m.Count == 0 || m.Departed == m.Into {
			return GCounter{}, malformed("JSON: invalid prune mark of %q", m.Departed)
		}
		if _, dup := c.mark(m.Departed); dup {
			return GCounter{}, malformed("JSON: duplicate prune mark of %q", m.Departed)
		}
		c.marks = mergeMarks(c.marks, []pruneMark{{departed: m.Departed, into: m.Into, count: m.Count}})
	}
	c.normalise()
	return c, nil
}

// MarshalJSON encodes c as {"counts":{"a":3,...},"pruned":[...]}, with
// "pruned" (a list of {"departed","into","count"}) only when there are
// prune marks.
func (c GCounter) MarshalJSON() ([]byte, error) { return json.Marshal(c.toJSON()) }

// UnmarshalJSON sets c from the form MarshalJSON writes. On error, which
// wraps ErrMalformed, c is unchanged.
func (c *GCounter) UnmarshalJSON(data []byte) error {
	if isNull(data) {
		return nil
	}
	var j jsonGCounter
	if err := unmarshalStrict(data, &j); err != nil {
		return err
	}
	v, err := j.toGCounter()
	if err != nil {
		return err
	}
	*c = v
	return nil
}

type jsonPNCounter struct {
	Inc jsonGCounter `json:"inc"`
	Dec jsonGCounter `json:"dec"`
}

// MarshalJSON encodes c as {"inc":...,"dec":...}, each in the form of
// [GCounter.MarshalJSON].
func (c PNCounter) MarshalJSON() ([]byte, error) {
	return json.Marshal(jsonPNCounter{c.p.toJSON(), c.n.toJSON()})
}

// UnmarshalJSON sets c from the form MarshalJSON writes. On error, which
// wraps ErrMalformed, c is unchanged.
func (c *PNCounter) UnmarshalJSON(data []byte) error {
	if isNull(data) {
		return nil
	}
	var j jsonPNCounter
	if err := unmarshalStrict(data, &j); err != nil {
		return err
	}
	p, err := j.Inc.toGCounter()
	if err != nil {
		return err
	}
	n, err := j.Dec.toGCounter()
	if err != nil {
		return err
	}
	*c = PNCounter{p: p, n: n}
	return nil
}

// MarshalJSON encodes s as a JSON array of its elements, sorted by their
// JSON encodings.
func (s GSet[E]) MarshalJSON() ([]byte, error) {
	enc := make([]json.RawMessage, 0, len(s.m))
	for e := range s.m {
		b, err := json.Marshal(e)
		if err != nil {
			return nil, err
		}
		enc = append(enc, b)
	}
	slices.SortFunc(enc, func(a, b json.RawMessage) int { return bytes.Compare(a, b) })
	return json.Marshal(enc)
}

// UnmarshalJSON sets s from a JSON array of elements, in any order. On
// error, which wraps ErrMalformed, s is unchanged.
func (s *GSet[E]) UnmarshalJSON(data []byte) error {
	if isNull(data) {
		return nil
	}
	var elems []E
	if err := unmarshalStrict(data, &elems); err != nil {
		return err
	}
	var v GSet[E]
	for _, e := range elems {
		v.Add(e)
	}
	*s = v
	return nil
}

type jsonORSetEntry[E any] struct {
	Elem E         `json:"elem"`
	Dots []jsonDot `json:"dots"`
}

type jsonORSet[E any] struct {
	Context jsonContext         `json:"context"`
	Entries []jsonORSetEntry[E] `json:"entries"`
}

// MarshalJSON encodes s as {"context":{"clock":{...},"cloud":[...]},
// "entries":[{"elem":...,"dots":[{"id":"a","n":1}]},...]}, entries sorted
// by their least dot.
func (s ORSet[E]) MarshalJSON() ([]byte, error) {
	j := jsonORSet[E]{Context: s.ctx.toJSON(), Entries: []jsonORSetEntry[E]{}}
	type entry struct {
		least vclock.Dot
		e     jsonORSetEntry[E]
	}
	var list []entry
	for e, ds := range s.entries {
		d := slices.SortedFunc(ds.all(), dotCompare)
		list = append(list, entry{d[0], jsonORSetEntry[E]{Elem: e, Dots: toJSONDots(d)}})
	}
	slices.SortFunc(list, func(a, b entry) int { return dotCompare(a.least, b.least) })
	for _, x := range list {
		j.Entries = append(j.Entries, x.e)
	}
	return json.Marshal(j)
}

// UnmarshalJSON sets s from the form MarshalJSON writes. On error, which
// wraps ErrMalformed, s is unchanged.
func (s *ORSet[E]) UnmarshalJSON(data []byte) error {
	if isNull(data) {
		return nil
	}
	var j jsonORSet[E]
	if err := unmarshalStrict(data, &j); err != nil {
		return err
	}
	ctx, err := j.Context.toContext()
	if err != nil {
		return err
	}
	v := ORSet[E]{ctx: ctx}
	seen := map[vclock.Dot]bool{}
	for _, en := range j.Entries {
		for _, jd := range en.Dots {
			d := vclock.Dot{ID: jd.ID, Counter: jd.N}
			if d.Counter == 0 || seen[d] || !ctx.contains(d) {
				return malformed("JSON: invalid element dot %q:%d", d.ID, d.Counter)
			}
			seen[d] = true
			if v.entries == nil {
				v.entries = make(map[E]dots)
			}
			if cur, ok := v.entries[en.Elem]; ok {
				cur.more = append(cur.more, d)
				v.entries[en.Elem] = cur
			} else {
				v.entries[en.Elem] = dots{first: d}
			}
		}
	}
	v.rebuildLive()
	*s = v
	return nil
}

type jsonLWW[T any] struct {
	Value     *T                `json:"value,omitempty"`
	Timestamp *vclock.Timestamp `json:"timestamp,omitempty"`
	Replica   string            `json:"replica,omitempty"`
}

// MarshalJSON encodes r as {"value":...,"timestamp":"sec.nsec,logical",
// "replica":"a"}, or {} if it was never written.
func (r LWWRegister[T]) MarshalJSON() ([]byte, error) {
	if !r.set {
		return []byte("{}"), nil
	}
	return json.Marshal(jsonLWW[T]{Value: &r.val, Timestamp: &r.ts, Replica: r.replica})
}

// UnmarshalJSON sets r from the form MarshalJSON writes. On error, which
// wraps ErrMalformed, r is unchanged.
func (r *LWWRegister[T]) UnmarshalJSON(data []byte) error {
	if isNull(data) {
		return nil
	}
	var j jsonLWW[T]
	if err := unmarshalStrict(data, &j); err != nil {
		return err
	}
	switch {
	case j.Timestamp == nil && j.Value == nil && j.Replica == "":
		*r = LWWRegister[T]{}
	case j.Timestamp == nil || j.Value == nil:
		return malformed("JSON: register needs both a value and a timestamp")
	default:
		*r = LWWRegister[T]{val: *j.Value, ts: *j.Timestamp, replica: j.Replica, set: true}
	}
	return nil
}

type jsonMVValue[T any] struct {
	Dot   jsonDot `json:"dot"`
	Value T       `json:"value"`
}

type jsonMV[T any] struct {
	Context jsonContext      `json:"context"`
	Values  []jsonMVValue[T] `json:"values"`
}

// MarshalJSON encodes r as {"context":{...},"values":[{"dot":{"id":"a",
// "n":1},"value":...},...]}, values by increasing dot.
func (r MVRegister[T]) MarshalJSON() ([]byte, error) {
	j := jsonMV[T]{Context: r.ctx.toJSON(), Values: []jsonMVValue[T]{}}
	for _, t := range r.vals {
		j.Values = append(j.Values, jsonMVValue[T]{jsonDot{t.d.ID, t.d.Counter}, t.e})
	}
	return json.Marshal(j)
}

// UnmarshalJSON sets r from the form MarshalJSON writes. On error, which
// wraps ErrMalformed, r is unchanged.
func (r *MVRegister[T]) UnmarshalJSON(data []byte) error {
	if isNull(data) {
		return nil
	}
	var j jsonMV[T]
	if err := unmarshalStrict(data, &j); err != nil {
		return err
	}
	ctx, err := j.Context.toContext()
	if err != nil {
		return err
	}
	v := MVRegister[T]{ctx: ctx}
	for _, jv := range j.Values {
		d := vclock.Dot{ID: jv.Dot.ID, Counter: jv.Dot.N}
		if d.Counter == 0 || !ctx.contains(d) || hasDot(v.vals, d) {
			return malformed("JSON: invalid value dot %q:%d", d.ID, d.Counter)
		}
		v.vals = append(v.vals, taggedElem[T]{d, jv.Value})
	}
	slices.SortFunc(v.vals, func(a, b taggedElem[T]) int { return dotCompare(a.d, b.d) })
	*r = v
	return nil
}

type jsonMapWrite[V any] struct {
	Dot       jsonDot          `json:"dot"`
	Timestamp vclock.Timestamp `json:"timestamp"`
	Value     V                `json:"value"`
}

type jsonMapEntry[K, V any] struct {
	Key    K                 `json:"key"`
	Writes []jsonMapWrite[V] `json:"writes"`
}

type jsonLWWMap[K, V any] struct {
	Context jsonContext          `json:"context"`
	Entries []jsonMapEntry[K, V] `json:"entries"`
}

// MarshalJSON encodes m as {"context":{...},"entries":[{"key":...,
// "writes":[{"dot":{"id":"a","n":1},"timestamp":"sec.nsec,logical",
// "value":...}]},...]}, entries sorted by the JSON encoding of their keys
// and writes by dot.
func (m LWWMap[K, V]) MarshalJSON() ([]byte, error) {
	type entry struct {
		key []byte
		e   jsonMapEntry[K, V]
	}
	list := make([]entry, 0, len(m.entries))
	for k, ws := range m.entries {
		kj, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		e := jsonMapEntry[K, V]{Key: k}
		for _, w := range ws {
			e.Writes = append(e.Writes, jsonMapWrite[V]{jsonDot{w.d.ID, w.d.Counter}, w.ts, w.val})
		}
		list = append(list, entry{kj, e})
	}
	slices.SortFunc(list, func(a, b entry) int { return bytes.Compare(a.key, b.key) })
	j := jsonLWWMap[K, V]{Context: m.ctx.toJSON(), Entries: []jsonMapEntry[K, V]{}}
	for _, x := range list {
		j.Entries = append(j.Entries, x.e)
	}
	return json.Marshal(j)
}

// UnmarshalJSON sets m from the form MarshalJSON writes. On error, which
// wraps ErrMalformed, m is unchanged.
func (m *LWWMap[K, V]) UnmarshalJSON(data []byte) error {
	if isNull(data) {
		return nil
	}
	var j jsonLWWMap[K, V]
	if err := unmarshalStrict(data, &j); err != nil {
		return err
	}
	ctx, err := j.Context.toContext()
	if err != nil {
		return err
	}
	v := LWWMap[K, V]{ctx: ctx}
	seen := map[vclock.Dot]bool{}
	for _, e := range j.Entries {
		for _, jw := range e.Writes {
			d := vclock.Dot{ID: jw.Dot.ID, Counter: jw.Dot.N}
			if d.Counter == 0 || seen[d] || !ctx.contains(d) {
				return malformed("JSON: invalid write dot %q:%d", d.ID, d.Counter)
			}
			seen[d] = true
			if v.entries == nil {
				v.entries = make(map[K][]mapWrite[V])
			}
			v.entries[e.Key] = append(v.entries[e.Key], mapWrite[V]{d: d, ts: jw.Timestamp, val: jw.Value})
		}
	}
	for _, ws := range v.entries {
		slices.SortFunc(ws, func(a, b mapWrite[V]) int { return dotCompare(a.d, b.d) })
	}
	*m = v
	return nil
}
