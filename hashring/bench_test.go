package hashring

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cespare/xxhash/v2"
)

// Lookups cycle through 64Ki distinct ~17-byte keys ("cold": tables larger
// than L2 do not stay cached) or the first 1Ki of them ("hot").
var (
	coldKeys = qualityKeys(1 << 16)
	hotKeys  = coldKeys[:1<<10]
	sink     string
	hashSink uint64
)

func newAlgo(b *testing.B, name string, nodes int) Algorithm[string] {
	for _, ac := range algoCases {
		if ac.name == name {
			a := ac.make()
			if err := a.Set(Names(nodeNames(nodes)...)); err != nil {
				b.Fatal(err)
			}
			return a
		}
	}
	b.Fatalf("unknown algorithm %s", name)
	return nil
}

func impl(name string) string { return "impl=" + strings.ToLower(name) }

func BenchmarkGet(b *testing.B) {
	for _, set := range []struct {
		name string
		keys []string
	}{{"cold", coldKeys}, {"hot", hotKeys}} {
		for _, ac := range algoCases {
			for _, nodes := range []int{10, 100, 1000} {
				b.Run(fmt.Sprintf("%s/nodes=%d/keys=%s", impl(ac.name), nodes, set.name), func(b *testing.B) {
					a := newAlgo(b, ac.name, nodes)
					mask := len(set.keys) - 1
					b.ReportAllocs()
					i := 0
					for b.Loop() {
						sink, _ = a.Get(set.keys[i&mask])
						i++
					}
				})
			}
		}
	}
}

// BenchmarkGetHash looks up pre-hashed keys: the algorithm alone, without
// the hashing of the key (BenchmarkHash).
func BenchmarkGetHash(b *testing.B) {
	hashes := make([]uint64, len(coldKeys))
	for i, k := range coldKeys {
		hashes[i] = hashKey(nil, k)
	}
	type hashGetter interface{ GetHash(uint64) (string, bool) }
	for _, ac := range algoCases {
		for _, nodes := range []int{10, 100, 1000} {
			b.Run(fmt.Sprintf("%s/nodes=%d", impl(ac.name), nodes), func(b *testing.B) {
				g := newAlgo(b, ac.name, nodes).(hashGetter)
				mask := len(hashes) - 1
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

// BenchmarkHash: the default key hash of ~17-byte keys, XXH3, as lookups
// compute it (impl=xxh3), and XXH64 through xxhash.Sum64String
// (impl=xxhash), the default before XXH3. BenchmarkXXH3 varies the size.
func BenchmarkHash(b *testing.B) {
	for _, set := range []struct {
		name string
		keys []string
	}{{"cold", coldKeys}, {"hot", hotKeys}} {
		mask := len(set.keys) - 1
		b.Run("impl=xxhash/keys="+set.name, func(b *testing.B) {
			var sum uint64
			i := 0
			for b.Loop() {
				sum += xxhash.Sum64String(set.keys[i&mask])
				i++
			}
			hashSink = sum
		})
		b.Run("impl=xxh3/keys="+set.name, func(b *testing.B) {
			var sum uint64
			i := 0
			for b.Loop() {
				sum += hashKey(nil, set.keys[i&mask])
				i++
			}
			hashSink = sum
		})
	}
}

// BenchmarkGetParallel: the read path is one atomic load of an immutable
// snapshot with no shared writes, so ns/op falls as -cpu grows.
func BenchmarkGetParallel(b *testing.B) {
	for _, ac := range algoCases {
		b.Run(impl(ac.name)+"/nodes=100", func(b *testing.B) {
			a := newAlgo(b, ac.name, 100)
			var seed atomic.Uint32
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := int(seed.Add(7919))
				var local string
				for pb.Next() {
					local, _ = a.Get(hotKeys[i&(len(hotKeys)-1)])
					i++
				}
				_ = local
			})
		})
	}
}

func BenchmarkGetN(b *testing.B) {
	for _, ac := range algoCases {
		for _, set := range []struct {
			name string
			keys []string
		}{{"cold", coldKeys}, {"hot", hotKeys}} {
			b.Run(fmt.Sprintf("%s/nodes=100/n=3/keys=%s", impl(ac.name), set.name), func(b *testing.B) {
				a := newAlgo(b, ac.name, 100)
				buf := make([]string, 0, 3)
				mask := len(set.keys) - 1
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					buf = a.GetN(set.keys[i&mask], 3, buf[:0])
					i++
				}
			})
		}
	}
}

// BenchmarkGetBounded: a balancer's pick, live loads read through a
// function from the caller's own backend values.
func BenchmarkGetBounded(b *testing.B) {
	type backend struct {
		name     string
		inflight atomic.Int64
	}
	for _, nodes := range []int{10, 100} {
		b.Run(fmt.Sprintf("impl=ring/nodes=%d", nodes), func(b *testing.B) {
			r := NewRing[*backend](Options{})
			var total atomic.Int64
			for i := 0; i < nodes; i++ {
				be := &backend{name: "node-" + strconv.Itoa(i)}
				be.inflight.Store(int64(i % 7))
				total.Add(int64(i % 7))
				if err := r.Add(be.name, be); err != nil {
					b.Fatal(err)
				}
			}
			load := func(be *backend) int64 { return be.inflight.Load() }
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				be, _ := r.GetBounded(hotKeys[i&(len(hotKeys)-1)], 0.25, total.Load(), load)
				sink = be.name
				i++
			}
		})
	}
}

// BenchmarkSet builds each algorithm from scratch (ns/op) and reports the
// heap the result retains (bytes).
func BenchmarkSet(b *testing.B) {
	for _, ac := range algoCases {
		for _, nodes := range []int{10, 100, 1000} {
			b.Run(fmt.Sprintf("%s/nodes=%d", impl(ac.name), nodes), func(b *testing.B) {
				ms := Names(nodeNames(nodes)...)
				runtime.GC()
				var m0, m1 runtime.MemStats
				runtime.ReadMemStats(&m0)
				a := ac.make()
				if err := a.Set(ms); err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				runtime.ReadMemStats(&m1)
				retained := float64(m1.HeapAlloc) - float64(m0.HeapAlloc)
				runtime.KeepAlive(a)
				b.ReportAllocs()
				for b.Loop() {
					if err := ac.make().Set(ms); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(retained, "bytes")
			})
		}
	}
}
