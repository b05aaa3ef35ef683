package vclock

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

var sizes = []int{3, 16, 64}

// benchClocks returns two clocks over the same n replicas whose IDs are
// separate string allocations (as after decoding), with b ahead of a in
// one entry, so that Compare must walk every entry.
func benchClocks(n int) (a, b Clock) {
	a, b = clockN(n, 1), clockN(n, 1)
	b.Tick(fmt.Sprintf("replica-%d", n-1))
	return a, b
}

// BenchmarkMerge merges a clock over the same replicas into another: the
// steady state of a stable membership.
func BenchmarkMerge(b *testing.B) {
	for _, n := range sizes {
		b.Run(fmt.Sprintf("impl=sinew/replicas=%d", n), func(b *testing.B) {
			x, y := benchClocks(n)
			b.ReportAllocs()
			for b.Loop() {
				x.Merge(y)
			}
		})
	}
}

// BenchmarkMergeInto copies a clock into an emptied clock that has
// capacity (Reset + Merge), then merges a clock with disjoint replicas in
// half the entries: the insert path.
func BenchmarkMergeInto(b *testing.B) {
	for _, n := range sizes {
		b.Run(fmt.Sprintf("impl=sinew/replicas=%d", n), func(b *testing.B) {
			src := clockN(n/2+1, 1)
			var other Clock
			for i := range n / 2 {
				other.Set(fmt.Sprintf("other-%d", i), 1)
			}
			dst := Clock{e: make([]Dot, 0, n+2)}
			b.ReportAllocs()
			for b.Loop() {
				dst.Reset()
				dst.Merge(src)
				dst.Merge(other)
			}
		})
	}
}

// BenchmarkCompare compares two clocks over the same replicas that differ
// only in the last entry (the worst case: a full walk).
func BenchmarkCompare(b *testing.B) {
	for _, n := range sizes {
		b.Run(fmt.Sprintf("impl=sinew/replicas=%d", n), func(b *testing.B) {
			x, y := benchClocks(n)
			b.ReportAllocs()
			var o Order
			for b.Loop() {
				o = x.Compare(y)
			}
			if o != Before {
				b.Fatal(o)
			}
		})
	}
}

func BenchmarkTick(b *testing.B) {
	for _, n := range sizes {
		b.Run(fmt.Sprintf("impl=sinew/replicas=%d", n), func(b *testing.B) {
			x := clockN(n, 1)
			id := fmt.Sprintf("replica-%d", n/2)
			b.ReportAllocs()
			for b.Loop() {
				x.Tick(id)
			}
		})
	}
}

// BenchmarkMarshalBinary reports the encoded size as bytes/clock.
func BenchmarkMarshalBinary(b *testing.B) {
	for _, n := range sizes {
		b.Run(fmt.Sprintf("impl=sinew/replicas=%d", n), func(b *testing.B) {
			x := clockN(n, 1000) // counters 1000…: two-byte varints
			buf := make([]byte, 0, 4096)
			b.ReportAllocs()
			for b.Loop() {
				buf, _ = x.AppendBinary(buf[:0])
			}
			b.ReportMetric(float64(len(buf)), "bytes/clock")
		})
	}
}

func BenchmarkDecodeClock(b *testing.B) {
	for _, n := range sizes {
		b.Run(fmt.Sprintf("impl=sinew/replicas=%d", n), func(b *testing.B) {
			enc, _ := clockN(n, 1000).MarshalBinary()
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := DecodeClock(enc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkMarshalJSON(b *testing.B) {
	x := clockN(64, 1000)
	b.ReportAllocs()
	var out []byte
	for b.Loop() {
		out, _ = x.MarshalJSON()
	}
	b.ReportMetric(float64(len(out)), "bytes/clock")
}

// BenchmarkNow puts HLC.Now next to the time.Now it calls, and the Lamport
// clock. The parallel variants show contention on the HLC's mutex; vary
// cores with -cpu.
func BenchmarkNow(b *testing.B) {
	b.Run("impl=time.Now", func(b *testing.B) {
		var t time.Time
		for b.Loop() {
			t = time.Now()
		}
		_ = t
	})
	b.Run("impl=hlc", func(b *testing.B) {
		h := NewHLC(HLCOptions{})
		b.ReportAllocs()
		for b.Loop() {
			h.Now()
		}
	})
	b.Run("impl=lamport", func(b *testing.B) {
		var l Lamport
		b.ReportAllocs()
		for b.Loop() {
			l.Tick()
		}
	})
	b.Run("impl=time.Now/parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			var t time.Time
			for pb.Next() {
				t = time.Now()
			}
			_ = t
		})
	})
	b.Run("impl=hlc/parallel", func(b *testing.B) {
		h := NewHLC(HLCOptions{})
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				h.Now()
			}
		})
	})
	b.Run("impl=mutex+time.Now/parallel", func(b *testing.B) {
		// What any locked clock that reads time.Now costs: the floor for HLC.
		var mu sync.Mutex
		var last int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				t := time.Now().UnixNano()
				mu.Lock()
				last = max(last, t)
				mu.Unlock()
			}
		})
	})
}

func BenchmarkHLCUpdate(b *testing.B) {
	h := NewHLC(HLCOptions{})
	remote := h.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Update(remote); err != nil {
			b.Fatal(err)
		}
	}
}
