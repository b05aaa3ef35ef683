// Package crdt provides delta-state conflict-free replicated data types:
// counters, sets and registers that replicas update independently, even
// while partitioned, and merge in any order, any number of times, to the
// same value.
//
//   - [GCounter] (grow-only) and [PNCounter] (up and down) counters, with
//     pruning of departed replicas that keeps the value.
//   - [GSet], a grow-only set, and [ORSet], an add-wins observed-remove set
//     without tombstones: removed elements leave nothing behind, and its
//     causal context stays one counter per replica.
//   - [LWWRegister], a last-writer-wins register ordered by HLC timestamps
//     from package vclock, ties broken by replica ID, and [MVRegister], a
//     multi-value register that keeps concurrent writes.
//   - [LWWMap], a map whose keys are added and removed like an ORSet's
//     elements (no tombstones) and whose concurrently written values are
//     resolved last-writer-wins.
//
// Every type is a join semilattice: Merge is commutative, associative and
// idempotent, and mutators only move a state up. Mutators are delta
// mutators (Almeida, Shoker and Baquero, "Delta State Replicated Data
// Types", 2018): besides changing the state they return a delta, a small
// value of the same type holding just the change, which a replica ships
// instead of its full state. Merge takes a full state or a delta and gives
// the same result either way; deltas can be merged into each other to ship
// a batch. Deltas may be lost, duplicated or reordered: an occasional
// full-state merge (anti-entropy) repairs any loss, and every replica that
// has received the same updates holds the same state, whatever the order.
// Between the two, a replica that merged one replica's deltas out of order
// may briefly show a value that a missing delta supersedes (for example an
// element that a later add re-tagged and a remove then removed); shipping
// each replica's deltas in order, as delta groups, avoids that (the
// causal delta-merging condition of Almeida et al.).
//
// Replica identity is explicit: each mutator that creates an event takes
// the ID of the replica performing it. A replica must use its own ID only,
// and one ID must never be used by two live replicas at once (a restarted
// replica that lost its state must take a new ID).
//
// # Usage
//
// Each replica keeps its own state, applies local operations, and sends
// the returned deltas (or, now and then, its full state) to the others,
// which merge them:
//
//	var alice, bob crdt.ORSet[string]
//	d1 := alice.Add("alice", "milk")
//	d2 := bob.Add("bob", "eggs")
//	bob.Merge(d1)          // deliver alice's delta to bob
//	alice.Merge(d2)        // and bob's to alice
//	d3 := bob.Remove("milk")
//	alice.Merge(d3)        // both now hold {eggs}
//
// To put a state or delta on the wire, use the canonical binary encoding:
// counters implement [encoding.BinaryMarshaler] and
// [encoding.BinaryUnmarshaler]; the generic types take a [Codec] for their
// elements (AppendBinary and the DecodeX functions). Equal states encode to
// identical bytes, so the bytes can be hashed or compared. Decoders reject
// truncated, non-canonical or ill-formed input with an error wrapping
// [ErrMalformed]; they never panic and never allocate from a length they
// have not checked against the input. Every type also has a deterministic
// JSON encoding (MarshalJSON and UnmarshalJSON), with the same checks, for
// inspection and JSON-speaking systems.
//
// # Concurrency
//
// Every type is a plain value owned by its caller, like a map: it is not
// safe for concurrent use, and there is no locked wrapper. A replica's
// state is normally guarded together with the rest of the replica (its
// outgoing delta buffer, its HLC updates, its persistence) by one mutex of
// the caller's; a per-type lock would guard too little. Reading from
// several goroutines with no writer is safe.
//
// Merge never makes its receiver share memory with its argument, and the
// deltas returned by mutators share no memory with the state they came
// from, so a delta can be handed to another goroutine and the argument of a
// Merge reused or mutated afterwards. Plain assignment (b := a) does share
// memory, as with maps: use Clone for an independent copy. Register values
// and set elements are copied by assignment; if they hold pointers, treat
// them as immutable.
package crdt
