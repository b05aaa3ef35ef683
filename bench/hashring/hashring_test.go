// Package hashring_test compares sinew's hashring with the peers named in
// issue 5: groupcache's consistenthash (the real library), and stand-ins
// for buraksezer/consistent, stathat.com/c/consistent and
// dgryski/go-maglev, which the module proxy does not serve here (403).
//
// A stand-in is our own reimplementation of a peer, written from its
// published algorithm, documentation and defaults (no code copied), that
// keeps what decides its numbers: data structures, hash function, locking
// and allocation on the read path, and how membership changes move keys.
// Each is named impl=<peer>-standin so that nobody mistakes it for the
// library itself; its type comment (standin_*_test.go) lists what it
// reproduces and where it departs, and a test checks its basic behaviour
// (every key maps to a member, a removed member's keys all move; the
// go-maglev table is fully populated), so that a broken stand-in cannot
// produce meaningless numbers. Treat their figures as close estimates of
// the peers, not as measurements of them. None of the peers has weights,
// so BenchmarkQuality reports no weight-err% for them.
//
//	cd bench && go test -run '^$' -bench . -benchmem -count 6 ./hashring/ | tee hashring.txt
//	benchstat -col /impl hashring.txt
//
// BenchmarkGet reports lookup ns/op at 10, 100 and 1000 nodes, cycling over
// 64Ki distinct ~17-byte keys (keys=cold: tables larger than L2 do not stay
// cached) or 1Ki of them (keys=hot). BenchmarkGetHash times lookups of
// pre-hashed keys, the interface go-maglev offers (Lookup(uint64)), for
// sinew's algorithms and the go-maglev stand-in; BenchmarkLocateKey times
// buraksezer's native interface, LocateKey on []byte keys. BenchmarkQuality
// reports, per implementation at 10 nodes over 1M seeded keys, with
// b.ReportMetric:
//
//	peak/mean     largest node's keys / mean
//	moved%        keys moved when an 11th node joins (ideal 9.09%)
//	needless      keys that moved between two old nodes on that join
//	rm-moved%     keys moved when one of the 11 nodes leaves
//	rm-needless   keys that moved but did not belong to the leaver
//	weight-err%   max |share/expected - 1| for weights 1,2,3,4,1,2,...
//
// BenchmarkSet reports build time and the heap one instance retains
// (bytes).
package hashring_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/golang/groupcache/consistenthash"

	"github.com/sinew-dev/sinew/hashring"
)

// lookuper is what every contender offers.
type lookuper interface {
	Get(key string) string
}

type contender struct {
	name string
	// build returns a lookuper over names, and for ours the Algorithm
	// (nil for peers) to exercise membership changes.
	build func(names []string) lookuper
	// weighted builds with weights, nil if unsupported.
	weighted func(names []string, weights []float64) lookuper
	// add and remove change membership in place; nil means rebuild.
	add    func(l lookuper, name string) lookuper
	remove func(l lookuper, name string) lookuper
}

type ours struct{ a hashring.Algorithm[string] }

func (o ours) Get(key string) string { n, _ := o.a.Get(key); return n }

type groupcache struct {
	m        *consistenthash.Map
	replicas int
	names    []string
}

func (g *groupcache) Get(key string) string { return g.m.Get(key) }

func newGroupcache(replicas int, names []string) *groupcache {
	g := &groupcache{m: consistenthash.New(replicas, nil), replicas: replicas, names: append([]string(nil), names...)}
	g.m.Add(names...)
	return g
}

func oursContender(name string, mk func() hashring.Algorithm[string], weights bool) contender {
	c := contender{
		name: name,
		build: func(names []string) lookuper {
			a := mk()
			if err := a.Set(hashring.Names(names...)); err != nil {
				panic(err)
			}
			return ours{a}
		},
		add: func(l lookuper, n string) lookuper {
			if err := l.(ours).a.Add(n, n); err != nil {
				panic(err)
			}
			return l
		},
		remove: func(l lookuper, n string) lookuper {
			if err := l.(ours).a.Remove(n); err != nil {
				panic(err)
			}
			return l
		},
	}
	if weights {
		c.weighted = func(names []string, ws []float64) lookuper {
			a := mk()
			ms := make([]hashring.Member[string], len(names))
			for i, n := range names {
				ms[i] = hashring.Member[string]{Name: n, Node: n, Weight: ws[i]}
			}
			if err := a.Set(ms); err != nil {
				panic(err)
			}
			return ours{a}
		}
	}
	return c
}

func groupcacheContender(replicas int) contender {
	return contender{
		name:  fmt.Sprintf("groupcache-r%d", replicas),
		build: func(names []string) lookuper { return newGroupcache(replicas, names) },
		add: func(l lookuper, n string) lookuper {
			g := l.(*groupcache)
			g.m.Add(n)
			g.names = append(g.names, n)
			return g
		},
		// groupcache has no removal: rebuild without the node.
		remove: func(l lookuper, n string) lookuper {
			g := l.(*groupcache)
			var keep []string
			for _, x := range g.names {
				if x != n {
					keep = append(keep, x)
				}
			}
			return newGroupcache(g.replicas, keep)
		},
	}
}

var contenders = []contender{
	oursContender("ring", func() hashring.Algorithm[string] { return hashring.NewRing[string](hashring.Options{}) }, true),
	oursContender("maglev", func() hashring.Algorithm[string] { return hashring.NewMaglev[string](hashring.Options{}) }, true),
	oursContender("rendezvous", func() hashring.Algorithm[string] { return hashring.NewRendezvous[string](hashring.Options{}) }, true),
	oursContender("jump", func() hashring.Algorithm[string] { return hashring.NewJump[string](hashring.Options{}) }, false),
	// groupcache's HTTPPool default (50 replicas, CRC-32), and with as many
	// virtual nodes as our Ring for a like-for-like lookup comparison.
	groupcacheContender(50),
	groupcacheContender(1000),
	// Stand-ins for the peers the module proxy does not serve, with each
	// library's defaults: 271 partitions x 20 replicas at load 1.25, 20
	// replicas with CRC-32, and a 65537-entry Maglev table.
	buraksezerContender(),
	stathatContender(),
	goMaglevContender(),
}

func keys(n int) []string {
	rng := rand.New(rand.NewPCG(20240601, 5))
	ks := make([]string, n)
	for i := range ks {
		ks[i] = "user:" + strconv.FormatUint(rng.Uint64(), 36)
	}
	return ks
}

func nodeNames(n int) []string {
	ns := make([]string, n)
	for i := range ns {
		ns[i] = "node-" + strconv.Itoa(i)
	}
	return ns
}

// Lookups cycle through 64Ki distinct ~17-byte keys (cold) or the first
// 1Ki of them (hot).
var (
	coldKeys = keys(1 << 16)
	hotKeys  = coldKeys[:1<<10]
	sink     string
)

var keySets = []struct {
	name string
	keys []string
}{{"cold", coldKeys}, {"hot", hotKeys}}

func BenchmarkGet(b *testing.B) {
	for _, c := range contenders {
		for _, nodes := range []int{10, 100, 1000} {
			for _, set := range keySets {
				b.Run(fmt.Sprintf("impl=%s/nodes=%d/keys=%s", c.name, nodes, set.name), func(b *testing.B) {
					l := c.build(nodeNames(nodes))
					mask := len(set.keys) - 1
					b.ReportAllocs()
					i := 0
					for b.Loop() {
						sink = l.Get(set.keys[i&mask])
						i++
					}
				})
			}
		}
	}
}

// hashGetter looks up a pre-hashed key: sinew's GetHash, and go-maglev's
// Lookup(uint64) (its stand-in).
type hashGetter interface {
	GetHash(uint64) (string, bool)
}

// hashGetterOf returns l's hashGetter, ok == false if it has none.
func hashGetterOf(l lookuper) (hashGetter, bool) {
	if o, ok := l.(ours); ok {
		g, ok := o.a.(hashGetter)
		return g, ok
	}
	g, ok := l.(hashGetter)
	return g, ok
}

// BenchmarkGetHash looks up pre-hashed keys (GetHash), the interface
// dgryski/go-maglev offers (Lookup(uint64)): the algorithm alone, without
// the ~9 ns of hashing a 17-byte key on this machine.
func BenchmarkGetHash(b *testing.B) {
	hashes := make([]uint64, len(coldKeys))
	for i, k := range coldKeys {
		hashes[i] = xxhash.Sum64String(k)
	}
	for _, c := range contenders {
		for _, nodes := range []int{10, 100, 1000} {
			g, ok := hashGetterOf(c.build(nodeNames(nodes)))
			if !ok {
				break
			}
			for _, set := range []struct {
				name string
				n    int
			}{{"cold", len(hashes)}, {"hot", len(hotKeys)}} {
				b.Run(fmt.Sprintf("impl=%s/nodes=%d/keys=%s", c.name, nodes, set.name), func(b *testing.B) {
					mask := set.n - 1
					b.ReportAllocs()
					i := 0
					for b.Loop() {
						sink, _ = g.GetHash(hashes[i&mask])
						i++
					}
				})
			}
		}
	}
}

// BenchmarkGetParallel: lookups from every core (vary with -cpu). sinew's
// read path has no shared writes, so ns/op should fall as cores are added.
func BenchmarkGetParallel(b *testing.B) {
	for _, c := range contenders {
		b.Run(fmt.Sprintf("impl=%s/nodes=100", c.name), func(b *testing.B) {
			l := c.build(nodeNames(100))
			var seed atomic.Uint32
			b.ReportAllocs()
			b.ResetTimer() // a go-maglev build alone takes ~50 ms
			b.RunParallel(func(pb *testing.PB) {
				i := int(seed.Add(7919))
				var local string
				for pb.Next() {
					local = l.Get(hotKeys[i&(len(hotKeys)-1)])
					i++
				}
				_ = local
			})
		})
	}
}

type quality struct {
	peakMean, moved, needless, rmMoved, rmNeedless, weightErr float64
}

var (
	qualityMu    sync.Mutex
	qualityCache = map[string]quality{}
)

func owners(l lookuper, ks []string) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = l.Get(k)
	}
	return out
}

// measure computes the quality figures over 1M seeded keys.
func measure(c contender) quality {
	qualityMu.Lock()
	defer qualityMu.Unlock()
	if q, ok := qualityCache[c.name]; ok {
		return q
	}
	ks := keys(1_000_000)
	names := nodeNames(11)
	var q quality

	l := c.build(names[:10])
	before := owners(l, ks)
	counts := map[string]int{}
	peak := 0
	for _, o := range before {
		counts[o]++
		peak = max(peak, counts[o])
	}
	q.peakMean = float64(peak) * 10 / float64(len(ks))

	l = c.add(l, names[10])
	after := owners(l, ks)
	for i := range ks {
		if before[i] != after[i] {
			q.moved++
			if after[i] != names[10] {
				q.needless++
			}
		}
	}
	q.moved = 100 * q.moved / float64(len(ks))

	l = c.remove(l, names[3])
	afterRm := owners(l, ks)
	for i := range ks {
		if after[i] != afterRm[i] {
			q.rmMoved++
			if after[i] != names[3] {
				q.rmNeedless++
			}
		}
	}
	q.rmMoved = 100 * q.rmMoved / float64(len(ks))

	q.weightErr = math.NaN()
	if c.weighted != nil {
		ws := make([]float64, 10)
		total := 0.0
		for i := range ws {
			ws[i] = float64(1 + i%4)
			total += ws[i]
		}
		wl := c.weighted(names[:10], ws)
		cnt := map[string]int{}
		for _, k := range ks {
			cnt[wl.Get(k)]++
		}
		q.weightErr = 0
		for i, n := range names[:10] {
			share := float64(cnt[n]) / float64(len(ks))
			q.weightErr = math.Max(q.weightErr, 100*math.Abs(share/(ws[i]/total)-1))
		}
	}
	qualityCache[c.name] = q
	return q
}

// BenchmarkQuality reports balance, movement and weight fidelity at 10
// nodes over 1M keys (computed once per implementation, outside the
// timer); ns/op is a lookup at 10 nodes with cold keys.
func BenchmarkQuality(b *testing.B) {
	for _, c := range contenders {
		b.Run("impl="+c.name+"/nodes=10", func(b *testing.B) {
			q := measure(c)
			l := c.build(nodeNames(10))
			i := 0
			for b.Loop() {
				sink = l.Get(coldKeys[i&(len(coldKeys)-1)])
				i++
			}
			b.ReportMetric(q.peakMean, "peak/mean")
			b.ReportMetric(q.moved, "moved%")
			b.ReportMetric(q.needless, "needless")
			b.ReportMetric(q.rmMoved, "rm-moved%")
			b.ReportMetric(q.rmNeedless, "rm-needless")
			if !math.IsNaN(q.weightErr) {
				b.ReportMetric(q.weightErr, "weight-err%")
			}
		})
	}
}

// BenchmarkSet builds each implementation from scratch with all nodes at
// once (ns/op) and reports the heap the result retains (bytes). 1000-node
// figures for sinew: BenchmarkSet in the hashring package itself.
func BenchmarkSet(b *testing.B) {
	for _, c := range contenders {
		for _, nodes := range []int{10, 100} {
			b.Run(fmt.Sprintf("impl=%s/nodes=%d", c.name, nodes), func(b *testing.B) {
				names := nodeNames(nodes)
				runtime.GC()
				var m0, m1 runtime.MemStats
				runtime.ReadMemStats(&m0)
				l := c.build(names)
				runtime.GC()
				runtime.ReadMemStats(&m1)
				retained := float64(m1.HeapAlloc) - float64(m0.HeapAlloc)
				runtime.KeepAlive(l)
				b.ReportAllocs()
				for b.Loop() {
					l = c.build(names)
				}
				sink = l.Get("k")
				b.ReportMetric(retained, "bytes")
			})
		}
	}
}
