package balancer

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/go-kit/kit/endpoint"
	"github.com/go-kit/kit/sd"
	"github.com/go-kit/kit/sd/lb"

	"github.com/sinew-dev/sinew/balancer"
)

// picker makes one pick; it returns false on failure.
type picker func() bool

type contender struct {
	impl, policy string
	build        func(n int) picker
}

func backends(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "10.0.0." + strconv.Itoa(i) + ":80"
	}
	return out
}

// weight of backend i: 1..10 repeating.
func weight(i int) int { return 1 + i%10 }

func sinew(policy balancer.Policy) func(n int) picker {
	return func(n int) picker {
		b := balancer.New[string](policy, balancer.Options[string]{})
		ms := make([]balancer.Member[string], n)
		for i, be := range backends(n) {
			ms[i] = balancer.Member[string]{Backend: be, Weight: weight(i)}
		}
		if err := b.Set(ms); err != nil {
			panic(err)
		}
		return func() bool {
			p, err := b.Pick()
			p.Done(nil, 0)
			return err == nil
		}
	}
}

func contenders() []contender {
	return []contender{
		{"sinew", "roundrobin", sinew(balancer.RoundRobin)},
		{"gokit", "roundrobin", func(n int) picker {
			eps := make(sd.FixedEndpointer, n)
			for i := range eps {
				eps[i] = func(context.Context, any) (any, error) { return i, nil }
			}
			rr := lb.NewRoundRobin(eps)
			return func() bool {
				_, err := rr.Endpoint()
				return err == nil
			}
		}},
		{"sinew", "wrr", sinew(balancer.WeightedRoundRobin)},
		{"nginxswrr", "wrr", func(n int) picker {
			w := &nginxSWRR{}
			for i, be := range backends(n) {
				w.Add(be, weight(i))
			}
			return func() bool { return w.Next() != "" }
		}},
		{"sinew", "p2c", sinew(balancer.PowerOfTwo)},
		{"sinew", "peakewma", sinew(balancer.PeakEWMA)},
	}
}

var _ endpoint.Endpoint // go-kit's endpoint type, used through sd.FixedEndpointer

func BenchmarkPick(b *testing.B) {
	for _, c := range contenders() {
		for _, n := range []int{10, 100, 1000} {
			name := fmt.Sprintf("impl=%s/policy=%s/backends=%d", c.impl, c.policy, n)
			b.Run(name, func(b *testing.B) {
				pick := c.build(n)
				b.ReportAllocs()
				for b.Loop() {
					if !pick() {
						b.Fatal("pick failed")
					}
				}
			})
			b.Run(name+"/parallel", func(b *testing.B) {
				pick := c.build(n)
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if !pick() {
							b.Error("pick failed")
							return
						}
					}
				})
			})
		}
	}
}

// TestSameSequenceAsNginx is a differential test: sinew's precomputed smooth schedule produces
// exactly nginx's sequence.
func TestSameSequenceAsNginx(t *testing.T) {
	for _, ws := range [][]int{{5, 1, 1}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {100, 1, 1, 1}, {3, 7, 2}} {
		b := balancer.New[string](balancer.WeightedRoundRobin, balancer.Options[string]{})
		ref := &nginxSWRR{}
		total := 0
		for i, w := range ws {
			name := strconv.Itoa(i)
			if err := b.Add(name, w); err != nil {
				t.Fatal(err)
			}
			ref.Add(name, w)
			total += w
		}
		for k := range 3 * total {
			p, err := b.Pick()
			if err != nil {
				t.Fatal(err)
			}
			if want := ref.Next(); p.Backend != want {
				t.Fatalf("weights %v, pick %d: sinew %s, nginx %s", ws, k, p.Backend, want)
			}
		}
	}
}
