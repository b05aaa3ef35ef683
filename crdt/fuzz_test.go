package crdt

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/sinew-dev/sinew/vclock"
)

// Every fuzz target checks that the decoder never panics and that whatever
// it accepts is canonical: it re-encodes to exactly the input, and merging
// it with itself changes nothing.

func FuzzDecodeGCounter(f *testing.F) {
	var c GCounter
	c.Inc("a", 3)
	c.Inc("b", 300)
	c.Prune("b", "a")
	c.Inc("b", 301)
	for _, s := range []GCounter{{}, c} {
		b, _ := s.MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var c GCounter
		if err := c.UnmarshalBinary(data); err != nil {
			return
		}
		enc, _ := c.MarshalBinary()
		if !bytes.Equal(enc, data) {
			t.Fatalf("accepted non-canonical input %x, re-encodes to %x", data, enc)
		}
		c.Merge(c.Clone())
		if enc2, _ := c.MarshalBinary(); !bytes.Equal(enc2, data) {
			t.Fatalf("merge with itself changed the state")
		}
		_ = c.Value()
	})
}

func FuzzDecodePNCounter(f *testing.F) {
	var c PNCounter
	c.Inc("a", 3)
	c.Dec("b", 2)
	for _, s := range []PNCounter{{}, c} {
		b, _ := s.MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var c PNCounter
		if err := c.UnmarshalBinary(data); err != nil {
			return
		}
		if enc, _ := c.MarshalBinary(); !bytes.Equal(enc, data) {
			t.Fatalf("accepted non-canonical input %x, re-encodes to %x", data, enc)
		}
		_ = c.Value()
	})
}

func FuzzDecodeGSet(f *testing.F) {
	var s GSet[string]
	s.Add("x")
	s.Add("")
	s.Add("yy")
	f.Add(GSet[string]{}.AppendBinary(nil, StringCodec{}))
	f.Add(s.AppendBinary(nil, StringCodec{}))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeGSet(data, StringCodec{})
		if err != nil {
			return
		}
		if enc := s.AppendBinary(nil, StringCodec{}); !bytes.Equal(enc, data) {
			t.Fatalf("accepted non-canonical input %x, re-encodes to %x", data, enc)
		}
	})
}

func FuzzDecodeORSet(f *testing.F) {
	var a, b ORSet[string]
	a.Add("a", "x")
	a.Add("a", "y")
	b.Merge(a.Add("a", "z"))
	b.Add("b", "x")
	a.Remove("y")
	delta := a.Remove("x")
	a.Merge(b)
	for _, s := range []ORSet[string]{{}, a, b, delta} {
		f.Add(s.AppendBinary(nil, StringCodec{}))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeORSet(data, StringCodec{})
		if err != nil {
			return
		}
		if err := orsetSubject.wellFormed(s); err != nil {
			t.Fatalf("accepted an ill-formed set: %v", err)
		}
		enc := s.AppendBinary(nil, StringCodec{})
		if !bytes.Equal(enc, data) {
			t.Fatalf("accepted non-canonical input %x, re-encodes to %x", data, enc)
		}
		c := s.Clone()
		c.Merge(s)
		if !bytes.Equal(c.AppendBinary(nil, StringCodec{}), data) {
			t.Fatalf("merge with itself changed the state")
		}
		var empty ORSet[string]
		empty.Merge(s)
		if !bytes.Equal(empty.AppendBinary(nil, StringCodec{}), data) {
			t.Fatalf("merge into an empty set changed the state")
		}
		s.Add("fuzz", "e")
	})
}

func FuzzDecodeLWWRegister(f *testing.F) {
	var r LWWRegister[string]
	f.Add(r.AppendBinary(nil, StringCodec{}))
	r.Set("a", vclock.Timestamp{WallTime: 5, Logical: 1}, "v")
	f.Add(r.AppendBinary(nil, StringCodec{}))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeLWWRegister(data, StringCodec{})
		if err != nil {
			return
		}
		if enc := r.AppendBinary(nil, StringCodec{}); !bytes.Equal(enc, data) {
			t.Fatalf("accepted non-canonical input %x, re-encodes to %x", data, enc)
		}
	})
}

func FuzzDecodeMVRegister(f *testing.F) {
	var a, b MVRegister[string]
	f.Add(a.AppendBinary(nil, StringCodec{}))
	b.Merge(a.Write("a", "1"))
	d := a.Write("a", "2")
	b.Write("b", "3")
	b.Merge(d)
	f.Add(b.AppendBinary(nil, StringCodec{}))
	f.Add(d.AppendBinary(nil, StringCodec{}))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeMVRegister(data, StringCodec{})
		if err != nil {
			return
		}
		if err := mvSubject.wellFormed(r); err != nil {
			t.Fatalf("accepted an ill-formed register: %v", err)
		}
		if enc := r.AppendBinary(nil, StringCodec{}); !bytes.Equal(enc, data) {
			t.Fatalf("accepted non-canonical input %x, re-encodes to %x", data, enc)
		}
		c := r.Clone()
		c.Merge(r)
		if !bytes.Equal(c.AppendBinary(nil, StringCodec{}), data) {
			t.Fatalf("merge with itself changed the state")
		}
	})
}

// FuzzUnmarshalJSON feeds the input to every JSON decoder: none may panic,
// and whatever one accepts must encode back to JSON that decodes to the
// same state.
func FuzzUnmarshalJSON(f *testing.F) {
	for _, s := range []string{
		`{"counts":{"a":4},"pruned":[{"departed":"b","into":"a","count":1}]}`,
		`{"inc":{"counts":{"a":2}},"dec":{"counts":{"a":1}}}`,
		`["x","y"]`,
		`{"context":{"clock":{"a":2},"cloud":[{"id":"b","n":3}]},"entries":[{"elem":"y","dots":[{"id":"a","n":2},{"id":"b","n":3}]}]}`,
		`{"value":"v","timestamp":"1700000000.000000042,3","replica":"a"}`,
		`{"context":{"clock":{"a":1}},"values":[{"dot":{"id":"a","n":1},"value":"7"}]}`,
		`{"context":{"clock":{"a":2}},"entries":[{"key":"k","writes":[{"dot":{"id":"a","n":2},"timestamp":"1.000000000,0","value":"v"}]}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		jsonRoundTrip[GCounter](t, data)
		jsonRoundTrip[PNCounter](t, data)
		jsonRoundTrip[GSet[string]](t, data)
		jsonRoundTrip[ORSet[string]](t, data)
		jsonRoundTrip[LWWRegister[string]](t, data)
		jsonRoundTrip[MVRegister[string]](t, data)
		jsonRoundTrip[LWWMap[string, string]](t, data)
	})
}

func jsonRoundTrip[S any](t *testing.T, data []byte) {
	var s S
	if json.Unmarshal(data, &s) != nil {
		return
	}
	js, err := json.Marshal(s)
	if err != nil {
		return // e.g. a replica ID that is not valid UTF-8
	}
	var s2 S
	if err := json.Unmarshal(js, &s2); err != nil {
		t.Fatalf("%T: output %s does not decode: %v", s, js, err)
	}
	js2, err := json.Marshal(s2)
	if err != nil || !bytes.Equal(js, js2) {
		t.Fatalf("%T: JSON round trip changed %s to %s (%v)", s, js, js2, err)
	}
}

func FuzzDecodeLWWMap(f *testing.F) {
	var a, b LWWMap[string, string]
	f.Add(a.AppendBinary(nil, StringCodec{}, StringCodec{}))
	b.Merge(a.Set("a", vclock.Timestamp{WallTime: 1}, "k", "v"))
	da := a.Set("a", vclock.Timestamp{WallTime: 2}, "k", "w")
	b.Set("b", vclock.Timestamp{WallTime: 3}, "k", "x")
	b.Set("b", vclock.Timestamp{WallTime: 3}, "j", "y")
	b.Merge(da)
	f.Add(b.AppendBinary(nil, StringCodec{}, StringCodec{}))
	f.Add(da.AppendBinary(nil, StringCodec{}, StringCodec{}))
	f.Add(b.Delete("k").AppendBinary(nil, StringCodec{}, StringCodec{}))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeLWWMap(data, StringCodec{}, StringCodec{})
		if err != nil {
			return
		}
		if err := lwwMapSubject.wellFormed(m); err != nil {
			t.Fatalf("accepted an ill-formed map: %v", err)
		}
		if enc := m.AppendBinary(nil, StringCodec{}, StringCodec{}); !bytes.Equal(enc, data) {
			t.Fatalf("accepted non-canonical input %x, re-encodes to %x", data, enc)
		}
		c := m.Clone()
		c.Merge(m)
		if !bytes.Equal(c.AppendBinary(nil, StringCodec{}, StringCodec{}), data) {
			t.Fatalf("merge with itself changed the state")
		}
		for range m.All() {
		}
	})
}
