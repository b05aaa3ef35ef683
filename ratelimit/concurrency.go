package ratelimit

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	//go:embed concurrency.lua
	concurrencySource string
	concurrencyScript = redis.NewScript(concurrencySource)
)

// ConcurrencyOptions configure a [Concurrency] limiter. The zero value of every field means the
// default in its comment.
type ConcurrencyOptions struct {
	// Prefix starts every key; it must not contain '{'. Default [DefaultPrefix].
	Prefix string
	// Budget is the most time one call may take; then it returns ctx's deadline error.
	// Default 100 ms.
	Budget time.Duration
}

// Concurrency limits how many holders of a key may be in flight at once, across processes
// sharing Redis: [Concurrency.Acquire] takes one of max slots as a [Lease], Release gives it
// back. A lease expires after its length unless extended, so a holder that dies frees its slot
// by itself. Each call is one Lua script with the server's clock.
//
// Failure modes: unlike [Redis], a Concurrency limiter has no fallback: every call takes at
// most its budget and returns the Redis error (wrapped) or the context's error.
//
// A Concurrency limiter is safe for concurrent use.
type Concurrency struct {
	client Client
	max    int
	lease  time.Duration
	prefix string
	budget time.Duration
	inline bool // the client bounds reads by ctx: no goroutine needed
}

// Lease is a slot held in a [Concurrency] limit.
type Lease struct {
	Key string // the limited key
	ID  string // random, unique to this lease
}

// AcquireResult is the outcome of [Concurrency.Acquire].
type AcquireResult struct {
	// Acquired says whether a slot was taken; Lease is valid only then.
	Acquired bool
	Lease    Lease
	// InFlight is the number of leases held on the key, this one included.
	InFlight int
	// RetryAfter is, when no slot was free, how long until the first lease expires (a release
	// may free a slot sooner).
	RetryAfter time.Duration
}

// NewConcurrency returns a limiter allowing max leases per key at once, each lasting lease
// unless extended. It panics if client is nil, max < 1, lease < 1 ms or opts.Prefix contains
// '{'.
func NewConcurrency(client Client, max int, lease time.Duration, opts ConcurrencyOptions) *Concurrency {
	if client == nil {
		panic("ratelimit: nil client")
	}
	if max < 1 || lease < time.Millisecond {
		panic("ratelimit: concurrency needs max >= 1 and lease >= 1ms")
	}
	if strings.Contains(opts.Prefix, "{") {
		panic("ratelimit: prefix contains '{'")
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.Budget <= 0 {
		opts.Budget = 100 * time.Millisecond
	}
	return &Concurrency{client: client, max: max, lease: lease, prefix: opts.Prefix, budget: opts.Budget,
		inline: boundsReads(client)}
}

// Key returns the Redis key holding key's leases: a sorted set of lease ids scored by expiry.
func (c *Concurrency) Key(key string) string {
	return c.prefix + "{" + hashTag(key) + ":conc"
}

// Acquire takes a slot for key if one of max is free. A full key is a result
// (Acquired false), not an error.
func (c *Concurrency) Acquire(ctx context.Context, key string) (AcquireResult, error) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	v, err := c.run(ctx, key, "acquire", id)
	if err != nil {
		return AcquireResult{}, err
	}
	r := AcquireResult{Acquired: v[0] == 1, InFlight: int(v[1])}
	if r.Acquired {
		r.Lease = Lease{Key: key, ID: id}
	} else {
		r.RetryAfter = time.Duration(v[2]) * time.Microsecond
	}
	return r, nil
}

// Extend renews l for another lease length from now. ok is false when l had already expired
// or been released: its slot may be someone else's now.
func (c *Concurrency) Extend(ctx context.Context, l Lease) (ok bool, err error) {
	v, err := c.run(ctx, l.Key, "extend", l.ID)
	if err != nil {
		return false, err
	}
	return v[0] == 1, nil
}

// Release gives l's slot back. Releasing an expired or released lease does nothing.
func (c *Concurrency) Release(ctx context.Context, l Lease) error {
	_, err := c.run(ctx, l.Key, "release", l.ID)
	return err
}

func (c *Concurrency) run(ctx context.Context, key, op, id string) ([]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, c.budget)
	defer cancel()
	type reply struct {
		v   []int64
		err error
	}
	ch := make(chan reply, 1)
	call := func() {
		v, err := concurrencyScript.Run(ctx, c.client, []string{c.Key(key)},
			op, id, c.max, strconv.FormatInt(c.lease.Microseconds(), 10)).Int64Slice()
		ch <- reply{v, err}
	}
	if c.inline {
		call()
	} else {
		// a goroutine, so the budget holds even though the client does not bound reads by ctx
		go call()
	}
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("ratelimit: concurrency %s %q: %w", op, key, r.err)
		}
		if len(r.v) != 3 {
			return nil, fmt.Errorf("ratelimit: concurrency %s %q: unexpected reply %v", op, key, r.v)
		}
		return r.v, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("ratelimit: concurrency %s %q: %w", op, key, ctx.Err())
	}
}

// ConcurrencyLimiter is what [Concurrency] (Redis) and [MemoryConcurrency] have in common.
type ConcurrencyLimiter interface {
	// Acquire takes a slot for key if one is free; a full key is a result, not an error.
	Acquire(ctx context.Context, key string) (AcquireResult, error)
	// Extend renews a lease for another lease length; ok is false if it had expired.
	Extend(ctx context.Context, l Lease) (ok bool, err error)
	// Release gives a lease's slot back; releasing twice does nothing.
	Release(ctx context.Context, l Lease) error
}

var (
	_ ConcurrencyLimiter = (*Concurrency)(nil)
	_ ConcurrencyLimiter = (*MemoryConcurrency)(nil)
)

// MemoryConcurrency is the in-process counterpart of [Concurrency]: at most max leases per
// key, each expiring after its length unless extended. Expired leases are dropped when their
// key is used, and all of them when the number of keys has doubled since the last sweep. It
// starts no goroutine and never returns an error. It is safe for concurrent use.
type MemoryConcurrency struct {
	max   int
	lease time.Duration
	base  time.Time

	mu      sync.Mutex
	keys    map[string]map[string]int64 // key → lease id → expiry, ns since base
	nextID  uint64
	sweepAt int
}

// NewMemoryConcurrency returns an in-memory limiter of max leases per key, each lasting lease
// unless extended. It panics if max < 1 or lease <= 0.
func NewMemoryConcurrency(max int, lease time.Duration) *MemoryConcurrency {
	if max < 1 || lease <= 0 {
		panic("ratelimit: concurrency needs max >= 1 and lease > 0")
	}
	return &MemoryConcurrency{max: max, lease: lease, base: time.Now(),
		keys: make(map[string]map[string]int64), sweepAt: sweepFloor}
}

// dropExpired removes the expired leases of one key; the caller holds mu.
func dropExpired(leases map[string]int64, now int64) {
	for id, exp := range leases {
		if exp <= now {
			delete(leases, id)
		}
	}
}

// Acquire takes a slot for key if one of max is free. ctx is not used.
func (c *MemoryConcurrency) Acquire(_ context.Context, key string) (AcquireResult, error) {
	now := int64(time.Since(c.base))
	c.mu.Lock()
	defer c.mu.Unlock()
	leases := c.keys[key]
	dropExpired(leases, now)
	if len(leases) >= c.max {
		first := int64(math.MaxInt64)
		for _, exp := range leases {
			first = min(first, exp)
		}
		return AcquireResult{InFlight: len(leases), RetryAfter: time.Duration(first - now)}, nil
	}
	if leases == nil {
		if len(c.keys) >= c.sweepAt {
			for k, ls := range c.keys {
				if dropExpired(ls, now); len(ls) == 0 {
					delete(c.keys, k)
				}
			}
			c.sweepAt = max(2*len(c.keys), sweepFloor)
		}
		leases = make(map[string]int64, 1)
		c.keys[key] = leases
	}
	c.nextID++
	id := strconv.FormatUint(c.nextID, 16)
	leases[id] = now + int64(c.lease)
	return AcquireResult{Acquired: true, Lease: Lease{Key: key, ID: id}, InFlight: len(leases)}, nil
}

// Extend renews l for another lease length from now; ok is false if it had expired or been
// released. ctx is not used.
func (c *MemoryConcurrency) Extend(_ context.Context, l Lease) (ok bool, err error) {
	now := int64(time.Since(c.base))
	c.mu.Lock()
	defer c.mu.Unlock()
	leases := c.keys[l.Key]
	if exp, held := leases[l.ID]; !held || exp <= now {
		return false, nil
	}
	leases[l.ID] = now + int64(c.lease)
	return true, nil
}

// Release gives l's slot back. ctx is not used.
func (c *MemoryConcurrency) Release(_ context.Context, l Lease) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if leases := c.keys[l.Key]; leases != nil {
		delete(leases, l.ID)
		if len(leases) == 0 {
			delete(c.keys, l.Key)
		}
	}
	return nil
}

// Len returns the number of keys holding leases, expired ones not yet swept included.
func (c *MemoryConcurrency) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.keys)
}
