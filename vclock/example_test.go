package vclock_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sinew-dev/sinew/vclock"
)

// Two replicas write, exchange clocks, and detect a conflict.
func Example() {
	var alice, bob vclock.Clock

	alice.Tick("alice") // alice writes v1
	bob.Merge(alice)    // bob receives v1 with alice's clock...
	bob.Tick("bob")     // ...and overwrites it with v2
	fmt.Println("v1 vs v2:", alice.Compare(bob))

	alice.Tick("alice") // meanwhile alice writes v3 without seeing v2
	fmt.Println("v3 vs v2:", alice.Compare(bob))

	// Resolving the conflict: merge the clocks and tick.
	alice.Merge(bob)
	alice.Tick("alice")
	fmt.Println("resolved:", alice, "descends v2:", alice.Descends(bob))
	// Output:
	// v1 vs v2: before
	// v3 vs v2: concurrent
	// resolved: {"alice":3, "bob":1} descends v2: true
}

func ExampleClock_Compare() {
	a := vclock.Of(vclock.Dot{ID: "a", Counter: 2}, vclock.Dot{ID: "b", Counter: 1})
	b := vclock.Of(vclock.Dot{ID: "a", Counter: 2}, vclock.Dot{ID: "b", Counter: 3})
	c := vclock.Of(vclock.Dot{ID: "a", Counter: 3})
	zero := vclock.Of(vclock.Dot{ID: "a", Counter: 2}, vclock.Dot{ID: "b", Counter: 1}, vclock.Dot{ID: "c", Counter: 0})

	fmt.Println(a.Compare(b), b.Compare(a), a.Compare(c), a.Compare(zero))
	// Output: before after concurrent equal
}

func ExampleClock_Merge() {
	a := vclock.Of(vclock.Dot{ID: "a", Counter: 5}, vclock.Dot{ID: "b", Counter: 1})
	b := vclock.Of(vclock.Dot{ID: "b", Counter: 4}, vclock.Dot{ID: "c", Counter: 2})
	a.Merge(b)
	fmt.Println(a)
	// Output: {"a":5, "b":4, "c":2}
}

func ExampleClock_Clone() {
	a := vclock.Of(vclock.Dot{ID: "a", Counter: 1})
	shared := a      // shares a's backing array: don't mutate both
	own := a.Clone() // independent
	own.Tick("a")
	fmt.Println(a, shared, own)
	// Output: {"a":1} {"a":1} {"a":2}
}

func ExampleClock_Prune() {
	c := vclock.Of(
		vclock.Dot{ID: "node-1", Counter: 7},
		vclock.Dot{ID: "node-2", Counter: 3},
		vclock.Dot{ID: "node-3", Counter: 9},
	)
	// node-2 left the cluster for good and every replica prunes it.
	removed := c.Prune(func(id string, _ uint64) bool { return id == "node-2" })
	fmt.Println(removed, c)
	// Output: 1 {"node-1":7, "node-3":9}
}

func ExampleClock_MarshalBinary() {
	c := vclock.Of(vclock.Dot{ID: "a", Counter: 1}, vclock.Dot{ID: "b", Counter: 300})
	b, _ := c.MarshalBinary()
	fmt.Printf("% x\n", b)

	var back vclock.Clock
	err := back.UnmarshalBinary(b)
	fmt.Println(back, err)

	err = back.UnmarshalBinary([]byte{2, 1, 'b', 1, 1, 'a', 1}) // IDs out of order
	fmt.Println(errors.Is(err, vclock.ErrMalformed))
	// Output:
	// 02 01 61 01 01 62 ac 02
	// {"a":1, "b":300} <nil>
	// true
}

// A clock and a timestamp embedded in a larger binary message, decoded in
// sequence with the byte counts the decoders return.
func ExampleDecodeClock() {
	clock := vclock.Of(vclock.Dot{ID: "n1", Counter: 4})
	stamp := vclock.Timestamp{WallTime: 1_700_000_000_000_000_000, Logical: 2}

	msg := []byte("v1")
	msg, _ = clock.AppendBinary(msg)
	msg, _ = stamp.AppendBinary(msg)
	msg = append(msg, "payload"...)

	rest := msg[2:]
	c, n, err := vclock.DecodeClock(rest)
	if err != nil {
		panic(err)
	}
	rest = rest[n:]
	t, n, err := vclock.DecodeTimestamp(rest)
	if err != nil {
		panic(err)
	}
	rest = rest[n:]
	fmt.Println(c, t, string(rest))
	// Output: {"n1":4} 1700000000.000000000,2 payload
}

func ExampleClock_MarshalJSON() {
	c := vclock.Of(vclock.Dot{ID: "b", Counter: 2}, vclock.Dot{ID: "a", Counter: 1})
	b, _ := json.Marshal(c)
	fmt.Println(string(b))

	var back vclock.Clock
	_ = json.Unmarshal([]byte(`{"z": 0, "b": 2, "a": 1}`), &back)
	fmt.Println(back.Equal(c))
	// Output:
	// {"a":1,"b":2}
	// true
}

// An HLC with a stepped wall clock, as in a test: timestamps keep
// increasing when the wall clock goes back, follow a remote node that is a
// little ahead, and refuse one that is too far ahead.
func ExampleHLC() {
	wall := int64(1_000_000_000) // 1s after the epoch
	clock := vclock.NewHLC(vclock.HLCOptions{
		MaxOffset: 100 * time.Millisecond,
		WallClock: func() int64 { return wall },
	})

	fmt.Println(clock.Now())
	wall -= 5 // the wall clock steps back
	fmt.Println(clock.Now())

	remote := vclock.Timestamp{WallTime: wall + int64(50*time.Millisecond), Logical: 7}
	ts, err := clock.Update(remote)
	fmt.Println(ts, err)

	_, err = clock.Update(vclock.Timestamp{WallTime: wall + int64(time.Second)})
	fmt.Println(errors.Is(err, vclock.ErrRemoteAhead))
	// Output:
	// 1.000000000,0
	// 1.000000000,1
	// 1.049999995,8 <nil>
	// true
}

func ExampleTimestamp_Compare() {
	a := vclock.Timestamp{WallTime: 100, Logical: 5}
	b := vclock.Timestamp{WallTime: 101}
	fmt.Println(a.Compare(b), b.Compare(a), a.Compare(a), a.Less(b))
	// Output: -1 1 0 true
}

func ExampleLamport() {
	var l vclock.Lamport
	l.Tick()                 // a local event: 1
	fmt.Println(l.Update(7)) // a message stamped 7 arrives
	fmt.Println(l.Tick())
	// Output:
	// 8
	// 9
}
