package hashring

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Jump is Lamping and Veach's jump consistent hash ("A Fast, Minimal Memory,
// Consistent Hash Algorithm", 2014) over numbered buckets: members are
// buckets 0..N-1 in the order they were added.
//
// Trade-offs: no table at all (memory is the membership list only),
// near-perfect balance and minimal movement when a node is
// appended; lookup is O(log N) float steps. It has no weights (AddWeighted
// with a weight other than 1 returns ErrUnsupported) and buckets are
// numbers, so only removing the last-added node is minimal. Removing any
// other node moves the last node into the freed bucket number: the removed
// node's keys and the last node's keys move (about 2/N of all keys instead
// of 1/N). Set assigns bucket numbers in slice order, so keep the order
// stable across calls. GetN draws replica r from the buckets not yet
// chosen with jump(mix(key, r), N-r): distinct, uniform, and stable while
// the membership is.
//
// The zero Jump is empty. All methods are safe for concurrent use; Get,
// GetN and Len never block.
type Jump[N any] struct {
	mu   sync.Mutex // serialises membership changes
	opts Options
	snap atomic.Pointer[jumpSnap[N]] // the current immutable snapshot
}

var _ Algorithm[int] = (*Jump[int])(nil)

type jumpSnap[N any] struct {
	m     *members[N]
	nodes []N
	hash  Hash
}

// NewJump returns an empty Jump configured by opts (Hash).
func NewJump[N any](opts Options) *Jump[N] {
	return &Jump[N]{opts: opts}
}

// JumpHash is the jump consistent hash: the bucket in [0, buckets) for a
// well-mixed 64-bit key. It panics if buckets < 1.
func JumpHash(key uint64, buckets int) int {
	if buckets < 1 {
		panic("hashring: JumpHash with fewer than one bucket")
	}
	return jumpHash(key, buckets)
}

func jumpHash(key uint64, n int) int {
	b, j := -1, int64(0)
	for j < int64(n) {
		b = int(j)
		key = key*2862933555777941757 + 1
		j = int64(float64(b+1) * (float64(int64(1)<<31) / float64((key>>33)+1)))
	}
	return b
}

// Len returns the number of nodes.
func (g *Jump[N]) Len() int {
	if s := g.snap.Load(); s != nil {
		return s.m.len()
	}
	return 0
}

// Members returns the nodes in bucket order.
func (g *Jump[N]) Members() []Member[N] {
	if s := g.snap.Load(); s != nil {
		return s.m.list()
	}
	return nil
}

// Get returns the node owning key; false if empty.
func (g *Jump[N]) Get(key string) (N, bool) {
	s := g.snap.Load()
	if s == nil || s.m.len() == 0 {
		var zero N
		return zero, false
	}
	return s.nodes[jumpHash(hashKey(s.hash, key), len(s.nodes))], true
}

// GetHash is Get for a key that is already a well-mixed 64-bit hash:
// Get(key) == GetHash(hash(key)).
func (g *Jump[N]) GetHash(h uint64) (N, bool) {
	s := g.snap.Load()
	if s == nil || s.m.len() == 0 {
		var zero N
		return zero, false
	}
	return s.nodes[jumpHash(h, len(s.nodes))], true
}

// GetN appends up to n distinct nodes for key to dst, Get's node first. It
// does not allocate when n <= 32 and dst has room.
func (g *Jump[N]) GetN(key string, n int, dst []N) []N {
	s := g.snap.Load()
	if s == nil || n <= 0 || s.m.len() == 0 {
		return dst
	}
	total := len(s.nodes)
	n = min(n, total)
	kh := hashKey(s.hash, key)
	var chosenArr [32]int
	chosen := chosenArr[:0] // ascending bucket numbers already returned
	if n > len(chosenArr) {
		chosen = make([]int, 0, n)
	}
	for r := 0; r < n; r++ {
		h := kh
		if r > 0 {
			h = mix64(kh + uint64(r)*golden64)
		}
		// The b-th bucket (0-based) among those not chosen yet.
		b := jumpHash(h, total-r)
		p := 0
		for ; p < len(chosen) && chosen[p] <= b; p++ {
			b++
		}
		chosen = append(chosen, 0)
		copy(chosen[p+1:], chosen[p:])
		chosen[p] = b
		dst = append(dst, s.nodes[b])
	}
	return dst
}

// Add appends a node as bucket Len(). See AddWeighted.
func (g *Jump[N]) Add(name string, node N) error { return g.AddWeighted(name, node, 1) }

// AddWeighted appends a node; weight must be 1 (ErrUnsupported otherwise,
// ErrInvalidWeight for non-positive or non-finite). ErrEmptyName and
// ErrDuplicate as for the other algorithms.
func (g *Jump[N]) AddWeighted(name string, node N, weight float64) error {
	if err := checkJumpWeight(name, weight); err != nil {
		return err
	}
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
	g.snap.Store(&jumpSnap[N]{m: m, nodes: m.nodes, hash: g.opts.Hash})
	return nil
}

func checkJumpWeight(name string, w float64) error {
	if err := checkMember(name, w); err != nil {
		return err
	}
	if w != 1 {
		return fmt.Errorf("%w: Jump has no weights (%q has weight %v)", ErrUnsupported, name, w)
	}
	return nil
}

// Remove removes the named node (ErrNotFound if absent). If it is not the
// last bucket, the last node takes over its bucket number.
func (g *Jump[N]) Remove(name string) error {
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
	g.snap.Store(&jumpSnap[N]{m: m, nodes: m.nodes, hash: g.opts.Hash})
	return nil
}

// Set replaces the membership, bucket i being ms[i]; every weight must be
// 1. On error nothing changes.
func (g *Jump[N]) Set(ms []Member[N]) error {
	for _, mb := range ms {
		if err := checkJumpWeight(mb.Name, mb.Weight); err != nil {
			return err
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	m, err := newMembers(ms)
	if err != nil {
		return err
	}
	g.snap.Store(&jumpSnap[N]{m: m, nodes: m.nodes, hash: g.opts.Hash})
	return nil
}
