package app

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sinew-dev/sinew/examples/authflow/users"
	"github.com/sinew-dev/sinew/lock"
	"github.com/sinew-dev/sinew/ratelimit"
	"github.com/sinew-dev/sinew/session"
)

// Login limits, shared by every node: several windows per user name and per
// client address. A request must fit every window of both keys.
var (
	// UserLimits are the login limits per user name: a credential-stuffing
	// run against one account gets 5 guesses a minute, 20 an hour, however
	// many nodes and addresses it spreads over.
	UserLimits = []ratelimit.Limit{ratelimit.PerMinute(5), ratelimit.PerHour(20)}
	// IPLimits are the login limits per client address: one address trying
	// many accounts gets 20 guesses a minute, 200 an hour.
	IPLimits = []ratelimit.Limit{ratelimit.PerMinute(20), ratelimit.PerHour(200)}
)

// RedisClient is the part of a go-redis client the Redis backends use;
// *redis.Client and *redis.ClusterClient satisfy it.
type RedisClient interface {
	redis.Scripter
	Pipeline() redis.Pipeliner
	HGetAll(ctx context.Context, key string) *redis.MapStringStringCmd
}

var (
	_ RedisClient = (*redis.Client)(nil)
	_ RedisClient = (*redis.ClusterClient)(nil)
)

// Deps are the shared services one auth node uses. Two nodes given Deps by
// the same Backends share users, login limits, sessions and locks.
type Deps struct {
	Users       users.Store
	UserLimiter ratelimit.Limiter
	IPLimiter   ratelimit.Limiter
	Sessions    session.Store
	Locks       lock.Backend
}

// Backends hands out the shared state of a cluster of auth nodes: either
// embedded in this process (every node of the process shares one in-memory
// store, limiter and lock table) or in Redis (each node gets its own clients
// over the same keys, exactly as separate processes would).
//
// A Backends is safe for concurrent use. It starts no goroutine itself, but
// the Redis rate limiters it hands out may keep sender goroutines (see
// ratelimit.NewRedis): call Close when the nodes are done.
type Backends struct {
	kind   string
	deps   Deps        // embedded: shared by every node
	client RedisClient // redis: nil when embedded
	prefix string
	nodes  int

	mu      sync.Mutex // protects closers
	closers []io.Closer
}

// Close closes the rate limiters handed out so far (it does not close the
// Redis client). Call it after the nodes using them have stopped.
func (b *Backends) Close() error {
	b.mu.Lock()
	cs := b.closers
	b.closers = nil
	b.mu.Unlock()
	var errs []error
	for _, c := range cs {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// Embedded returns in-memory backends for the nodes of one process.
func Embedded() *Backends {
	userLim := ratelimit.NewMemory(UserLimits, ratelimit.MemoryOptions{})
	ipLim := ratelimit.NewMemory(IPLimits, ratelimit.MemoryOptions{})
	return &Backends{
		kind: "embedded (in-memory)",
		deps: Deps{
			Users:       users.NewMemory(),
			UserLimiter: userLim,
			IPLimiter:   ipLim,
			Sessions:    session.NewMemoryStore(),
			Locks:       lock.NewMemory(),
		},
		closers: []io.Closer{userLim, ipLim},
	}
}

// Redis returns backends keeping everything in Redis under prefix (which
// must not contain braces; default "authflow:"). instances is the number of
// processes sharing the limits, for the limiter's fallback share while Redis
// is unreachable. kind names the deployment in reports.
func Redis(c RedisClient, kind, prefix string, instances int) *Backends {
	if prefix == "" {
		prefix = "authflow:"
	}
	if instances < 1 {
		instances = 1
	}
	return &Backends{kind: kind, client: c, prefix: prefix, nodes: instances}
}

// Kind describes the backends, e.g. "embedded (in-memory)".
func (b *Backends) Kind() string { return b.kind }

// Users returns a user store over the backends, for seeding and inspection.
func (b *Backends) Users() users.Store {
	if b.client == nil {
		return b.deps.Users
	}
	return users.NewRedis(b.client, b.prefix+"user:")
}

// Locker returns a lock.Locker over the backends' lock table.
func (b *Backends) Locker() *lock.Locker {
	return lock.New(b.lockBackend(), lock.Options{})
}

func (b *Backends) lockBackend() lock.Backend {
	if b.client == nil {
		return b.deps.Locks
	}
	return lock.NewRedis(b.client, lock.RedisOptions{Prefix: b.prefix + "lock:"})
}

// Node returns the services for one node. Embedded backends return the same
// shared instances every time; Redis backends return new clients-side
// instances over the same keys.
func (b *Backends) Node() Deps {
	if b.client == nil {
		return b.deps
	}
	ro := func(p string) ratelimit.RedisOptions {
		return ratelimit.RedisOptions{Prefix: b.prefix + p, Instances: b.nodes, Budget: 250 * time.Millisecond}
	}
	userLim := ratelimit.NewRedis(b.client, UserLimits, ro("rl:user:"))
	ipLim := ratelimit.NewRedis(b.client, IPLimits, ro("rl:ip:"))
	b.mu.Lock()
	b.closers = append(b.closers, userLim, ipLim)
	b.mu.Unlock()
	return Deps{
		Users:       b.Users(),
		UserLimiter: userLim,
		IPLimiter:   ipLim,
		Sessions:    session.NewRedisStore(b.client, session.RedisOptions{Prefix: b.prefix + "session:"}),
		Locks:       b.lockBackend(),
	}
}
