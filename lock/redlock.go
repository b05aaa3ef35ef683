package lock

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// RedlockOptions configures a [Redlock] backend. The zero value is ready to
// use.
type RedlockOptions struct {
	// Timeout bounds each call to one server, so that a dead server costs
	// little of the TTL. Default: TTL/10, at least 10ms, to take or extend
	// a lock; 1s to release it or read its TTL.
	Timeout time.Duration

	// UnsyncedTokens skips the round trip that raises the quorum's fencing
	// counters to the issued token. Acquisition is then as fast as plain
	// Redlock, but a later holder's token is greater only as long as the
	// servers' clocks agree to within the TTL (tokens follow each server's
	// clock), which is Redlock's own timing assumption. Default false.
	UnsyncedTokens bool
}

// Redlock is a [Backend] implementing the Redlock algorithm over N
// independent Redis servers (not replicas of one another): a lock is held
// when a majority (N/2+1) of servers granted it, within its validity time
// (checked by the [Locker], which subtracts the elapsed time and the clock
// drift). An acquisition that misses the quorum releases what it took on
// every server. It is immutable after [NewRedlock] and safe for concurrent
// use; each call contacts the servers in parallel, one goroutine each, and
// waits for all.
//
// The fencing token is the highest of the quorum's tokens; before it is
// returned, every server of the quorum that issued a lower one raises its
// counter to it (one more parallel round trip), so any later quorum, which
// shares a server with this one, issues a greater token. When the key was
// taken less than 5ms earlier, the servers' counters agree and
// each issues the same token (see the package doc), so no raise is needed.
//
// Safety caveats (see the package doc): Redlock assumes bounded clock drift
// and process pauses, and a server restarted without persistence forgets
// its locks, so a restarted server must stay down for a TTL, or use AOF
// with fsync always. Protect resources with fencing tokens regardless.
type Redlock struct {
	servers  []*Redis
	quorum   int
	timeout  time.Duration
	unsynced bool
}

// NewRedlock returns a Redlock backend over servers. It panics if servers is
// empty or contains nil, or Timeout is negative.
func NewRedlock(servers []*Redis, o RedlockOptions) *Redlock {
	if len(servers) == 0 || slices.Contains(servers, nil) {
		panic("lock: Redlock needs servers")
	}
	if o.Timeout < 0 {
		panic("lock: negative Timeout")
	}
	return &Redlock{servers: slices.Clone(servers), quorum: len(servers)/2 + 1, timeout: o.Timeout, unsynced: o.UnsyncedTokens}
}

// callTimeout is the per-server timeout for a call with ttl, 0 for calls
// that set none (release, TTL).
func (r *Redlock) callTimeout(ttl time.Duration) time.Duration {
	switch {
	case r.timeout > 0:
		return r.timeout
	case ttl == 0:
		return time.Second
	}
	return max(ttl/10, 10*time.Millisecond)
}

// each calls fn on every server in parallel, the first on the calling
// goroutine and the others on one goroutine each, under one timeout of d
// (the calls run side by side, so each gets d), and returns how many
// returned ok, and the errors.
func (r *Redlock) each(ctx context.Context, d time.Duration, fn func(ctx context.Context, i int, s *Redis) (bool, error)) (int, []error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex // protects n, errs
		n    int
		errs []error
	)
	call := func(i int, s *Redis) {
		ok, err := fn(ctx, i, s)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, err)
		} else if ok {
			n++
		}
	}
	for i, s := range r.servers[1:] {
		wg.Go(func() { call(i+1, s) })
	}
	call(0, r.servers[0])
	wg.Wait()
	return n, errs
}

// verdict turns n successes and errs into a result: held with a quorum, an
// error when failures made a quorum impossible, else not held.
func (r *Redlock) verdict(n int, errs []error) (bool, error) {
	if n >= r.quorum {
		return true, nil
	}
	if len(errs) > len(r.servers)-r.quorum {
		return false, errors.Join(errs...)
	}
	return false, nil
}

// Acquire implements [Backend]. On a quorum it raises the quorum's fencing
// counters to the token; otherwise it releases the lock on every server.
func (r *Redlock) Acquire(ctx context.Context, key, owner string, ttl time.Duration) (Grant, bool, error) {
	d := r.callTimeout(ttl)
	grants := make([]Grant, len(r.servers))
	got := make([]bool, len(r.servers))
	n, errs := r.each(ctx, d, func(ctx context.Context, i int, s *Redis) (bool, error) {
		g, ok, err := s.Acquire(ctx, key, owner, ttl)
		grants[i], got[i] = g, ok
		return ok, err
	})
	if n >= r.quorum {
		var g Grant
		for i, ok := range got {
			if ok {
				g.Token = max(g.Token, grants[i].Token)
				g.Replicas = max(g.Replicas, grants[i].Replicas)
			}
		}
		if r.unsynced {
			return g, true, nil
		}
		raised, rerrs := r.each(ctx, d, func(ctx context.Context, i int, s *Redis) (bool, error) {
			switch {
			case !got[i]:
				return false, nil
			case grants[i].Token == g.Token: // issued it: already there
				return true, nil
			}
			return s.raise(ctx, key, owner, g.Token)
		})
		if raised >= r.quorum {
			return g, true, nil
		}
		errs = append(errs, rerrs...)
	}
	// Release everywhere, even where the reply was lost.
	r.each(context.WithoutCancel(ctx), d, func(ctx context.Context, _ int, s *Redis) (bool, error) {
		return s.Release(ctx, key, owner)
	})
	if len(errs) > len(r.servers)-r.quorum {
		return Grant{}, false, errors.Join(errs...)
	}
	return Grant{}, false, nil
}

// Extend implements [Backend]: held when a quorum extended it.
func (r *Redlock) Extend(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	return r.verdict(r.each(ctx, r.callTimeout(ttl), func(ctx context.Context, _ int, s *Redis) (bool, error) {
		return s.Extend(ctx, key, owner, ttl)
	}))
}

// Release implements [Backend]: it deletes the lock on every server and
// reports it held when a quorum still held it.
func (r *Redlock) Release(ctx context.Context, key, owner string) (bool, error) {
	return r.verdict(r.each(ctx, r.callTimeout(0), func(ctx context.Context, _ int, s *Redis) (bool, error) {
		return s.Release(ctx, key, owner)
	}))
}

// TTL implements [Backend]: the time for which a quorum still holds the
// lock, that is the quorum-th longest remaining time among the servers.
func (r *Redlock) TTL(ctx context.Context, key, owner string) (time.Duration, bool, error) {
	ttls := make([]time.Duration, len(r.servers))
	ok, err := r.verdict(r.each(ctx, r.callTimeout(0), func(ctx context.Context, i int, s *Redis) (bool, error) {
		d, ok, err := s.TTL(ctx, key, owner)
		ttls[i] = d
		return ok, err
	}))
	if !ok || err != nil {
		return 0, false, err
	}
	slices.SortFunc(ttls, func(a, b time.Duration) int { return cmp.Compare(b, a) })
	return ttls[r.quorum-1], true, nil
}
