package hashring

import (
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"sync"
	"sync/atomic"
)

// DefaultMaglevTableSize is Maglev's default table size: the largest prime
// whose table of 16-bit entries fits in 128,000 bytes.
const DefaultMaglevTableSize = 63997

// MaxMaglevNodes is the most nodes a Maglev holds (entries are 16 bits).
const MaxMaglevNodes = math.MaxUint16

// Maglev is Google's Maglev hashing (Eisenbud et al., NSDI 2016): every node
// walks its own permutation of a prime-sized table and the nodes take turns
// claiming free slots until the table is full; a key is looked up with one
// hash and one table read.
//
// Weights are honoured by fill share: in each round a node claims a slot only
// while its slot count is below round*weight/maxWeight, so slot counts are
// proportional to weights to within one slot. Nodes take turns in name order
// and permutations depend only on the name, so the table does not depend on
// insertion order.
//
// Trade-offs: the fastest lookup here (O(1), about the cost of the hash) and
// near-perfect balance (each node's slot count is within one of its share)
// in a small, fixed footprint: 2 bytes per slot, 128,000 bytes by default
// regardless of the node count. Movement is slightly above the minimum: a
// join or leave rebuilds the table and a few per cent of keys move between
// nodes that did not change (the paper's "disruption"); this shrinks as the
// table grows relative to the node count (the paper suggests M >= 100*N,
// see Options.TableSize). Any node can be removed. Rebuilds cost O(M log M)
// regardless of the change. GetN probes the table with rehashed keys, which
// gives distinct, balanced replicas, but a replica set can change more than
// a ring's when membership changes. A node whose weight is so
// small that it gets no slot is never returned by Get (GetN still includes
// it when asked for every node). At most min(M, MaxMaglevNodes) nodes.
//
// The zero Maglev is an empty table of the default size. All methods are
// safe for concurrent use; Get, GetN and Len never block.
type Maglev[N any] struct {
	mu   sync.Mutex // serialises membership changes
	opts Options
	snap atomic.Pointer[maglevSnap[N]] // the current immutable snapshot
}

var _ Algorithm[int] = (*Maglev[int])(nil)

type maglevSnap[N any] struct {
	m     *members[N]
	nodes []N
	hash  Hash
	table []uint16 // member index per slot
}

// NewMaglev returns an empty Maglev configured by opts (Hash, TableSize).
// It panics if opts.TableSize is negative.
func NewMaglev[N any](opts Options) *Maglev[N] {
	if opts.TableSize < 0 {
		panic("hashring: negative Options.TableSize")
	}
	return &Maglev[N]{opts: opts}
}

func (g *Maglev[N]) tableSize() int {
	if g.opts.TableSize == 0 {
		return DefaultMaglevTableSize
	}
	return nextPrime(max(2, g.opts.TableSize))
}

func nextPrime(n int) int {
	for !big.NewInt(int64(n)).ProbablyPrime(20) {
		n++
	}
	return n
}

// Len returns the number of nodes.
func (g *Maglev[N]) Len() int {
	if s := g.snap.Load(); s != nil {
		return s.m.len()
	}
	return 0
}

// Members returns the nodes in internal order (see Ring.Members).
func (g *Maglev[N]) Members() []Member[N] {
	if s := g.snap.Load(); s != nil {
		return s.m.list()
	}
	return nil
}

// Get returns the node owning key; false if the table is empty.
func (g *Maglev[N]) Get(key string) (N, bool) {
	s := g.snap.Load()
	if s == nil || len(s.table) == 0 {
		var zero N
		return zero, false
	}
	var h uint64
	if s.hash == nil { // hashKey by hand: it is too big to inline
		if len(key) <= xxh3ShortMax {
			h = xxh3Short(key)
		} else {
			h = xxh3(key)
		}
	} else {
		h = s.hash(key)
	}
	slot, _ := bits.Mul64(h, uint64(len(s.table)))
	return s.nodes[s.table[slot]], true
}

// GetHash is Get for a key that is already a well-mixed 64-bit hash (of
// the same Hash, or a random ID): Get(key) == GetHash(hash(key)).
func (g *Maglev[N]) GetHash(h uint64) (N, bool) {
	s := g.snap.Load()
	if s == nil || len(s.table) == 0 {
		var zero N
		return zero, false
	}
	slot, _ := bits.Mul64(h, uint64(len(s.table)))
	return s.nodes[s.table[slot]], true
}

// GetN appends up to n distinct nodes for key to dst, Get's node first.
// Replica r is looked up at slot(mix(hash(key), r)), skipping nodes already
// chosen, so every replica rank is as balanced as Get (walking adjacent
// slots would not be: neighbouring slots are correlated). After 4n+16
// probes it falls back to walking the table. It does not allocate when
// n <= 32 and dst has room.
func (g *Maglev[N]) GetN(key string, n int, dst []N) []N {
	s := g.snap.Load()
	if s == nil || n <= 0 || len(s.table) == 0 {
		return dst
	}
	n = min(n, s.m.len())
	var seen dedup
	seen.init(n, s.m.len())
	h := hashKey(s.hash, key)
	m := uint64(len(s.table))
	got := 0
	slot := 0
	for r := 0; r < 4*n+16 && got < n; r++ {
		x := h
		if r > 0 {
			x = mix64(h + uint64(r)*golden64)
		}
		hi, _ := bits.Mul64(x, m)
		slot = int(hi)
		if o := s.table[slot]; seen.add(uint32(o)) {
			dst = append(dst, s.nodes[o])
			got++
		}
	}
	for steps := 0; steps < len(s.table) && got < n; steps++ {
		if slot++; slot == len(s.table) {
			slot = 0
		}
		if o := s.table[slot]; seen.add(uint32(o)) {
			dst = append(dst, s.nodes[o])
			got++
		}
	}
	return fillMissing(dst, got, n, &seen, s.m.nodes)
}

func (g *Maglev[N]) publish(m *members[N]) error {
	mt := g.tableSize()
	n := m.len()
	if n > mt || n > MaxMaglevNodes {
		return fmt.Errorf("%w: %d nodes for a Maglev table of %d", ErrTooManyNodes, n, mt)
	}
	s := &maglevSnap[N]{m: m, nodes: m.nodes, hash: g.opts.Hash}
	if n > 0 {
		s.table = maglevPopulate(m.names, m.weights, m.byName(), mt, g.opts.Hash)
	}
	g.snap.Store(s)
	return nil
}

// maglevPopulate fills a table of size mt (prime). ord lists member indices
// in the order they take turns.
func maglevPopulate(names []string, weights []float64, ord []uint32, mt int, h Hash) []uint16 {
	n := len(ord)
	const empty = math.MaxUint16
	table := make([]uint16, mt)
	for i := range table {
		table[i] = empty
	}
	pos := make([]uint64, n)  // current permutation position
	skip := make([]uint64, n) // permutation step, in [1, mt-1]
	share := make([]float64, n)
	count := make([]float64, n)
	wmax := 0.0
	for _, j := range ord {
		wmax = max(wmax, weights[j])
	}
	for k, j := range ord {
		hv := hashKey(h, names[j])
		pos[k] = hv % uint64(mt)
		skip[k] = mix64(hv^golden64)%uint64(mt-1) + 1
		share[k] = weights[j] / wmax
	}
	filled := 0
	for round := 1.0; filled < mt; round++ {
		for k := 0; k < n && filled < mt; k++ {
			if count[k] >= round*share[k] {
				continue
			}
			p := pos[k]
			for table[p] != empty {
				if p += skip[k]; p >= uint64(mt) {
					p -= uint64(mt)
				}
			}
			table[p] = uint16(ord[k])
			if p += skip[k]; p >= uint64(mt) {
				p -= uint64(mt)
			}
			pos[k] = p
			count[k]++
			filled++
		}
	}
	return table
}

// Add adds a node of weight 1. See AddWeighted.
func (g *Maglev[N]) Add(name string, node N) error { return g.AddWeighted(name, node, 1) }

// AddWeighted adds a node whose slot share is proportional to weight. It
// returns ErrEmptyName, ErrInvalidWeight, ErrDuplicate or ErrTooManyNodes,
// leaving the table unchanged, for bad input. Cost: a full rebuild.
func (g *Maglev[N]) AddWeighted(name string, node N, weight float64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	var om *members[N]
	if s := g.snap.Load(); s != nil {
		om = s.m
	}
	m, err := om.withAdded(name, node, weight)
	if err != nil {
		return err
	}
	return g.publish(m)
}

// Remove removes the named node (ErrNotFound if absent). Cost: a full
// rebuild.
func (g *Maglev[N]) Remove(name string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	var om *members[N]
	if s := g.snap.Load(); s != nil {
		om = s.m
	}
	m, _, _, err := om.withRemoved(name)
	if err != nil {
		return err
	}
	return g.publish(m)
}

// Set replaces the membership in one rebuild; on error nothing changes.
func (g *Maglev[N]) Set(ms []Member[N]) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	m, err := newMembers(ms)
	if err != nil {
		return err
	}
	return g.publish(m)
}
