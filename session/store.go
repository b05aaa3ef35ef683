package session

import (
	"context"
	"time"
)

// Store keeps sessions for a [Manager]. It is implemented by [*RedisStore]
// and [*MemoryStore] and cannot be implemented outside this package: both
// stores pass the same behavioural test suite, and the Manager relies on the
// guarantees that suite checks (deadlines enforced on every load and write,
// per-field writes, rotation that kills the old ID).
type Store interface {
	// create stores a new session under hash h. It reports statusGone if a
	// key (or a revocation tombstone) already exists there and statusExpired
	// if rec's deadline has already passed.
	create(ctx context.Context, h string, rec record, w wait) (stored, status, error)
	// load reads a session, pushing its idle deadline back when the last
	// touch is at least touch old. A session moved by a rotation inside its
	// grace window is followed: loaded.hash names the key actually read.
	load(ctx context.Context, h string, touch time.Duration) (loaded, status, error)
	// commit applies per-field changes to a live session. It never creates
	// a session and follows a grace-window forward.
	commit(ctx context.Context, h string, ch changes, w wait) (stored, status, error)
	// rotate moves a live session, with ch applied, from oldH to newH; the
	// old hash is dead when it returns (or forwards to newH for grace).
	rotate(ctx context.Context, oldH, newH string, ch changes, grace time.Duration, w wait) (stored, status, error)
	// destroy deletes a session. Deleting an unknown one is not an error.
	destroy(ctx context.Context, h string) error
	// revokeUser deletes every session bound to user and returns how many
	// live sessions it deleted.
	revokeUser(ctx context.Context, user string) (int, error)
}

// status is the outcome of a store call that did not fail.
type status int

const (
	statusOK      status = iota
	statusGone           // unknown, revoked, or moved away without a grace window
	statusExpired        // found past its idle or absolute deadline; now deleted
)

// record is a whole session as written by create.
type record struct {
	fields  map[string][]byte
	user    string
	idle    time.Duration
	life    time.Duration // used when created is zero: deadline = now + life
	created time.Time     // zero for "now"
	abs     time.Time     // absolute deadline, used when created is set
}

// changes are the pending writes of one session.
type changes struct {
	set     map[string][]byte
	del     []string
	userSet bool
	user    string
	bound   string    // the user the session has once ch is applied
	abs     time.Time // the session's deadline, known from its load; scores the user index
}

// wait asks a store to wait for replicas after a write.
type wait struct {
	replicas int
	timeout  time.Duration
}

// stored describes a session after a write.
type stored struct {
	hash     string    // the key written (differs from the requested one after a forward)
	abs      time.Time // absolute deadline
	expires  time.Time // min(absolute deadline, last touch + idle timeout)
	user     string    // set on statusExpired when known
	replicas int       // replicas that acknowledged the write (WAIT), 0 without WAIT
}

// loaded is a session read by load.
type loaded struct {
	hash    string
	fields  map[string][]byte
	user    string
	abs     time.Time
	expires time.Time
	touched bool
}
