package ratelimit_test

import (
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sinew-dev/sinew/ratelimit"
)

// peerOf is ClientIP of a request from remote with no trusted proxies: the peer address.
func peerOf(remote string) (netip.Addr, bool) {
	req := httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = remote
	return ratelimit.ClientIP(req, nil)
}

// FuzzClientIP feeds arbitrary peer addresses and X-Forwarded-For values: ClientIP never panics,
// never reads the header of an untrusted peer, and returns only the peer or an address written
// in the header.
func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.5:80", "6.6.6.6, 198.51.100.9, 10.1.1.1")
	f.Add("192.0.2.1:1", "1.2.3.4")
	f.Add("[fd00::1]:80", "[2001:db8::9]:5000,junk,,")
	f.Add("10.0.0.1", "")
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	f.Fuzz(func(t *testing.T, remote, xff string) {
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = remote
		req.Header.Set("X-Forwarded-For", xff)
		got, ok := ratelimit.ClientIP(req, trusted)
		peer, peerOK := peerOf(remote)
		if ok != peerOK {
			t.Fatalf("ok %v, peer ok %v", ok, peerOK)
		}
		if !ok {
			return
		}
		if got == peer {
			return
		}
		isTrusted := false
		for _, p := range trusted {
			isTrusted = isTrusted || p.Contains(peer)
		}
		if !isTrusted {
			t.Fatalf("read X-Forwarded-For of untrusted peer %v: %v", peer, got)
		}
		found := false
		for _, e := range strings.Split(xff, ",") {
			if a, ok := peerOf(strings.TrimSpace(e)); ok && a == got {
				found = true
			}
		}
		if !found {
			t.Fatalf("%v is neither the peer %v nor in %q", got, peer, xff)
		}
		if k, ok := ratelimit.KeyByIP(trusted)(req); !ok || !strings.HasPrefix(k, "ip:") {
			t.Fatalf("KeyByIP = %q, %v", k, ok)
		}
	})
}

// FuzzKeys checks that every key of a limited key, whatever its bytes, lands on one Cluster
// slot, and that distinct keys get distinct Redis keys.
func FuzzKeys(f *testing.F) {
	f.Add("alice", "bob")
	f.Add("}", "")
	f.Add("{x}", "a}b{c")
	f.Add("", "#cbf29ce484222325")
	l := ratelimit.NewRedis(redis.NewClient(&redis.Options{}), []ratelimit.Limit{
		ratelimit.PerMinute(5), ratelimit.PerHour(100), ratelimit.PerDay(1000),
	}, ratelimit.RedisOptions{})
	f.Fuzz(func(t *testing.T, a, b string) {
		ka, kb := l.Keys(a), l.Keys(b)
		for _, k := range ka[1:] {
			if redisSlot(k) != redisSlot(ka[0]) {
				t.Fatalf("keys of %q on different slots: %q %q", a, ka[0], k)
			}
		}
		if a != b && ka[0] == kb[0] {
			t.Fatalf("%q and %q share key %q", a, b, ka[0])
		}
	})
}
