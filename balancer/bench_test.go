package balancer_test

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/sinew-dev/sinew/balancer"
)

// newBench returns a balancer of policy over n backends with weights 1..10 repeating (all 1 for
// the unweighted policies, whose cost does not depend on weights).
func newBench(policy balancer.Policy, n int) *balancer.Balancer[int] {
	b := balancer.New[int](policy, balancer.Options[int]{})
	ms := make([]balancer.Member[int], n)
	for i := range ms {
		ms[i] = balancer.Member[int]{Backend: i, Weight: 1 + i%10}
	}
	if err := b.Set(ms); err != nil {
		panic(err)
	}
	return b
}

var benchKeys = func() []string {
	ks := make([]string, 1024)
	for i := range ks {
		ks[i] = "user:" + strconv.Itoa(i)
	}
	return ks
}()

// BenchmarkPick measures one pick and its Done, serially and in parallel, for every policy.
//
//	go test -run '^$' -bench Pick -benchmem ./balancer
func BenchmarkPick(b *testing.B) {
	for _, p := range balancer.Policies() {
		for _, n := range []int{10, 1000} {
			bal := newBench(p, n)
			name := fmt.Sprintf("policy=%s/backends=%d", p, n)
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				k := 0
				for b.Loop() {
					var pk balancer.Pick[int]
					var err error
					if p == balancer.ConsistentHash {
						pk, err = bal.PickKey(benchKeys[k&1023])
						k++
					} else {
						pk, err = bal.Pick()
					}
					if err != nil {
						b.Fatal(err)
					}
					pk.Done(nil, 0)
				}
			})
			b.Run(name+"/parallel", func(b *testing.B) {
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					k := 0
					for pb.Next() {
						var pk balancer.Pick[int]
						var err error
						if p == balancer.ConsistentHash {
							pk, err = bal.PickKey(benchKeys[k&1023])
							k++
						} else {
							pk, err = bal.Pick()
						}
						if err != nil {
							b.Error(err)
							return
						}
						pk.Done(nil, 0)
					}
				})
			})
		}
	}
}
