package hashring_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// goMaglevM is the table size go-maglev's tests and README use (its
// SmallM), a prime.
const goMaglevM = 65537

// goMaglevTable is a stand-in for github.com/dgryski/go-maglev (the
// release with Table{n, lookup []int}, New(names, M) and
// Lookup(uint64) int), which the module proxy does not serve here. We
// wrote it from the Maglev paper (Eisenbud et al., NSDI 2016, section
// 3.4) and the library's documented interface; no code is copied. What it
// reproduces, because that is what decides the library's speed, balance,
// movement and memory:
//
//   - one 64-bit hash per node name split into offset = high 32 bits % M
//     and skip = low 32 bits % (M-1) + 1. The library hashes with SipHash
//     (github.com/dchest/siphash, fixed key); this stand-in uses xxhash,
//     as dchest/siphash is not a dependency of this module. Both are
//     well-mixed 64-bit hashes, so balance and movement do not change in
//     distribution, only the exact table;
//   - each node's full permutation (offset + j*skip) % M precomputed as a
//     []uint64 of M entries before the table is filled (N*M*8 bytes of
//     garbage per build, as in the library), then the paper's round-robin
//     fill: each node in turn takes its next unclaimed slot;
//   - the table kept as []int of M entries: 65537 * 8 = 512 KiB, which
//     the allocator rounds to 520 KiB (the ~533 KB quoted in issue 5);
//   - no weights, no Add or Remove: a membership change is a new table;
//   - Lookup(key uint64) int = lookup[key % len(lookup)], an index into
//     the caller's name list, with no lock (tables are immutable).
//
// Get hashes the key with xxhash, as a caller of Lookup must hash it
// first; GetHash is Lookup plus the name, for BenchmarkGetHash.
type goMaglevTable struct {
	names  []string // the caller's list, which Lookup indexes
	lookup []int
}

// newGoMaglev builds a table of size m over names, in their order.
func newGoMaglev(names []string, m uint64) *goMaglevTable {
	perms := make([][]uint64, len(names))
	for i, name := range names {
		h := xxhash.Sum64String(name)
		offset, skip := (h>>32)%m, (h&0xffffffff)%(m-1)+1
		p := make([]uint64, m)
		for j := range m {
			p[j] = (offset + j*skip) % m
		}
		perms[i] = p
	}
	return &goMaglevTable{names: append([]string(nil), names...), lookup: goMaglevPopulate(perms, m)}
}

// goMaglevPopulate fills the table round-robin from the permutations.
func goMaglevPopulate(perms [][]uint64, m uint64) []int {
	table := make([]int, m)
	for i := range table {
		table[i] = -1
	}
	next := make([]uint64, len(perms))
	filled := uint64(0)
	for {
		for i, p := range perms {
			slot := p[next[i]]
			for table[slot] >= 0 {
				next[i]++
				slot = p[next[i]]
			}
			table[slot] = i
			next[i]++
			filled++
			if filled == m {
				return table
			}
		}
	}
}

// Lookup returns the index in names of the node owning a key hash.
func (t *goMaglevTable) Lookup(key uint64) int {
	return t.lookup[key%uint64(len(t.lookup))]
}

// Get implements lookuper.
func (t *goMaglevTable) Get(key string) string {
	return t.names[t.Lookup(xxhash.Sum64String(key))]
}

// GetHash returns the node owning a key hash, as sinew's GetHash does.
func (t *goMaglevTable) GetHash(h uint64) (string, bool) {
	return t.names[t.Lookup(h)], true
}

func goMaglevContender() contender {
	rebuild := func(names []string) lookuper { return newGoMaglev(names, goMaglevM) }
	return contender{
		name:  "gomaglev-standin",
		build: rebuild,
		// No Add or Remove: the caller builds a new table, appending the
		// joiner to (or dropping the leaver from) its name list.
		add: func(l lookuper, n string) lookuper {
			return rebuild(append(append([]string(nil), l.(*goMaglevTable).names...), n))
		},
		remove: func(l lookuper, n string) lookuper {
			var keep []string
			for _, x := range l.(*goMaglevTable).names {
				if x != n {
					keep = append(keep, x)
				}
			}
			return rebuild(keep)
		},
	}
}

func TestGoMaglevStandin(t *testing.T) {
	checkStandin(t, goMaglevContender())

	for _, n := range []int{1, 10, 100} {
		t.Run(fmt.Sprintf("nodes=%d", n), func(t *testing.T) {
			m := newGoMaglev(nodeNames(n), goMaglevM)
			require.Len(t, m.lookup, goMaglevM)
			counts := make([]int, n)
			for _, i := range m.lookup {
				require.True(t, i >= 0 && i < n, "slot holds %d", i)
				counts[i]++
			}
			// The round-robin fill gives every node M/N slots, give or
			// take one.
			assert.LessOrEqual(t, slices.Max(counts)-slices.Min(counts), 1)
		})
	}
}
