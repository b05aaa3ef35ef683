package ratelimit_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sinew-dev/sinew/ratelimit"
)

func okHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
}

func TestMiddleware_HeadersAnd429(t *testing.T) {
	for _, b := range allBackends() {
		t.Run(b.name, func(t *testing.T) {
			l := b.new(t, []ratelimit.Limit{ratelimit.PerMinute(2), ratelimit.PerHour(100).WithBurst(10)})
			h := ratelimit.Middleware(l, ratelimit.MiddlewareOptions{})(okHandler())
			do := func() *httptest.ResponseRecorder {
				req := httptest.NewRequest("GET", "/login", nil)
				req.RemoteAddr = "192.0.2.7:5555"
				req.Header.Set("X-Forwarded-For", "203.0.113.1") // not trusted: ignored
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				return rec
			}
			policy := `"2/1m0s";q=2;w=60, "100/1h0m0s burst 10";q=100;w=3600`
			rec := do()
			assert.Equal(t, http.StatusOK, rec.Code)
			assert.Equal(t, policy, rec.Header().Get("RateLimit-Policy"))
			assert.Equal(t, `"2/1m0s";r=1;t=30`, rec.Header().Get("RateLimit"))
			rec = do()
			assert.Equal(t, http.StatusOK, rec.Code)
			assert.Equal(t, `"2/1m0s";r=0;t=60`, rec.Header().Get("RateLimit"))
			rec = do()
			assert.Equal(t, http.StatusTooManyRequests, rec.Code)
			assert.Equal(t, "30", rec.Header().Get("Retry-After"))
			assert.Equal(t, `"2/1m0s";r=0;t=30`, rec.Header().Get("RateLimit"))
			assert.Equal(t, policy, rec.Header().Get("RateLimit-Policy"))
		})
	}
}

func TestMiddleware_KeyFuncSkipAndError(t *testing.T) {
	l := ratelimit.NewMemory([]ratelimit.Limit{ratelimit.PerHour(1)}, ratelimit.MemoryOptions{})
	var gotErr error
	h := ratelimit.Middleware(l, ratelimit.MiddlewareOptions{
		Key: func(r *http.Request) (string, bool) { return r.URL.Query().Get("u"), r.URL.Query().Has("u") },
		Limited: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusTeapot)
		}),
	})(okHandler())
	codes := func(url string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", url, nil))
		return rec.Code
	}
	assert.Equal(t, 200, codes("/?u=a"))
	assert.Equal(t, http.StatusTeapot, codes("/?u=a"))
	assert.Equal(t, 200, codes("/?u=b"))
	assert.Equal(t, 200, codes("/"), "no key: not limited")
	assert.Equal(t, 200, codes("/"))

	// an error from the limiter (the request's context is done) goes to Error
	rl := ratelimit.NewMemory([]ratelimit.Limit{ratelimit.PerHour(1)}, ratelimit.MemoryOptions{})
	h = ratelimit.Middleware(errLimiter{rl}, ratelimit.MiddlewareOptions{
		Error: func(w http.ResponseWriter, _ *http.Request, err error) { gotErr = err; w.WriteHeader(599) },
	})(okHandler())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	assert.Equal(t, 599, rec.Code)
	assert.ErrorIs(t, gotErr, context.Canceled)
}

type errLimiter struct{ *ratelimit.Memory }

func (errLimiter) Allow(context.Context, string) (ratelimit.Result, error) {
	return ratelimit.Result{}, errors.Join(context.Canceled)
}

func TestMiddleware_KeyByRoute(t *testing.T) {
	l := ratelimit.NewMemory([]ratelimit.Limit{ratelimit.PerHour(1)}, ratelimit.MemoryOptions{})
	mw := ratelimit.Middleware(l, ratelimit.MiddlewareOptions{Key: ratelimit.KeyByRoute(ratelimit.KeyByIP(nil))})
	mux := http.NewServeMux()
	mux.Handle("POST /login", mw(okHandler()))
	mux.Handle("POST /reset", mw(okHandler()))
	code := func(path string) int {
		req := httptest.NewRequest("POST", path, nil)
		req.RemoteAddr = "[2001:db8:1:2:3:4:5:6]:443"
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		return rec.Code
	}
	assert.Equal(t, 200, code("/login"))
	assert.Equal(t, 429, code("/login"))
	assert.Equal(t, 200, code("/reset"), "each route its own limit")
	k, ok := ratelimit.KeyByRoute(ratelimit.KeyByIP(nil))(httptest.NewRequest("GET", "/x", nil))
	require.True(t, ok)
	assert.Equal(t, "GET /x|ip:192.0.2.1", k)
}

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	cases := []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string
		ok      bool
	}{
		{"peer only", "192.0.2.1:1234", nil, nil, "192.0.2.1", true},
		{"xff ignored without trusted proxies", "192.0.2.1:1234", []string{"1.2.3.4"}, nil, "192.0.2.1", true},
		{"xff ignored from untrusted peer", "192.0.2.1:1234", []string{"1.2.3.4"}, trusted, "192.0.2.1", true},
		{"one trusted hop", "10.0.0.5:80", []string{"198.51.100.9"}, trusted, "198.51.100.9", true},
		{"forged left entries skipped", "10.0.0.5:80", []string{"6.6.6.6, 198.51.100.9, 10.1.1.1"}, trusted, "198.51.100.9", true},
		{"several headers", "10.0.0.5:80", []string{"6.6.6.6", "198.51.100.9", "10.1.1.1"}, trusted, "198.51.100.9", true},
		{"all trusted", "10.0.0.5:80", []string{"10.2.2.2, 10.1.1.1"}, trusted, "10.2.2.2", true},
		{"garbage from trusted hop", "10.0.0.5:80", []string{"198.51.100.9, junk"}, trusted, "10.0.0.5", true},
		{"ipv6 peer", "[fd00::1]:80", []string{"2001:db8::7"}, trusted, "2001:db8::7", true},
		{"mapped", "[::ffff:192.0.2.3]:80", nil, nil, "192.0.2.3", true},
		{"zone dropped", "[fe80::1%eth0]:80", nil, nil, "fe80::1", true},
		{"xff with port", "10.0.0.5:80", []string{"[2001:db8::9]:5000"}, trusted, "2001:db8::9", true},
		{"no remote", "", nil, nil, "", false},
		{"bad remote", "nonsense", nil, nil, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/", nil)
			req.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			got, ok := ratelimit.ClientIP(req, tc.trusted)
			assert.Equal(t, tc.ok, ok)
			if tc.ok {
				assert.Equal(t, tc.want, got.String())
			}
		})
	}
}

func TestKeyByIP_IPv6Prefix(t *testing.T) {
	req := httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = "[2001:db8:1:2:aaaa::1]:443"
	k, ok := ratelimit.KeyByIP(nil)(req)
	require.True(t, ok)
	assert.Equal(t, "ip:2001:db8:1:2::/64", k)
	req.RemoteAddr = "bad"
	_, ok = ratelimit.KeyByIP(nil)(req)
	assert.False(t, ok)
}
