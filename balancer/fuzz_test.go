package balancer_test

import (
	"errors"
	"testing"
	"time"

	"github.com/sinew-dev/sinew/balancer"
	"github.com/sinew-dev/sinew/breaker"
)

// FuzzOperations drives a balancer of every policy with an arbitrary sequence of membership,
// health and pick operations and checks that it never panics, that a pick only ever returns an
// available member, that ErrNoBackend is the only error, and that in-flight counts return to 0.
func FuzzOperations(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	f.Add([]byte{7, 7, 7, 0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76, 0x87, 0x98})
	f.Fuzz(func(t *testing.T, ops []byte) {
		for _, p := range balancer.Policies() {
			b := balancer.New[int](p, balancer.Options[int]{
				Seed:    1,
				Breaker: &breaker.Options{ConsecutiveFailures: 2, OpenDuration: time.Hour},
			})
			var held []balancer.Pick[int]
			for i, op := range ops {
				x := int(op >> 4)
				switch op & 0xf {
				case 0, 1:
					ms := make([]balancer.Member[int], x%6)
					for k := range ms {
						ms[k] = balancer.Member[int]{Backend: (x + k) % 8, Weight: int(op) % 4}
					}
					_ = b.Set(ms) // may be ErrDuplicate
				case 2:
					_ = b.Add(x%8, x%3)
				case 3:
					b.Remove(x % 8)
				case 4:
					b.SetWeight(x%8, x%4-1)
				case 5:
					b.MarkDown(x % 8)
				case 6:
					b.MarkUp(x % 8)
				case 7, 8, 9, 10:
					pk, err := b.PickKey(string(rune(i)))
					if err != nil {
						if !errors.Is(err, balancer.ErrNoBackend) {
							t.Fatalf("policy %s: unexpected error %v", p, err)
						}
						continue
					}
					found := false
					for _, st := range b.Members() {
						if st.Backend == pk.Backend {
							found = true
						}
					}
					if !found {
						t.Fatalf("policy %s: picked %d, not a member", p, pk.Backend)
					}
					held = append(held, pk)
				default:
					if len(held) > 0 {
						var err error
						if op&1 == 0 {
							err = errors.New("boom")
						}
						held[0].Done(err, time.Duration(op)*time.Millisecond)
						held = held[1:]
					}
				}
			}
			for _, pk := range held {
				pk.Done(nil, 0)
			}
			for _, st := range b.Members() {
				if st.InFlight != 0 {
					t.Fatalf("policy %s: backend %d has %d in flight after every Done", p, st.Backend, st.InFlight)
				}
			}
		}
	})
}
