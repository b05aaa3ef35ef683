package ratelimit

import (
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// KeyFunc returns the key a request is limited by. ok false lets the request through without
// limiting it.
type KeyFunc func(r *http.Request) (key string, ok bool)

// MiddlewareOptions configure [Middleware]. The zero value limits by the connection's peer
// address.
type MiddlewareOptions struct {
	// Key returns the key to limit a request by. Default KeyByIP(nil): the address of the
	// connection's peer, ignoring X-Forwarded-For.
	Key KeyFunc
	// Limited writes the response to a denied request, after the Retry-After, RateLimit-Policy
	// and RateLimit headers are set. Default: status 429 with a short text body.
	Limited http.Handler
	// Error writes the response when the limiter returns an error (the request's context is
	// done). Default: status 503.
	Error func(w http.ResponseWriter, r *http.Request, err error)
}

// Middleware returns net/http middleware admitting each request through l under the key
// opts.Key returns. Every limited response carries the IETF RateLimit-Policy header (every
// limit of l, named by [Limit.String], with q the rate and w the period in seconds) and the
// RateLimit header for the binding limit (r the remaining events, t the seconds until the
// limit resets, or until a retry may succeed on a denial). A denied request gets status 429
// and Retry-After in whole seconds, rounded up.
//
// It panics if l is nil.
func Middleware(l Limiter, opts MiddlewareOptions) func(http.Handler) http.Handler {
	if l == nil {
		panic("ratelimit: nil limiter")
	}
	if opts.Key == nil {
		opts.Key = KeyByIP(nil)
	}
	if opts.Limited == nil {
		opts.Limited = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "rate limit exceeded", http.StatusTooManyRequests)
		})
	}
	if opts.Error == nil {
		opts.Error = func(w http.ResponseWriter, _ *http.Request, _ error) {
			http.Error(w, "rate limiter unavailable", http.StatusServiceUnavailable)
		}
	}
	limits := l.Limits()
	items := make([]string, len(limits))
	for i, lim := range limits {
		items[i] = policyName(lim) + ";q=" + strconv.Itoa(lim.Rate) + ";w=" + strconv.FormatInt(ceilSeconds(lim.Period), 10)
	}
	policy := strings.Join(items, ", ")
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key, ok := opts.Key(r)
			if !ok {
				next.ServeHTTP(w, r)
				return
			}
			res, err := l.Allow(r.Context(), key)
			if err != nil {
				opts.Error(w, r, err)
				return
			}
			h := w.Header()
			h.Set("RateLimit-Policy", policy)
			t := res.ResetAfter
			if !res.Allowed {
				t = res.RetryAfter
			}
			h.Set("RateLimit", policyName(res.Limit)+";r="+strconv.Itoa(res.Remaining)+";t="+strconv.FormatInt(ceilSeconds(t), 10))
			if !res.Allowed {
				h.Set("Retry-After", strconv.FormatInt(max(ceilSeconds(res.RetryAfter), 1), 10))
				opts.Limited.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// policyName is a limit's name as a Structured Field string.
func policyName(l Limit) string { return `"` + l.String() + `"` }

func ceilSeconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}

// KeyByIP returns a KeyFunc keying requests by client address, as [ClientIP] finds it with the
// given trusted proxies, in the form "ip:<addr>". An IPv6 address is cut to its /64 prefix
// ("ip:2001:db8:1:2::/64"), since one subscriber usually holds a whole /64.
func KeyByIP(trusted []netip.Prefix) KeyFunc {
	return func(r *http.Request) (string, bool) {
		a, ok := ClientIP(r, trusted)
		if !ok {
			return "", false
		}
		if a.Is6() {
			p, _ := a.Prefix(64)
			return "ip:" + p.String(), true
		}
		return "ip:" + a.String(), true
	}
}

// KeyByRoute returns a KeyFunc that puts the request's route before the key of next, so each
// route has its own limit per key. The route is the ServeMux pattern that matched (r.Pattern,
// set when the middleware wraps a handler registered on a ServeMux), else the method and path.
func KeyByRoute(next KeyFunc) KeyFunc {
	return func(r *http.Request) (string, bool) {
		k, ok := next(r)
		if !ok {
			return "", false
		}
		route := r.Pattern
		if route == "" {
			route = r.Method + " " + r.URL.Path
		}
		return route + "|" + k, true
	}
}

// ClientIP returns the address of the client that sent r. It is the connection's peer
// (r.RemoteAddr) unless that peer is in trusted: then X-Forwarded-For is read from the right,
// skipping addresses in trusted, and the first address outside trusted is the client. With no
// trusted proxies X-Forwarded-For is never read: a client can write anything in it. If every
// hop is trusted, the leftmost one is returned; if a trusted proxy forwarded an entry that is
// not an address, the last trusted hop is returned. IPv4-mapped IPv6 addresses are unmapped.
// ok is false when r.RemoteAddr holds no address.
func ClientIP(r *http.Request, trusted []netip.Prefix) (addr netip.Addr, ok bool) {
	peer, ok := parseAddr(r.RemoteAddr)
	if !ok {
		return netip.Addr{}, false
	}
	if !isTrusted(peer, trusted) {
		return peer, true
	}
	client := peer
	values := r.Header.Values("X-Forwarded-For")
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for v != "" {
			var hop string
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				hop, v = v[j+1:], v[:j]
			} else {
				hop, v = v, ""
			}
			a, ok := parseAddr(strings.TrimSpace(hop))
			if !ok {
				return client, true
			}
			client = a
			if !isTrusted(a, trusted) {
				return a, true
			}
		}
	}
	return client, true
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseAddr parses "ip", "ip:port", "[ipv6]" or "[ipv6]:port", dropping any IPv6 zone.
func parseAddr(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	} else {
		s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}
