package ratelimit

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sinew-dev/sinew/breaker"
)

// Client is the part of a go-redis client a [Redis] limiter uses: scripts, and pipelines for
// batching. *redis.Client, *redis.ClusterClient and *redis.Ring satisfy it, and so do the
// clients returned by redis.NewFailoverClient and redis.NewFailoverClusterClient.
type Client interface {
	redis.Scripter
	Pipeline() redis.Pipeliner
}

var (
	_ Client = (*redis.Client)(nil)
	_ Client = (*redis.ClusterClient)(nil)
	_ Client = (*redis.Ring)(nil)
)

var (
	//go:embed gcra.lua
	gcraSource string
	gcraScript = redis.NewScript(gcraSource)
	//go:embed window.lua
	windowSource string
	windowScript = redis.NewScript(windowSource)
	//go:embed bucket.lua
	bucketSource string
	bucketScript = redis.NewScript(bucketSource)
	//go:embed reset.lua
	resetSource string
	resetScript = redis.NewScript(resetSource)
)

// FailurePolicy is what a [Redis] limiter decides when Redis cannot: when the exchange fails or
// does not finish within [RedisOptions.Budget], or the breaker is open.
type FailurePolicy uint8

// The failure policies. Every fallback decision has Result.Fallback set.
const (
	// FailLocal decides with an in-memory limiter of this instance allowing
	// 1/[RedisOptions.Instances] of each limit (rate and burst rounded up). The default.
	FailLocal FailurePolicy = iota
	// FailOpen admits every request.
	FailOpen
	// FailClosed denies every request, with RetryAfter the breaker's remaining open time when
	// it is open, else 1 s.
	FailClosed
)

// String returns "local", "open" or "closed".
func (p FailurePolicy) String() string {
	switch p {
	case FailLocal:
		return "local"
	case FailOpen:
		return "open"
	case FailClosed:
		return "closed"
	}
	return "FailurePolicy(" + strconv.Itoa(int(p)) + ")"
}

// DefaultPrefix is the key prefix used when [RedisOptions.Prefix] is empty.
const DefaultPrefix = "ratelimit:"

// RedisOptions configure a [Redis] limiter. The zero value of every field means the default in
// its comment.
type RedisOptions struct {
	// Algorithm is how events are counted. Default [GCRA].
	Algorithm Algorithm
	// Prefix starts every key. It must not contain '{' (keys carry their own hash tag).
	// Default [DefaultPrefix].
	Prefix string
	// Budget is the most time a decision may take, queueing, Redis round trip and retries
	// included; the failure policy applies after it. Default 100 ms.
	Budget time.Duration
	// Failure is the policy applied when Redis does not decide. Default [FailLocal].
	Failure FailurePolicy
	// Instances is the number of processes sharing the limits, for [FailLocal]: each instance's
	// fallback allows 1/Instances of each limit. Default 1.
	Instances int
	// Breaker guards Redis: while it is open no call reaches Redis and the failure policy
	// applies at once. One breaker may be shared by limiters using the same Redis. Default a
	// new breaker that opens after 3 consecutive failures (or a 50% failure rate) for 500 ms,
	// doubling up to 10 s while probes keep failing, and lets one probe through at a time.
	Breaker *breaker.Breaker
	// MaxBatch is the most decisions sent in one pipeline when calls are queued behind
	// others already in flight. Default 256; 1 disables batching.
	MaxBatch int
	// Hooks observe decisions and failures.
	Hooks Hooks
}

// maxInflight is how many round trips (single calls or pipelines) one limiter keeps in flight
// at once; calls arriving beyond it are queued and sent together.
const maxInflight = 2

// Redis is a distributed limiter on Redis, enforcing one or more limits per key by GCRA or
// another [Algorithm]: each decision is one Lua script run atomically on the server with the
// server's clock, so any
// number of processes share the limits exactly. See the package documentation for its keys and
// failure modes.
//
// A Redis limiter is safe for concurrent use. With a client built with ContextTimeoutEnabled it
// starts no goroutine; with any other client it keeps up to 2 sender goroutines for its round
// trips, each ending after a second without work or at [Redis.Close] (see the package
// documentation).
type Redis struct {
	client    Client
	limits    []Limit
	suffixes  []string // per limit: ":" + its name, ends every key
	script    *redis.Script
	argHead   []any // the script's arguments before the n of each decision
	oneScript bool  // batches may go in one script call: every key is on one server
	minBurst  int   // the most events one decision may ask
	prefix    string
	budget    time.Duration
	policy    FailurePolicy
	br        *breaker.Breaker
	local     *Memory
	hooks     Hooks
	batch     batcher
}

var _ Limiter = (*Redis)(nil)

// NewRedis returns a limiter enforcing every one of limits on each key, with its state in Redis
// through client.
//
// Build client with ContextTimeoutEnabled: true: the limiter then makes each round trip on the
// calling goroutine, the fastest way. Any other client works, with the same bounds, through
// sender goroutines owned by the limiter (call [Redis.Close] when done with it) and about 15%
// more latency per lone decision.
//
// Failure modes: a decision never takes longer than opts.Budget (default 100 ms). When Redis
// fails, hangs past the budget, or the breaker is open after repeated failures, AllowN returns
// a Result decided by opts.Failure (default [FailLocal]) with Fallback set and a nil error; the
// failure is reported to Hooks.OnError. AllowN returns an error only when its own ctx is done
// (ctx.Err()) or n exceeds a burst ([ErrExceedsBurst]). Reset returns Redis errors.
//
// It panics if client is nil, limits is empty or invalid (see [NewMemory]), or opts.Prefix
// contains '{'.
func NewRedis(client Client, limits []Limit, opts RedisOptions) *Redis {
	if client == nil {
		panic("ratelimit: nil client")
	}
	checkLimits(limits)
	if opts.Algorithm > TokenBucket {
		panic("ratelimit: unknown algorithm " + opts.Algorithm.String())
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
	if opts.Instances <= 0 {
		opts.Instances = 1
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	if opts.Breaker == nil {
		opts.Breaker = breaker.New(breaker.Options{
			ConsecutiveFailures: 3,
			OpenDuration:        500 * time.Millisecond,
			MaxOpenDuration:     10 * time.Second,
			ProbeLease:          opts.Budget * 2,
		})
	}
	l := &Redis{
		client:   client,
		limits:   slices.Clone(limits),
		minBurst: math.MaxInt,
		prefix:   opts.Prefix,
		budget:   opts.Budget,
		policy:   opts.Failure,
		br:       opts.Breaker,
		hooks:    opts.Hooks,
	}
	l.argHead = append(l.argHead, len(limits))
	switch opts.Algorithm {
	case GCRA:
		l.script = gcraScript
	case SlidingWindow:
		l.script = windowScript
		l.argHead = append(l.argHead, "s")
	case FixedWindow:
		l.script = windowScript
		l.argHead = append(l.argHead, "f")
	case TokenBucket:
		l.script = bucketScript
	}
	local := make([]Limit, len(limits))
	for i, lim := range limits {
		l.minBurst = min(l.minBurst, capacity(lim, opts.Algorithm))
		l.suffixes = append(l.suffixes, ":"+keyName(lim, opts.Algorithm))
		switch opts.Algorithm {
		case GCRA:
			iv := float64(lim.interval()) / 1e3
			l.argHead = append(l.argHead, formatFloat(iv), formatFloat(iv*float64(lim.burst())))
		case TokenBucket:
			l.argHead = append(l.argHead, formatFloat(float64(lim.interval())/1e3), lim.burst())
		default:
			l.argHead = append(l.argHead, formatFloat(float64(lim.Period)/1e3), lim.Rate)
		}
		local[i] = Limit{
			Rate:   ceilDiv(lim.Rate, opts.Instances),
			Period: lim.Period,
			Burst:  ceilDiv(lim.burst(), opts.Instances),
		}
	}
	l.local = NewMemory(local, MemoryOptions{Algorithm: opts.Algorithm})
	_, l.oneScript = client.(*redis.Client)
	l.batch = batcher{l: l, maxBatch: opts.MaxBatch, inline: boundsReads(client),
		work: make(chan roundTrip), quit: make(chan struct{})}
	return l
}

// boundsReads reports whether client is a go-redis client built with ContextTimeoutEnabled, so
// that the context's deadline bounds its network reads and writes.
func boundsReads(client Client) bool {
	switch c := client.(type) {
	case *redis.Client:
		return c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		return c.Options().ContextTimeoutEnabled
	}
	return false
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// keyName names a limit inside a key: "rate/period/burst" for GCRA, "tb:rate/period/burst"
// for the token bucket, "sw:rate/period" and "fw:rate/period" for the windows.
func keyName(l Limit, algo Algorithm) string {
	switch algo {
	case SlidingWindow:
		return "sw:" + strconv.Itoa(l.Rate) + "/" + l.Period.String()
	case FixedWindow:
		return "fw:" + strconv.Itoa(l.Rate) + "/" + l.Period.String()
	case TokenBucket:
		return "tb:" + strconv.Itoa(l.Rate) + "/" + l.Period.String() + "/" + strconv.Itoa(l.burst())
	}
	return strconv.Itoa(l.Rate) + "/" + l.Period.String() + "/" + strconv.Itoa(l.burst())
}

// Keys returns the Redis keys holding key's state, one per limit, in the order of the limits.
// They share one hash slot: the hash tag is key itself when it is non-empty, holds no '}' and
// does not start with '#'; otherwise it is "#" and the hex FNV-1a hash of key, and key follows
// it. Distinct keys never share Redis keys.
func (l *Redis) Keys(key string) []string {
	base := l.prefix + "{" + hashTag(key)
	keys := make([]string, len(l.suffixes))
	for i, s := range l.suffixes {
		keys[i] = base + s
	}
	return keys
}

// hashTag returns key's hash tag and its closing brace: key + "}", or for a key that is empty,
// starts with '#' or holds '}', "#" + hex FNV-1a + "}" + key.
func hashTag(key string) string {
	if key == "" || key[0] == '#' || strings.ContainsRune(key, '}') {
		h := fnv.New64a()
		_, _ = h.Write([]byte(key))
		return "#" + strconv.FormatUint(h.Sum64(), 16) + "}" + key
	}
	return key + "}"
}

// Limits returns the limits enforced, in the order given to [NewRedis].
func (l *Redis) Limits() []Limit { return slices.Clone(l.limits) }

// Allow is AllowN(ctx, key, 1).
func (l *Redis) Allow(ctx context.Context, key string) (Result, error) {
	return l.AllowN(ctx, key, 1)
}

// AllowN decides whether n events for key are admitted under every limit and consumes them from
// every limit if so, in one round trip; see [Limiter]. A denial is a Result, not an error.
// When Redis does not decide within the budget, the failure policy decides and the result has
// Fallback set. It returns ctx.Err() if ctx is done before a decision, and [ErrExceedsBurst]
// when n is larger than the smallest capacity. It panics if n is negative.
func (l *Redis) AllowN(ctx context.Context, key string, n int) (Result, error) {
	if n < 0 {
		panic("ratelimit: negative n")
	}
	if n > l.minBurst {
		return Result{}, ErrExceedsBurst
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	bctx, cancel := context.WithTimeout(ctx, l.budget)
	reply, err := l.batch.do(bctx, l.Keys(key), n)
	cancel()
	var r Result
	if err == nil {
		r, err = l.result(reply)
	}
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return Result{}, cerr
		}
		if l.hooks.OnError != nil && !errors.Is(err, breaker.ErrOpen) {
			l.hooks.OnError(key, err)
		}
		r = l.fallback(key, n, err)
		if l.hooks.OnFallback != nil {
			l.hooks.OnFallback(key, r, err)
		}
	}
	l.hooks.decided(key, r)
	return r, nil
}

// result decodes the script's reply.
func (l *Redis) result(v []int64) (Result, error) {
	if len(v) != 5 || v[1] < 0 || v[1] >= int64(len(l.limits)) {
		return Result{}, fmt.Errorf("ratelimit: unexpected script reply %v", v)
	}
	r := Result{
		Allowed:    v[0] == 1,
		Limit:      l.limits[v[1]],
		Remaining:  int(v[2]),
		ResetAfter: time.Duration(v[4]) * time.Microsecond,
	}
	if !r.Allowed {
		r.RetryAfter = time.Duration(v[3]) * time.Microsecond
	}
	return r, nil
}

// fallback decides by the failure policy.
func (l *Redis) fallback(key string, n int, cause error) Result {
	var r Result
	switch l.policy {
	case FailOpen:
		r = Result{Allowed: true, Limit: l.limits[0], Remaining: l.limits[0].burst()}
	case FailClosed:
		r = Result{Limit: l.limits[0], RetryAfter: time.Second}
		var oe *breaker.OpenError
		if errors.As(cause, &oe) {
			if d := oe.RetryAfter(); d > 0 {
				r.RetryAfter = d
			}
		}
	default:
		r = l.local.AllowNAt(time.Now(), key, n)
		// report the shared limit the local share stands for
		for i, lim := range l.local.limits {
			if lim == r.Limit {
				r.Limit = l.limits[i]
				break
			}
		}
	}
	r.Fallback = true
	return r
}

// Wait is WaitN(ctx, key, 1).
func (l *Redis) Wait(ctx context.Context, key string) error { return waitN(ctx, l, key, 1) }

// WaitN blocks until n events for key are admitted; see [Limiter]. Each attempt is an AllowN,
// so fallback decisions apply while Redis is down. It returns ctx.Err() when ctx is done first,
// [ErrWouldExceedDeadline] when admission would come after ctx's deadline, and
// [ErrExceedsBurst] when n is larger than the smallest capacity.
func (l *Redis) WaitN(ctx context.Context, key string, n int) error {
	return waitN(ctx, l, key, n)
}

// Reset deletes key's state for every limit, in Redis and in the local fallback. It returns
// the Redis error, wrapped, if the deletion failed or took longer than the budget.
func (l *Redis) Reset(ctx context.Context, key string) error {
	_ = l.local.Reset(ctx, key)
	bctx, cancel := context.WithTimeout(ctx, l.budget)
	defer cancel()
	if err := resetScript.Run(bctx, l.client, l.Keys(key)).Err(); err != nil && err != redis.Nil {
		return fmt.Errorf("ratelimit: reset %q: %w", key, err)
	}
	return nil
}

// Close ends the goroutines the limiter keeps to make round trips with a client that does not
// bound reads by the context (see [NewRedis]), waiting for a round trip in progress to end,
// which takes at most the client's ReadTimeout. Decisions after Close still work: each round
// trip then runs on a goroutine of its own. Close is idempotent and returns nil; it does not
// close the client.
func (l *Redis) Close() error {
	l.batch.close()
	return nil
}

// exchange decides every call in one round trip and stores each call's reply and error. On a
// single server (*redis.Client) the whole batch is one script call; otherwise (Cluster, Ring)
// it is a pipeline of one script call per decision, each on its key's slot. NOSCRIPT is
// answered by sending the script itself.
func (l *Redis) exchange(ctx context.Context, calls []*call) {
	if len(calls) == 1 || l.oneScript {
		keys := calls[0].keys
		args := make([]any, len(l.argHead), len(l.argHead)+len(calls))
		copy(args, l.argHead)
		if len(calls) > 1 {
			keys = make([]string, 0, len(calls)*len(l.limits))
			for _, c := range calls {
				keys = append(keys, c.keys...)
			}
		}
		for _, c := range calls {
			args = append(args, c.n)
		}
		reply, err := l.script.Run(ctx, l.client, keys, args...).Int64Slice()
		if err == nil && len(reply) != 5*len(calls) {
			err = fmt.Errorf("ratelimit: script replied %d values for %d decisions", len(reply), len(calls))
		}
		for i, c := range calls {
			if c.err = err; err == nil {
				c.reply = reply[5*i : 5*i+5 : 5*i+5]
			}
		}
		return
	}
	cmds := make([]*redis.Cmd, len(calls))
	pipe := l.client.Pipeline()
	for i, c := range calls {
		cmds[i] = l.script.EvalSha(ctx, pipe, c.keys, l.args(c)...)
	}
	_, _ = pipe.Exec(ctx)
	var retry []int
	for i, cmd := range cmds {
		if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
			retry = append(retry, i)
		}
	}
	if len(retry) > 0 {
		pipe = l.client.Pipeline()
		for _, i := range retry {
			cmds[i] = l.script.Eval(ctx, pipe, calls[i].keys, l.args(calls[i])...)
		}
		_, _ = pipe.Exec(ctx)
	}
	for i, c := range calls {
		c.reply, c.err = cmds[i].Int64Slice()
	}
}

// args returns the script's arguments for one decision.
func (l *Redis) args(c *call) []any {
	args := make([]any, len(l.argHead)+1)
	copy(args, l.argHead)
	args[len(l.argHead)] = c.n
	return args
}

// transportErr returns err unless it is a Redis reply error other than a timeout-like one:
// a script error says nothing about Redis being down.
func transportErr(err error) error {
	var re redis.Error
	if errors.As(err, &re) && !errors.Is(err, context.DeadlineExceeded) {
		if msg := re.Error(); !strings.HasPrefix(msg, "LOADING") && !strings.HasPrefix(msg, "CLUSTERDOWN") &&
			!strings.HasPrefix(msg, "TRYAGAIN") && !strings.HasPrefix(msg, "MASTERDOWN") {
			return nil
		}
	}
	return err
}
