package lock

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sinew-dev/sinew/retry"
)

// Sentinel errors. Every error a [Lock] or [Locker] method returns for one of
// these conditions matches the sentinel with errors.Is.
var (
	// ErrNotObtained: Obtain gave up because another owner held the lock on
	// every attempt.
	ErrNotObtained = errors.New("lock: not obtained")

	// ErrNotHeld: the lock is no longer held by this Lock: it expired, was
	// deleted or taken behind its back, was released, or its local validity
	// (TTL minus clock drift) ran out. It is also the cause of a lost lock's
	// context when nothing more specific applies.
	ErrNotHeld = errors.New("lock: not held")

	// ErrReleased is the cause of a Lock's context after [Lock.Release].
	ErrReleased = errors.New("lock: released")

	// ErrMaxHold: the lock reached ObtainOptions.MaxHold. It is the cause of
	// the Lock's context when that ended the lock, and Refresh then returns
	// an error matching both ErrNotHeld and ErrMaxHold.
	ErrMaxHold = errors.New("lock: maximum hold time reached")

	// ErrNotReplicated: fewer replicas than RedisOptions.WaitReplicas
	// acknowledged the acquisition. The error is a [*ReplicaError].
	ErrNotReplicated = errors.New("lock: not acknowledged by enough replicas")

	// ErrWaitUnsupported: RedisOptions.WaitReplicas is set but the client
	// cannot address the node serving the key (only *redis.Client and
	// *redis.ClusterClient can).
	ErrWaitUnsupported = errors.New("lock: WAIT needs a *redis.Client or *redis.ClusterClient")
)

// ReplicaError reports an acquisition that fewer replicas acknowledged than
// RedisOptions.WaitReplicas asked for. It matches [ErrNotReplicated]. Obtain
// does not retry it.
type ReplicaError struct {
	Key   string // the lock's key
	Want  int    // replicas asked for
	Acked int    // replicas that acknowledged within RedisOptions.WaitTimeout
}

// Error reports the key and the counts.
func (e *ReplicaError) Error() string {
	return fmt.Sprintf("lock: %q acknowledged by %d of %d replicas", e.Key, e.Acked, e.Want)
}

// Unwrap returns [ErrNotReplicated].
func (e *ReplicaError) Unwrap() error { return ErrNotReplicated }

// Permanent reports true, so package retry does not retry the acquisition.
func (e *ReplicaError) Permanent() bool { return true }

// Grant is what a [Backend] returns for a successful acquisition.
type Grant struct {
	// Token is the fencing token: greater than every token issued earlier
	// for the same key by the same store.
	Token uint64
	// Replicas is the number of replicas that acknowledged the acquisition,
	// when the backend waited for them (RedisOptions.WaitReplicas); else 0.
	Replicas int
}

// Backend stores locks for a [Locker]. [*Redis], [*Redlock] and [*Memory]
// implement it. Owners are opaque strings chosen by the Locker, unique per
// Obtain call. Implementations must be safe for concurrent use; a call that
// returns an error may or may not have taken effect.
type Backend interface {
	// Acquire takes key for owner for ttl if key is free, held by owner
	// already (a retry after a lost reply), or expired, and issues a new
	// fencing token. ok is false when another owner holds key.
	Acquire(ctx context.Context, key, owner string, ttl time.Duration) (g Grant, ok bool, err error)
	// Extend sets the remaining time of key to ttl if owner holds it.
	Extend(ctx context.Context, key, owner string, ttl time.Duration) (ok bool, err error)
	// Release frees key if owner holds it.
	Release(ctx context.Context, key, owner string) (ok bool, err error)
	// TTL returns the remaining time of key if owner holds it.
	TTL(ctx context.Context, key, owner string) (ttl time.Duration, ok bool, err error)
}

// Defaults for the zero fields of [Options].
const (
	defaultDriftFactor = 0.01
	minDrift           = 2 * time.Millisecond
)

// Options configures a [Locker]. The zero value is ready to use.
type Options struct {
	// Retry is the default policy Obtain follows while another owner holds
	// the lock; ObtainOptions.Retry overrides it per call. Every Obtain call
	// keeps its own attempt state. Default: full jitter from 5ms up to
	// 100ms, attempts unlimited, until the context ends or, when the
	// context has no deadline, until the lock's TTL has elapsed.
	Retry *retry.Policy

	// DriftFactor is the share of the TTL subtracted, plus 2ms, to allow for
	// clock drift between this process and the store: a Lock considers
	// itself valid for TTL·(1−DriftFactor)−2ms from the moment the request
	// that took or extended it was sent, as in Redlock. Default 0.01.
	DriftFactor float64
}

// ObtainOptions configures one Obtain or TryObtain call. The zero value
// obtains a lock without auto-renewal, retrying per [Options].Retry.
type ObtainOptions struct {
	// Retry, if set, replaces Options.Retry for this call.
	Retry *retry.Policy

	// AutoRenew starts a goroutine that refreshes the lock to its TTL every
	// RenewEvery until Release, loss or MaxHold. The goroutine is owned by
	// the Lock and ended by Release.
	AutoRenew bool

	// RenewEvery is the auto-renewal period. Default TTL/3. After a failed
	// renewal (an error, not a loss) it retries every RenewEvery/4 until
	// the lock's validity runs out.
	RenewEvery time.Duration

	// MaxHold bounds the total time the lock can be held, renewals
	// included: no refresh extends it past MaxHold after acquisition, so a
	// stuck holder loses it then. Default 0: no bound.
	MaxHold time.Duration
}

// A Locker obtains locks from a [Backend]. It is immutable after [New] and
// safe for concurrent use.
type Locker struct {
	b           Backend
	retry       *retry.Policy
	driftFactor float64
}

// New returns a Locker over b. It panics if b is nil or DriftFactor is
// negative or at least 1.
func New(b Backend, o Options) *Locker {
	if b == nil {
		panic("lock: nil Backend")
	}
	if o.DriftFactor < 0 || o.DriftFactor >= 1 {
		panic("lock: DriftFactor must be in [0, 1)")
	}
	if o.DriftFactor == 0 {
		o.DriftFactor = defaultDriftFactor
	}
	if o.Retry == nil {
		o.Retry = retry.New(retry.Options{
			MaxAttempts: -1,
			Backoff:     retry.FullJitter(5*time.Millisecond, 100*time.Millisecond),
			MaxDelay:    100 * time.Millisecond,
		})
	}
	return &Locker{b: b, retry: o.Retry, driftFactor: o.DriftFactor}
}

func (l *Locker) check(key string, ttl time.Duration, o ObtainOptions) {
	if key == "" {
		panic("lock: empty key")
	}
	if ttl <= l.drift(ttl) {
		panic("lock: ttl not above the drift allowance (ttl·DriftFactor + 2ms)")
	}
	if o.RenewEvery < 0 || o.MaxHold < 0 {
		panic("lock: negative duration in ObtainOptions")
	}
}

func (l *Locker) drift(ttl time.Duration) time.Duration {
	return time.Duration(float64(ttl)*l.driftFactor) + minDrift
}

// TryObtain makes one attempt to take key for ttl. ok is false when another
// owner holds it. An error means the store failed or ctx ended; when the
// acquisition reply was lost, the lock may have been taken nonetheless and
// expires after ttl. With RedisOptions.WaitReplicas, the error may be a
// [*ReplicaError]. TryObtain panics if key is empty or ttl does not exceed
// the drift allowance (ttl·DriftFactor + 2ms: about 2ms).
func (l *Locker) TryObtain(ctx context.Context, key string, ttl time.Duration, o ObtainOptions) (lk *Lock, ok bool, err error) {
	l.check(key, ttl, o)
	return l.try(ctx, key, rand.Text(), ttl, o)
}

// Obtain takes key for ttl, retrying per ObtainOptions.Retry (or
// Options.Retry) while another owner holds it or the store fails. It
// returns an error matching:
//
//   - [ErrNotObtained] when the last attempt found the lock held, and the
//     policy's reason ([retry.ErrAttemptsExhausted], [retry.ErrDeadline]...);
//   - ctx.Err() when ctx ended;
//   - [ErrNotReplicated] (not retried) with RedisOptions.WaitReplicas;
//   - otherwise the store's error.
//
// With the default policy and a ctx without deadline, Obtain gives up after
// ttl. All attempts of one call use the same owner, so an attempt whose
// reply was lost is taken over by the next. Obtain panics if key is empty
// or ttl does not exceed the drift allowance (ttl·DriftFactor + 2ms).
func (l *Locker) Obtain(ctx context.Context, key string, ttl time.Duration, o ObtainOptions) (*Lock, error) {
	l.check(key, ttl, o)
	owner := rand.Text()
	attempt := func(ctx context.Context) (*Lock, error) {
		lk, ok, err := l.try(ctx, key, owner, ttl, o)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, ErrNotObtained
		}
		return lk, nil
	}
	// The first attempt runs before any retry machinery is set up, so an
	// uncontended Obtain costs no timer; retry.Do then starts from its
	// result.
	lk, err := attempt(ctx)
	if err == nil {
		return lk, nil
	}
	p := o.Retry
	if p == nil {
		p = l.retry
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeoutCause(ctx, ttl, ErrNotObtained)
			defer cancel()
		}
	}
	first := true
	return retry.Do(ctx, p, func(ctx context.Context) (*Lock, error) {
		if first {
			first = false
			return nil, err
		}
		return attempt(ctx)
	})
}

func (l *Locker) try(ctx context.Context, key, owner string, ttl time.Duration, o ObtainOptions) (*Lock, bool, error) {
	start := time.Now()
	g, ok, err := l.b.Acquire(ctx, key, owner, ttl)
	if err != nil {
		return nil, false, wrap(ctx, "obtain", key, err)
	}
	if !ok {
		return nil, false, nil
	}
	drift := l.drift(ttl)
	if time.Since(start) >= ttl-drift {
		// Taking it took longer than it lasts: it may already be gone.
		_, _ = l.b.Release(context.WithoutCancel(ctx), key, owner)
		return nil, false, nil
	}
	lk := &Lock{
		b:        l.b,
		key:      key,
		owner:    owner,
		token:    g.Token,
		replicas: g.Replicas,
		ttl:      ttl,
		drift:    drift,
	}
	if o.MaxHold > 0 {
		lk.holdEnd = start.Add(o.MaxHold)
	}
	lk.setValidity(start, ttl) // not shared yet: no lock needed
	if o.AutoRenew {
		every := o.RenewEvery
		if every == 0 {
			every = ttl / 3
		}
		var rctx context.Context
		rctx, lk.stopRenew = context.WithCancel(context.Background())
		lk.renewDone = make(chan struct{})
		go lk.renew(rctx, every)
	}
	return lk, true, nil
}

// A Lock is a held lock. Its methods are safe for concurrent use.
//
// A Lock considers itself held until its validity ends: the TTL minus the
// allowed clock drift, counted from when the request that took or last
// extended it was sent. Past that point, or once the store reports it is
// not held, every method reports [ErrNotHeld] (or held=false) and its
// [Lock.Context] is cancelled.
type Lock struct {
	b        Backend
	key      string
	owner    string
	token    uint64
	replicas int
	ttl      time.Duration
	drift    time.Duration
	holdEnd  time.Time // zero: no MaxHold

	stopRenew context.CancelFunc // nil without auto-renewal
	renewDone chan struct{}      // closed when the renewal goroutine ends

	mu         sync.Mutex // protects the fields below
	validUntil time.Time  // local end of validity
	capped     bool       // validUntil was cut short by MaxHold
	lost       bool       // the lock is known lost or released
	cause      error      // why, once lost

	// The lost-lock context is made on the first call to Context, so that
	// locks that never ask for it cost no timer.
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer // cancels ctx at validUntil
}

// Key returns the key the lock was obtained for.
func (lk *Lock) Key() string { return lk.key }

// Token returns the fencing token issued with this lock: greater than the
// token of every earlier holder of the same key. Pass it to the protected
// resource, which rejects writes with older tokens (see [Fence]).
func (lk *Lock) Token() uint64 { return lk.token }

// Replicas returns how many replicas acknowledged the acquisition when
// RedisOptions.WaitReplicas is set, else 0.
func (lk *Lock) Replicas() int { return lk.replicas }

// Context returns a context cancelled the moment the lock is known to be
// lost: its validity ran out (renewal failed or was not attempted), the
// store reported it not held, MaxHold was reached, or Release was called.
// context.Cause tells which: [ErrNotHeld], [ErrMaxHold] or [ErrReleased].
// Run the work the lock protects under this context.
func (lk *Lock) Context() context.Context {
	lk.mu.Lock()
	defer lk.mu.Unlock()
	if lk.ctx == nil {
		lk.ctx, lk.cancel = context.WithCancelCause(context.Background())
		if lk.lost {
			lk.cancel(lk.cause)
		} else {
			lk.timer = time.AfterFunc(time.Until(lk.validUntil), lk.expire)
		}
	}
	return lk.ctx
}

// setValidity records a successful take or extension sent at start. mu held.
func (lk *Lock) setValidity(start time.Time, ttl time.Duration) {
	end := start.Add(ttl)
	lk.capped = false
	if !lk.holdEnd.IsZero() && !end.Before(lk.holdEnd) {
		end, lk.capped = lk.holdEnd, true
	}
	lk.validUntil = end.Add(-lk.drift)
}

// expire marks the lock lost if its validity has run out. It runs on the
// timer's goroutine at validUntil, and from valid.
func (lk *Lock) expire() {
	lk.mu.Lock()
	defer lk.mu.Unlock()
	if lk.lost {
		return
	}
	if d := time.Until(lk.validUntil); d > 0 { // extended meanwhile
		if lk.timer != nil {
			lk.timer.Reset(d)
		}
		return
	}
	cause := ErrNotHeld
	if lk.capped {
		cause = ErrMaxHold
	}
	lk.loseLocked(cause)
}

// lose marks the lock lost with cause, cancelling its context.
func (lk *Lock) lose(cause error) {
	lk.mu.Lock()
	defer lk.mu.Unlock()
	lk.loseLocked(cause)
}

// loseLocked is lose with mu held. Cancelling a context only runs the
// context package's own bookkeeping, so doing it under mu is safe.
func (lk *Lock) loseLocked(cause error) {
	if lk.lost {
		return
	}
	lk.lost, lk.cause = true, cause
	if lk.ctx != nil {
		lk.timer.Stop()
		lk.cancel(cause)
	}
}

// valid returns nil if the lock is still locally valid, else an error
// matching ErrNotHeld (and the cause), marking it lost if its validity has
// just run out.
func (lk *Lock) valid() error {
	lk.expire()
	lk.mu.Lock()
	defer lk.mu.Unlock()
	if lk.lost {
		return notHeld(lk.cause)
	}
	return nil
}

// wrap annotates a store error; when ctx has ended, the error also
// matches ctx.Err() even if the client reported, say, an i/o timeout.
func wrap(ctx context.Context, op, key string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("lock: %s %q: %w: %w", op, key, cerr, err)
	}
	return fmt.Errorf("lock: %s %q: %w", op, key, err)
}

func notHeld(cause error) error {
	if cause == nil || cause == ErrNotHeld {
		return ErrNotHeld
	}
	return fmt.Errorf("%w: %w", ErrNotHeld, cause)
}

// Refresh extends the lock to ttl from now (or to MaxHold after acquisition,
// if sooner). It returns an error matching [ErrNotHeld] if the lock was lost
// (also [ErrMaxHold] when MaxHold ended it) and cancels [Lock.Context]; any
// other error is the store's failure, after which the lock stays valid
// until its current validity ends. Once the validity already reaches
// MaxHold, Refresh returns nil without contacting the store: it cannot
// extend further. Refresh panics if ttl does not exceed the drift
// allowance computed for the TTL the lock was obtained with.
func (lk *Lock) Refresh(ctx context.Context, ttl time.Duration) error {
	if ttl <= lk.drift {
		panic("lock: ttl not above the drift allowance (ttl·DriftFactor + 2ms)")
	}
	if err := lk.valid(); err != nil {
		return err
	}
	start := time.Now()
	if !lk.holdEnd.IsZero() {
		lk.mu.Lock()
		capped := lk.capped
		lk.mu.Unlock()
		if capped { // already valid until MaxHold: nothing to extend
			return nil
		}
		left := lk.holdEnd.Sub(start)
		if left < time.Millisecond {
			lk.lose(ErrMaxHold)
			return notHeld(ErrMaxHold)
		}
		ttl = min(ttl, left)
	}
	ok, err := lk.b.Extend(ctx, lk.key, lk.owner, ttl)
	if err != nil {
		return wrap(ctx, "refresh", lk.key, err)
	}
	if !ok {
		lk.lose(ErrNotHeld)
		return ErrNotHeld
	}
	lk.mu.Lock()
	defer lk.mu.Unlock()
	if lk.lost { // lost locally while the request was in flight
		return notHeld(lk.cause)
	}
	lk.setValidity(start, ttl)
	if lk.timer != nil {
		lk.timer.Reset(time.Until(lk.validUntil))
	}
	return nil
}

// TTL returns the lock's remaining time in the store. held is false, and
// [Lock.Context] cancelled, when the lock is no longer held.
func (lk *Lock) TTL(ctx context.Context) (ttl time.Duration, held bool, err error) {
	if err := lk.valid(); err != nil {
		return 0, false, nil
	}
	ttl, held, err = lk.b.TTL(ctx, lk.key, lk.owner)
	if err != nil {
		return 0, false, wrap(ctx, "ttl", lk.key, err)
	}
	if !held {
		lk.lose(ErrNotHeld)
	}
	return ttl, held, nil
}

// Release stops auto-renewal, waiting for an in-flight renewal to finish so
// that none follows (a renewal call stuck on an unresponsive server ends
// with its context only if the client honours contexts, e.g. go-redis with
// ContextTimeoutEnabled; otherwise at the client's read timeout), frees the lock in the store and cancels
// [Lock.Context] with cause [ErrReleased]. It returns [ErrNotHeld] when the
// store no longer held the lock for this owner (it expired or was taken);
// any other error is the store's failure, and the lock then expires after
// its TTL. Calling it again returns ErrNotHeld.
func (lk *Lock) Release(ctx context.Context) error {
	if lk.stopRenew != nil {
		lk.stopRenew()
		<-lk.renewDone
	}
	ok, err := lk.b.Release(ctx, lk.key, lk.owner)
	lk.lose(ErrReleased)
	if err != nil {
		return wrap(ctx, "release", lk.key, err)
	}
	if !ok {
		return ErrNotHeld
	}
	return nil
}

// renew is the auto-renewal goroutine; it ends when ctx is cancelled by
// Release or the lock is lost.
func (lk *Lock) renew(ctx context.Context, every time.Duration) {
	defer close(lk.renewDone)
	t := time.NewTimer(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		lk.mu.Lock()
		until := lk.validUntil
		lk.mu.Unlock()
		rctx, cancel := context.WithDeadline(ctx, until)
		err := lk.Refresh(rctx, lk.ttl)
		cancel()
		switch {
		case err == nil:
			t.Reset(every)
		case errors.Is(err, ErrNotHeld):
			return
		case ctx.Err() != nil:
			return
		default:
			if !time.Now().Before(until) {
				lk.expire()
				return
			}
			t.Reset(min(max(every/4, time.Millisecond), time.Until(until)))
		}
	}
}
