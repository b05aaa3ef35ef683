package crdt_test

import (
	"fmt"
	"slices"

	"github.com/sinew-dev/sinew/crdt"
	"github.com/sinew-dev/sinew/vclock"
)

// Two replicas of a shopping list diverge while partitioned, then exchange
// deltas and converge. The concurrent add of "milk" survives the remove
// that did not see it (add wins).
func Example() {
	var alice, bob crdt.ORSet[string]
	d1 := alice.Add("alice", "milk")
	bob.Merge(d1) // both have milk

	// Partition: each side works alone.
	d2 := alice.Remove("milk")
	d3 := bob.Add("bob", "eggs")
	d4 := bob.Add("bob", "milk") // bob re-adds milk, unaware of the remove

	// Heal: deliver the deltas, in any order.
	alice.Merge(d4)
	alice.Merge(d3)
	bob.Merge(d2)

	a, b := alice.Elements(), bob.Elements()
	slices.Sort(a)
	slices.Sort(b)
	fmt.Println(a, b)
	// Output: [eggs milk] [eggs milk]
}

func ExampleGCounter() {
	var a, b crdt.GCounter
	a.Inc("a", 3)
	delta := b.Inc("b", 2)
	a.Merge(delta) // ship the delta...
	b.Merge(a)     // ...or the full state
	fmt.Println(a.Value(), b.Value())
	// Output: 5 5
}

func ExampleGCounter_Prune() {
	var a, b crdt.GCounter
	a.Inc("a", 1)
	b.Inc("b", 4)
	a.Merge(b)
	// b has left the cluster for good; a (the leader) folds its count in.
	delta := a.Prune("b", "a")
	fmt.Println(a.Value(), a.Replicas(), a.Count("a"))

	// An old copy of b's count, merged later, is not counted twice.
	a.Merge(b)
	var c crdt.GCounter
	c.Merge(b)
	c.Merge(delta)
	fmt.Println(a.Value(), c.Value())
	// Output:
	// 5 1 5
	// 5 5
}

func ExamplePNCounter() {
	var a, b crdt.PNCounter
	a.Inc("a", 10)
	b.Dec("b", 3)
	a.Merge(b)
	fmt.Println(a.Value())
	// Output: 7
}

func ExampleGSet() {
	var a, b crdt.GSet[int]
	a.Add(1)
	b.Merge(a.Add(2))
	b.Add(3)
	a.Merge(b)
	e := a.Elements()
	slices.Sort(e)
	fmt.Println(e)
	// Output: [1 2 3]
}

func ExampleORSet_AppendBinary() {
	var s crdt.ORSet[string]
	s.Add("r1", "x")
	s.Add("r1", "y")
	s.Remove("x")
	data := s.AppendBinary(nil, crdt.StringCodec{})
	t, err := crdt.DecodeORSet(data, crdt.StringCodec{})
	fmt.Println(t.Elements(), err, len(data))
	// Output: [y] <nil> 15
}

func ExampleLWWRegister() {
	var a, b crdt.LWWRegister[string]
	a.Set("a", vclock.Timestamp{WallTime: 100}, "blue")
	b.Set("b", vclock.Timestamp{WallTime: 200}, "green")
	a.Merge(b)
	b.Merge(a)
	va, _ := a.Get()
	vb, _ := b.Get()
	fmt.Println(va, vb)
	// Output: green green
}

func ExampleMVRegister() {
	var a, b crdt.MVRegister[string]
	b.Merge(a.Write("a", "v1"))
	// Concurrent writes: both are kept.
	da := a.Write("a", "v2")
	db := b.Write("b", "v3")
	a.Merge(db)
	b.Merge(da)
	fmt.Println(a.Values(), b.Values())
	// A later write that saw both replaces them.
	b.Merge(a.Write("a", "v4"))
	fmt.Println(b.Values())
	// Output:
	// [v2 v3] [v2 v3]
	// [v4]
}

func ExampleLWWMap() {
	var a, b crdt.LWWMap[string, string]
	b.Merge(a.Set("a", vclock.Timestamp{WallTime: 1}, "color", "red"))
	// Concurrently: a deletes the key, b writes it again. The write wins.
	del := a.Delete("color")
	set := b.Set("b", vclock.Timestamp{WallTime: 2}, "color", "blue")
	a.Merge(set)
	b.Merge(del)
	va, _ := a.Get("color")
	vb, _ := b.Get("color")
	fmt.Println(va, vb)
	// Output: blue blue
}
