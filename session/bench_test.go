package session

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/sinew-dev/sinew/internal/redistest"
)

func benchStores(b *testing.B) map[string]func(b *testing.B) Store {
	return map[string]func(b *testing.B) Store{
		"memory": func(*testing.B) Store { return NewMemoryStore() },
		"redis": func(b *testing.B) Store {
			return NewRedisStore(redistest.Standalone(b), RedisOptions{Prefix: redistest.Prefix(b)})
		},
	}
}

func seed(b *testing.B, m *Manager) string {
	s := m.New()
	for i := range 8 {
		s.SetBytes("k"+strconv.Itoa(i), []byte("some value of moderate length"))
	}
	res, ok, err := m.Commit(b.Context(), s)
	if err != nil || !ok {
		b.Fatalf("seed: ok=%v err=%v", ok, err)
	}
	return res.Token
}

func BenchmarkLoad(b *testing.B) {
	for _, impl := range []string{"memory", "redis"} {
		b.Run("impl="+impl, func(b *testing.B) {
			m := New(benchStores(b)[impl](b), Options{})
			tok := seed(b, m)
			b.ReportAllocs()
			for b.Loop() {
				if _, ok, err := m.Load(b.Context(), tok); err != nil || !ok {
					b.Fatal(ok, err)
				}
			}
		})
	}
}

func BenchmarkCommit(b *testing.B) {
	for _, impl := range []string{"memory", "redis"} {
		b.Run("impl="+impl, func(b *testing.B) {
			m := New(benchStores(b)[impl](b), Options{})
			tok := seed(b, m)
			s, _, _ := m.Load(b.Context(), tok)
			b.ReportAllocs()
			for b.Loop() {
				s.SetBytes("k0", []byte("new value"))
				if _, ok, err := m.Commit(b.Context(), s); err != nil || !ok {
					b.Fatal(ok, err)
				}
			}
		})
	}
}

// BenchmarkMiddleware is one request that reads one key and writes one
// key of an existing session, against a bare handler (impl=none).
func BenchmarkMiddleware(b *testing.B) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s, ok := FromContext(r.Context()); ok {
			v, _ := s.GetBytes("k1")
			s.SetBytes("k0", v)
		}
		w.WriteHeader(http.StatusNoContent)
	})
	for _, impl := range []string{"none", "memory", "redis"} {
		b.Run("impl="+impl, func(b *testing.B) {
			var h http.Handler = handler
			tok := ""
			if impl != "none" {
				m := New(benchStores(b)[impl](b), Options{})
				tok = seed(b, m)
				h = m.Middleware(handler)
			}
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: tok})
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusNoContent {
					b.Fatal(rec.Code)
				}
			}
		})
	}
}
