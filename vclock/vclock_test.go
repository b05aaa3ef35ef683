package vclock

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ---------------------------------------------------------------------------
// Helpers and the reference model.

// ref is the trivially correct model: a map, where a missing key is 0.
type ref map[string]uint64

func (r ref) clone() ref {
	out := ref{}
	for k, v := range r {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

func (r ref) merge(o ref) {
	for k, v := range o {
		if v > r[k] {
			r[k] = v
		}
	}
}

func (r ref) compare(o ref) Order {
	less, more := false, false
	for k, v := range r {
		if v > o[k] {
			more = true
		} else if v < o[k] {
			less = true
		}
	}
	for k, v := range o {
		if v > r[k] {
			less = true
		}
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

func (r ref) clock() Clock {
	var c Clock
	for k, v := range r {
		c.Set(k, v)
	}
	return c
}

func toRef(c Clock) ref {
	r := ref{}
	for id, n := range c.All() {
		r[id] = n
	}
	return r
}

// checkInvariant fails the test if c is not canonical (IDs strictly
// increasing, no zero counters) or its ids index is stale.
//
// It runs after every step of the long randomized tests, so it checks with
// plain code and calls testify only to report a failure.
func checkInvariant(t *testing.T, c Clock) {
	t.Helper()
	for i, d := range c.e {
		if d.Counter == 0 {
			require.NotZero(t, d.Counter, "invariant: zero counter at %d in %v", i, c)
		}
		if i > 0 && c.e[i-1].ID >= d.ID {
			require.Less(t, c.e[i-1].ID, d.ID, "invariant: IDs not strictly increasing at %d in %v", i, c)
		}
	}
	if ids := appendIDs(nil, c.e); !bytes.Equal(ids, c.ids) {
		require.Equal(t, string(ids), string(c.ids), "invariant: ids index is stale for %v", c)
	}
}

// equalRef checks that got is canonical and holds the counters of want.
func equalRef(t *testing.T, want ref, got Clock) {
	t.Helper()
	checkInvariant(t, got)
	n := 0
	for _, v := range want {
		if v != 0 {
			n++
		}
	}
	ok := n == got.Len()
	for id, v := range got.All() {
		ok = ok && want[id] == v
	}
	if !ok {
		require.Equal(t, want.clone(), toRef(got))
	}
}

// newRand returns a PCG source seeded from $VCLOCK_SEED if set, else from
// the clock, and logs the seed so that a failure can be replayed with
// VCLOCK_SEED=<seed> go test -run <test> ./vclock.
func newRand(t testing.TB) *rand.Rand {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("VCLOCK_SEED"); s != "" {
		var err error
		seed, err = strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "VCLOCK_SEED")
	}
	t.Logf("seed %d (replay with VCLOCK_SEED=%d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// pool holds IDs that random clocks draw from: a few to make entries
// overlap, including the empty ID, a prefix pair and non-ASCII bytes.
var pool = []string{"", "a", "ab", "b", "node-1", "node-10", "node-2", "z", "\xff", "é"}

func randClock(r *rand.Rand) Clock {
	var c Clock
	for _, id := range pool {
		if r.IntN(3) == 0 {
			c.Set(id, uint64(r.IntN(4)))
		}
	}
	return c
}

// ---------------------------------------------------------------------------
// Unit tests.

func TestOrderString(t *testing.T) {
	for o, want := range map[Order]string{
		Before: "before", Equal: "equal", After: "after", Concurrent: "concurrent", 7: "Order(7)",
	} {
		assert.Equal(t, want, o.String())
	}
}

func TestOf(t *testing.T) {
	c := Of(Dot{"b", 2}, Dot{"a", 1}, Dot{"z", 0}, Dot{"b", 5}, Dot{"b", 3})
	checkInvariant(t, c)
	assert.Equal(t, `{"a":1, "b":5}`, c.String())
	assert.True(t, Of().IsZero(), "Of()")
	assert.True(t, Of(Dot{"x", 0}).IsZero(), "Of with only zero counters")
}

func TestTickGetSet(t *testing.T) {
	var c Clock
	assert.Zero(t, c.Get("a"), "Get on the zero clock")
	for _, id := range []string{"m", "a", "z", "m", "", "m"} {
		c.Tick(id)
		checkInvariant(t, c)
	}
	equalRef(t, ref{"": 1, "a": 1, "m": 3, "z": 1}, c)
	assert.Equal(t, uint64(4), c.Tick("m"), "Tick returns the new counter")

	c.Set("a", 0) // removes
	c.Set("q", 7) // inserts
	c.Set("z", 9) // overwrites
	c.Set("nope", 0)
	equalRef(t, ref{"": 1, "m": 4, "q": 7, "z": 9}, c)
	assert.Equal(t, 4, c.Len())

	c.Set("sat", math.MaxUint64)
	assert.Equal(t, uint64(math.MaxUint64), c.Tick("sat"), "Tick saturates")
	checkInvariant(t, c)
}

func TestContainsDescends(t *testing.T) {
	c := Of(Dot{"a", 3}, Dot{"b", 1})
	for _, tc := range []struct {
		d    Dot
		want bool
	}{
		{Dot{"a", 1}, true}, {Dot{"a", 3}, true}, {Dot{"a", 4}, false},
		{Dot{"c", 1}, false}, {Dot{"c", 0}, true},
	} {
		assert.Equal(t, tc.want, c.Contains(tc.d), "Contains(%v)", tc.d)
	}
	assert.True(t, c.Descends(c))
	assert.True(t, c.Descends(Of(Dot{"a", 2})))
	assert.False(t, c.Descends(Of(Dot{"c", 1})))
}

// TestZeroIsAbsent is the regression test for GoVector #68/#69, where {a:0}
// compared as an ancestor of {} and equal clocks compared as concurrent.
func TestZeroIsAbsent(t *testing.T) {
	var empty Clock
	zero := Of(Dot{"a", 0})
	var set Clock
	set.Set("a", 0)
	var ticked Clock
	ticked.Tick("a")
	ticked.Prune(func(string, uint64) bool { return true })

	var fromJSON Clock
	require.NoError(t, json.Unmarshal([]byte(`{"a":0}`), &fromJSON))
	emptyBytes, _ := empty.MarshalBinary()
	for name, c := range map[string]Clock{"Of": zero, "Set": set, "Prune": ticked, "JSON": fromJSON} {
		assert.Equal(t, Equal, c.Compare(empty), "%s: {a:0} vs {}", name)
		assert.Equal(t, Equal, empty.Compare(c), "%s: {} vs {a:0}", name)
		assert.True(t, c.Equal(empty), "%s: Equal({a:0}, {})", name)
		b, _ := c.MarshalBinary()
		assert.Equal(t, emptyBytes, b, "%s: encoding of {a:0}", name)
	}
	x := Of(Dot{"a", 2}, Dot{"b", 1})
	assert.Equal(t, Equal, x.Compare(x.Clone()), "equal clocks")
}

func TestCompare(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b Clock
		want Order
	}{
		{"both empty", Clock{}, Clock{}, Equal},
		{"empty before", Clock{}, Of(Dot{"a", 1}), Before},
		{"after empty", Of(Dot{"a", 1}), Clock{}, After},
		{"same", Of(Dot{"a", 1}, Dot{"b", 2}), Of(Dot{"a", 1}, Dot{"b", 2}), Equal},
		{"one counter less", Of(Dot{"a", 1}, Dot{"b", 2}), Of(Dot{"a", 1}, Dot{"b", 3}), Before},
		{"one counter more", Of(Dot{"a", 2}, Dot{"b", 2}), Of(Dot{"a", 1}, Dot{"b", 2}), After},
		{"crossed counters", Of(Dot{"a", 2}, Dot{"b", 1}), Of(Dot{"a", 1}, Dot{"b", 2}), Concurrent},
		{"extra replica", Of(Dot{"a", 1}, Dot{"b", 1}), Of(Dot{"a", 1}), After},
		{"missing replica", Of(Dot{"a", 1}), Of(Dot{"a", 1}, Dot{"b", 1}), Before},
		{"disjoint", Of(Dot{"a", 1}), Of(Dot{"b", 1}), Concurrent},
		{"same length different IDs", Of(Dot{"a", 1}, Dot{"c", 1}), Of(Dot{"a", 1}, Dot{"b", 1}), Concurrent},
		{"same length, prefix matches then after", Of(Dot{"a", 2}, Dot{"c", 1}), Of(Dot{"a", 1}, Dot{"b", 1}), Concurrent},
		{"extra replica but lower counter", Of(Dot{"a", 1}, Dot{"b", 1}), Of(Dot{"a", 2}), Concurrent},
		{"tail only in b", Of(Dot{"a", 2}), Of(Dot{"a", 2}, Dot{"z", 1}), Before},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.a.Compare(tc.b))
			mirror := map[Order]Order{Before: After, After: Before, Equal: Equal, Concurrent: Concurrent}
			assert.Equal(t, mirror[tc.want], tc.b.Compare(tc.a), "reversed")
			assert.Equal(t, tc.want == Before, tc.a.Before(tc.b), "Before")
			assert.Equal(t, tc.want == After, tc.a.After(tc.b), "After")
			assert.Equal(t, tc.want == Concurrent, tc.a.Concurrent(tc.b), "Concurrent")
			assert.Equal(t, tc.want == Equal, tc.a.Equal(tc.b), "Equal")
			assert.Equal(t, tc.want == Equal || tc.want == After, tc.a.Descends(tc.b), "Descends")
		})
	}
}

func TestMerge(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b ref
	}{
		{"both empty", ref{}, ref{}},
		{"into empty", ref{}, ref{"a": 1, "b": 2}},
		{"from empty", ref{"a": 1}, ref{}},
		{"same IDs", ref{"a": 1, "b": 5}, ref{"a": 3, "b": 2}},
		{"new IDs before, between, after", ref{"b": 1, "d": 1}, ref{"a": 2, "c": 2, "e": 2}},
		{"subset", ref{"a": 1, "b": 1, "c": 1}, ref{"b": 4}},
		{"superset", ref{"b": 4}, ref{"a": 1, "b": 1, "c": 1}},
		{"same length different IDs", ref{"a": 1, "c": 3}, ref{"a": 2, "b": 1}},
	} {
		for _, spare := range []int{0, 8} {
			t.Run(fmt.Sprintf("%s/spare=%d", tc.name, spare), func(t *testing.T) {
				a := tc.a.clock()
				a.e = slices.Grow(a.e, spare)
				b := tc.b.clock()
				bBefore := b.Clone()
				a.Merge(b)
				want := tc.a.clone()
				want.merge(tc.b)
				equalRef(t, want, a)
				assert.Equal(t, bBefore.String(), b.String(), "Merge changed its argument")
			})
		}
	}
}

// TestMergeNoAliasing checks that after a.Merge(b) the two clocks share no
// memory: mutating either leaves the other alone.
func TestMergeNoAliasing(t *testing.T) {
	for name, a := range map[string]Clock{"empty": {}, "overlapping": Of(Dot{"a", 1}), "spare capacity": {e: make([]Dot, 0, 16)}} {
		t.Run(name, func(t *testing.T) {
			b := Of(Dot{"a", 5}, Dot{"b", 1})
			a.Merge(b)
			a.Tick("a")
			a.Tick("b")
			assert.Equal(t, `{"a":5, "b":1}`, b.String(), "mutating the merged clock changed the argument")
			b.Tick("a")
			b.Tick("c") // changes b's replica set
			assert.Equal(t, `{"a":6, "b":2}`, a.String(), "mutating the argument changed the merged clock")
			checkInvariant(t, a)
			checkInvariant(t, b)
		})
	}
}

// TestMergeSharedArray merges two Clock values that share a backing array
// (the documented hazard of copying a Clock): the result must still be the
// pointwise maximum of what the two values held at the call.
func TestMergeSharedArray(t *testing.T) {
	a := Clock{e: make([]Dot, 0, 8)}
	a.Tick("b")
	a.Tick("d")
	b := a // shares the array
	b.e = append(b.e, Dot{"e", 1}, Dot{"f", 1})
	b.reindex()
	// a sees {b:1 d:1}, b sees {b:1 d:1 e:1 f:1}; both in one array.
	require.Same(t, &a.e[0], &b.e[0], "test setup: the clocks should share an array")
	a.Merge(b)
	equalRef(t, ref{"b": 1, "d": 1, "e": 1, "f": 1}, a)
	a.Merge(a)
	equalRef(t, ref{"b": 1, "d": 1, "e": 1, "f": 1}, a)
}

func TestAccessors(t *testing.T) {
	c := Of(Dot{"b", 2}, Dot{"a", 1})
	dots := c.Dots()
	assert.Equal(t, []Dot{{"a", 1}, {"b", 2}}, dots)
	dots[0].Counter = 99
	assert.Equal(t, uint64(1), c.Get("a"), "Dots aliases the clock")

	var ids []string
	for id := range c.All() {
		ids = append(ids, id)
		break
	}
	assert.Equal(t, []string{"a"}, ids, "All with break")
	assert.Nil(t, (Clock{}).Dots())

	d := c.Clone()
	d.Tick("a")
	assert.Equal(t, uint64(1), c.Get("a"), "Clone aliases the clock")
	assert.True(t, (Clock{}).Clone().IsZero())

	d.Reset()
	assert.True(t, d.IsZero())
	assert.Zero(t, d.Len())
	checkInvariant(t, d)
	assert.Equal(t, `{"a\n":2, "\xff":1}`, Of(Dot{"\xff", 1}, Dot{"a\n", 2}).String())
}

func TestPrune(t *testing.T) {
	c := Of(Dot{"a", 1}, Dot{"b", 2}, Dot{"c", 3}, Dot{"d", 4})
	var seen []string
	n := c.Prune(func(id string, counter uint64) bool {
		seen = append(seen, id)
		return id == "b" || counter == 4
	})
	assert.Equal(t, 2, n, "removed")
	assert.Equal(t, []string{"a", "b", "c", "d"}, seen, "drop is called in ID order")
	equalRef(t, ref{"a": 1, "c": 3}, c)
	assert.Zero(t, c.Prune(func(string, uint64) bool { return false }))

	// The documented risk: pruning turns "after" into "concurrent".
	old := Of(Dot{"x", 1}, Dot{"gone", 5})
	newer := old.Clone()
	newer.Tick("x")
	newer.Prune(func(id string, _ uint64) bool { return id == "gone" })
	assert.Equal(t, Concurrent, newer.Compare(old), "pruned descendant vs unpruned ancestor (false concurrency)")
}

// ---------------------------------------------------------------------------
// Allocation guards.

func clockN(n int, counter uint64) Clock {
	var c Clock
	for i := range n {
		c.Set(fmt.Sprintf("replica-%d", i), counter+uint64(i))
	}
	return c
}

func TestAllocs(t *testing.T) {
	a, b := clockN(64, 1), clockN(64, 2)
	half := clockN(32, 5)
	full := clockN(64, 3)
	withRoom := Clock{e: make([]Dot, 0, 64)}
	for name, f := range map[string]func(){
		"Merge same IDs":      func() { a.Merge(b) },
		"Merge subset":        func() { a.Merge(half) },
		"Merge with capacity": func() { withRoom.Reset(); withRoom.Merge(half); withRoom.Merge(full) },
		"Compare":             func() { _ = a.Compare(b) },
		"Compare subset":      func() { _ = a.Compare(half) },
		"Equal":               func() { _ = a.Equal(b) },
		"Tick existing":       func() { a.Tick("replica-7") },
		"Get":                 func() { _ = a.Get("replica-9") },
	} {
		assert.Zero(t, testing.AllocsPerRun(100, f), name)
	}
	buf := make([]byte, 0, 4096)
	assert.Zero(t, testing.AllocsPerRun(100, func() { buf, _ = a.AppendBinary(buf[:0]) }), "AppendBinary into a large enough buffer")
	enc, _ := a.MarshalBinary()
	assert.Equal(t, 3.0, testing.AllocsPerRun(100, func() { _, _, _ = DecodeClock(enc) }), "DecodeClock")
}

// ---------------------------------------------------------------------------
// Property and differential tests.

const propertyRounds = 3000

// TestPartialOrder checks that Compare is a partial order: reflexive,
// antisymmetric (and its result mirrors when the arguments swap) and
// transitive.
func TestPartialOrder(t *testing.T) {
	r := newRand(t)
	le := func(a, b Clock) bool { o := a.Compare(b); return o == Before || o == Equal }
	mirror := map[Order]Order{Before: After, After: Before, Equal: Equal, Concurrent: Concurrent}
	for range propertyRounds {
		a, b, c := randClock(r), randClock(r), randClock(r)
		require.Equal(t, Equal, a.Compare(a), "reflexive: %v", a)
		require.True(t, a.Equal(a.Clone()), "reflexive: %v", a)
		ab, ba := a.Compare(b), b.Compare(a)
		require.Equal(t, mirror[ab], ba, "Compare mirrors: %v vs %v", a, b)
		if le(a, b) && le(b, a) {
			require.True(t, a.Equal(b), "antisymmetric: %v, %v", a, b)
		}
		if le(a, b) && le(b, c) {
			require.True(t, le(a, c), "transitive: %v ≤ %v ≤ %v", a, b, c)
		}
		require.Equal(t, ab == Equal, a.Equal(b), "Equal agrees with Compare: %v, %v", a, b)
	}
}

// TestMergeLaws checks that merge is commutative, associative, idempotent,
// an upper bound of its arguments and the least one.
func TestMergeLaws(t *testing.T) {
	r := newRand(t)
	merge := func(a, b Clock) Clock { m := a.Clone(); m.Merge(b); return m }
	for range propertyRounds {
		a, b, c := randClock(r), randClock(r), randClock(r)
		ab := merge(a, b)
		checkInvariant(t, ab)
		require.True(t, ab.Equal(merge(b, a)), "commutative: %v, %v", a, b)
		require.True(t, merge(ab, c).Equal(merge(a, merge(b, c))), "associative: %v, %v, %v", a, b, c)
		require.True(t, merge(a, a).Equal(a), "idempotent: %v", a)
		require.True(t, merge(ab, b).Equal(ab), "idempotent: %v, %v", a, b)
		require.True(t, ab.Descends(a) && ab.Descends(b), "upper bound: %v ⊔ %v = %v", a, b, ab)
		for id, n := range ab.All() {
			require.Equal(t, max(a.Get(id), b.Get(id)), n, "least upper bound at %q: %v ⊔ %v = %v", id, a, b, ab)
		}
		// Descends(o) iff merging o changes nothing.
		require.Equal(t, merge(a, b).Equal(a), a.Descends(b), "Descends agrees with Merge: %v, %v", a, b)
	}
}

// TestDifferential runs random operations on a few clocks and the map
// reference side by side and checks they agree after every step.
func TestDifferential(t *testing.T) {
	r := newRand(t)
	const n = 4
	clocks := make([]Clock, n)
	refs := make([]ref, n)
	for i := range refs {
		refs[i] = ref{}
	}
	id := func() string {
		if r.IntN(8) == 0 {
			return fmt.Sprintf("rnd-%d", r.IntN(100))
		}
		return pool[r.IntN(len(pool))]
	}
	for step := range 10000 {
		i, j := r.IntN(n), r.IntN(n)
		var op string
		switch r.IntN(10) {
		case 0, 1, 2:
			op = "tick"
			x := id()
			got := clocks[i].Tick(x)
			refs[i][x]++
			require.Equal(t, refs[i][x], got, "step %d: Tick(%q)", step, x)
		case 3:
			op = "set"
			x, v := id(), uint64(r.IntN(5))
			clocks[i].Set(x, v)
			refs[i][x] = v
		case 4, 5, 6:
			op = "merge"
			if r.IntN(4) == 0 {
				clocks[i].Reset()
				refs[i] = ref{}
			}
			clocks[i].Merge(clocks[j])
			refs[i].merge(refs[j])
		case 7:
			op = "prune"
			x := id()
			clocks[i].Prune(func(id string, _ uint64) bool { return id == x })
			delete(refs[i], x)
		case 8:
			op = "roundtrip"
			b, _ := clocks[i].MarshalBinary()
			var c Clock
			require.NoError(t, c.UnmarshalBinary(b), "step %d", step)
			clocks[i] = c
		case 9:
			op = "clone"
			clocks[i] = clocks[j].Clone()
			refs[i] = refs[j].clone()
		}
		for k := range n {
			equalRef(t, refs[k], clocks[k])
		}
		if want, got := refs[i].compare(refs[j]), clocks[i].Compare(clocks[j]); want != got {
			require.Equal(t, want, got, "step %d (after %s): Compare(%v, %v)", step, op, clocks[i], clocks[j])
		}
		if want, got := refs[i].compare(refs[j]) == Equal, clocks[i].Equal(clocks[j]); want != got {
			require.Equal(t, want, got, "step %d: Equal(%v, %v)", step, clocks[i], clocks[j])
		}
		for _, x := range pool[:3] {
			if want, got := refs[i][x], clocks[i].Get(x); want != got {
				require.Equal(t, want, got, "step %d: Get(%q)", step, x)
			}
		}
	}
}

// ---------------------------------------------------------------------------
// Encoding.

func TestBinaryGolden(t *testing.T) {
	c := Of(Dot{"b", 300}, Dot{"a", 1}, Dot{"", 2})
	got, err := c.MarshalBinary()
	require.NoError(t, err)
	// 3 entries; "" → 2; "a" → 1; "b" → 300 (varint ac 02).
	want := []byte{3, 0, 2, 1, 'a', 1, 1, 'b', 0xac, 0x02}
	assert.Equal(t, want, got)
	b, _ := (Clock{}).MarshalBinary()
	assert.Equal(t, []byte{0}, b, "empty clock")
	out, _ := c.AppendBinary([]byte("hdr"))
	assert.Equal(t, append([]byte("hdr"), want...), out, "AppendBinary appends")
}

func TestBinaryRoundTrip(t *testing.T) {
	r := newRand(t)
	for range propertyRounds {
		c := randClock(r)
		if r.IntN(10) == 0 {
			c.Set("big", math.MaxUint64)
		}
		b, _ := c.MarshalBinary()
		var got Clock
		require.NoError(t, got.UnmarshalBinary(b), "%v", c)
		checkInvariant(t, got)
		require.True(t, got.Equal(c), "round trip: want %v, got %v", c, got)
		// Canonical: the same clock built another way encodes identically.
		other := toRef(c).clock()
		other.Set("gone", 3)
		other.Set("gone", 0)
		b2, _ := other.MarshalBinary()
		require.Equal(t, b, b2, "equal clocks encode identically")
		// Embedded with trailing data.
		buf, _ := c.AppendBinary([]byte{0xee})
		buf = append(buf, 0xff, 0xff)
		got2, n, err := DecodeClock(buf[1:])
		require.NoError(t, err)
		require.Equal(t, len(b), n, "bytes used")
		require.True(t, got2.Equal(c), "embedded: want %v, got %v", c, got2)
	}
}

func TestDecodeClockMalformed(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"empty input", nil},
		{"truncated count", []byte{0x80}},
		{"non-minimal count", []byte{0x80, 0x00}},
		{"count overflows", bytes.Repeat([]byte{0xff}, 11)},
		{"forged huge count", binary2(1<<62, 0)},
		{"count beyond input", []byte{3, 1, 'a', 1}},
		{"truncated ID length", []byte{1}},
		{"forged huge ID length", append([]byte{1}, binary2(1<<40)...)},
		{"ID beyond input", []byte{1, 5, 'a', 'b'}},
		{"truncated counter", []byte{1, 1, 'a'}},
		{"truncated counter varint", []byte{1, 1, 'a', 0x80}},
		{"zero counter", []byte{1, 1, 'a', 0}},
		{"non-minimal counter", []byte{1, 1, 'a', 0x81, 0x00}},
		{"non-minimal ID length", []byte{1, 0x81, 0x00, 'a', 1}},
		{"unsorted IDs", []byte{2, 1, 'b', 1, 1, 'a', 1}},
		{"duplicate IDs", []byte{2, 1, 'a', 1, 1, 'a', 2}},
		{"duplicate empty IDs", []byte{2, 0, 1, 0, 1}},
		{"prefix after longer", []byte{2, 2, 'a', 'b', 1, 1, 'a', 1}},
		{"counter overflows", append([]byte{1, 1, 'a'}, bytes.Repeat([]byte{0xff}, 10)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, n, err := DecodeClock(tc.in)
			require.ErrorIs(t, err, ErrMalformed, "n=%d, clock %v", n, c)
			assert.True(t, strings.HasPrefix(err.Error(), "vclock: "), "package prefix: %q", err)
			var u Clock
			u.Tick("keep")
			assert.ErrorIs(t, u.UnmarshalBinary(tc.in), ErrMalformed, "UnmarshalBinary")
			assert.Equal(t, `{"keep":1}`, u.String(), "UnmarshalBinary changed the clock on error")
		})
	}
	var c Clock
	assert.ErrorIs(t, c.UnmarshalBinary([]byte{0, 0}), ErrMalformed, "trailing bytes")
}

func binary2(vs ...uint64) []byte {
	var b []byte
	for _, v := range vs {
		for v >= 0x80 {
			b = append(b, byte(v)|0x80)
			v >>= 7
		}
		b = append(b, byte(v))
	}
	return b
}

// TestDecodeForgedLengthNoAllocation checks that lengths claimed by the
// input do not drive allocation: a 10-byte input claiming 2^62 entries, or a
// 2^40-byte ID, allocates (almost) nothing.
func TestDecodeForgedLengthNoAllocation(t *testing.T) {
	for name, in := range map[string][]byte{
		"count":                      append(binary2(1<<62), make([]byte, 64)...),
		"ID length":                  append(binary2(1, 1<<40), make([]byte, 64)...),
		"plausible count, bad entry": append(binary2(30), make([]byte, 61)...),
	} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range 100 {
			_, _, err := DecodeClock(in)
			require.ErrorIs(t, err, ErrMalformed, name)
		}
		runtime.ReadMemStats(&after)
		per := (after.TotalAlloc - before.TotalAlloc) / 100
		assert.LessOrEqual(t, per, uint64(512), "%s: bytes allocated per failed decode", name)
	}
}

func TestDot(t *testing.T) {
	for _, d := range []Dot{{"", 0}, {"a", 1}, {"node-7", 1 << 40}, {"\xff", math.MaxUint64}} {
		b, err := d.AppendBinary([]byte{9})
		require.NoError(t, err)
		got, n, err := DecodeDot(append(b[1:], 1, 2, 3))
		require.NoError(t, err)
		assert.Equal(t, d, got)
		assert.Equal(t, len(b)-1, n, "bytes used")
	}
	for name, in := range map[string][]byte{
		"empty": nil, "truncated ID": {3, 'a'}, "no counter": {1, 'a'},
		"non-minimal counter": {1, 'a', 0x80, 0x00}, "forged length": binary2(1 << 50),
	} {
		_, _, err := DecodeDot(in)
		assert.ErrorIs(t, err, ErrMalformed, name)
	}
}

func TestJSON(t *testing.T) {
	c := Of(Dot{"b", 2}, Dot{"a", math.MaxUint64}, Dot{"q\"\\\n\u2028\u2029é<", 1})
	b, err := c.MarshalJSON()
	require.NoError(t, err)
	assert.Equal(t, `{"a":18446744073709551615,"b":2,"q\"\\\u000a\u2028\u2029é<":1}`, string(b))
	assert.True(t, json.Valid(b), "valid JSON: %s", b)
	var got Clock
	require.NoError(t, json.Unmarshal(b, &got))
	checkInvariant(t, got)
	assert.Equal(t, c.String(), got.String(), "round trip")
	// encoding/json's own string decoding agrees with our encoder.
	var m map[string]uint64
	require.NoError(t, json.Unmarshal(b, &m))
	assert.Equal(t, toRef(c), ref(m))
	b, _ = json.Marshal(Clock{})
	assert.Equal(t, "{}", string(b), "empty clock")

	// Embedded in a struct, by value and by pointer; null leaves it as is.
	type msg struct {
		V  Clock  `json:"v"`
		P  *Clock `json:"p"`
		Ts Timestamp
	}
	in := msg{V: Of(Dot{"x", 1}), P: &c, Ts: Timestamp{WallTime: 1, Logical: 2}}
	b, err = json.Marshal(in)
	require.NoError(t, err)
	var out msg
	require.NoError(t, json.Unmarshal(b, &out))
	assert.Equal(t, in.V.String(), out.V.String())
	assert.Equal(t, c.String(), out.P.String())
	assert.Equal(t, in.Ts, out.Ts)

	keep := Of(Dot{"k", 1})
	require.NoError(t, json.Unmarshal([]byte("null"), &keep))
	assert.Equal(t, `{"k":1}`, keep.String(), "null leaves the clock alone")

	_, err = json.Marshal(Of(Dot{"\xff", 1}))
	assert.ErrorIs(t, err, ErrInvalidUTF8)
}

func TestUnmarshalJSONMalformed(t *testing.T) {
	for _, in := range []string{
		``, `[]`, `1`, `"x"`, `{`, `{"a"}`, `{"a":}`, `{"a":-1}`, `{"a":1.5}`, `{"a":1e3}`,
		`{"a":18446744073709551616}`, `{"a":"1"}`, `{"a":1,"a":2}`, `{"a":0,"a":0}`,
		`{"a":1} {}`, `{"a":1}x`, `{"a":null}`, `{"a":{}}`, `{1:2}`,
	} {
		c := Of(Dot{"keep", 1})
		assert.ErrorIs(t, c.UnmarshalJSON([]byte(in)), ErrMalformed, in)
		assert.Equal(t, `{"keep":1}`, c.String(), "%s: clock changed on error", in)
	}
	var c Clock
	require.NoError(t, c.UnmarshalJSON([]byte(` { "b" : 2 , "a":1, "z":0 } `)))
	equalRef(t, ref{"a": 1, "b": 2}, c)
}
