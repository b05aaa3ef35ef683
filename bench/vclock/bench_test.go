package vclockbench

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sinew-dev/sinew/vclock"
)

// Run with:
//
//	cd bench && go test -run '^$' -bench . -count 6 ./vclock | benchstat -col /impl -
//
// impl=mapclock is a stand-in for GoVector (see the package comment).

var sizes = []int{3, 16, 64}

// ids returns n replica IDs as fresh strings, so that two clocks built from
// two calls share no string memory (as clocks decoded from the wire).
func ids(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("replica-%d", i)
	}
	return out
}

// pair returns two clocks over the same n replicas, with y one tick ahead
// in the last replica, for both implementations.
func pair(n int) (x, y vclock.Clock, mx, my mapClock) {
	mx, my = mapClock{}, mapClock{}
	for i, id := range ids(n) {
		x.Set(id, uint64(1000+i))
		mx[id] = uint64(1000 + i)
	}
	for i, id := range ids(n) {
		y.Set(id, uint64(1000+i))
		my[id] = uint64(1000 + i)
	}
	last := fmt.Sprintf("replica-%d", n-1)
	y.Tick(last)
	my.Tick(last)
	return
}

func BenchmarkMerge(b *testing.B) {
	for _, n := range sizes {
		x, y, mx, my := pair(n)
		b.Run(fmt.Sprintf("impl=sinew/replicas=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				x.Merge(y)
			}
		})
		b.Run(fmt.Sprintf("impl=mapclock/replicas=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				mx.Merge(my)
			}
		})
	}
}

// BenchmarkCompare classifies x against y (before/equal/after/concurrent)
// where y is ahead in the last entry only: every entry must be examined.
func BenchmarkCompare(b *testing.B) {
	for _, n := range sizes {
		x, y, mx, my := pair(n)
		b.Run(fmt.Sprintf("impl=sinew/replicas=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if x.Compare(y) != vclock.Before {
					b.Fatal("wrong order")
				}
			}
		})
		b.Run(fmt.Sprintf("impl=mapclock/replicas=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if mx.Order(my) != -1 {
					b.Fatal("wrong order")
				}
			}
		})
	}
}

func BenchmarkTick(b *testing.B) {
	for _, n := range sizes {
		x, _, mx, _ := pair(n)
		id := fmt.Sprintf("replica-%d", n/2)
		b.Run(fmt.Sprintf("impl=sinew/replicas=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				x.Tick(id)
			}
		})
		b.Run(fmt.Sprintf("impl=mapclock/replicas=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				mx.Tick(id)
			}
		})
	}
}

// BenchmarkEncode reports the encoded size as bytes/clock (counters
// 1000…1063, IDs "replica-0"…).
func BenchmarkEncode(b *testing.B) {
	for _, n := range sizes {
		x, _, mx, _ := pair(n)
		b.Run(fmt.Sprintf("impl=sinew/replicas=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var out []byte
			for b.Loop() {
				out, _ = x.MarshalBinary()
			}
			b.ReportMetric(float64(len(out)), "bytes/clock")
		})
		b.Run(fmt.Sprintf("impl=mapclock/replicas=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var out []byte
			for b.Loop() {
				out, _ = mx.Bytes()
			}
			b.ReportMetric(float64(len(out)), "bytes/clock")
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, n := range sizes {
		x, _, mx, _ := pair(n)
		enc, _ := x.MarshalBinary()
		menc, _ := mx.Bytes()
		b.Run(fmt.Sprintf("impl=sinew/replicas=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var c vclock.Clock
			for b.Loop() {
				if err := c.UnmarshalBinary(enc); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("impl=mapclock/replicas=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := fromBytes(menc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestStandInAgrees checks that the stand-in and sinew agree on random
// clocks, so that the benchmarks compare implementations of the same thing.
func TestStandInAgrees(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, seed))
	pool := ids(6)
	gen := func() (vclock.Clock, mapClock) {
		var c vclock.Clock
		m := mapClock{}
		for _, id := range pool {
			if n := uint64(r.IntN(3)); n > 0 {
				c.Set(id, n)
				m[id] = n
			}
		}
		return c, m
	}
	for range 2000 {
		a, ma := gen()
		b, mb := gen()
		if got, want := int(a.Compare(b)), ma.Order(mb); got != want {
			t.Fatalf("%v vs %v: sinew %d, mapclock %d", a, b, got, want)
		}
		a.Merge(b)
		ma.Merge(mb)
		for _, id := range pool {
			if a.Get(id) != ma[id] {
				t.Fatalf("merge differs at %s: %v vs %v", id, a, ma)
			}
		}
		enc, err := ma.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		back, err := fromBytes(enc)
		if err != nil || len(back) != len(ma) {
			t.Fatalf("gob round trip: %v, %v", back, err)
		}
	}
}
