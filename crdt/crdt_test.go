package crdt

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sinew-dev/sinew/vclock"
)

func sorted[E any](xs []E, less func(a, b E) int) []E {
	slices.SortFunc(xs, less)
	return xs
}

func TestGCounter(t *testing.T) {
	var a, b GCounter
	assert.Equal(t, uint64(0), a.Value())
	d := a.Inc("a", 2)
	assert.Equal(t, uint64(2), d.Value(), "the delta holds the new count")
	a.Inc("a", 3)
	b.Inc("b", 7)
	b.Merge(a)
	assert.Equal(t, uint64(12), b.Value())
	assert.Equal(t, uint64(5), b.Count("a"))
	assert.Equal(t, uint64(0), b.Count("zz"))
	assert.Equal(t, 2, b.Replicas())
	b.Merge(d) // an old delta changes nothing
	assert.Equal(t, uint64(12), b.Value())

	c := b.Clone()
	c.Inc("a", 1)
	assert.Equal(t, uint64(12), b.Value(), "Clone is independent")

	var s GCounter
	s.Inc("a", math.MaxUint64-1)
	s.Inc("a", 5)
	assert.Equal(t, uint64(math.MaxUint64), s.Count("a"), "counts saturate")
}

func TestGCounterPrune(t *testing.T) {
	var a, b, c GCounter
	a.Inc("a", 1)
	b.Inc("b", 4)
	c.Inc("c", 2)
	c.Merge(b)
	a.Merge(b)

	d := a.Prune("b", "a")
	assert.Equal(t, uint64(5), a.Value())
	assert.Equal(t, uint64(0), a.Count("b"))
	assert.Equal(t, uint64(5), a.Count("a"))
	assert.Equal(t, []vclock.Dot{{ID: "b", Counter: 4}}, a.Pruned())

	// c still holds b's count: merging the prune delta keeps the value.
	c.Merge(d)
	assert.Equal(t, uint64(7), c.Value())
	assert.Equal(t, 2, c.Replicas(), "b's entry is dropped")
	// And an old copy of b merged afterwards is not counted twice.
	c.Merge(b)
	a.Merge(c)
	assert.Equal(t, uint64(7), c.Value())
	assert.Equal(t, uint64(7), a.Value())

	// Increments of b that the pruner had not seen still count.
	b.Inc("b", 10)
	a.Merge(b)
	assert.Equal(t, uint64(17), a.Value())
	assert.Equal(t, uint64(10), a.Count("b"))
	// A second prune moves the rest.
	d2 := a.Prune("b", "a")
	c.Merge(d2)
	c.Merge(b)
	assert.Equal(t, uint64(17), a.Value())
	assert.Equal(t, uint64(17), c.Value())
	assert.Equal(t, 2, a.Replicas())

	// Later increments of the pruner carry the mark with the count.
	var fresh GCounter
	fresh.Merge(b)
	fresh.Merge(a.Inc("a", 1))
	// fresh knows b (14) and a's count (16, which includes b's 14), not c.
	assert.Equal(t, uint64(16), fresh.Value(), "count and mark travel together")

	assert.Equal(t, GCounter{}, a.Prune("nobody", "a"), "nothing to prune")
	assert.True(t, a.ForgetPruned("b"))
	assert.False(t, a.ForgetPruned("b"))
	assert.Empty(t, a.Pruned())
	assert.Equal(t, uint64(18), a.Value())
	assert.PanicsWithValue(t, "crdt: Prune of a replica into itself", func() { a.Prune("a", "a") })
}

func TestPNCounter(t *testing.T) {
	var a, b PNCounter
	a.Inc("a", 5)
	d := a.Dec("a", 8)
	b.Merge(d)
	assert.Equal(t, int64(-8), b.Value())
	b.Merge(a)
	assert.Equal(t, int64(-3), b.Value())
	assert.Equal(t, uint64(5), b.Increments().Value())
	assert.Equal(t, uint64(8), b.Decrements().Value())

	b.Inc("b", 1)
	b.Dec("b", 2)
	a.Merge(b)
	pd := a.Prune("b", "a")
	assert.Equal(t, int64(-4), a.Value())
	assert.Equal(t, []vclock.Dot{{ID: "b", Counter: 2}}, a.Pruned())
	b.Merge(pd)
	assert.Equal(t, int64(-4), b.Value())
	assert.True(t, a.ForgetPruned("b"))
	assert.False(t, a.ForgetPruned("b"))

	c := a.Clone()
	c.Inc("a", 100)
	assert.Equal(t, int64(-4), a.Value())
}

func TestGSet(t *testing.T) {
	var a, b GSet[string]
	assert.Equal(t, 1, a.Add("x").Len())
	assert.Equal(t, 1, a.Add("x").Len(), "a repeated add still ships the element")
	b.Add("y")
	a.Merge(b)
	assert.True(t, a.Contains("y"))
	assert.False(t, b.Contains("x"))
	assert.Equal(t, 2, a.Len())
	assert.Equal(t, []string{"x", "y"}, sorted(a.Elements(), compareStrings))
	assert.Equal(t, []string{"x", "y"}, sorted(slices.Collect(a.All()), compareStrings))
	c := a.Clone()
	c.Add("z")
	assert.False(t, a.Contains("z"))
	assert.Equal(t, GSet[string]{}, GSet[string]{}.Clone())
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestORSet(t *testing.T) {
	tests := []struct {
		name string
		run  func(a, b *ORSet[string])
		want []string
	}{
		{"add then remove", func(a, b *ORSet[string]) {
			b.Merge(a.Add("a", "x"))
			a.Merge(b.Remove("x"))
		}, nil},
		{"concurrent add wins over remove", func(a, b *ORSet[string]) {
			b.Merge(a.Add("a", "x"))
			ra := a.Remove("x")
			ab := b.Add("b", "x")
			a.Merge(ab)
			b.Merge(ra)
		}, []string{"x"}},
		{"remove of an unseen add keeps it", func(a, b *ORSet[string]) {
			ab := a.Add("a", "x")
			b.Remove("x") // b never saw x
			b.Merge(ab)
			a.Merge(*b)
		}, []string{"x"}},
		{"remove delta before add delta", func(a, b *ORSet[string]) {
			add := a.Add("a", "x")
			rm := a.Remove("x")
			b.Merge(rm)
			b.Merge(add)
		}, nil},
		{"re-add replaces observed dots", func(a, b *ORSet[string]) {
			b.Merge(a.Add("a", "x"))
			a.Merge(b.Add("b", "x"))
			b.Merge(a.Add("a", "x"))
			assert.Equal(t, 1, a.entries["x"].len())
		}, []string{"x"}},
		{"concurrent adds both tag the element", func(a, b *ORSet[string]) {
			da := a.Add("a", "x")
			db := b.Add("b", "x")
			a.Merge(db)
			b.Merge(da)
			assert.Equal(t, 2, a.entries["x"].len())
			// Removing at one replica removes both tags.
			a.Merge(b.Remove("x"))
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a, b ORSet[string]
			tt.run(&a, &b)
			a.Merge(b)
			b.Merge(a)
			assert.Equal(t, tt.want, sorted(a.Elements(), compareStrings))
			assert.Equal(t, tt.want, sorted(b.Elements(), compareStrings))
			assert.Equal(t, a.AppendBinary(nil, StringCodec{}), b.AppendBinary(nil, StringCodec{}))
		})
	}
}

func TestORSetAccessors(t *testing.T) {
	var s ORSet[int]
	assert.Equal(t, ORSet[int]{}, s.Remove(1), "removing an absent element is a no-op")
	s.Add("r", 1)
	s.Add("r", 2)
	s.Add("q", 3)
	s.Remove(2)
	assert.True(t, s.Contains(1))
	assert.False(t, s.Contains(2))
	assert.Equal(t, 2, s.Len())
	assert.Equal(t, []int{1, 3}, sorted(slices.Collect(s.All()), func(a, b int) int { return a - b }))
	assert.Equal(t, vclock.Of(vclock.Dot{ID: "r", Counter: 2}, vclock.Dot{ID: "q", Counter: 1}), s.Context())
	c := s.Clone()
	c.Remove(1)
	assert.True(t, s.Contains(1), "Clone is independent")
}

// TestORSetNoTombstones checks that removed elements leave nothing behind:
// the encoding of a set after many adds and removes is that of a set with
// only the survivors and a causal context of one counter per replica.
func TestORSetNoTombstones(t *testing.T) {
	var s ORSet[int64]
	for i := range int64(1000) {
		s.Add("r", i)
	}
	for i := range int64(999) {
		s.Remove(i)
	}
	assert.Equal(t, 1, s.Len())
	// tag, clock {r:1000}, empty cloud, one replica "r" with one dot
	// (gap 1000) tagging the element 999.
	assert.Len(t, s.AppendBinary(nil, Int64Codec{}), 1+(1+2+2)+1+1+2+1+2+(1+2))
}

func TestORSetMergeIdenticalDoesNotAllocate(t *testing.T) {
	build := func() ORSet[string] {
		var s ORSet[string]
		for i := range 1000 {
			s.Add("r", fmt.Sprint(i))
		}
		for i := range 500 {
			s.Remove(fmt.Sprint(2 * i))
		}
		return s
	}
	a, b := build(), build()
	allocs := testing.AllocsPerRun(20, func() { a.Merge(b) })
	assert.Zero(t, allocs)
	assert.Equal(t, 500, a.Len())

	// The fast path still applies removals.
	b.Remove("1")
	a.Merge(b)
	assert.False(t, a.Contains("1"))
}

func TestGCounterMergeDoesNotAllocate(t *testing.T) {
	var a, b GCounter
	for i := range 64 {
		a.Inc(fmt.Sprint("replica-", i), 1)
		b.Inc(fmt.Sprint("replica-", i), 2)
	}
	allocs := testing.AllocsPerRun(100, func() { a.Merge(b) })
	assert.Zero(t, allocs)
	assert.Equal(t, uint64(128), a.Value())
}

func TestLWWRegister(t *testing.T) {
	ts := func(w int64) vclock.Timestamp { return vclock.Timestamp{WallTime: w} }
	tests := []struct {
		name   string
		writes []LWWRegister[string]
		want   string
	}{
		{"later timestamp wins", []LWWRegister[string]{lww("a", ts(1), "x"), lww("b", ts(2), "y")}, "y"},
		{"tie goes to the greater replica", []LWWRegister[string]{lww("b", ts(2), "y"), lww("a", ts(2), "x")}, "y"},
		{"logical breaks wall ties", []LWWRegister[string]{lww("z", vclock.Timestamp{WallTime: 2}, "x"), lww("a", vclock.Timestamp{WallTime: 2, Logical: 1}, "y")}, "y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, order := range [][]int{{0, 1}, {1, 0}} {
				var r LWWRegister[string]
				for _, i := range order {
					r.Merge(tt.writes[i])
				}
				v, ok := r.Get()
				assert.True(t, ok)
				assert.Equal(t, tt.want, v)
			}
		})
	}

	var r LWWRegister[int]
	_, ok := r.Get()
	assert.False(t, ok)
	_, _, ok = r.Timestamp()
	assert.False(t, ok)
	r.Set("a", ts(5), 1)
	d := r.Set("b", ts(4), 2) // older: loses
	v, _ := r.Get()
	assert.Equal(t, 1, v)
	got, _ := d.Get()
	assert.Equal(t, 2, got, "the delta is the write itself")
	at, rep, ok := r.Timestamp()
	assert.Equal(t, ts(5), at)
	assert.Equal(t, "a", rep)
	assert.True(t, ok)
}

func lww(replica string, ts vclock.Timestamp, v string) LWWRegister[string] {
	var r LWWRegister[string]
	return r.Set(replica, ts, v)
}

func TestMVRegister(t *testing.T) {
	var a, b MVRegister[string]
	assert.Empty(t, a.Values())
	b.Merge(a.Write("a", "1"))
	da := a.Write("a", "2")
	db := b.Write("b", "3")
	a.Merge(db)
	b.Merge(da)
	assert.Equal(t, []string{"2", "3"}, a.Values())
	assert.Equal(t, 2, b.Len())
	b.Merge(a) // same context: the fast path
	assert.Equal(t, []string{"2", "3"}, b.Values())
	a.Merge(b.Write("b", "4"))
	assert.Equal(t, []string{"4"}, a.Values())
	c := a.Clone()
	c.Write("c", "5")
	assert.Equal(t, []string{"4"}, a.Values())
}

func TestCodecs(t *testing.T) {
	i64 := []int64{0, 1, -1, math.MaxInt64, math.MinInt64}
	for _, v := range i64 {
		got, err := Int64Codec{}.DecodeValue(Int64Codec{}.AppendValue(nil, v))
		require.NoError(t, err)
		assert.Equal(t, v, got)
	}
	for _, v := range []uint64{0, 1, 127, 128, math.MaxUint64} {
		got, err := Uint64Codec{}.DecodeValue(Uint64Codec{}.AppendValue(nil, v))
		require.NoError(t, err)
		assert.Equal(t, v, got)
	}
	bad := [][]byte{nil, {0x80}, {0x80, 0x00}, {0x01, 0x02}}
	for _, b := range bad {
		_, err := Int64Codec{}.DecodeValue(b)
		assert.ErrorIs(t, err, ErrMalformed, "%x", b)
		_, err = Uint64Codec{}.DecodeValue(b)
		assert.ErrorIs(t, err, ErrMalformed, "%x", b)
	}
	s, err := StringCodec{}.DecodeValue([]byte("hi"))
	require.NoError(t, err)
	assert.Equal(t, "hi", s)
	in := []byte("raw")
	out, err := BytesCodec{}.DecodeValue(in)
	require.NoError(t, err)
	in[0] = 'X'
	assert.Equal(t, []byte("raw"), out, "BytesCodec copies")
	assert.Equal(t, []byte("ab"), BytesCodec{}.AppendValue([]byte("a"), []byte("b")))
}

// TestCanonicalBytes builds equal states along different paths and checks
// that they encode to identical bytes.
func TestCanonicalBytes(t *testing.T) {
	var s1, s2 ORSet[string]
	for i := range 50 {
		s1.Add("r", fmt.Sprint(i))
	}
	s2.Merge(s1)
	for i := 49; i >= 0; i -= 2 {
		s1.Remove(fmt.Sprint(i))
	}
	for i := 1; i < 50; i += 2 {
		s2.Merge(s1.Clone())
	}
	assert.Equal(t, s1.AppendBinary(nil, StringCodec{}), s2.AppendBinary(nil, StringCodec{}))

	var g1, g2 GSet[int64]
	for i := range int64(100) {
		g1.Add(i)
		g2.Add(99 - i)
	}
	assert.Equal(t, g1.AppendBinary(nil, Int64Codec{}), g2.AppendBinary(nil, Int64Codec{}))

	var c1, c2 GCounter
	c1.Inc("x", 1)
	c1.Inc("y", 2)
	c2.Inc("y", 2)
	c2.Inc("x", 1)
	b1, _ := c1.MarshalBinary()
	b2, _ := c2.MarshalBinary()
	assert.Equal(t, b1, b2)
}

// TestDecodeRejects feeds every decoder inputs that are not canonical
// encodings.
func TestDecodeRejects(t *testing.T) {
	var set ORSet[string]
	set.Add("r", "x")
	set.Add("r", "y")
	set.Remove("x")
	goodSet := set.AppendBinary(nil, StringCodec{})

	decoders := map[string]func([]byte) error{
		"GCounter":    func(b []byte) error { var c GCounter; return c.UnmarshalBinary(b) },
		"PNCounter":   func(b []byte) error { var c PNCounter; return c.UnmarshalBinary(b) },
		"GSet":        func(b []byte) error { _, err := DecodeGSet(b, StringCodec{}); return err },
		"ORSet":       func(b []byte) error { _, err := DecodeORSet(b, StringCodec{}); return err },
		"LWWRegister": func(b []byte) error { _, err := DecodeLWWRegister(b, StringCodec{}); return err },
		"MVRegister":  func(b []byte) error { _, err := DecodeMVRegister(b, StringCodec{}); return err },
	}
	tests := []struct {
		name, typ string
		data      []byte
	}{
		{"empty", "GCounter", nil},
		{"wrong tag", "GCounter", []byte{tagPNCounter, 0, 0}},
		{"trailing byte", "GCounter", []byte{tagGCounter, 0, 0, 0}},
		{"zero mark", "GCounter", []byte{tagGCounter, 0, 1, 1, 'a', 1, 'b', 0}},
		{"mark into itself", "GCounter", []byte{tagGCounter, 0, 1, 1, 'a', 1, 'a', 1}},
		{"count under mark", "GCounter", []byte{tagGCounter, 1, 1, 'a', 1, 1, 1, 'a', 1, 'b', 2}},
		{"huge mark count", "GCounter", []byte{tagGCounter, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"truncated", "PNCounter", []byte{tagPNCounter, 0, 0}},
		{"unsorted", "GSet", []byte{tagGSet, 2, 1, 'b', 1, 'a'}},
		{"duplicate", "GSet", []byte{tagGSet, 2, 1, 'a', 1, 'a'}},
		{"forged count", "GSet", []byte{tagGSet, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 'a'}},
		{"non-minimal varint", "GSet", []byte{tagGSet, 0x81, 0x00, 1, 'a'}},
		{"dot outside context", "ORSet", []byte{tagORSet, 0, 0, 1, 1, 'r', 1, 1, 1, 'x'}},
		{"zero gap", "ORSet", []byte{tagORSet, 1, 1, 'r', 2, 0, 1, 1, 'r', 2, 1, 1, 'x', 0, 1, 'y'}},
		{"replica with no dots", "ORSet", []byte{tagORSet, 0, 0, 1, 1, 'r', 0}},
		{"cloud dot not beyond clock", "ORSet", []byte{tagORSet, 1, 1, 'r', 2, 1, 1, 'r', 3, 0}},
		{"cloud unsorted", "ORSet", []byte{tagORSet, 0, 2, 1, 'r', 5, 1, 'r', 4, 0}},
		{"set truncated", "ORSet", goodSet[:len(goodSet)-1]},
		{"bad flag", "LWWRegister", []byte{tagLWW, 2}},
		{"short timestamp", "LWWRegister", []byte{tagLWW, 1, 0, 0}},
		{"unsorted values", "MVRegister", []byte{tagMVRegister, 1, 1, 'r', 2, 0, 2, 1, 'r', 2, 1, 'a', 1, 'r', 1, 1, 'b'}},
		{"zero dot", "MVRegister", []byte{tagMVRegister, 0, 0, 1, 1, 'r', 0, 1, 'a'}},
	}
	for _, tt := range tests {
		t.Run(tt.typ+"/"+tt.name, func(t *testing.T) {
			err := decoders[tt.typ](tt.data)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrMalformed)
		})
	}
	// Errors from the embedded vector clock also match vclock's sentinel.
	err := decoders["GCounter"]([]byte{tagGCounter, 2, 1, 'b', 1, 1, 'a', 1, 0})
	assert.ErrorIs(t, err, ErrMalformed)
	assert.ErrorIs(t, err, vclock.ErrMalformed)

	// A codec that accepts a non-canonical spelling cannot make the
	// decoder accept it.
	_, err = DecodeGSet([]byte{tagGSet, 1, 2, 'A', 'a'}, loose{})
	assert.ErrorIs(t, err, ErrMalformed)
	_, err = DecodeGSet([]byte{tagGSet, 1, 1, 'x'}, failing{})
	assert.ErrorIs(t, err, ErrMalformed)
	assert.ErrorIs(t, err, errFailing)

	// Good input decodes.
	_, err = DecodeORSet(goodSet, StringCodec{})
	require.NoError(t, err)
}

// loose decodes any input as its last byte, so several spellings decode
// to one value.
type loose struct{}

func (loose) AppendValue(b []byte, v byte) []byte { return append(b, v) }
func (loose) DecodeValue(b []byte) (byte, error) {
	if len(b) == 0 {
		return 0, nil
	}
	return b[len(b)-1], nil
}

var errFailing = errors.New("failing codec")

type failing struct{}

func (failing) AppendValue(b []byte, v string) []byte { return append(b, v...) }
func (failing) DecodeValue([]byte) (string, error)    { return "", errFailing }

func TestJSON(t *testing.T) {
	var c GCounter
	c.Inc("a", 3)
	c.Inc("b", 1)
	c.Prune("b", "a")
	js, err := json.Marshal(c)
	require.NoError(t, err)
	assert.JSONEq(t, `{"counts":{"a":4},"pruned":[{"departed":"b","into":"a","count":1}]}`, string(js))

	var pn PNCounter
	pn.Inc("a", 2)
	pn.Dec("a", 1)
	js, err = json.Marshal(pn)
	require.NoError(t, err)
	assert.JSONEq(t, `{"inc":{"counts":{"a":2}},"dec":{"counts":{"a":1}}}`, string(js))

	var s ORSet[string]
	s.Add("a", "x")
	s.Add("a", "y")
	s.Remove("x")
	js, err = json.Marshal(s)
	require.NoError(t, err)
	assert.JSONEq(t, `{"context":{"clock":{"a":2}},"entries":[{"elem":"y","dots":[{"id":"a","n":2}]}]}`, string(js))

	var g GSet[int]
	g.Add(10)
	g.Add(9)
	js, err = json.Marshal(g)
	require.NoError(t, err)
	assert.Equal(t, `[10,9]`, string(js), "sorted by JSON bytes")

	var r LWWRegister[string]
	js, err = json.Marshal(r)
	require.NoError(t, err)
	assert.Equal(t, `{}`, string(js))
	r.Set("a", vclock.Timestamp{WallTime: 1700000000000000042, Logical: 3}, "v")
	js, err = json.Marshal(r)
	require.NoError(t, err)
	assert.JSONEq(t, `{"value":"v","timestamp":"1700000000.000000042,3","replica":"a"}`, string(js))
	var r2 LWWRegister[string]
	require.NoError(t, json.Unmarshal(js, &r2))
	assert.Equal(t, r, r2)

	var mv MVRegister[int]
	mv.Write("a", 7)
	js, err = json.Marshal(mv)
	require.NoError(t, err)
	assert.JSONEq(t, `{"context":{"clock":{"a":1}},"values":[{"dot":{"id":"a","n":1},"value":7}]}`, string(js))

	// null leaves the value unchanged.
	require.NoError(t, json.Unmarshal([]byte("null"), &s))
	assert.True(t, s.Contains("y"))
}

func TestJSONRejects(t *testing.T) {
	tests := []struct {
		name string
		into any
		data string
	}{
		{"GCounter unknown field", &GCounter{}, `{"counts":{},"x":1}`},
		{"GCounter zero mark", &GCounter{}, `{"counts":{},"pruned":[{"departed":"b","into":"a","count":0}]}`},
		{"GCounter duplicate mark", &GCounter{}, `{"counts":{},"pruned":[{"departed":"b","into":"a","count":1},{"departed":"b","into":"a","count":2}]}`},
		{"GCounter trailing", &GCounter{}, `{"counts":{}} {}`},
		{"PNCounter bad inc", &PNCounter{}, `{"inc":{"counts":{"a":-1}},"dec":{"counts":{}}}`},
		{"GSet not an array", &GSet[int]{}, `{"a":1}`},
		{"ORSet dot outside context", &ORSet[string]{}, `{"context":{"clock":{}},"entries":[{"elem":"x","dots":[{"id":"a","n":1}]}]}`},
		{"ORSet zero dot", &ORSet[string]{}, `{"context":{"clock":{"a":1}},"entries":[{"elem":"x","dots":[{"id":"a","n":0}]}]}`},
		{"ORSet dot used twice", &ORSet[string]{}, `{"context":{"clock":{"a":1}},"entries":[{"elem":"x","dots":[{"id":"a","n":1}]},{"elem":"y","dots":[{"id":"a","n":1}]}]}`},
		{"ORSet zero cloud dot", &ORSet[string]{}, `{"context":{"clock":{},"cloud":[{"id":"a","n":0}]},"entries":[]}`},
		{"LWW value without timestamp", &LWWRegister[int]{}, `{"value":1}`},
		{"LWW bad timestamp", &LWWRegister[int]{}, `{"value":1,"timestamp":"x","replica":"a"}`},
		{"MV dot outside context", &MVRegister[int]{}, `{"context":{"clock":{}},"values":[{"dot":{"id":"a","n":1},"value":1}]}`},
		{"MV zero cloud dot", &MVRegister[int]{}, `{"context":{"clock":{},"cloud":[{"id":"a","n":0}]},"values":[]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := json.Unmarshal([]byte(tt.data), tt.into)
			require.Error(t, err)
			// encoding/json checks syntax before calling UnmarshalJSON, so
			// only well-formed JSON reaches our decoders.
			var syn *json.SyntaxError
			if !errors.As(err, &syn) {
				assert.ErrorIs(t, err, ErrMalformed)
			}
		})
	}
}

// TestJSONNormalisesContext checks that a cloud given in JSON is folded
// into the clock, so the state equals the canonical one.
func TestJSONNormalisesContext(t *testing.T) {
	var s ORSet[string]
	require.NoError(t, json.Unmarshal([]byte(`{"context":{"clock":{"a":1},"cloud":[{"id":"a","n":3},{"id":"a","n":2}]},"entries":[{"elem":"x","dots":[{"id":"a","n":3}]}]}`), &s))
	var want ORSet[string]
	want.Add("a", "w")
	want.Add("a", "v")
	want.Remove("w")
	want.Remove("v")
	want.Add("a", "x")
	assert.Equal(t, want.AppendBinary(nil, StringCodec{}), s.AppendBinary(nil, StringCodec{}))
}

func TestLWWMap(t *testing.T) {
	ts := func(w int64) vclock.Timestamp { return vclock.Timestamp{WallTime: w} }
	var a, b LWWMap[string, int]
	_, ok := a.Get("x")
	assert.False(t, ok)
	assert.Equal(t, LWWMap[string, int]{}, a.Delete("x"), "deleting an absent key is a no-op")

	b.Merge(a.Set("a", ts(1), "x", 1))
	// Concurrent writes: the later timestamp wins, both are kept.
	da := a.Set("a", ts(5), "x", 2)
	db := b.Set("b", ts(3), "x", 3)
	a.Merge(db)
	b.Merge(da)
	va, _ := a.Get("x")
	vb, _ := b.Get("x")
	assert.Equal(t, 2, va)
	assert.Equal(t, 2, vb)
	assert.Len(t, a.entries["x"], 2)

	// A write that saw both replaces them, even with an older timestamp.
	b.Merge(a.Set("a", ts(4), "x", 4))
	vb, _ = b.Get("x")
	assert.Equal(t, 4, vb)
	assert.Len(t, b.entries["x"], 1)

	// Concurrent delete and write: the write wins.
	b.Merge(a.Set("a", ts(6), "y", 10))
	del := a.Delete("y")
	w := b.Set("b", ts(7), "y", 11)
	a.Merge(w)
	b.Merge(del)
	assert.True(t, a.Contains("y"))
	vy, _ := b.Get("y")
	assert.Equal(t, 11, vy)

	// A delete that saw everything removes the key everywhere.
	b.Merge(a)
	a.Merge(b.Delete("x"))
	assert.False(t, a.Contains("x"))
	assert.Equal(t, 1, a.Len())
	assert.Equal(t, []string{"y"}, slices.Collect(a.Keys()))
	got := map[string]int{}
	for k, v := range a.All() {
		got[k] = v
	}
	assert.Equal(t, map[string]int{"y": 11}, got)

	c := a.Clone()
	c.Delete("y")
	assert.True(t, a.Contains("y"), "Clone is independent")

	// Identical states merge without allocating.
	x, y := a.Clone(), a.Clone()
	assert.Zero(t, testing.AllocsPerRun(20, func() { x.Merge(y) }))

	data := a.AppendBinary(nil, StringCodec{}, intCodec{})
	back, err := DecodeLWWMap(data, StringCodec{}, intCodec{})
	require.NoError(t, err)
	assert.Equal(t, data, back.AppendBinary(nil, StringCodec{}, intCodec{}))

	js, err := json.Marshal(a)
	require.NoError(t, err)
	var fromJS LWWMap[string, int]
	require.NoError(t, json.Unmarshal(js, &fromJS))
	assert.Equal(t, data, fromJS.AppendBinary(nil, StringCodec{}, intCodec{}))

	_, err = DecodeLWWMap([]byte{tagLWWMap, 0, 0, 1, 1, 'k', 0}, StringCodec{}, StringCodec{})
	assert.ErrorIs(t, err, ErrMalformed, "a key with no writes")
	_, err = DecodeLWWMap(data[:len(data)-1], StringCodec{}, intCodec{})
	assert.ErrorIs(t, err, ErrMalformed)
}

// intCodec adapts Int64Codec to int for tests.
type intCodec struct{}

func (intCodec) AppendValue(b []byte, v int) []byte { return Int64Codec{}.AppendValue(b, int64(v)) }
func (intCodec) DecodeValue(b []byte) (int, error) {
	v, err := Int64Codec{}.DecodeValue(b)
	return int(v), err
}

// TestORSetEncodedSize guards the size target of issue 8: an OR-Set of
// 10,000 adds with half removed encodes to at most 80 KB (the elements
// alone are about 59 KB).
func TestORSetEncodedSize(t *testing.T) {
	var s ORSet[string]
	for i := range 10000 {
		s.Add("replica-0", fmt.Sprintf("element-%d", i))
	}
	for i := 0; i < 10000; i += 2 {
		s.Remove(fmt.Sprintf("element-%d", i))
	}
	payload := 0
	for e := range s.All() {
		payload += len(e)
	}
	size := len(s.AppendBinary(nil, StringCodec{}))
	assert.LessOrEqual(t, size, 80_000)
	assert.LessOrEqual(t, size-payload, 3*s.Len()+64, "about two bytes of overhead per element")
}

func TestMVRegisterMergeIdenticalDoesNotAllocate(t *testing.T) {
	var a, b MVRegister[string]
	da := a.Write("a", "x")
	db := b.Write("b", "y")
	a.Merge(db)
	b.Merge(da)
	assert.Zero(t, testing.AllocsPerRun(50, func() { a.Merge(b) }))
	assert.Equal(t, []string{"x", "y"}, a.Values())
}

// TestGCounterIncAtPrunedReplica is the regression test for a bug the law
// harness found: Inc (with n = 0) or Prune into a replica whose count was
// hidden under its own prune mark set a count at or below the mark, a
// state that merging with its predecessor changed (not an inflation). A
// pruned replica that comes back, against the rules, now counts from its
// mark.
func TestGCounterIncAtPrunedReplica(t *testing.T) {
	var c GCounter
	c.Inc("a", 2)
	c.Prune("a", "b")
	assert.Equal(t, GCounter{}, c.Inc("a", 0), "n = 0 changes nothing")
	before := c.Clone()
	d := c.Inc("a", 3)
	assert.Equal(t, uint64(5), c.Value())
	assert.Equal(t, uint64(3), c.Count("a"))
	joined := before.Clone()
	joined.Merge(c)
	want, _ := c.MarshalBinary()
	got, _ := joined.MarshalBinary()
	assert.Equal(t, want, got, "Inc is an inflation")
	before.Merge(d)
	got, _ = before.MarshalBinary()
	assert.Equal(t, want, got, "the delta carries the count above the mark")

	// Prune into a replica hidden under its mark.
	var p GCounter
	p.Inc("a", 2)
	p.Inc("c", 4)
	p.Prune("a", "b")
	pb := p.Clone()
	p.Prune("c", "a")
	assert.Equal(t, uint64(6), p.Value())
	pb.Merge(p)
	want, _ = p.MarshalBinary()
	got, _ = pb.MarshalBinary()
	assert.Equal(t, want, got, "Prune is an inflation")
}

// TestLiveIndex drives two live indexes with random adds and removes and
// checks them against maps: contents, counts, and same() exactly when the
// maps are equal.
func TestLiveIndex(t *testing.T) {
	seed := newSeed()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0))
	var idx [2]liveIndex
	models := [2]map[vclock.Dot]bool{{}, {}}
	ids := []string{"a", "b", ""}
	for step := range 20000 {
		k := r.IntN(2)
		d := vclock.Dot{ID: ids[r.IntN(len(ids))], Counter: 1 + r.Uint64N(64)}
		if step%5000 == 4999 {
			// Make both equal now and then so that same() is exercised
			// on equal indexes with different dead slots.
			for x := range models[0] {
				if !models[1][x] {
					idx[1].add(x)
					models[1][x] = true
				}
			}
			for x := range models[1] {
				if !models[0][x] {
					idx[1].del(x)
					delete(models[1], x)
				}
			}
		}
		switch {
		case models[k][d]:
			idx[k].del(d)
			delete(models[k], d)
		default:
			idx[k].add(d)
			models[k][d] = true
		}
		equal := len(models[0]) == len(models[1])
		for x := range models[0] {
			equal = equal && models[1][x]
		}
		require.Equal(t, equal, idx[0].same(&idx[1]), "step %d (seed %d)", step, seed)
		require.Equal(t, len(models[k]), idx[k].count())
	}
	c := idx[0].clone()
	assert.True(t, c.same(&idx[0]))
	huge := vclock.Dot{ID: "a", Counter: 1 << 63}
	c.add(huge)
	assert.False(t, c.same(&idx[0]), "forged huge counters never take the fast path")
	c.del(huge)
	assert.True(t, c.same(&idx[0]))
}
