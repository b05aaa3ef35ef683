// Package session is an HTTP session store that cannot leak tokens, lose
// writes or outlive its deadlines, over Redis (standalone, Cluster, Ring) or
// process memory, behind one API.
//
// A [Manager] creates, loads and commits [Session] values in a [Store]:
// [NewRedisStore] or [NewMemoryStore]. Both enforce the same rules, checked
// by one behavioural test suite:
//
//   - Tokens are 256 bits from crypto/rand, base64url (43 characters). Only
//     the SHA-256 of a token is ever stored (keys, values, indexes), so
//     MONITOR, RDB files and replicas never hold a usable token.
//   - An idle timeout (sliding, with throttled touches) and an absolute
//     lifetime are checked on every load and every write by the store
//     itself (Redis TIME in the scripts). A write to a session past either
//     deadline deletes it instead of resurrecting it, and no path creates a
//     key without a TTL.
//   - Writes are per field: a commit sends only the keys the request set or
//     deleted, so overlapping requests that change different keys keep each
//     other's writes. Two requests writing the same key: the last commit wins.
//   - [Session.Rotate] moves a session to a new token (at login, logout or
//     a change of privilege) keeping its values and its absolute deadline;
//     the old token stops working at once, or after [Options.RotateGrace].
//   - [Session.SetUser] binds a session to a user; [Manager.RevokeUser]
//     destroys all of a user's sessions ("log out everywhere").
//   - [Options.WaitReplicas] makes every write wait (Redis WAIT) for
//     replicas, and reports how many acknowledged in [Result.Replicas].
//
// # Usage
//
//	m := session.New(session.NewRedisStore(rdb, session.RedisOptions{}), session.Options{
//		IdleTimeout: 30 * time.Minute,
//		Lifetime:    12 * time.Hour,
//	})
//	http.ListenAndServe(addr, m.Middleware(mux))
//
// In a handler:
//
//	s, _ := session.FromContext(r.Context())
//	_ = session.Set(s, "cart", cart)            // JSON-encoded
//	cart, ok := session.Get[Cart](s, "cart")
//	s.SetUser(userID); s.Rotate()               // at login
//	s.Destroy()                                 // at logout
//	m.RevokeUser(r.Context(), userID)           // log out everywhere
//
// The middleware loads the session once, commits it once just before the
// response header is written, and sets, renews or clears the cookie
// (HttpOnly, Secure, SameSite=Lax, Path=/, no Domain by default; see
// [CookieOptions]). A missing, tampered, unknown, revoked or expired cookie
// means a new empty session, which is stored only if the handler writes to
// it. Outside HTTP, call [Manager.Load] and [Manager.Commit] directly.
//
// # Concurrency
//
// A Manager, a RedisStore, a MemoryStore and a Session are safe for
// concurrent use; nothing in the package starts a goroutine.
// [Manager.Commit] holds the session's lock while it talks to the store.
// [Options.OnEvent] is called synchronously by the goroutine whose call
// caused the event, with no lock held.
//
// # Redis keys
//
// With the default prefix "sinew:session:" (see [RedisOptions]):
//
//	sinew:session:s:{<sha256(token) hex>}   hash: one session
//	sinew:session:u:{<sha256(user)[:16] hex>} sorted set: the user's session hashes, scored by absolute deadline
//
// A session hash holds data fields as "d:<key>" and metadata fields "_a"
// (absolute deadline, ms), "_i" (idle timeout, ms), "_s" (last touch, ms),
// "_c" (created, ms) and "_u" (user). Its TTL is always
// min(idle timeout, time left to the absolute deadline), set by the same
// script that writes it. A rotation with a grace window leaves the old key
// as a stub holding only "_m" (the new hash) and "_u" until the window ends;
// a revocation leaves a tombstone holding "_x" for one minute, so a rotation
// racing with it cannot recreate the key. The user index is trimmed of past
// deadlines on every write and expires with its latest session.
//
// A load is one round trip on one key: HGETALL and PTTL in a pipeline,
// no script. A key that exists is within both deadlines by the server's
// clock, since every write sets its TTL to min(idle timeout, time left to
// the absolute deadline), so the load needs no clock of its own; the time
// since the last touch is the TTL set then minus the TTL left. When a touch
// is due (once per [Options.TouchInterval]) the load runs a script instead,
// which re-checks both deadlines with TIME and pushes the idle deadline
// back: two round trips that time. With a negative TouchInterval every
// load is that script, in one round trip. A commit is one script on one
// key (one round trip): it re-checks both deadlines with TIME, refuses to
// create a missing key, writes only the changed fields and resets the TTL.
// A rotation is two scripts, because the new key lives in another slot on a
// Cluster (RENAME would fail with CROSSSLOT): the first, on the old key,
// applies pending writes, reads the session and deletes the old key (or
// turns it into a forwarding stub); the second creates the new key with the
// same data and deadline. Between the two the session exists under no
// token, so if the second step fails the user is logged out, never left
// with a live old token. Binding a user adds one index write first, so a
// session is never bound to a user without being in that user's index.
//
// [Manager.RevokeUser] reads the user's index (one script), sends one
// revocation script per session in one pipeline (a Cluster client sends
// each node its share in parallel), removes them from the index, and
// repeats while sessions created concurrently keep appearing (at most 8
// rounds). It returns only a count: callers never see token hashes.
//
// # Failure modes
//
// When Redis is unreachable, slow past the client's timeouts or the context
// ends, [Manager.Load] and [Manager.Commit] return an error wrapping the
// client's error (context errors stay matchable with errors.Is); a failed
// commit keeps its changes pending. The middleware then answers with
// [Options.ErrorHandler] (default 503 Service Unavailable) instead of
// running the handler (failed load) or instead of the handler's response
// (failed commit); requests that neither carry a cookie nor write a session
// never touch Redis. Data lost by Redis (a restart without persistence, a
// failover that drops unreplicated writes) looks like unknown sessions:
// users are logged out, never logged in as someone else. Use
// [Options.WaitReplicas] for sessions whose writes must survive a failover.
// A failure between the two steps of a rotation ends the session (see
// above). A commit into a Cluster slot that is migrating fails with the
// MOVED/ASK handling of the go-redis client. With WaitReplicas on a
// *redis.Ring, WAIT reaches whichever shard the pipeline picks, so
// Result.Replicas is only meaningful for *redis.Client and
// *redis.ClusterClient.
package session
