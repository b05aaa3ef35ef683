package hashring

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Hash maps a key (or a virtual-node label "name#i") to a 64-bit value. It
// must be deterministic across processes, safe for concurrent use, must not
// retain its argument, and must spread its output over the whole uint64
// range, since lookups compare key hashes with positions spread over that
// range: a 32-bit hash such as CRC-32 should be shifted into the high bits,
// uint64(crc32.ChecksumIEEE(b)) << 32.
type Hash func(s string) uint64

// Errors returned by the membership methods. They are wrapped with the
// offending node name; test them with errors.Is.
var (
	// ErrDuplicate: a node with this name is already a member (Add, AddWeighted)
	// or appears twice in the slice given to Set. Nothing is changed.
	ErrDuplicate = errors.New("hashring: duplicate node name")
	// ErrNotFound: Remove of a name that is not a member. Nothing is changed.
	ErrNotFound = errors.New("hashring: no such node")
	// ErrInvalidWeight: weight is zero, negative, NaN or infinite (or, for
	// Ring, so large that it would need more than MaxVirtualNodesPerNode
	// virtual nodes). Nothing is changed.
	ErrInvalidWeight = errors.New("hashring: weight must be positive and finite")
	// ErrEmptyName: node names must be non-empty. Nothing is changed.
	ErrEmptyName = errors.New("hashring: empty node name")
	// ErrUnsupported: the algorithm cannot honour the request (Jump has no
	// weights). Nothing is changed.
	ErrUnsupported = errors.New("hashring: not supported by this algorithm")
	// ErrTooManyNodes: Maglev needs at least one table slot per node and
	// stores node numbers in 16 bits; a Ring holds at most 2^28 virtual
	// nodes in all. Nothing is changed.
	ErrTooManyNodes = errors.New("hashring: too many nodes")
)

// Member describes one node for Set and Members.
type Member[N any] struct {
	// Name identifies the node. It is what the algorithms hash, so it must
	// be stable across restarts and processes (an address, a host name), and
	// unique within one ring.
	Name string
	// Node is the caller's value returned by lookups (a backend, a client,
	// or simply the name again).
	Node N
	// Weight is the node's relative share; it must be positive and finite.
	// There is no default: a zero Weight is rejected with ErrInvalidWeight.
	Weight float64
}

// Names returns members whose Node is their Name, each of weight 1: a
// shorthand for rings of plain names, as in r.Set(hashring.Names("a", "b")).
func Names(names ...string) []Member[string] {
	ms := make([]Member[string], len(names))
	for i, n := range names {
		ms[i] = Member[string]{Name: n, Node: n, Weight: 1}
	}
	return ms
}

// Picker is the read side that every algorithm in this package implements:
// the one small interface a caller can program against and swap algorithms
// behind. All methods are safe for concurrent use with each other and with
// membership changes, never take a lock and do not allocate (GetN: see its
// documentation on each type).
type Picker[N any] interface {
	// Get returns the node that owns key, and false if there are no nodes.
	Get(key string) (N, bool)
	// GetN appends to dst up to n distinct nodes for key, the owner first,
	// and returns the extended slice. Fewer than n are appended when the
	// ring has fewer members; none when n <= 0 or the ring is empty.
	GetN(key string, n int, dst []N) []N
	// Len returns the number of members.
	Len() int
}

// Algorithm is Picker plus membership changes: the full method set shared by
// *Ring, *Maglev, *Rendezvous and *Jump. Each change builds a new immutable
// snapshot under a writers-only mutex and publishes it with one atomic store;
// lookups that started earlier finish on the old snapshot.
type Algorithm[N any] interface {
	Picker[N]
	// Add adds a node of weight 1.
	Add(name string, node N) error
	// AddWeighted adds a node with the given relative weight.
	AddWeighted(name string, node N, weight float64) error
	// Remove removes the named node.
	Remove(name string) error
	// Set replaces the whole membership in one step (one snapshot), which is
	// much cheaper than many Adds for large rings.
	Set(members []Member[N]) error
	// Members returns a copy of the current membership.
	Members() []Member[N]
}

// Options configures the algorithms. The zero value gives the defaults,
// and fields an algorithm does not use are ignored by it. Constructors copy
// Options.
type Options struct {
	// Hash hashes keys and node labels. Default (nil): XXH3, the 64-bit
	// XXH3 hash (seed 0, default secret) of the string's bytes, as
	// XXH3_64bits in the xxHash reference implementation and HashString in
	// github.com/zeebo/xxh3 compute it.
	Hash Hash
	// VirtualNodes is Ring's number of virtual nodes per unit of weight.
	// Default (0): DefaultVirtualNodes. Negative values panic in NewRing.
	VirtualNodes int
	// TableSize is Maglev's lookup-table size, rounded up to a prime.
	// Default (0): DefaultMaglevTableSize. It must be at least the number
	// of nodes. Negative values panic in NewMaglev.
	TableSize int
}

// hashKey hashes with the configured function; nil means XXH3, called
// directly so the common case has no indirect call, and for short keys
// computed by xxh3Short, a leaf function.
func hashKey(h Hash, s string) uint64 {
	if h == nil {
		if len(s) <= xxh3ShortMax {
			return xxh3Short(s)
		}
		return xxh3(s)
	}
	return h(s)
}

// labelHasher hashes "name#i" labels without allocating for the default hash.
type labelHasher struct {
	h   Hash
	buf []byte
}

func (l *labelHasher) hash(name string, i int) uint64 {
	l.buf = append(l.buf[:0], name...)
	l.buf = append(l.buf, '#')
	l.buf = appendInt(l.buf, i)
	if l.h == nil {
		return xxh3(l.buf)
	}
	return l.h(string(l.buf))
}

func appendInt(b []byte, i int) []byte {
	if i == 0 {
		return append(b, '0')
	}
	var tmp [20]byte
	p := len(tmp)
	for i > 0 {
		p--
		tmp[p] = byte('0' + i%10)
		i /= 10
	}
	return append(b, tmp[p:]...)
}

// mix64 is the MurmurHash3 64-bit finalizer: a bijection with full avalanche.
func mix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

const golden64 = 0x9e3779b97f4a7c15

// members is the immutable membership shared by all algorithms. Index order
// is insertion order with swap-removal (the last member takes the removed
// one's index); algorithms that must not depend on insertion order sort by
// name themselves.
type members[N any] struct {
	names   []string
	nodes   []N
	weights []float64
	total   float64
	index   map[string]int
}

func (m *members[N]) len() int {
	if m == nil {
		return 0
	}
	return len(m.names)
}

func validWeight(w float64) bool {
	return w > 0 && !math.IsInf(w, 0) && !math.IsNaN(w)
}

func checkMember(name string, w float64) error {
	if name == "" {
		return ErrEmptyName
	}
	if !validWeight(w) {
		return fmt.Errorf("%w: %q has weight %v", ErrInvalidWeight, name, w)
	}
	return nil
}

// withAdded returns a copy of m with one more member at index len(m).
func (m *members[N]) withAdded(name string, node N, w float64) (*members[N], error) {
	if err := checkMember(name, w); err != nil {
		return nil, err
	}
	if m != nil {
		if _, ok := m.index[name]; ok {
			return nil, fmt.Errorf("%w: %q", ErrDuplicate, name)
		}
	}
	n := m.len()
	out := &members[N]{
		names:   make([]string, n, n+1),
		nodes:   make([]N, n, n+1),
		weights: make([]float64, n, n+1),
		index:   make(map[string]int, n+1),
	}
	if m != nil {
		copy(out.names, m.names)
		copy(out.nodes, m.nodes)
		copy(out.weights, m.weights)
		for k, v := range m.index {
			out.index[k] = v
		}
	}
	out.names = append(out.names, name)
	out.nodes = append(out.nodes, node)
	out.weights = append(out.weights, w)
	out.index[name] = n
	out.sumWeights()
	return out, nil
}

// withRemoved returns a copy of m without name, the index of the removed
// member, and the old index of the member that moved into its place
// (== removed when the last member was removed).
func (m *members[N]) withRemoved(name string) (out *members[N], removed, moved int, err error) {
	idx, ok := -1, false
	if m != nil {
		idx, ok = m.index[name]
	}
	if !ok {
		return nil, 0, 0, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	n := m.len()
	last := n - 1
	out = &members[N]{
		names:   slices.Clone(m.names[:last]),
		nodes:   slices.Clone(m.nodes[:last]),
		weights: slices.Clone(m.weights[:last]),
		index:   make(map[string]int, last),
	}
	if idx != last {
		out.names[idx] = m.names[last]
		out.nodes[idx] = m.nodes[last]
		out.weights[idx] = m.weights[last]
	}
	for i, nm := range out.names {
		out.index[nm] = i
	}
	out.sumWeights()
	return out, idx, last, nil
}

func newMembers[N any](ms []Member[N]) (*members[N], error) {
	out := &members[N]{
		names:   make([]string, len(ms)),
		nodes:   make([]N, len(ms)),
		weights: make([]float64, len(ms)),
		index:   make(map[string]int, len(ms)),
	}
	for i, mb := range ms {
		if err := checkMember(mb.Name, mb.Weight); err != nil {
			return nil, err
		}
		if _, dup := out.index[mb.Name]; dup {
			return nil, fmt.Errorf("%w: %q", ErrDuplicate, mb.Name)
		}
		out.names[i], out.nodes[i], out.weights[i] = mb.Name, mb.Node, mb.Weight
		out.index[mb.Name] = i
	}
	out.sumWeights()
	return out, nil
}

func (m *members[N]) sumWeights() {
	m.total = 0
	for _, w := range m.weights {
		m.total += w
	}
}

func (m *members[N]) list() []Member[N] {
	out := make([]Member[N], m.len())
	for i := range out {
		out[i] = Member[N]{Name: m.names[i], Node: m.nodes[i], Weight: m.weights[i]}
	}
	return out
}

// byName returns member indices sorted by name: the canonical order that
// keeps Ring, Maglev and Rendezvous independent of insertion order.
func (m *members[N]) byName() []uint32 {
	ord := make([]uint32, m.len())
	for i := range ord {
		ord[i] = uint32(i)
	}
	slices.SortFunc(ord, func(a, b uint32) int { return strings.Compare(m.names[a], m.names[b]) })
	return ord
}

// dedup remembers which member indices GetN has already emitted without
// allocating for up to len(arr) of them; beyond that it uses a bitset.
type dedup struct {
	arr  [32]uint32
	cnt  int
	bits []uint64
}

func (d *dedup) init(want, members int) {
	if want > len(d.arr) {
		d.bits = make([]uint64, (members+63)/64)
	}
}

// add records x and reports whether it was new.
func (d *dedup) add(x uint32) bool {
	if d.bits != nil {
		w, b := x/64, uint64(1)<<(x%64)
		if d.bits[w]&b != 0 {
			return false
		}
		d.bits[w] |= b
		return true
	}
	for _, y := range d.arr[:d.cnt] {
		if y == x {
			return false
		}
	}
	d.arr[d.cnt] = x
	d.cnt++
	return true
}

// fillMissing appends members not yet emitted, in index order, until dst
// holds want of them; used when a walk could not reach every member (a node
// so light it owns no slot).
func fillMissing[N any](dst []N, got, want int, d *dedup, nodes []N) []N {
	for i := 0; got < want && i < len(nodes); i++ {
		if d.add(uint32(i)) {
			dst = append(dst, nodes[i])
			got++
		}
	}
	return dst
}
