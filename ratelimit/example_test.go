package ratelimit_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sinew-dev/sinew/ratelimit"
)

func ExampleNewMemory() {
	// 3 attempts per minute and 10 per hour, per user name
	l := ratelimit.NewMemory([]ratelimit.Limit{ratelimit.PerMinute(3), ratelimit.PerHour(10)}, ratelimit.MemoryOptions{})
	ctx := context.Background()
	for range 4 {
		r, _ := l.Allow(ctx, "alice")
		fmt.Println(r.Allowed, r.Remaining, r.Limit)
	}
	// Output:
	// true 2 3/1m0s
	// true 1 3/1m0s
	// true 0 3/1m0s
	// false 0 3/1m0s
}

func ExampleMemory_AllowNAt() {
	l := ratelimit.NewMemory([]ratelimit.Limit{ratelimit.Every(2, time.Second)}, ratelimit.MemoryOptions{})
	start := time.Now()
	for _, at := range []time.Duration{0, 0, 0, 400 * time.Millisecond, 500 * time.Millisecond} {
		r := l.AllowNAt(start.Add(at), "k", 1)
		fmt.Println(at, r.Allowed, r.RetryAfter)
	}
	// Output:
	// 0s true 0s
	// 0s true 0s
	// 0s false 500ms
	// 400ms false 100ms
	// 500ms true 0s
}

// A hot in-memory limiter on a 1 ms coarse clock, counting in tokens: the coarse clock saves a
// system-clock read per decision, and Close stops its goroutine.
func ExampleMemoryOptions_tick() {
	l := ratelimit.NewMemory([]ratelimit.Limit{ratelimit.PerMinute(100).WithBurst(3)},
		ratelimit.MemoryOptions{Algorithm: ratelimit.TokenBucket, Tick: time.Millisecond})
	defer l.Close()
	ctx := context.Background()
	for range 4 {
		r, _ := l.Allow(ctx, "api-key-1")
		fmt.Println(r.Allowed, r.Remaining)
	}
	// Output:
	// true 2
	// true 1
	// true 0
	// false 0
}

func ExampleNewRedis() {
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379", ContextTimeoutEnabled: true})
	defer rdb.Close()
	logins := ratelimit.NewRedis(rdb, []ratelimit.Limit{ratelimit.PerMinute(5), ratelimit.PerHour(100)},
		ratelimit.RedisOptions{
			Prefix:    "login:",
			Budget:    50 * time.Millisecond,
			Failure:   ratelimit.FailLocal,
			Instances: 3, // each of 3 servers allows 1/3 of the limits while Redis is down
		})
	r, err := logins.Allow(context.Background(), "alice")
	if err != nil {
		return // the context is done
	}
	if !r.Allowed {
		fmt.Printf("too many attempts; retry in %v\n", r.RetryAfter.Round(time.Second))
	}
}

func ExampleMiddleware() {
	l := ratelimit.NewMemory([]ratelimit.Limit{ratelimit.PerMinute(1)}, ratelimit.MemoryOptions{})
	mw := ratelimit.Middleware(l, ratelimit.MiddlewareOptions{
		// trust X-Forwarded-For only from the load balancers
		Key: ratelimit.KeyByIP([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}),
	})
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "welcome") }))
	for range 2 {
		req := httptest.NewRequest("POST", "/login", nil)
		req.RemoteAddr = "10.1.2.3:4567"
		req.Header.Set("X-Forwarded-For", "198.51.100.7")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Printf("%d %s retry-after=%q\n", rec.Code, rec.Header().Get("RateLimit"), rec.Header().Get("Retry-After"))
	}
	// Output:
	// 200 "1/1m0s";r=0;t=60 retry-after=""
	// 429 "1/1m0s";r=0;t=60 retry-after="60"
}
