package hashring

import (
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// digitsHash is groupcache's trick: a hash you can compute by hand. Labels
// "name#i" hash to the number name·i ("2#1" -> 21), keys to their value.
func digitsHash(s string) uint64 {
	v, err := strconv.ParseUint(strings.ReplaceAll(s, "#", ""), 10, 64)
	if err != nil {
		panic(err)
	}
	return v
}

func handRing(t *testing.T) *Ring[string] {
	t.Helper()
	// One virtual node per unit of weight, and with V = 1 a virtual node
	// sits exactly at hash("name#i"): weight 3 gives points name0..name2.
	r := NewRing[string](Options{Hash: digitsHash, VirtualNodes: 1})
	for _, n := range []string{"2", "4", "6"} {
		require.NoError(t, r.AddWeighted(n, "node"+n, 3))
	}
	return r
}

func expectOwners(t *testing.T, r *Ring[string], cases map[string]string) {
	t.Helper()
	keys := make([]string, 0, len(cases))
	for k := range cases {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		got, ok := r.Get(k)
		assert.True(t, ok, k)
		assert.Equal(t, cases[k], got, "Get(%s)", k)
		h, _ := r.GetHash(digitsHash(k))
		assert.Equal(t, got, h, "GetHash(%s)", k)
	}
}

func TestRingHandComputed(t *testing.T) {
	r := handRing(t)
	require.Equal(t, []uint64{20, 21, 22, 40, 41, 42, 60, 61, 62}, r.snap.Load().core.pts)
	// A key belongs to the nearest point; a tie goes to the point before.
	expectOwners(t, r, map[string]string{
		"0":                    "node2", // before the first point: 20 is nearest
		"20":                   "node2",
		"30":                   "node2", // 8 from 22, 10 from 40
		"31":                   "node2", // 9 and 9: tie to the point before
		"32":                   "node4",
		"50":                   "node4",
		"51":                   "node4",
		"52":                   "node6",
		"62":                   "node6",
		"1000":                 "node6", // past the last point, far from 20
		"18446744073709551615": "node2", // wraps: 21 steps to 20
	})

	// An 8 joins with points 80..82: only keys nearer to them move.
	require.NoError(t, r.AddWeighted("8", "node8", 3))
	expectOwners(t, r, map[string]string{
		"30":   "node2",
		"52":   "node6",
		"70":   "node6", // 8 from 62, 10 from 80
		"71":   "node6",
		"72":   "node8",
		"1000": "node8",
	})

	// GetN walks clockwise from the owning point, skipping repeats.
	assert.Equal(t, []string{"node2", "node4", "node6"}, r.GetN("30", 3, nil))
	assert.Equal(t, []string{"node6", "node8"}, r.GetN("52", 2, nil))
	assert.Equal(t, []string{"x", "node8", "node2", "node4", "node6"}, r.GetN("1000", 10, []string{"x"}))

	// The 4 leaves: its keys go to the nearest remaining points.
	require.NoError(t, r.Remove("4"))
	expectOwners(t, r, map[string]string{
		"32": "node2", // 10 from 22, 28 from 60
		"45": "node6", // 23 from 22, 15 from 60
		"70": "node6",
	})
	assert.ErrorIs(t, r.Remove("4"), ErrNotFound)
}

// TestRingPlacement: virtual node i of a node is at hash("name#i"),
// whatever V and the node's weight, so a heavier weight only adds points
// after the existing ones.
func TestRingPlacement(t *testing.T) {
	for _, v := range []int{1, 10, 1000} {
		pl := newPlacement(v, nil)
		pts := pl.appendPoints(nil, "node", 25)
		for i, p := range pts {
			require.Equal(t, XXH3("node#"+strconv.Itoa(i)), p, "V=%d, point %d", v, i)
		}
		assert.Equal(t, pts[:10], pl.appendPoints(nil, "node", 10))
	}
}

// referenceOwner finds the point owning h by brute force over all points:
// the nearest one, a tie going to the point h follows clockwise. Of points
// at the same position (possible with a narrow hash), the first in ring
// order owns the hashes before them and the last the hashes after them.
func referenceOwner(pts []uint64, h uint64) int {
	best, bestD, bestAfter := -1, uint64(0), false
	for k, p := range pts {
		after, before := h-p, p-h // h is `after` past p; p is `before` past h
		d, isAfter := before, false
		if after <= before {
			d, isAfter = after, true
		}
		if best < 0 || d < bestD || (d == bestD && isAfter && (!bestAfter || pts[best] == p)) {
			best, bestD, bestAfter = k, d, isAfter
		}
	}
	return best
}

// TestRingTablesMatchBruteForce checks the O(1) lookup tables against a
// brute-force nearest-point search, at random hashes and right at and
// around points and midpoints, for rings of many shapes, including a hash
// confined to a narrow range (exercises the span-relative tables and
// unquantised offsets) and rings of hundreds of members (short offsets) and
// of 1024 or more (32-bit entries).
func TestRingTablesMatchBruteForce(t *testing.T) {
	const seed = 1
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	narrow := func(s string) uint64 { return digitsHashOr(s) >> 40 }
	for trial := 0; trial < 40; trial++ {
		opts := Options{VirtualNodes: 1 + rng.IntN(40)}
		if trial%3 == 1 {
			opts.Hash = narrow
		}
		r := NewRing[int](opts)
		nodes := 1 + rng.IntN(16)
		probes := 150
		if trial%5 == 4 { // wider owners: few points per node, few probes
			nodes = 255 + rng.IntN(100) // 9-bit owners, 7-bit offsets
			if trial%10 == 9 {
				nodes = 1024 + rng.IntN(50) // 32-bit entries
			}
			opts.VirtualNodes = 1 + rng.IntN(4)
			r = NewRing[int](opts)
			probes = 50
		}
		for n := 0; n < nodes; n++ {
			w := 0.25 + rng.Float64()*3
			require.NoError(t, r.AddWeighted("n"+strconv.Itoa(n), n, w))
		}
		if trial%4 == 3 && nodes > 1 {
			require.NoError(t, r.Remove("n0"))
		}
		s := r.snap.Load()
		c := &s.core
		require.Equal(t, r.Len() < 1024, c.dir16 != nil, "trial %d: 16-bit entries", trial)
		require.Equal(t, r.Len() >= 1024, c.dir != nil, "trial %d: 32-bit entries", trial)
		var hs []uint64
		for i := 0; i < probes; i++ { // around points and midpoints
			k := rng.IntN(len(c.pts))
			p, next := c.pts[k], c.pts[(k+1)%len(c.pts)]
			m := p + (next-p)/2
			hs = append(hs, p-1, p, p+1, m-1, m, m+1, m+2)
		}
		for i := 0; i < 2*probes; i++ {
			hs = append(hs, rng.Uint64(), c.base+rng.Uint64N(c.span+1))
		}
		hs = append(hs, 0, ^uint64(0))
		for _, h := range hs {
			ref := referenceOwner(c.pts, h)
			require.Equal(t, c.own[ref], c.own[c.locate(h)], "trial %d: locate(%d)", trial, h)
			require.Equal(t, c.own[ref], c.owner(h), "trial %d: owner(%d)", trial, h)
		}
	}
}

// TestRingTablesExhaustive builds the tables for many tiny random rings
// (positions below 512, so buckets are a few hashes wide and boundaries
// fall on every bucket edge) and checks every hash in range, for each
// layout of the direct table: against the brute-force owner for distinct
// positions, and against the slow path (locate) when positions repeat.
func TestRingTablesExhaustive(t *testing.T) {
	const seed = 3
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 4))
	for trial := 0; trial < 3000; trial++ {
		p := 1 + rng.IntN(40)
		dups := trial%2 == 1
		pts := make([]uint64, p)
		for i, v := range rng.Perm(512)[:p] {
			pts[i] = uint64(v)
			if dups {
				pts[i] = uint64(rng.IntN(64))
			}
		}
		slices.Sort(pts)
		own := make([]uint32, p)
		for i := range own {
			own[i] = uint32(rng.IntN(3))
		}
		for _, members := range []int{3, 300, 1023, 2000} {
			c := ringCore{pts: pts, own: own}
			c.build(members)
			for h := uint64(0); h < 520; h++ {
				want := own[c.locate(h)]
				if !dups {
					want = own[referenceOwner(pts, h)]
				}
				if got := c.owner(h); want != got {
					require.Equal(t, want, got, "trial %d, %d members: owner(%d), points %v, owners %v", trial, members, h, pts, own)
				}
			}
		}
	}
}

// digitsHashOr is the default hash for anything (used to build a narrow-range hash).
func digitsHashOr(s string) uint64 { return hashKey(nil, s) }

func TestRingBoundedLoads(t *testing.T) {
	r := handRing(t)
	loads := map[string]int64{}
	load := func(n string) int64 { return loads[n] }
	get := func(key string, eps float64, total int64) string {
		t.Helper()
		n, ok := r.GetBounded(key, eps, total, load)
		require.True(t, ok)
		return n
	}
	// Key 30's ring order is node2, node4, node6.
	loads = map[string]int64{"node2": 10}
	// capacity = 1.25 * 11 / 3 = 4.58: node2 is full, node4 is next.
	assert.Equal(t, "node4", get("30", 0.25, 10), "overloaded owner")
	assert.Equal(t, "node4", get("30", 0.25, -1), "computed total")
	loads = map[string]int64{"node2": 3, "node4": 3, "node6": 3}
	assert.Equal(t, "node2", get("30", 0.25, 9), "balanced loads")
	// epsilon < 0 is 0: capacity 11/3 = 3.67; node2 (4) is full, node4 (3) not.
	loads = map[string]int64{"node2": 4, "node4": 3, "node6": 3}
	assert.Equal(t, "node4", get("30", -1, 10), "epsilon 0")
	loads = map[string]int64{"node2": 4, "node4": 4, "node6": 2}
	assert.Equal(t, "node6", get("30", 0, 10), "two full nodes")
	// A total that understates the loads: nobody is under capacity, so the
	// plain owner comes back.
	loads = map[string]int64{"node2": 100, "node4": 100, "node6": 100}
	assert.Equal(t, "node2", get("30", 0.25, 0), "inconsistent total")
	// Weights scale capacity: node6 with weight 6 of 9 gets 2/3 of the load.
	w := NewRing[string](Options{Hash: digitsHash, VirtualNodes: 1})
	require.NoError(t, w.AddWeighted("2", "node2", 1))
	require.NoError(t, w.AddWeighted("4", "node4", 2))
	require.NoError(t, w.AddWeighted("6", "node6", 6))
	// Key 52 -> point 60 (node6). total 10: node6 capacity 1.0*11*6/9 = 7.33.
	loads = map[string]int64{"node6": 7, "node2": 3}
	got, _ := w.GetBounded("52", 0, 10, load)
	assert.Equal(t, "node6", got, "weighted, under capacity")
	// node6 full; next clockwise after 61..65 is 20 = node2, capacity
	// 11*1/9 = 1.22, so load 1 fits.
	loads = map[string]int64{"node6": 8, "node2": 1}
	got, _ = w.GetBounded("52", 0, 10, load)
	assert.Equal(t, "node2", got, "weighted, over capacity")
	// node2 at 2 is over its small capacity too: on to 40 = node4.
	loads = map[string]int64{"node6": 8, "node2": 2}
	got, _ = w.GetBounded("52", 0, 10, load)
	assert.Equal(t, "node4", got, "weighted, two full")
	var empty Ring[string]
	_, ok := empty.GetBounded("x", 0.25, 0, load)
	assert.False(t, ok)
}

// TestRingBoundedLoadsGuarantee places requests one by one (none finish)
// and checks the paper's bound: no node ever exceeds ceil((1+eps)*m/n)
// after m placements.
func TestRingBoundedLoadsGuarantee(t *testing.T) {
	const nodes, eps = 10, 0.1
	r := NewRing[int](Options{VirtualNodes: 100})
	for i := 0; i < nodes; i++ {
		require.NoError(t, r.Add("node-"+strconv.Itoa(i), i))
	}
	loads := make([]int64, nodes)
	load := func(n int) int64 { return loads[n] }
	keys := qualityKeys(20000)
	hot := keys[:50] // a skewed workload: half the requests hit 50 keys
	for m, k := range keys {
		if m%2 == 0 {
			k = hot[m%len(hot)]
		}
		n, _ := r.GetBounded(k, eps, int64(m), load)
		loads[n]++
		limit := int64((1+eps)*float64(m+1)/nodes) + 1
		for i, l := range loads {
			if l > limit { // checked by hand first: testify is slow in a hot loop
				require.LessOrEqual(t, l, limit, "after %d requests, node %d", m+1, i)
			}
		}
	}
}

// TestRingWideTable covers rings with 65535 or more members, whose owners
// do not fit the direct table's 16-bit fields: every lookup takes the slow
// path.
func TestRingWideTable(t *testing.T) {
	const seed = 9
	t.Logf("seed %d", seed)
	names := make([]string, 65535)
	for i := range names {
		names[i] = "n" + strconv.Itoa(i)
	}
	r := NewRing[string](Options{VirtualNodes: 1})
	require.NoError(t, r.Set(Names(names...)))
	c := &r.snap.Load().core
	require.Nil(t, c.dir16)
	require.Nil(t, c.dir)
	rng := rand.New(rand.NewPCG(seed, 1))
	for i := 0; i < 100; i++ {
		h := rng.Uint64()
		require.Equal(t, c.own[referenceOwner(c.pts, h)], c.owner(h))
	}
	n, ok := r.Get("k")
	assert.True(t, ok)
	assert.NotEmpty(t, n)

	require.NoError(t, r.Remove("n0"))
	assert.NotNil(t, r.snap.Load().core.dir, "back to the direct table below 65535 members")
}
