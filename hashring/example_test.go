package hashring_test

import (
	"fmt"
	"hash/crc32"
	"sync/atomic"

	"github.com/sinew-dev/sinew/hashring"
)

// Route usernames to nodes. Nodes are named by strings; here the value
// returned is the name itself.
func ExampleRing() {
	r := hashring.NewRing[string](hashring.Options{})
	if err := r.Set(hashring.Names("auth-a", "auth-b", "auth-c")); err != nil {
		panic(err)
	}
	for _, user := range []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"} {
		node, _ := r.Get(user)
		fmt.Println(user, "->", node)
	}
	// Output:
	// alice -> auth-b
	// bob -> auth-c
	// carol -> auth-b
	// dave -> auth-a
	// erin -> auth-c
	// frank -> auth-b
	// grace -> auth-b
	// heidi -> auth-b
}

// A replica set: the owner and the next distinct nodes clockwise. Reusing
// the buffer keeps GetN allocation-free.
func ExampleRing_GetN() {
	r := hashring.NewRing[string](hashring.Options{})
	r.Set(hashring.Names("db-1", "db-2", "db-3", "db-4", "db-5"))
	buf := make([]string, 0, 3)
	buf = r.GetN("invoice:1234", 3, buf[:0])
	fmt.Println(buf)
	// Output:
	// [db-3 db-4 db-5]
}

// Bounded loads: the ring holds the caller's own backend values, and live
// in-flight counts come in through a function, so a hot key spills over
// to the next node instead of overloading its owner.
func ExampleRing_GetBounded() {
	type backend struct {
		addr     string
		inflight atomic.Int64
	}
	r := hashring.NewRing[*backend](hashring.Options{})
	var total atomic.Int64
	for _, addr := range []string{"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"} {
		r.Add(addr, &backend{addr: addr})
	}
	load := func(b *backend) int64 { return b.inflight.Load() }

	owner, _ := r.Get("hot-key")
	owner.inflight.Store(50) // the owner is busy
	total.Store(50)

	b, _ := r.GetBounded("hot-key", 0.25, total.Load(), load)
	fmt.Println("owner:", owner.addr)
	fmt.Println("chosen:", b.addr)
	// Output:
	// owner: 10.0.0.3:80
	// chosen: 10.0.0.2:80
}

// Weights: a node of weight 2 gets about twice the keys.
func ExampleRing_AddWeighted() {
	r := hashring.NewRing[string](hashring.Options{})
	r.AddWeighted("small", "small", 1)
	r.AddWeighted("big", "big", 2)
	counts := map[string]int{}
	for i := 0; i < 30000; i++ {
		n, _ := r.Get(fmt.Sprint("key-", i))
		counts[n]++
	}
	// About 2: weights are honoured exactly on average, and one node's share
	// varies by about 1/sqrt(2*VirtualNodes*weight) (2.2% here) around it.
	fmt.Printf("big/small = %.1f\n", float64(counts["big"])/float64(counts["small"]))
	// Output:
	// big/small = 2.0
}

// Bad input is reported, never a panic.
func ExampleRing_Remove() {
	r := hashring.NewRing[string](hashring.Options{})
	r.Add("a", "a")
	fmt.Println(r.Remove("b"))
	fmt.Println(r.Add("a", "a"))
	fmt.Println(r.AddWeighted("c", "c", 0))
	// Output:
	// hashring: no such node: "b"
	// hashring: duplicate node name: "a"
	// hashring: weight must be positive and finite: "c" has weight 0
}

// The algorithms share the Picker interface, so they can be swapped.
func ExamplePicker() {
	algos := map[string]hashring.Algorithm[string]{
		"ring":       hashring.NewRing[string](hashring.Options{}),
		"maglev":     hashring.NewMaglev[string](hashring.Options{}),
		"rendezvous": hashring.NewRendezvous[string](hashring.Options{}),
		"jump":       hashring.NewJump[string](hashring.Options{}),
	}
	for _, name := range []string{"ring", "maglev", "rendezvous", "jump"} {
		a := algos[name]
		a.Set(hashring.Names("n1", "n2", "n3", "n4"))
		var p hashring.Picker[string] = a
		node, _ := p.Get("session:42")
		fmt.Println(name, node, p.GetN("session:42", 2, nil))
	}
	// Output:
	// ring n1 [n1 n3]
	// maglev n2 [n2 n3]
	// rendezvous n1 [n1 n2]
	// jump n4 [n4 n3]
}

// A pluggable hash: CRC-32 as groupcache uses, shifted into the high bits
// as Hash requires.
func ExampleHash() {
	crc := func(s string) uint64 { return uint64(crc32.ChecksumIEEE([]byte(s))) << 32 }
	r := hashring.NewRing[string](hashring.Options{Hash: crc, VirtualNodes: 100})
	r.Set(hashring.Names("a", "b"))
	n, _ := r.Get("some-key")
	fmt.Println(n)
	// Output:
	// b
}

// Jump numbers its buckets by arrival and has no weights.
func ExampleJump() {
	j := hashring.NewJump[string](hashring.Options{})
	j.Set(hashring.Names("shard-0", "shard-1", "shard-2"))
	n, _ := j.Get("user:7")
	fmt.Println(n, hashring.JumpHash(12345, 3))
	fmt.Println(j.AddWeighted("shard-3", "shard-3", 2))
	// Output:
	// shard-2 1
	// hashring: not supported by this algorithm: Jump has no weights ("shard-3" has weight 2)
}
