package balancer_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/sinew-dev/sinew/balancer"
	"github.com/sinew-dev/sinew/breaker"
)

func ExampleNew() {
	b := balancer.New[string](balancer.WeightedRoundRobin, balancer.Options[string]{})
	err := b.Set([]balancer.Member[string]{
		{Backend: "a:80", Weight: 5},
		{Backend: "b:80", Weight: 1},
		{Backend: "c:80", Weight: 1},
	})
	if err != nil {
		panic(err)
	}
	for range 7 {
		p, err := b.Pick()
		if err != nil {
			panic(err)
		}
		fmt.Print(p.Backend, " ")
		p.Done(nil, time.Millisecond)
	}
	fmt.Println()
	// Output: a:80 a:80 b:80 a:80 c:80 a:80 a:80
}

func ExampleBalancer_Pick() {
	b := balancer.New[string](balancer.PeakEWMA, balancer.Options[string]{})
	if err := b.Set([]balancer.Member[string]{{Backend: "10.0.0.1:80", Weight: 1}}); err != nil {
		panic(err)
	}
	send := func(addr string) error { return nil }

	p, err := b.Pick()
	if errors.Is(err, balancer.ErrNoBackend) {
		fmt.Println("nothing to send to")
		return
	}
	start := time.Now()
	err = send(p.Backend)
	p.Done(err, time.Since(start)) // exactly once, whatever the outcome
	fmt.Println("sent to", p.Backend)
	// Output: sent to 10.0.0.1:80
}

func ExampleBalancer_MarkDown() {
	b := balancer.New[string](balancer.RoundRobin, balancer.Options[string]{PanicThreshold: -1})
	_ = b.Set([]balancer.Member[string]{{Backend: "a", Weight: 1}, {Backend: "b", Weight: 1}})
	b.MarkDown("a") // say a health check failed
	for range 3 {
		p, _ := b.Pick()
		fmt.Println(p.Backend)
		p.Done(nil, 0)
	}
	b.MarkUp("a")
	fmt.Println(b.Members()[0].Available)
	// Output:
	// b
	// b
	// b
	// true
}

func ExampleOptions_breaker() {
	// A breaker per backend: two failures in a row eject it for 10 s, then one probe decides.
	b := balancer.New[string](balancer.RoundRobin, balancer.Options[string]{
		PanicThreshold: -1,
		Breaker:        &breaker.Options{ConsecutiveFailures: 2, OpenDuration: 10 * time.Second},
	})
	_ = b.Set([]balancer.Member[string]{{Backend: "a", Weight: 1}, {Backend: "b", Weight: 1}})
	for range 4 {
		p, _ := b.Pick()
		if p.Backend == "a" {
			p.Done(errors.New("connection refused"), 0)
		} else {
			p.Done(nil, 0)
		}
	}
	for _, st := range b.Members() {
		fmt.Println(st.Backend, "ejected:", st.Ejected)
	}
	// Output:
	// a ejected: true
	// b ejected: false
}

func ExampleBalancer_PickKey() {
	b := balancer.New[string](balancer.ConsistentHash, balancer.Options[string]{})
	_ = b.Set([]balancer.Member[string]{{Backend: "n1", Weight: 1}, {Backend: "n2", Weight: 1}, {Backend: "n3", Weight: 1}})

	owner, _ := b.Owner("user:42")
	p, _ := b.PickKey("user:42")
	fmt.Println("owner picked:", p.Backend == owner)
	p.Done(nil, 0)

	b.MarkDown(owner) // the owner is down: the key goes to another node
	p, _ = b.PickKey("user:42")
	fmt.Println("owner picked when down:", p.Backend == owner)
	p.Done(nil, 0)
	// Output:
	// owner picked: true
	// owner picked when down: false
}
