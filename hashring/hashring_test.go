package hashring

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// keySeed seeds every key set in these tests (and in bench/hashring).
const keySeed = 20240601

// qualityKeys returns n distinct keys from a fixed seed.
func qualityKeys(n int) []string {
	rng := rand.New(rand.NewPCG(keySeed, 5))
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "user:" + strconv.FormatUint(rng.Uint64(), 36)
	}
	return keys
}

func nodeNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("node-%d", i)
	}
	return names
}

type algoCase struct {
	name string
	make func() Algorithm[string]
}

var algoCases = []algoCase{
	{"Ring", func() Algorithm[string] { return NewRing[string](Options{}) }},
	{"Maglev", func() Algorithm[string] { return NewMaglev[string](Options{}) }},
	{"Rendezvous", func() Algorithm[string] { return NewRendezvous[string](Options{}) }},
	{"Jump", func() Algorithm[string] { return NewJump[string](Options{}) }},
}

// smallAlgo builds an algorithm with small tables, for tests of behaviour
// that does not depend on table size (quick rebuilds under -race).
func smallAlgo(name string) Algorithm[string] {
	switch name {
	case "Ring":
		return NewRing[string](Options{VirtualNodes: 64})
	case "Maglev":
		return NewMaglev[string](Options{TableSize: 4093})
	case "Rendezvous":
		return NewRendezvous[string](Options{})
	}
	return NewJump[string](Options{})
}

func owners(p Picker[string], keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i], _ = p.Get(k)
	}
	return out
}

// peakMean is the largest node's load over the mean load.
func peakMean(own []string, nodes int) float64 {
	counts := map[string]int{}
	peak := 0
	for _, o := range own {
		counts[o]++
		peak = max(peak, counts[o])
	}
	return float64(peak) * float64(nodes) / float64(len(own))
}

// movement compares two assignments: the fraction of keys that moved, and
// how many moves were needless (allowed reports whether a move from a to b
// was necessary).
func movement(before, after []string, allowed func(a, b string) bool) (moved float64, needless int) {
	n := 0
	for i := range before {
		if before[i] != after[i] {
			n++
			if !allowed(before[i], after[i]) {
				needless++
			}
		}
	}
	return float64(n) / float64(len(before)), needless
}

// weightError is max over nodes of |share/expected - 1|.
func weightError(own []string, weights map[string]float64) float64 {
	total := 0.0
	for _, w := range weights {
		total += w
	}
	counts := map[string]int{}
	for _, o := range own {
		counts[o]++
	}
	worst := 0.0
	for n, w := range weights {
		share := float64(counts[n]) / float64(len(own))
		worst = math.Max(worst, math.Abs(share/(w/total)-1))
	}
	return worst
}

func TestEmpty(t *testing.T) {
	var (
		zr Ring[string]
		zm Maglev[string]
		zv Rendezvous[string]
		zj Jump[string]
	)
	all := []Algorithm[string]{&zr, &zm, &zv, &zj}
	for _, ac := range algoCases {
		all = append(all, ac.make())
	}
	for _, a := range all {
		name := fmt.Sprintf("%T", a)
		n, ok := a.Get("k")
		assert.False(t, ok, name)
		assert.Equal(t, "", n, name)
		assert.Equal(t, []string{"x"}, a.GetN("k", 3, []string{"x"}), name)
		assert.Equal(t, 0, a.Len(), name)
		assert.Empty(t, a.Members(), name)
		assert.ErrorIs(t, a.Remove("k"), ErrNotFound, name)

		// Usable after the zero value, and empty again after the last Remove.
		require.NoError(t, a.Add("a", "a"), name)
		n, ok = a.Get("k")
		assert.True(t, ok, name)
		assert.Equal(t, "a", n, name)
		require.NoError(t, a.Remove("a"), name)
		_, ok = a.Get("k")
		assert.False(t, ok, name)
		assert.NoError(t, a.Set(nil), name)
		assert.Equal(t, 0, a.Len(), name)
	}
}

func TestBadInput(t *testing.T) {
	for _, ac := range algoCases {
		t.Run(ac.name, func(t *testing.T) {
			a := ac.make()
			require.NoError(t, a.Set(Names("a", "b", "c")))
			keys := qualityKeys(1000)
			before := owners(a, keys)

			type errCase struct {
				name      string
				err, want error
			}
			cases := []errCase{
				{"empty name", a.Add("", "x"), ErrEmptyName},
				{"duplicate", a.Add("b", "b2"), ErrDuplicate},
				{"weight 0", a.AddWeighted("d", "d", 0), ErrInvalidWeight},
				{"weight -1", a.AddWeighted("d", "d", -1), ErrInvalidWeight},
				{"weight NaN", a.AddWeighted("d", "d", math.NaN()), ErrInvalidWeight},
				{"weight +Inf", a.AddWeighted("d", "d", math.Inf(1)), ErrInvalidWeight},
				{"Set weight -Inf", a.Set([]Member[string]{{Name: "d", Node: "d", Weight: math.Inf(-1)}}), ErrInvalidWeight},
				{"Set without weight", a.Set([]Member[string]{{Name: "d", Node: "d"}}), ErrInvalidWeight},
				{"unknown removal", a.Remove("zz"), ErrNotFound},
				{"Set duplicate", a.Set(Names("x", "y", "x")), ErrDuplicate},
				{"Set empty name", a.Set(Names("x", "")), ErrEmptyName},
			}
			switch ac.name {
			case "Jump":
				cases = append(cases,
					errCase{"Jump weight", a.AddWeighted("d", "d", 2), ErrUnsupported},
					errCase{"Jump Set weight", a.Set([]Member[string]{{Name: "d", Node: "d", Weight: 0.5}}), ErrUnsupported})
			case "Ring":
				cases = append(cases, errCase{"Ring weight too large", a.AddWeighted("d", "d", 1e12), ErrInvalidWeight})
			}
			for _, c := range cases {
				assert.ErrorIs(t, c.err, c.want, c.name)
			}
			// Nothing above may have changed the membership or the mapping.
			assert.Equal(t, 3, a.Len())
			assert.Equal(t, before, owners(a, keys))
			assert.Empty(t, a.GetN("k", 0, nil))
			assert.Empty(t, a.GetN("k", -5, nil))
		})
	}
	t.Run("Maglev too many nodes", func(t *testing.T) {
		m := NewMaglev[int](Options{TableSize: 5})
		for i := 0; i < 5; i++ {
			require.NoError(t, m.Add(strconv.Itoa(i), i))
		}
		assert.ErrorIs(t, m.Add("5", 5), ErrTooManyNodes)
		assert.Equal(t, 5, m.Len())
	})
	t.Run("Ring too many virtual nodes", func(t *testing.T) {
		r := NewRing[string](Options{VirtualNodes: 1})
		var ms []Member[string]
		for i := 0; i < 65; i++ { // 65 * 2^22 > 2^28: refused before any work
			n := strconv.Itoa(i)
			ms = append(ms, Member[string]{Name: n, Node: n, Weight: MaxVirtualNodesPerNode})
		}
		assert.ErrorIs(t, r.Set(ms), ErrTooManyNodes)
		assert.Zero(t, r.Len())
	})
	t.Run("negative options panic", func(t *testing.T) {
		assert.PanicsWithValue(t, "hashring: negative Options.VirtualNodes", func() { NewRing[int](Options{VirtualNodes: -1}) })
		assert.PanicsWithValue(t, "hashring: negative Options.TableSize", func() { NewMaglev[int](Options{TableSize: -1}) })
		assert.PanicsWithValue(t, "hashring: JumpHash with fewer than one bucket", func() { JumpHash(1, 0) })
		r := NewRing[int](Options{})
		assert.Panics(t, func() { r.GetBounded("k", 0.1, 0, nil) })
	})
}

func TestNames(t *testing.T) {
	assert.Equal(t, []Member[string]{{"a", "a", 1}, {"b", "b", 1}}, Names("a", "b"))
	assert.Empty(t, Names())
}

func TestMembers(t *testing.T) {
	for _, ac := range algoCases {
		a := ac.make()
		require.NoError(t, a.Set(Names("a", "b", "c", "d")))
		require.NoError(t, a.Remove("b"))
		got := a.Members()
		// Swap-removal: the last member takes the removed one's place.
		assert.Equal(t, []Member[string]{{"a", "a", 1}, {"d", "d", 1}, {"c", "c", 1}}, got, ac.name)
		got[0].Name = "mutated"
		assert.Equal(t, "a", a.Members()[0].Name, "%s: Members must return a copy", ac.name)
	}
	r := NewRendezvous[int](Options{})
	require.NoError(t, r.AddWeighted("x", 7, 2.5))
	assert.Equal(t, []Member[int]{{"x", 7, 2.5}}, r.Members())
}

// TestInsertionOrderIndependence: Ring, Maglev and Rendezvous map keys the
// same way whatever order the nodes arrived in, and however they got there.
func TestInsertionOrderIndependence(t *testing.T) {
	const seed = 3
	t.Logf("seed %d", seed)
	keys := qualityKeys(10000)
	names := nodeNames(12)
	rng := rand.New(rand.NewPCG(seed, 4))
	for _, ac := range algoCases {
		if ac.name == "Jump" {
			continue // buckets are numbered by arrival
		}
		ref := smallAlgo(ac.name)
		require.NoError(t, ref.Set(Names(names...)))
		want := owners(ref, keys)
		for trial := 0; trial < 3; trial++ {
			a := smallAlgo(ac.name)
			perm := rng.Perm(len(names))
			for _, i := range perm {
				require.NoError(t, a.Add(names[i], names[i]))
			}
			// Churn: remove and re-add some nodes.
			for _, i := range perm[:4] {
				require.NoError(t, a.Remove(names[i]))
			}
			require.NoError(t, a.Add("extra", "extra"))
			for _, i := range perm[:4] {
				require.NoError(t, a.Add(names[i], names[i]))
			}
			require.NoError(t, a.Remove("extra"))
			assert.Equal(t, want, owners(a, keys), "%s: arrival order %v", ac.name, perm)
		}
	}
}

func TestGetHashMatchesGet(t *testing.T) {
	keys := qualityKeys(5000)
	type hashPicker interface {
		GetHash(uint64) (string, bool)
	}
	empties := map[string]hashPicker{
		"Ring": &Ring[string]{}, "Maglev": &Maglev[string]{}, "Rendezvous": &Rendezvous[string]{}, "Jump": &Jump[string]{},
	}
	for _, ac := range algoCases {
		a := ac.make()
		require.NoError(t, a.Set(Names(nodeNames(17)...)))
		hp := a.(hashPicker)
		for _, k := range keys {
			g, _ := a.Get(k)
			h, ok := hp.GetHash(hashKey(nil, k))
			require.True(t, ok)
			require.Equal(t, g, h, "%s: key %q", ac.name, k)
		}
		_, ok := empties[ac.name].GetHash(1)
		assert.False(t, ok, ac.name)
	}
}

func TestJumpHash(t *testing.T) {
	// Values from the paper's reference implementation.
	assert.Equal(t, 0, JumpHash(0, 1))
	for _, n := range []int{1, 2, 10, 1000} {
		for key := uint64(0); key < 1000; key++ {
			b := JumpHash(key*golden64, n)
			require.True(t, b >= 0 && b < n)
			// Monotone: growing from n to n+1 buckets moves a key only to
			// the new bucket.
			if b2 := JumpHash(key*golden64, n+1); b2 != b {
				require.Equal(t, n, b2)
			}
		}
	}
}

func TestJumpRemoveMovesLastIntoHole(t *testing.T) {
	j := NewJump[string](Options{})
	require.NoError(t, j.Set(Names("a", "b", "c", "d")))
	keys := qualityKeys(20000)
	before := owners(j, keys)
	require.NoError(t, j.Remove("b"))
	after := owners(j, keys)
	for i := range keys {
		// Bucket 1 now belongs to d and bucket 3 is gone: b's keys go to d,
		// d's keys spread over a, d (now bucket 1) and c, the rest stay.
		if before[i] == "b" {
			require.Equal(t, "d", after[i], keys[i])
		} else if before[i] != "d" {
			require.Equal(t, before[i], after[i], keys[i])
		}
	}
}

func TestMaglevSlotsFollowWeights(t *testing.T) {
	g := NewMaglev[string](Options{TableSize: 10007})
	ws := []float64{1, 2, 3, 0.5, 7}
	var ms []Member[string]
	total := 0.0
	for i, w := range ws {
		n := "n" + strconv.Itoa(i)
		ms = append(ms, Member[string]{n, n, w})
		total += w
	}
	require.NoError(t, g.Set(ms))
	s := g.snap.Load()
	require.Len(t, s.table, 10007)
	counts := make([]int, len(ws))
	for _, o := range s.table {
		counts[o]++
	}
	for i, w := range ws {
		assert.InDelta(t, 10007*w/total, float64(counts[i]), 2, "node %d, weight %v", i, w)
	}
	assert.Equal(t, 1009, NewMaglev[int](Options{TableSize: 1000}).tableSize())
	assert.Equal(t, DefaultMaglevTableSize, NewMaglev[int](Options{}).tableSize())
}

// TestConcurrentReadsDuringChanges runs lookups on every algorithm while a
// writer churns the membership; run it with -race. Lookups must always see
// a complete snapshot: a node, never the zero value, since "anchor" is
// never removed.
func TestConcurrentReadsDuringChanges(t *testing.T) {
	for _, ac := range algoCases {
		t.Run(ac.name, func(t *testing.T) {
			a := smallAlgo(ac.name)
			require.NoError(t, a.Set(Names("anchor", "a", "b", "c")))
			var stop atomic.Bool
			var bad atomic.Int64
			var wg sync.WaitGroup
			for g := 0; g < 3; g++ {
				wg.Add(1)
				go func(g int) {
					defer wg.Done()
					keys := qualityKeys(256)
					var buf []string
					for i := 0; !stop.Load(); i++ {
						k := keys[(i+g)%len(keys)]
						if n, ok := a.Get(k); !ok || n == "" {
							bad.Add(1)
						}
						buf = a.GetN(k, 3, buf[:0])
						if len(buf) < 1 || len(buf) > 3 {
							bad.Add(1)
						}
						if r, ok := a.(*Ring[string]); ok {
							if n, ok := r.GetBounded(k, 0.25, -1, func(string) int64 { return 1 }); !ok || n == "" {
								bad.Add(1)
							}
						}
					}
				}(g)
			}
			for i := 0; i < 100; i++ {
				n := "n" + strconv.Itoa(i%7)
				if err := a.Add(n, n); err != nil {
					assert.ErrorIs(t, err, ErrDuplicate)
				}
				if i%3 == 0 {
					if err := a.Remove("n" + strconv.Itoa((i+3)%7)); err != nil {
						assert.ErrorIs(t, err, ErrNotFound)
					}
				}
				if i%25 == 0 {
					require.NoError(t, a.Set(Names("anchor", "x", "y")))
				}
			}
			stop.Store(true)
			wg.Wait()
			assert.Zero(t, bad.Load(), "lookups that saw a broken snapshot")
		})
	}
}

func TestNoAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	type backend struct{ inflight atomic.Int64 }
	for _, ac := range algoCases {
		a := ac.make()
		require.NoError(t, a.Set(Names(nodeNames(100)...)))
		buf := make([]string, 0, 8)
		key := "user:42"
		assert.Zero(t, testing.AllocsPerRun(100, func() { a.Get(key) }), "%s Get", ac.name)
		assert.Zero(t, testing.AllocsPerRun(100, func() { buf = a.GetN(key, 3, buf[:0]) }), "%s GetN 3", ac.name)
		assert.Zero(t, testing.AllocsPerRun(100, func() { buf = a.GetN(key, 8, buf[:0]) }), "%s GetN 8", ac.name)
	}
	r := NewRing[*backend](Options{})
	var ms []Member[*backend]
	for i := 0; i < 50; i++ {
		ms = append(ms, Member[*backend]{Name: "b" + strconv.Itoa(i), Node: &backend{}, Weight: 1})
	}
	require.NoError(t, r.Set(ms))
	ms[0].Node.inflight.Store(1000)
	local := int64(3) // a captured variable: the closure must stay on the stack
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		r.GetBounded("user:42", 0.25, 1000, func(b *backend) int64 { return b.inflight.Load() + local })
	}), "Ring GetBounded")
}

func TestGetNDistinct(t *testing.T) {
	keys := qualityKeys(5_000)
	names := nodeNames(12)
	for _, ac := range algoCases {
		a := ac.make()
		require.NoError(t, a.Set(Names(names...)))
		var buf []string
		for _, n := range []int{1, 3, 5, 12, 40} {
			want := min(n, len(names))
			for _, k := range keys {
				buf = a.GetN(k, n, buf[:0])
				first, _ := a.Get(k)
				seen := map[string]bool{}
				for _, x := range buf {
					seen[x] = true
				}
				// Checked by hand first: testify is slow in a hot loop.
				if len(buf) != want || buf[0] != first || len(seen) != want {
					require.Len(t, buf, want, "%s: GetN(%q, %d)", ac.name, k, n)
					require.Equal(t, first, buf[0], "%s: GetN(%q)[0] vs Get", ac.name, k)
					require.Len(t, seen, want, "%s: GetN(%q, %d) repeats: %v", ac.name, k, n, buf)
				}
			}
		}
	}
}

// TestGetNAppends: GetN appends to dst and leaves its prefix alone.
func TestGetNAppends(t *testing.T) {
	for _, ac := range algoCases {
		a := ac.make()
		require.NoError(t, a.Set(Names("a", "b", "c")))
		got := a.GetN("k", 2, []string{"keep"})
		require.Len(t, got, 3, ac.name)
		assert.Equal(t, "keep", got[0], ac.name)
		assert.NotEqual(t, got[1], got[2], ac.name)
	}
}
