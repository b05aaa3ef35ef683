package hashring

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// DefaultVirtualNodes is Ring's default number of virtual nodes per unit of
// weight. With the nearest-point rule described on Ring it gives a
// peak/mean load of about 1.03 at 10 nodes (1.05 for one set of node names
// in ten); successor ownership needs about twice as many points for that.
const DefaultVirtualNodes = 1000

// MaxVirtualNodesPerNode bounds round(virtualNodes*weight) for one node;
// heavier nodes are rejected with ErrInvalidWeight.
const MaxVirtualNodesPerNode = 1 << 22

// maxRingPoints bounds the virtual nodes of a whole ring (point indices are
// 32-bit); a change that would exceed it fails with ErrTooManyNodes.
const maxRingPoints = 1 << 28

// Ring is a consistent-hash ring with virtual nodes.
//
// Placement. A node of weight w gets c = max(1, round(V*w)) virtual nodes,
// where V is Options.VirtualNodes (default DefaultVirtualNodes). Virtual
// node i of node "name" is at hash("name#i") (XXH3 by default, see
// Options.Hash): a function of (name, i) alone, so positions never depend
// on the other members or on insertion order, and a join or leave never
// shifts anyone else's points. Tests can compute rings by hand. Because
// every point is placed alike, independently of the others, all points
// have the same expected share, so weights are honoured exactly on average
// whatever their values (a placement stratified over equal cells was
// measured 10-20% more even, but biased against fractional weights: a
// weight-0.5 node got 2.5% less than its due at 10 nodes).
//
// Ownership. A key hashed to h belongs to the virtual node nearest to h
// (ties to the counter-clockwise one), i.e. the classic successor ring over
// the midpoints between adjacent points. Each point then owns half of each
// of its two gaps, which halves the variance of a node's share compared
// with successor ownership for the same number of points. When a node joins,
// only keys now nearer to one of its points move, all to it; when a node
// leaves, only its keys move: there are no needless moves.
//
// Lookup is O(1) and usually one memory read: a direct table of 2 to 4
// buckets per point over the hash space stores, per bucket, the owner at
// its start and where (if anywhere) ownership changes inside it, so a key
// resolves from its own entry and the next one, without a branch on which
// side of the change it falls. Keys in a bucket where ownership changes
// more than once, or too near the change to tell from the table's short
// offsets (at the default about 1% of lookups at 10 members, 2.5% at 100,
// 6% at 1000), fall back to a second table that gives the first point to
// scan from. GetN and GetBounded use that second path to find the owning
// point and then walk the ring clockwise, skipping nodes already returned.
//
// Trade-offs: memory is 12 bytes per virtual node plus 6-12 bytes of
// tables below 1024 members and 10-20 bytes from 1024 (2.0 MB at 100 nodes
// with the default 1000, 18 MB at 1000 nodes), much more than Maglev or
// Rendezvous. Lookups slow down once the direct table (4-8 bytes per
// point below 1024 members) outgrows the CPU's L2 cache, as it does at
// 1000 nodes with the default: lower Options.VirtualNodes for large rings.
// In exchange it has minimal movement on add and on arbitrary remove, real
// replica walks (GetN) and bounded-load lookups (GetBounded). Balance
// improves as 1/sqrt(V); weight error is about 1/sqrt(2*V*w), a few per
// cent at the default (halving it takes four times the points). Positions
// do not depend on weights, so changing a node's weight (Remove, then
// AddWeighted) moves only keys to or from that node. Set, Add and Remove
// each cost O(P), P the total number of virtual nodes.
//
// The zero Ring is an empty ring with default options. All methods are safe
// for concurrent use; Get, GetN, GetBounded and Len never block.
type Ring[N any] struct {
	mu   sync.Mutex // serialises membership changes
	opts Options
	snap atomic.Pointer[ringSnap[N]] // the current immutable snapshot
}

var _ Algorithm[int] = (*Ring[int])(nil)

type ringSnap[N any] struct {
	m     *members[N]
	nodes []N // m.nodes, one pointer hop closer
	hash  Hash
	frac  []float64 // weight / total weight, for GetBounded
	core  ringCore
}

// ringCore is the sorted point array and its bucket tables.
type ringCore struct {
	pts []uint64 // sorted by (position, owner name)
	own []uint32 // member index of each point
	// The direct table answers most lookups from one entry and the next.
	// Entry b covers hashes base + [b<<shift, (b+1)<<shift); its high bits
	// hold the owner at the bucket's start, its low offBits bits where, if
	// anywhere, the owner changes inside the bucket: the boundary's
	// in-bucket offset >> qs, or the all-ones "none" value (nowhere), or
	// all-ones minus one, "slow" (more than once, or too close to call). A
	// key whose quantised offset q is below the boundary belongs to the
	// entry's owner, above it to the next entry's (usually in the same
	// cache line); q equal to the boundary, to "none" or a slow bucket take
	// the slow path through idx. The table has one entry past the last
	// bucket. dir16 (16-bit entries: offBits of offset, the rest owner) is
	// used for rings of fewer than 1024 members, dir (16-bit halves) for
	// fewer than 65535; larger rings have neither and always take the slow
	// path.
	dir16 []uint16
	dir   []uint32
	// idx[b] covers hashes base + [b<<cshift, (b+1)<<cshift), cshift =
	// shift+2: the index of the first point >= the bucket start, where the
	// slow path's scan for a point starts.
	idx     []uint32
	base    uint64 // pts[0]
	span    uint64 // pts[len-1] - pts[0]
	mask    uint64 // 1<<shift - 1
	shift   uint
	qs      uint   // offset quantisation: shift - offBits, or 0
	offBits uint   // bits of a direct-table entry's offset
	offMask uint32 // 1<<offBits - 1, also the "none" value
	cshift  uint
}

// NewRing returns an empty Ring configured by opts (Hash, VirtualNodes).
// It panics if opts.VirtualNodes is negative.
func NewRing[N any](opts Options) *Ring[N] {
	if opts.VirtualNodes < 0 {
		panic("hashring: negative Options.VirtualNodes")
	}
	return &Ring[N]{opts: opts}
}

func (r *Ring[N]) vnodes() int {
	if r.opts.VirtualNodes == 0 {
		return DefaultVirtualNodes
	}
	return r.opts.VirtualNodes
}

// Len returns the number of nodes.
func (r *Ring[N]) Len() int {
	if s := r.snap.Load(); s != nil {
		return s.m.len()
	}
	return 0
}

// Members returns the nodes in internal order (insertion order, except that
// Remove moves the last member into the removed one's place).
func (r *Ring[N]) Members() []Member[N] {
	if s := r.snap.Load(); s != nil {
		return s.m.list()
	}
	return nil
}

// Get returns the node owning key; false if the ring is empty.
func (r *Ring[N]) Get(key string) (N, bool) {
	s := r.snap.Load()
	if s == nil || len(s.core.pts) == 0 {
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
	return s.nodes[s.core.owner(h)], true
}

// GetHash is Get for a key that is already a well-mixed 64-bit hash (of
// the same Hash, or a random ID): Get(key) == GetHash(hash(key)).
func (r *Ring[N]) GetHash(h uint64) (N, bool) {
	s := r.snap.Load()
	if s == nil || len(s.core.pts) == 0 {
		var zero N
		return zero, false
	}
	return s.nodes[s.core.owner(h)], true
}

// GetN appends to dst up to n distinct nodes in ring order starting with
// key's owner, and returns the extended slice. It does not allocate when
// n <= 32 and dst has room.
func (r *Ring[N]) GetN(key string, n int, dst []N) []N {
	s := r.snap.Load()
	if s == nil || n <= 0 || len(s.core.pts) == 0 {
		return dst
	}
	c := &s.core
	n = min(n, s.m.len())
	var seen dedup
	seen.init(n, s.m.len())
	i := c.locate(hashKey(s.hash, key))
	got := 0
	for steps := 0; steps < len(c.pts) && got < n; steps++ {
		if o := c.own[i]; seen.add(o) {
			dst = append(dst, s.nodes[o])
			got++
		}
		if i++; i == len(c.pts) {
			i = 0
		}
	}
	return dst
}

// GetBounded implements consistent hashing with bounded loads (Mirrokni,
// Thorup, Zadimoghaddam): starting at key's owner it walks the ring
// clockwise and returns the first node whose current load is below its
// capacity
//
//	capacity(node) = (1+epsilon) * (total+1) * weight(node) / totalWeight
//
// (for equal weights: (1+epsilon) times the average including the request
// being placed). load reports a node's live load (for example its in-flight
// requests) and total their sum over all nodes; a negative total makes
// GetBounded compute it by calling load for every node, which is O(nodes).
// load is called without locks held, possibly several times per node, and
// must not block. A negative or NaN epsilon is treated as 0.
//
// With consistent inputs some node is always below capacity. If none is
// (total understates the loads), the key's plain owner is returned. The
// boolean is false only for an empty ring. GetBounded does not allocate,
// provided load itself does not. It panics if load is nil.
func (r *Ring[N]) GetBounded(key string, epsilon float64, total int64, load func(N) int64) (N, bool) {
	if load == nil {
		panic("hashring: GetBounded with a nil load function")
	}
	s := r.snap.Load()
	if s == nil || len(s.core.pts) == 0 {
		var zero N
		return zero, false
	}
	if !(epsilon > 0) {
		epsilon = 0
	}
	if total < 0 {
		total = 0
		for _, nd := range s.nodes {
			total += load(nd)
		}
	}
	scale := (1 + epsilon) * float64(total+1)
	c := &s.core
	i := c.locate(hashKey(s.hash, key))
	first := c.own[i]
	var rejected dedup // remembers up to 32 full nodes to avoid re-asking
	prev := ^uint32(0)
	for steps := 0; steps < len(c.pts); steps++ {
		o := c.own[i]
		if o != prev && (rejected.cnt == len(rejected.arr) || rejected.add(o)) {
			nd := s.nodes[o]
			if float64(load(nd)) < scale*s.frac[o] {
				return nd, true
			}
			prev = o
		}
		if i++; i == len(c.pts) {
			i = 0
		}
	}
	return s.nodes[first], true
}

// owner returns the member index owning hash h.
func (c *ringCore) owner(h uint64) uint32 {
	d := h - c.base
	if d <= c.span {
		// Shift counts are below 64 (32 for offBits); masking them saves
		// the compiler's code for larger counts.
		b := d >> (c.shift & 63)
		q := uint32((d & c.mask) >> (c.qs & 63))
		// Without branches on the boundary: the owner is the entry's, or
		// the next entry's past the boundary. The none value is above
		// every q but one, and that one (q == none) takes the slow path.
		if c.dir16 != nil {
			e, next := uint32(c.dir16[b]), uint32(c.dir16[b+1])
			if off := e & c.offMask; off != c.offMask-1 && q != off {
				if q > off {
					e = next
				}
				return e >> (c.offBits & 31)
			}
		} else if c.dir != nil {
			e, next := c.dir[b], c.dir[b+1]
			if off := e & 0xffff; off != 0xfffe && q != off {
				if q > off {
					e = next
				}
				return e >> 16
			}
		}
	}
	return c.own[c.locate(h)]
}

// locate returns the index of the point owning hash h.
func (c *ringCore) locate(h uint64) int {
	d := h - c.base
	i := 0
	if d <= c.span {
		i = int(c.idx[d>>(c.cshift&63)])
		for c.pts[i] < h {
			i++
		}
	}
	return c.nearest(i, h)
}

// nearest: i is the successor of h (first point >= h, wrapping to 0);
// return i or its predecessor, whichever is nearer (ties to the predecessor).
func (c *ringCore) nearest(i int, h uint64) int {
	j := i - 1
	if j < 0 {
		j = len(c.pts) - 1
	}
	if h-c.pts[j] <= (c.pts[i]-c.pts[j])/2 {
		return j
	}
	return i
}

// build fills the bucket tables for c.pts / c.own, owned by members
// numbered below members.
func (c *ringCore) build(members int) {
	p := len(c.pts)
	if p == 0 {
		*c = ringCore{}
		return
	}
	c.base = c.pts[0]
	c.span = c.pts[p-1] - c.base
	logB := bits.Len(uint(p-1)) + 1 // 2P <= 2^logB < 4P direct buckets
	c.shift = 0
	if l := bits.Len64(c.span); l > logB {
		c.shift = uint(l - logB)
	}
	c.mask = uint64(1)<<c.shift - 1
	c.cshift = c.shift + 2
	c.idx = make([]uint32, int(c.span>>c.cshift)+1)
	i := 0 // first point >= bucket start
	for b := range c.idx {
		start := c.base + uint64(b)<<c.cshift
		for c.pts[i] < start {
			i++
		}
		c.idx[b] = uint32(i)
	}
	c.dir16, c.dir = nil, nil
	switch ob := uint(bits.Len(uint(members))); {
	case ob <= 10:
		c.offBits = 16 - ob // at least 6 bits of offset
	case members < math.MaxUint16:
		c.offBits = 16
	default:
		return // owners do not fit in 16 bits: slow path only
	}
	ob := c.offBits
	none, slow := uint32(1)<<ob-1, uint32(1)<<ob-2
	c.offMask = none
	c.qs = 0
	if c.shift > ob {
		c.qs = c.shift - ob
	}
	nb := int(c.span>>c.shift) + 1
	dir := make([]uint32, nb+1) // owner<<offBits | offset
	// Pass 1: the owner at each bucket's start; past the last bucket, the
	// owner of the last hash in range.
	i = 0
	for b := 0; b < nb; b++ {
		start := c.base + uint64(b)<<c.shift
		for c.pts[i] < start {
			i++
		}
		dir[b] = c.own[c.nearest(i, start)]<<ob | none
	}
	dir[nb] = c.own[c.nearest(p-1, c.base+c.span)]<<ob | none
	// Pass 2: boundaries. Boundary k sits between points k and k+1 where
	// their owners differ: hashes <= mid(k) belong to point k's side.
	isBoundary := func(k int, dl uint64) bool {
		return c.own[k] != c.own[k+1] && c.mid(k)-c.base < dl
	}
	k := 0 // next boundary to consider
	for b := 0; b < nb; b++ {
		ds := uint64(b) << c.shift
		dl := min(ds+c.mask, c.span) // last offset of the bucket
		for k < p-1 && (c.own[k] == c.own[k+1] || c.mid(k)-c.base < ds) {
			k++
		}
		if !(k < p-1 && c.mid(k)-c.base < dl) {
			continue // no boundary inside: one owner
		}
		k2 := k + 1 // look for a second boundary inside the bucket
		for k2 < p-1 && c.own[k2] == c.own[k2+1] && c.mid(k2)-c.base < dl {
			k2++
		}
		q := (c.mid(k) - c.base - ds) >> c.qs
		if (k2 < p-1 && isBoundary(k2, dl)) || q >= uint64(slow) || c.own[k+1] != dir[b+1]>>ob {
			dir[b] = dir[b]&^none | slow
		} else {
			dir[b] = dir[b]&^none | uint32(q)
		}
	}
	if ob < 16 {
		c.dir16 = make([]uint16, len(dir))
		for b, e := range dir {
			c.dir16[b] = uint16(e)
		}
	} else {
		c.dir = dir
	}
}

func (c *ringCore) mid(k int) uint64 {
	return c.pts[k] + (c.pts[k+1]-c.pts[k])/2
}

// sortPoints sorts pts (carrying own along) by position, then equal
// positions by owner name: an LSD radix sort on 16-bit digits, O(P).
func sortPoints(pts []uint64, own []uint32, names []string) {
	n := len(pts)
	tp, to := make([]uint64, n), make([]uint32, n)
	src, dst := pts, tp
	srco, dsto := own, to
	var count [1 << 16]int
	for shift := uint(0); shift < 64; shift += 16 {
		clear(count[:])
		for _, p := range src {
			count[(p>>shift)&0xffff]++
		}
		sum := 0
		for d, c := range count {
			count[d] = sum
			sum += c
		}
		for i, p := range src {
			d := (p >> shift) & 0xffff
			dst[count[d]], dsto[count[d]] = p, srco[i]
			count[d]++
		}
		src, dst = dst, src
		srco, dsto = dsto, srco
	}
	// Four passes: the result is back in pts/own. Order ties by name so the
	// ring does not depend on member order.
	for i := 0; i < n; {
		j := i + 1
		for j < n && pts[j] == pts[i] {
			j++
		}
		if j-i > 1 {
			run := own[i:j]
			slices.SortFunc(run, func(a, b uint32) int { return strings.Compare(names[a], names[b]) })
		}
		i = j
	}
}

// placement computes virtual-node positions.
type placement struct {
	v  int
	lh labelHasher
}

func newPlacement(v int, h Hash) *placement {
	return &placement{v: v, lh: labelHasher{h: h}}
}

// count is the number of virtual nodes for weight w, 0 if too many.
func (pl *placement) count(w float64) int {
	c := math.Round(float64(pl.v) * w)
	if c > MaxVirtualNodesPerNode {
		return 0
	}
	return max(1, int(c))
}

func (pl *placement) appendPoints(dst []uint64, name string, count int) []uint64 {
	for i := 0; i < count; i++ {
		dst = append(dst, pl.lh.hash(name, i))
	}
	return dst
}

func (r *Ring[N]) publish(m *members[N], pts []uint64, own []uint32) {
	s := &ringSnap[N]{m: m, nodes: m.nodes, hash: r.opts.Hash, core: ringCore{pts: pts, own: own}}
	s.core.build(m.len())
	s.frac = make([]float64, m.len())
	for i, w := range m.weights {
		s.frac[i] = w / m.total
	}
	r.snap.Store(s)
}

// Add adds a node of weight 1. See AddWeighted.
func (r *Ring[N]) Add(name string, node N) error { return r.AddWeighted(name, node, 1) }

// AddWeighted adds a node whose share is proportional to weight. It returns
// ErrEmptyName, ErrInvalidWeight or ErrDuplicate (leaving the ring
// unchanged) for bad input. Cost: O(virtual nodes in the ring).
func (r *Ring[N]) AddWeighted(name string, node N, weight float64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.snap.Load()
	var om *members[N]
	if old != nil {
		om = old.m
	}
	m, err := om.withAdded(name, node, weight)
	if err != nil {
		return err
	}
	pl := newPlacement(r.vnodes(), r.opts.Hash)
	cnt := pl.count(weight)
	if cnt == 0 {
		return fmt.Errorf("%w: %q needs more than %d virtual nodes", ErrInvalidWeight, name, MaxVirtualNodesPerNode)
	}
	if old != nil && len(old.core.pts)+cnt > maxRingPoints {
		return fmt.Errorf("%w: the ring would exceed %d virtual nodes", ErrTooManyNodes, maxRingPoints)
	}
	np := pl.appendPoints(make([]uint64, 0, cnt), name, cnt)
	slices.Sort(np)
	var opts []uint64
	var oown []uint32
	if old != nil {
		opts, oown = old.core.pts, old.core.own
	}
	newIdx := uint32(len(m.names) - 1)
	pts := make([]uint64, 0, len(opts)+len(np))
	own := make([]uint32, 0, len(opts)+len(np))
	a, b := 0, 0
	for a < len(opts) || b < len(np) {
		takeOld := b == len(np) ||
			(a < len(opts) && (opts[a] < np[b] || (opts[a] == np[b] && m.names[oown[a]] < name)))
		if takeOld {
			pts, own = append(pts, opts[a]), append(own, oown[a])
			a++
		} else {
			pts, own = append(pts, np[b]), append(own, newIdx)
			b++
		}
	}
	r.publish(m, pts, own)
	return nil
}

// Remove removes the named node; ErrNotFound if it is not a member. Only
// the removed node's keys move. Cost: O(virtual nodes in the ring).
func (r *Ring[N]) Remove(name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.snap.Load()
	var om *members[N]
	if old != nil {
		om = old.m
	}
	m, removed, moved, err := om.withRemoved(name)
	if err != nil {
		return err
	}
	pts := make([]uint64, 0, len(old.core.pts))
	own := make([]uint32, 0, len(old.core.pts))
	for i, o := range old.core.own {
		if o == uint32(removed) {
			continue
		}
		if o == uint32(moved) {
			o = uint32(removed)
		}
		pts, own = append(pts, old.core.pts[i]), append(own, o)
	}
	r.publish(m, pts, own)
	return nil
}

// Set replaces the membership with ms in one snapshot. On error (see
// AddWeighted) the ring is unchanged. Cost: O(P), P virtual nodes.
func (r *Ring[N]) Set(ms []Member[N]) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, err := newMembers(ms)
	if err != nil {
		return err
	}
	pl := newPlacement(r.vnodes(), r.opts.Hash)
	total := 0
	for j, w := range m.weights {
		cnt := pl.count(w)
		if cnt == 0 {
			return fmt.Errorf("%w: %q needs more than %d virtual nodes", ErrInvalidWeight, m.names[j], MaxVirtualNodesPerNode)
		}
		total += cnt
		if total > maxRingPoints {
			return fmt.Errorf("%w: the ring would exceed %d virtual nodes", ErrTooManyNodes, maxRingPoints)
		}
	}
	pts := make([]uint64, 0, total)
	own := make([]uint32, 0, total)
	for j, name := range m.names {
		n0 := len(pts)
		pts = pl.appendPoints(pts, name, pl.count(m.weights[j]))
		for range pts[n0:] {
			own = append(own, uint32(j))
		}
	}
	sortPoints(pts, own, m.names)
	r.publish(m, pts, own)
	return nil
}
