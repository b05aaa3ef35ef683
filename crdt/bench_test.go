package crdt_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/sinew-dev/sinew/crdt"
)

// Run with:
//
//	go test -run '^$' -bench . -benchtime=200ms -count 3 ./crdt

// gcounters returns two counters over the same n replicas, b one
// increment ahead in the last one, built separately so that they share no
// memory (as after decoding).
func gcounters(n int) (a, b crdt.GCounter) {
	for i := range n {
		a.Inc(fmt.Sprintf("replica-%d", i), uint64(1000+i))
		b.Inc(fmt.Sprintf("replica-%d", i), uint64(1000+i))
	}
	b.Inc(fmt.Sprintf("replica-%d", n-1), 1)
	return a, b
}

func BenchmarkGCounterMerge(b *testing.B) {
	for _, n := range []int{3, 16, 64} {
		x, y := gcounters(n)
		b.Run(fmt.Sprintf("impl=sinew/replicas=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				x.Merge(y)
			}
		})
	}
}

// orset returns a set of n adds at one replica, then half of them removed
// in a seeded random order, and the total size of the remaining elements.
func orset(n int, replica string, seed uint64) (crdt.ORSet[string], int) {
	var s crdt.ORSet[string]
	for i := range n {
		s.Add(replica, fmt.Sprintf("element-%d", i))
	}
	r := rand.New(rand.NewPCG(seed, 0))
	for _, i := range r.Perm(n)[:n/2] {
		s.Remove(fmt.Sprintf("element-%d", i))
	}
	payload := 0
	for e := range s.All() {
		payload += len(e)
	}
	return s, payload
}

// BenchmarkORSetEncode encodes a set of 10,000 adds with half removed and
// reports its size ("bytes") and the size of its elements alone
// ("payload-bytes").
func BenchmarkORSetEncode(b *testing.B) {
	s, payload := orset(10000, "replica-0", 1)
	b.Run("impl=sinew/adds=10000/removed=50%", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf = s.AppendBinary(buf[:0], crdt.StringCodec{})
		}
		b.ReportMetric(float64(len(buf)), "bytes")
		b.ReportMetric(float64(payload), "payload-bytes")
	})
}

func BenchmarkORSetDecode(b *testing.B) {
	s, _ := orset(10000, "replica-0", 1)
	data := s.AppendBinary(nil, crdt.StringCodec{})
	b.Run("impl=sinew/adds=10000/removed=50%", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := crdt.DecodeORSet(data, crdt.StringCodec{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkORSetMerge merges a set of 10,000 adds with half removed with
// an identical, separately built set (the anti-entropy steady state), and
// two replicas that diverged: each added 10,000 elements of its own
// (5,000 shared names) and removed half of them.
func BenchmarkORSetMerge(b *testing.B) {
	x, _ := orset(10000, "replica-0", 1)
	y, _ := orset(10000, "replica-0", 1)
	b.Run("impl=sinew/adds=10000/removed=50%/case=identical", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			x.Merge(y)
		}
		if x.Len() != 5000 {
			b.Fatal("wrong size", x.Len())
		}
	})
	p, _ := orset(10000, "replica-0", 1)
	q := divergent(10000, "replica-1", 2)
	b.Run("impl=sinew/adds=10000/removed=50%/case=divergent", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			z := p.Clone()
			b.StartTimer()
			z.Merge(q)
		}
	})
}

// divergent is like orset with names offset by half, so that half of the
// names are shared with orset's.
func divergent(n int, replica string, seed uint64) crdt.ORSet[string] {
	var s crdt.ORSet[string]
	for i := range n {
		s.Add(replica, fmt.Sprintf("element-%d", i+n/2))
	}
	r := rand.New(rand.NewPCG(seed, 0))
	for _, i := range r.Perm(n)[:n/2] {
		s.Remove(fmt.Sprintf("element-%d", i+n/2))
	}
	return s
}

func BenchmarkORSetAdd(b *testing.B) {
	b.Run("impl=sinew", func(b *testing.B) {
		b.ReportAllocs()
		var s crdt.ORSet[int]
		i := 0
		for b.Loop() {
			s.Add("replica-0", i%1024)
			i++
		}
	})
}
