// Package vclock provides logical clocks for telling "happened before" from
// "concurrent" in a replicated system: vector clocks, hybrid logical clocks
// and Lamport clocks.
//
//   - [Clock] is a vector clock keyed by replica ID. It is stored as a slice
//     sorted by ID, so Merge and Compare are one linear walk that does not
//     allocate, and it has a compact canonical binary encoding (equal clocks
//     encode to identical bytes) and a JSON encoding. Compare tells Before,
//     After, Equal and Concurrent apart exactly: a zero counter and an
//     absent one are the same everywhere.
//   - [HLC] is a hybrid logical clock after CockroachDB's hlc package. Its
//     [Timestamp]s are wall-clock nanoseconds plus a logical counter: totally
//     ordered, close to real time, monotonic even when the wall clock steps
//     back, and guarded by a max-offset check against remote clocks running
//     far ahead.
//   - [Lamport] is a single atomic counter for the simplest cases.
//
// # Usage
//
// Each replica ticks its own entry for a local event, sends its clock with
// the data, and merges the clocks it receives:
//
//	var a, b vclock.Clock
//	a.Tick("alice")            // alice writes
//	b.Merge(a)                 // bob receives alice's write...
//	b.Tick("bob")              // ...and overwrites it
//	a.Compare(b)               // vclock.Before: bob's write supersedes
//	a.Tick("alice")            // meanwhile alice writes again
//	a.Compare(b)               // vclock.Concurrent: a conflict to resolve
//
// To stamp events with an HLC, call Now for local and send events and
// Update for received timestamps, refusing the message when Update fails:
//
//	clock := vclock.NewHLC(vclock.HLCOptions{MaxOffset: 250 * time.Millisecond})
//	ts := clock.Now()
//	if _, err := clock.Update(msg.Timestamp); errors.Is(err, vclock.ErrRemoteAhead) {
//		// the sender's clock is broken: refuse its message
//	}
//
// # Encoding
//
// Clock, Dot and Timestamp implement [encoding.BinaryAppender] and
// [encoding.BinaryMarshaler], and have decoders that report how many bytes
// they used ([DecodeClock], [DecodeDot], [DecodeTimestamp]) so that they can
// be embedded in larger encodings. The binary forms are canonical and
// decoders reject any other input with an error wrapping [ErrMalformed];
// they never panic and never allocate more than a small multiple of the
// input they validated. Clock encodes to JSON as an object of counters,
// Timestamp as its String form.
//
// # Concurrency
//
// A [Clock] is a plain value that is not safe for concurrent mutation;
// guard it with the data it versions. Copying a Clock shares its backing
// array (see the Clock type for the copy semantics): use Clone. [HLC] and
// [Lamport] are safe for concurrent use and must not be copied after first
// use. [Timestamp] and [Dot] are small plain values, safe to copy.
package vclock
