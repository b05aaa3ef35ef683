package hashring

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Rendezvous is weighted rendezvous hashing, also called highest random
// weight (Thaler and Ravishankar; weights by Schindelhauer and Schomaker's
// logarithmic method): every node scores the key with
// -ln(u)/weight, u = mix(hash(key) XOR hash(name)) mapped to (0,1), and the
// lowest score wins. GetN returns the n best scores, the natural replica set.
//
// Trade-offs: exact weights in expectation and optimal movement (a join
// takes only the keys it wins, a leave moves only the leaver's keys, and
// weight changes move only keys to or from the changed node), any node can
// be removed, and memory is about 100 bytes per node. The price is an O(N)
// lookup: a few ns per node, so it suits tens of nodes, not thousands.
// Nodes of equal weight are compared with integer mixes only; one logarithm
// is taken per distinct weight, so unweighted lookups take no logarithm.
//
// The zero Rendezvous is empty. All methods are safe for concurrent use;
// Get, GetN and Len never block.
type Rendezvous[N any] struct {
	mu   sync.Mutex // serialises membership changes
	opts Options
	snap atomic.Pointer[rendezvousSnap[N]] // the current immutable snapshot
}

var _ Algorithm[int] = (*Rendezvous[int])(nil)

type rendezvousSnap[N any] struct {
	m    *members[N]
	hash Hash
	// Members grouped by weight class, each class in name order.
	seeds  []uint64  // hash(name) in class order
	nodes  []N       // nodes in class order
	cstart []int     // class k is [cstart[k], cstart[k+1])
	cinvw  []float64 // 1/weight of class k
}

// NewRendezvous returns an empty Rendezvous configured by opts (Hash).
func NewRendezvous[N any](opts Options) *Rendezvous[N] {
	return &Rendezvous[N]{opts: opts}
}

// Len returns the number of nodes.
func (r *Rendezvous[N]) Len() int {
	if s := r.snap.Load(); s != nil {
		return s.m.len()
	}
	return 0
}

// Members returns the nodes in internal order (see Ring.Members).
func (r *Rendezvous[N]) Members() []Member[N] {
	if s := r.snap.Load(); s != nil {
		return s.m.list()
	}
	return nil
}

// unitScore maps a mixed hash to -ln(u), u in (0,1): the score at weight 1.
func unitScore(x uint64) float64 {
	return -math.Log((float64(x>>11) + 0.5) * (1.0 / (1 << 53)))
}

// Get returns the node owning key; false if empty.
func (r *Rendezvous[N]) Get(key string) (N, bool) {
	s := r.snap.Load()
	if s == nil || len(s.seeds) == 0 {
		var zero N
		return zero, false
	}
	return s.get(hashKey(s.hash, key)), true
}

// GetHash is Get for a key that is already a well-mixed 64-bit hash:
// Get(key) == GetHash(hash(key)).
func (r *Rendezvous[N]) GetHash(h uint64) (N, bool) {
	s := r.snap.Load()
	if s == nil || len(s.seeds) == 0 {
		var zero N
		return zero, false
	}
	return s.get(h), true
}

func (s *rendezvousSnap[N]) get(kh uint64) N {
	if len(s.cinvw) == 1 {
		return s.nodes[argmaxMix(kh, s.seeds)]
	}
	best, bestScore := 0, math.Inf(1)
	for k := range s.cinvw {
		lo, hi := s.cstart[k], s.cstart[k+1]
		i := lo + argmaxMix(kh, s.seeds[lo:hi])
		if sc := unitScore(mix64(kh^s.seeds[i])) * s.cinvw[k]; sc < bestScore {
			best, bestScore = i, sc
		}
	}
	return s.nodes[best]
}

func argmaxMix(kh uint64, seeds []uint64) int {
	best, bestV := 0, uint64(0)
	for i, sd := range seeds {
		if v := mix64(kh ^ sd); v > bestV {
			best, bestV = i, v
		}
	}
	return best
}

// GetN appends the n nodes with the best scores for key to dst, best first.
// It does not allocate when n <= 32 and dst has room.
func (r *Rendezvous[N]) GetN(key string, n int, dst []N) []N {
	s := r.snap.Load()
	if s == nil || n <= 0 || len(s.seeds) == 0 {
		return dst
	}
	n = min(n, len(s.seeds))
	kh := hashKey(s.hash, key)
	var idxArr [32]int
	idx := idxArr[:0]
	if n > len(idxArr) {
		idx = make([]int, 0, n)
	}
	if len(s.cinvw) == 1 {
		// One weight class: rank by the mix itself (complemented so that
		// lower is better), exactly as Get does, with no logarithm.
		var scArr [32]uint64
		sc := scArr[:0]
		if n > len(scArr) {
			sc = make([]uint64, 0, n)
		}
		for i, sd := range s.seeds {
			idx, sc = insertTop(idx, sc, n, i, ^mix64(kh^sd))
		}
	} else {
		var scArr [32]float64
		sc := scArr[:0]
		if n > len(scArr) {
			sc = make([]float64, 0, n)
		}
		for k := range s.cinvw {
			for i := s.cstart[k]; i < s.cstart[k+1]; i++ {
				idx, sc = insertTop(idx, sc, n, i, unitScore(mix64(kh^s.seeds[i]))*s.cinvw[k])
			}
		}
	}
	for _, i := range idx {
		dst = append(dst, s.nodes[i])
	}
	return dst
}

// insertTop keeps idx/sc as the (at most n) lowest scores in ascending
// order; earlier entries win ties.
func insertTop[S cmp.Ordered](idx []int, sc []S, n, i int, score S) ([]int, []S) {
	if len(idx) == n && score >= sc[n-1] {
		return idx, sc
	}
	p := len(idx)
	if p < n {
		var zero S
		idx, sc = append(idx, 0), append(sc, zero)
	} else {
		p--
	}
	for p > 0 && sc[p-1] > score {
		idx[p], sc[p] = idx[p-1], sc[p-1]
		p--
	}
	idx[p], sc[p] = i, score
	return idx, sc
}

func (r *Rendezvous[N]) publish(m *members[N]) {
	s := &rendezvousSnap[N]{m: m, hash: r.opts.Hash}
	ord := m.byName()
	slices.SortStableFunc(ord, func(a, b uint32) int {
		wa, wb := m.weights[a], m.weights[b]
		switch {
		case wa < wb:
			return -1
		case wa > wb:
			return 1
		}
		return strings.Compare(m.names[a], m.names[b])
	})
	s.seeds = make([]uint64, len(ord))
	s.nodes = make([]N, len(ord))
	for k, j := range ord {
		s.nodes[k] = m.nodes[j]
		s.seeds[k] = hashKey(r.opts.Hash, m.names[j])
		if k == 0 || m.weights[j] != m.weights[ord[k-1]] {
			s.cstart = append(s.cstart, k)
			s.cinvw = append(s.cinvw, 1/m.weights[j])
		}
	}
	s.cstart = append(s.cstart, len(ord))
	r.snap.Store(s)
}

// Add adds a node of weight 1. See AddWeighted.
func (r *Rendezvous[N]) Add(name string, node N) error { return r.AddWeighted(name, node, 1) }

// AddWeighted adds a node whose share is proportional to weight. It returns
// ErrEmptyName, ErrInvalidWeight or ErrDuplicate, leaving the set
// unchanged, for bad input. Cost: O(N log N).
func (r *Rendezvous[N]) AddWeighted(name string, node N, weight float64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var om *members[N]
	if s := r.snap.Load(); s != nil {
		om = s.m
	}
	m, err := om.withAdded(name, node, weight)
	if err != nil {
		return err
	}
	r.publish(m)
	return nil
}

// Remove removes the named node (ErrNotFound if absent).
func (r *Rendezvous[N]) Remove(name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var om *members[N]
	if s := r.snap.Load(); s != nil {
		om = s.m
	}
	m, _, _, err := om.withRemoved(name)
	if err != nil {
		return err
	}
	r.publish(m)
	return nil
}

// Set replaces the membership in one step; on error nothing changes.
func (r *Rendezvous[N]) Set(ms []Member[N]) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, err := newMembers(ms)
	if err != nil {
		return err
	}
	r.publish(m)
	return nil
}
