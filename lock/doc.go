// Package lock provides distributed locks with fencing tokens, auto-renewal
// tied to a context, optional replica acknowledgement (WAIT) and Redlock,
// over Redis or in memory behind one API.
//
// A [Locker] obtains locks from a [Backend]: [Redis] (one Redis server or
// Cluster), [Redlock] (a majority of independent Redis servers) or
// [Memory] (one process). Every [Lock] carries a fencing token, greater
// than the token of every earlier holder of the same key.
//
// Why fencing: no lock that expires can stop a holder that pauses (GC,
// swap, a stopped VM) past its TTL from waking up and writing after another
// process took the lock; Martin Kleppmann's "How to do distributed
// locking" shows this. The fix is on the resource's side: it remembers the
// highest token it has seen and rejects writes carrying a lower one. [Fence]
// does that for resources in this process; for a database, store the token
// with the row and update WHERE token <= $new.
//
// # Usage
//
//	locker := lock.New(lock.NewRedis(rdb, lock.RedisOptions{}), lock.Options{})
//
//	lk, err := locker.Obtain(ctx, "user:42", 10*time.Second, lock.ObtainOptions{AutoRenew: true})
//	if err != nil {
//		return err // errors.Is(err, lock.ErrNotObtained): someone else kept it
//	}
//	defer lk.Release(context.WithoutCancel(ctx))
//
//	// lk.Context() is cancelled the moment the lock is lost.
//	return store.Write(lk.Context(), "user:42", value, lk.Token())
//
// [Locker.TryObtain] makes a single attempt; [Lock.Refresh] extends by hand;
// [Lock.TTL] reads the remaining time. Every operation on a held lock
// checks the owner inside the store, in one round trip: once a lock has
// expired, Refresh and Release return [ErrNotHeld]; nothing succeeds
// silently.
//
// # Fencing tokens
//
// A token is issued by the same script that takes the lock, so it costs no
// extra round trip. It follows the server clock in microseconds, and a
// short-lived per-key counter keeps it increasing in between. The
// script INCRements the counter: if the counter was there, the result is
// the token, with no clock read; if INCR created it (or it was not a
// number), the script reads Redis TIME, and the token is the time + 1µs,
// stored as the counter with a 5ms TTL (so it lives 5-6ms). Every token a
// counter issues is below the time it expires (each script takes well
// over 1µs), so the clock then gives a greater one: tokens strictly
// increase while the server clock does not step back. A lost counter
// (evicted, deleted, a server restarted without persistence) sends the
// next acquisition to the clock too. A counter rolled back by a failover
// to a replica that missed the last acquisitions, or by a restart from an
// older snapshot, comes back with the absolute expiry it had, so it has
// expired by then and the clock takes over, unless the new master took
// over within 6ms of the last write it kept (Redis Cluster waits
// node-timeout and then at least 500ms before electing a replica, Sentinel
// waits down-after-milliseconds, a restart needs a supervisor) or its clock
// is behind the old one's: keep
// clocks synchronised (NTP), as any use of time in a lock requires. The
// client's clock plays no part. A counter that Redlock raises ahead of a
// server's clock lives until that clock passes it.
//
// The counter never outlives its use by more than 6ms, so fencing leaves
// no keys behind, and the acquisition script is bsm/redislock's SET NX PX
// plus one INCR, plus TIME and SET for the first acquisition of a key in
// 5ms: an uncontended Obtain+Release costs about the same as
// redislock's, which issues no token (bench/lock measures both side by
// side).
//
// # Auto-renewal and the lost-lock context
//
// With ObtainOptions.AutoRenew a goroutine owned by the Lock refreshes it
// every TTL/3. [Lock.Context] is cancelled when the lock's local validity
// (TTL minus drift since the last successful take or refresh was sent)
// runs out without a successful renewal, e.g. Redis is down or paused; when
// a refresh finds the lock deleted or taken; when ObtainOptions.MaxHold is
// reached; or on Release. context.Cause says which. Release stops renewal
// and waits for an in-flight refresh before deleting, so no renewal
// follows an unlock.
//
// # Redlock
//
// [NewRedlock] spreads a lock over N independent servers, requiring a
// majority, with Options.DriftFactor as Redlock's drift factor; an
// acquisition that misses the quorum releases what it took. Its token is
// the quorum's highest, and the quorum's counters are raised to it before
// Obtain returns, so every later quorum issues a greater one. That costs
// one more parallel round trip, to the servers that issued a lower token;
// there are none when the key was taken less than 5ms earlier
// on the same servers, whose counters then agree and all issue the same
// token. RedlockOptions.UnsyncedTokens skips it. It survives the
// loss of a minority of servers, but it is only as safe as its timing
// assumptions: bounded clock drift, no long pauses, and restarted servers
// that stay down for a TTL (or persist with fsync). It offers no
// protection a paused holder cannot defeat: use fencing tokens.
//
// # Concurrency
//
// [Locker], [Redis], [Redlock], [Memory] and [Fence] are safe for
// concurrent use, and so are a [Lock]'s methods. Obtain keeps its attempt
// state per call (owner string, retry state). An auto-renewing Lock runs
// one goroutine until Release, loss or MaxHold; Release waits for it. The
// lost-lock context is cancelled from a timer goroutine or the renewal
// goroutine.
//
// # Redis keys
//
// For key k and RedisOptions.Prefix p (default "lock:"):
//
//	p{k}        string, the owner's random token, with the lock's TTL
//	p{k}:fence  string, the last fencing token, for 5-6ms (see Fencing tokens)
//
// Both share the hash tag {k}, so each script touches one Cluster slot.
// Tokens follow Redis TIME; the client's clock matters only for the local
// validity, which the drift factor covers. Do not write the counter: one
// set without a TTL would be incremented forever, defeating the guard
// against rolled-back counters.
//
// # Failure modes
//
// When Redis is unreachable, Obtain retries per its policy and then returns
// the client's error (wrapped); TryObtain, Refresh, TTL and Release return
// it at once. A lock whose holder cannot reach Redis is lost when its local
// validity runs out, and its context is cancelled then. An acquisition
// whose reply was lost (timeout) may have taken the lock: it expires after
// its TTL, or the same Obtain call's next attempt takes it over. A failover
// may lose a lock not yet replicated: set RedisOptions.WaitReplicas so that
// acquisitions wait for replicas (Redis WAIT), which narrows but does not
// close the window (WAIT does not make Redis strongly consistent). A server
// restarted without persistence forgets its locks; tokens keep increasing.
package lock
