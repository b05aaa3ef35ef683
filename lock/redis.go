package lock

import (
	"context"
	_ "embed"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Client is the Redis client a [Redis] backend needs: *redis.Client,
// *redis.ClusterClient and *redis.Ring satisfy it.
type Client interface {
	redis.Scripter
}

var (
	_ Client = (*redis.Client)(nil)
	_ Client = (*redis.ClusterClient)(nil)
	_ Client = (*redis.Ring)(nil)

	_ Backend = (*Redis)(nil)
	_ Backend = (*Redlock)(nil)
	_ Backend = (*Memory)(nil)
)

var (
	//go:embed acquire.lua
	acquireSrc    string
	acquireScript = redis.NewScript(acquireSrc)

	//go:embed extend.lua
	extendSrc    string
	extendScript = redis.NewScript(extendSrc)

	//go:embed release.lua
	releaseSrc    string
	releaseScript = redis.NewScript(releaseSrc)

	//go:embed pttl.lua
	pttlSrc    string
	pttlScript = redis.NewScript(pttlSrc)

	//go:embed raise.lua
	raiseSrc    string
	raiseScript = redis.NewScript(raiseSrc)
)

// Defaults for the zero fields of [RedisOptions].
const (
	defaultPrefix      = "lock:"
	defaultWaitTimeout = 100 * time.Millisecond
)

// RedisOptions configures a [Redis] backend. The zero value is ready to use.
type RedisOptions struct {
	// Prefix starts every key. It must not contain '{'. Default "lock:".
	Prefix string

	// WaitReplicas, when positive, makes every acquisition wait (Redis WAIT)
	// until that many replicas of the key's master acknowledged it, so that
	// a failover to an acknowledged replica keeps the lock. It costs one
	// more round trip and needs a *redis.Client or *redis.ClusterClient
	// (else acquisitions fail with [ErrWaitUnsupported]). Default 0.
	WaitReplicas int

	// WaitTimeout bounds each WAIT. Default 100ms.
	WaitTimeout time.Duration

	// AllowUnreplicated keeps a lock that fewer than WaitReplicas replicas
	// acknowledged, reporting the count in [Lock.Replicas]. By default such
	// a lock is released at once and the acquisition fails with a
	// [*ReplicaError].
	AllowUnreplicated bool
}

// Redis is a [Backend] storing each lock in one Redis key, with its fencing
// counter in a second key of the same hash slot. It is immutable after
// [NewRedis] and safe for concurrent use.
//
// Every call is one script, one round trip (plus WAIT when configured).
// When Redis is unreachable, calls return the client's error wrapped; a
// call cut off by its context may have taken effect.
type Redis struct {
	c           Client
	prefix      string
	wait        int
	waitTimeout time.Duration
	allowUnrepl bool
}

// NewRedis returns a Redis backend over c. It panics if c is nil, Prefix
// contains '{' or WaitReplicas or WaitTimeout is negative.
func NewRedis(c Client, o RedisOptions) *Redis {
	if c == nil {
		panic("lock: nil Client")
	}
	if o.WaitReplicas < 0 || o.WaitTimeout < 0 {
		panic("lock: negative WaitReplicas or WaitTimeout")
	}
	for _, r := range o.Prefix {
		if r == '{' {
			panic("lock: Prefix contains '{'")
		}
	}
	if o.Prefix == "" {
		o.Prefix = defaultPrefix
	}
	if o.WaitTimeout == 0 {
		o.WaitTimeout = defaultWaitTimeout
	}
	return &Redis{
		c:           c,
		prefix:      o.Prefix,
		wait:        o.WaitReplicas,
		waitTimeout: o.WaitTimeout,
		allowUnrepl: o.AllowUnreplicated,
	}
}

// LockKey returns the Redis key holding key's lock: Prefix + "{" + key + "}".
// Its fencing counter is LockKey + ":fence", in the same hash slot.
func (r *Redis) LockKey(key string) string {
	return r.prefix + "{" + key + "}"
}

// ms returns d in milliseconds, at least 1, as a script argument. An int64
// needs no formatting here: the client writes it straight to the wire.
func ms(d time.Duration) any {
	return max(d.Milliseconds(), 1)
}

// keys returns the lock key and the fencing counter key of key, built as
// one string.
func (r *Redis) keys(key string) []string {
	fence := r.prefix + "{" + key + "}:fence"
	return []string{fence[:len(fence)-len(":fence")], fence}
}

// Acquire implements [Backend] with acquire.lua, then WAIT when
// WaitReplicas is set.
func (r *Redis) Acquire(ctx context.Context, key, owner string, ttl time.Duration) (Grant, bool, error) {
	keys := r.keys(key)
	if r.wait > 0 {
		return r.acquireWait(ctx, key, keys, owner, ttl)
	}
	return parseAcquire(acquireScript.Run(ctx, r.c, keys, owner, ms(ttl)).Int64())
}

func parseAcquire(tok int64, err error) (Grant, bool, error) {
	if err != nil {
		return Grant{}, false, err
	}
	if tok <= 0 {
		return Grant{}, false, nil
	}
	return Grant{Token: uint64(tok)}, true, nil
}

// clusterClient is the part of *redis.ClusterClient that finds a key's node.
type clusterClient interface {
	MasterForKey(ctx context.Context, key string) (*redis.Client, error)
}

// acquireWait acquires and runs WAIT on one connection of the key's master:
// WAIT counts the replicas that acknowledged that connection's writes.
func (r *Redis) acquireWait(ctx context.Context, key string, keys []string, owner string, ttl time.Duration) (Grant, bool, error) {
	var node *redis.Client
	switch c := r.c.(type) {
	case *redis.Client:
		node = c
	case clusterClient:
		var err error
		if node, err = c.MasterForKey(ctx, keys[0]); err != nil {
			return Grant{}, false, err
		}
	default:
		return Grant{}, false, ErrWaitUnsupported
	}
	conn := node.Conn()
	defer conn.Close()
	g, ok, err := parseAcquire(acquireScript.Run(ctx, conn, keys, owner, ms(ttl)).Int64())
	if err != nil || !ok {
		return g, ok, err
	}
	n, err := conn.Wait(ctx, r.wait, r.waitTimeout).Result()
	if err != nil {
		return Grant{}, false, errors.Join(err, r.release(context.WithoutCancel(ctx), conn, keys[0], owner))
	}
	g.Replicas = int(n)
	if g.Replicas < r.wait && !r.allowUnrepl {
		if err := r.release(context.WithoutCancel(ctx), conn, keys[0], owner); err != nil {
			return Grant{}, false, err
		}
		return Grant{}, false, &ReplicaError{Key: key, Want: r.wait, Acked: g.Replicas}
	}
	return g, true, nil
}

func (r *Redis) release(ctx context.Context, c redis.Scripter, lockKey, owner string) error {
	return releaseScript.Run(ctx, c, []string{lockKey}, owner).Err()
}

// Extend implements [Backend] with extend.lua.
func (r *Redis) Extend(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	n, err := extendScript.Run(ctx, r.c, []string{r.LockKey(key)}, owner, ms(ttl)).Int64()
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

// Release implements [Backend] with release.lua.
func (r *Redis) Release(ctx context.Context, key, owner string) (bool, error) {
	n, err := releaseScript.Run(ctx, r.c, []string{r.LockKey(key)}, owner).Int64()
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

// TTL implements [Backend] with pttl.lua.
func (r *Redis) TTL(ctx context.Context, key, owner string) (time.Duration, bool, error) {
	n, err := pttlScript.Run(ctx, r.c, []string{r.LockKey(key)}, owner).Int64()
	if err != nil {
		return 0, false, err
	}
	if n < 0 { // -3: not ours; -2: gone; -1 cannot happen for our keys
		return 0, false, nil
	}
	return time.Duration(n) * time.Millisecond, true, nil
}

// raise lifts key's fencing counter to at least tok while owner holds it.
func (r *Redis) raise(ctx context.Context, key, owner string, tok uint64) (bool, error) {
	n, err := raiseScript.Run(ctx, r.c, r.keys(key), owner, strconv.FormatUint(tok, 10)).Int64()
	if err != nil {
		return false, err
	}
	return n == 1, nil
}
