// Package ratelimit limits how often something may happen per key — logins per user name,
// requests per client address — exactly across any number of processes sharing Redis, or
// within one process in memory.
//
// Both limiters implement [Limiter]. A limit is a [Limit] of Rate events per Period with bursts
// of up to Burst. The default [Algorithm] is GCRA (the generic cell rate algorithm, which
// decides exactly as a token bucket does, with one timestamp of state): over any span of time
// T at most Burst + Rate×T/Period events are admitted. [TokenBucket] makes the same decisions
// keeping tokens and a refill time instead; [SlidingWindow] and [FixedWindow] counters are the
// alternatives. A limiter enforces one or more limits on every key, checked
// and consumed together: with 5/min AND 100/hour on a login name, a request is admitted only
// if both have room, and a denial consumes neither.
//
//   - [Redis] keeps the state in Redis: each decision is one Lua script, run atomically with
//     the Redis server's clock, so client clocks never matter. Concurrent decisions are
//     pipelined automatically, and a decision never takes longer than a time budget: when
//     Redis fails or hangs, a [FailurePolicy] decides (by default an in-memory limiter with
//     this instance's share of the limits), and a circuit breaker stops calling a dead Redis.
//   - [Memory] keeps the state in this process, with no allocation per decision: about 100 ns
//     reading the system clock, about 50 ns with a coarse clock ([MemoryOptions.Tick]).
//
// A decision returns a [Result]: admitted or not, the binding limit, the events remaining,
// how long to wait before retrying, how long until the limit is full again, and whether a
// fallback decided. A denial is a Result, never an error.
//
// [Concurrency] (Redis) and [MemoryConcurrency] limit how many holders of a key are in flight
// at once, with leases that expire if a holder dies; both implement [ConcurrencyLimiter].
//
// [Middleware] limits net/http handlers by client address (reading X-Forwarded-For only from
// proxies you trust), route or any key, and answers 429 with Retry-After and the IETF
// RateLimit-Policy and RateLimit headers.
//
// # Usage
//
//	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379", ContextTimeoutEnabled: true})
//	logins := ratelimit.NewRedis(rdb,
//		[]ratelimit.Limit{ratelimit.PerMinute(5), ratelimit.PerHour(100)},
//		ratelimit.RedisOptions{Prefix: "login:", Instances: 3})
//
//	r, err := logins.Allow(ctx, username)
//	if err != nil {
//		return err // ctx is done
//	}
//	if !r.Allowed {
//		return fmt.Errorf("too many attempts, retry in %v", r.RetryAfter)
//	}
//
// A [Memory] limiter has the same methods, so code holding a [Limiter] works with either:
//
//	var l ratelimit.Limiter = ratelimit.NewMemory(limits, ratelimit.MemoryOptions{})
//
// Limit HTTP handlers by client address behind a load balancer at 10.0.0.0/8:
//
//	mw := ratelimit.Middleware(l, ratelimit.MiddlewareOptions{
//		Key: ratelimit.KeyByIP([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}),
//	})
//	http.Handle("POST /login", mw(loginHandler))
//
// # Redis keys
//
// Each limited key has one Redis key per limit, named
// prefix + "{" + key + "}:" + rate/period/burst, e.g. "ratelimit:{alice}:5/1m0s/5" with the
// default prefix [DefaultPrefix] (for the other algorithms: "…:tb:5/1m0s/5", "…:sw:5/1m0s" or
// "…:fw:5/1m0s"). The braces are a Cluster hash tag, so the keys of one limited
// key share a slot and one script can check them all, while different limited keys spread
// over the cluster. A key that is empty, starts with '#' or contains '}' is tagged by its
// hash instead: "{#<fnv64a hex>}" followed by the key. Under GCRA the value is a string, the
// limit's theoretical arrival time in microseconds; under the token bucket a hash
// {t: tokens, ts: time of the last refill in µs since 2017}; under the windows a hash
// {w: window index, c: count, p: previous window's count}, windows aligned to the Unix
// epoch. Every key is written with a TTL (PX) equal to the time until the limit is full
// again, at least 1 ms, so idle keys vanish and nothing outlives its use,
// from sub-millisecond to multi-day periods. A denied request writes nothing. Changing a
// limit changes its key name, so old state never applies to a new limit.
//
// Redis keys of a [Concurrency] limiter are prefix + "{" + key + "}:conc", a sorted set of
// lease ids scored by expiry, expiring with its last lease.
//
// # Failure modes
//
// A [Redis] limiter's decision takes at most [RedisOptions.Budget] (default 100 ms), whatever
// Redis does. When Redis returns an error, does not answer in time, or the breaker is open,
// AllowN returns a nil error and a Result with Fallback set, decided by
// [RedisOptions.Failure]:
//
//   - [FailLocal] (default): an in-memory limiter allowing this instance 1/Instances of each
//     limit, so N instances together stay near the limit while Redis is down;
//   - [FailOpen]: admit;
//   - [FailClosed]: deny, with RetryAfter the breaker's remaining open time or 1 s.
//
// The breaker (package breaker; by default it opens after 3 consecutive failures, for 500 ms
// growing to 10 s while probes fail) lets one probe through at a time once open, so a dead
// Redis is not hammered and logs are not flooded: Hooks.OnError is called for each failed
// decision that reached Redis, not for those the open breaker turned away. When Redis comes
// back empty (restarted), limits start again from full. The script is re-sent after
// SCRIPT FLUSH, a restart or a failover (NOSCRIPT) without the caller seeing it.
//
// AllowN returns an error only when ctx is done before a decision (ctx.Err()) or n exceeds the
// smallest capacity ([ErrExceedsBurst]). Reset returns Redis errors.
//
// Build the client with ContextTimeoutEnabled: true. go-redis bounds a network read by the
// context's deadline only then, and the round trip runs on the calling goroutine. With any
// other client the budget still holds, but each round trip runs on one of at most 2 sender
// goroutines of the limiter, which the caller stops waiting for at the budget; a sender ends a
// hung round trip when go-redis returns (by the client's own ReadTimeout, default 3 s), so at
// most 2 round trips per limiter are ever pending. Handing the round trip over costs two
// goroutine wake-ups: measured against go-redis/redis_rate, a serial decision took 1.0× its
// time with ContextTimeoutEnabled and about 1.15× without.
//
// # Batching
//
// A [Redis] limiter keeps at most 2 round trips in flight. A call arriving when fewer are in
// flight is sent at once, alone: a lone caller pays nothing for batching. Calls arriving while
// 2 are in flight wait; when one ends, up to [RedisOptions.MaxBatch] waiting calls go in one
// round trip: one script call deciding them all in order on a single server
// (*redis.Client), or a pipeline of one script call per decision on a Cluster or Ring.
//
// # Concurrency
//
// [Redis] and [Memory] limiters are safe for concurrent use. A Memory limiter starts a
// goroutine only for a coarse clock ([MemoryOptions.Tick]), which [Memory.Close] ends. A Redis
// limiter starts goroutines only with a client that does not bound reads by the context (see
// Failure modes): at most 2 senders, each ending after a second without work or at
// [Redis.Close]. Hooks are called on the goroutine that made the decision, after it is made,
// outside any lock.
package ratelimit
