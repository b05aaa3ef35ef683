// Package session compares sinew/session with alexedwards/scs v2 and its
// go-redis store (goredisstore), the strongest Go session manager with a
// Redis backend, on the same standalone redis-server.
package session

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/alexedwards/scs/v2"

	"github.com/sinew-dev/sinew/internal/redistest"
	"github.com/sinew-dev/sinew/session"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// impl is one session library behind net/http middleware, with a handler
// that reads key "k1" and writes key "k0" (or the key named by ?k=).
type impl struct {
	name    string
	handler func(tb testing.TB) (h http.Handler, cookie string)
}

const value = "some value of moderate length"

func sinewImpl(tb testing.TB) (http.Handler, string) {
	m := session.New(session.NewRedisStore(redistest.Standalone(tb), session.RedisOptions{Prefix: redistest.Prefix(tb)}), session.Options{})
	s := m.New()
	for i := range 8 {
		s.SetBytes("k"+strconv.Itoa(i), []byte(value))
	}
	res, ok, err := m.Commit(context.Background(), s)
	if err != nil || !ok {
		tb.Fatalf("seed: %v %v", ok, err)
	}
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := session.FromContext(r.Context())
		if r.URL.Path == "/count" {
			n := 0
			for i := range 100 {
				if _, ok := s.GetBytes("w" + strconv.Itoa(i)); ok {
					n++
				}
			}
			_, _ = w.Write([]byte(strconv.Itoa(n)))
			return
		}
		v, _ := s.GetBytes("k1")
		key := r.FormValue("k")
		if key == "" {
			key = "k0"
		}
		s.SetBytes(key, v)
		w.WriteHeader(http.StatusNoContent)
	}))
	return h, res.Token
}

func scsImpl(tb testing.TB) (http.Handler, string) {
	sm := scs.New()
	sm.Store = goredisstore.NewWithPrefix(redistest.Standalone(tb), redistest.Prefix(tb))
	sm.Cookie.Secure = true
	var token string
	seed := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := range 8 {
			sm.Put(r.Context(), "k"+strconv.Itoa(i), value)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	rec := httptest.NewRecorder()
	seed.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	for _, c := range rec.Result().Cookies() {
		token = c.Value
	}
	if token == "" {
		tb.Fatal("scs: no cookie")
	}
	h := sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/count" {
			n := 0
			for i := range 100 {
				if sm.Exists(r.Context(), "w"+strconv.Itoa(i)) {
					n++
				}
			}
			_, _ = w.Write([]byte(strconv.Itoa(n)))
			return
		}
		v := sm.GetString(r.Context(), "k1")
		key := r.FormValue("k")
		if key == "" {
			key = "k0"
		}
		sm.Put(r.Context(), key, v)
		w.WriteHeader(http.StatusNoContent)
	}))
	return h, token
}

var impls = []impl{{"sinew", sinewImpl}, {"scs", scsImpl}}

func request(h http.Handler, cookie, path string) int {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.AddCookie(&http.Cookie{Name: "session", Value: cookie})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

// BenchmarkRequest is one request through each library's middleware that
// loads an existing session (8 keys), reads a key and writes a key, on
// standalone Redis.
func BenchmarkRequest(b *testing.B) {
	for _, im := range impls {
		b.Run("impl="+im.name, func(b *testing.B) {
			h, cookie := im.handler(b)
			b.ReportAllocs()
			for b.Loop() {
				if code := request(h, cookie, "/"); code != http.StatusNoContent {
					b.Fatal(code)
				}
			}
		})
	}
}

// BenchmarkRequestParallel is the same with concurrent requests on one session.
func BenchmarkRequestParallel(b *testing.B) {
	for _, im := range impls {
		b.Run("impl="+im.name, func(b *testing.B) {
			h, cookie := im.handler(b)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if code := request(h, cookie, "/"); code != http.StatusNoContent {
						b.Error(code)
						return
					}
				}
			})
		})
	}
}

// TestOverlappingWrites shows the lost-update difference: concurrent
// requests on one session each write their own key. sinew keeps all of
// them; scs writes the whole session back on every request, so a request
// that loaded the session before another committed erases that one's key.
func TestOverlappingWrites(t *testing.T) {
	const n = 16
	kept := map[string]int{}
	for _, im := range impls {
		h, cookie := im.handler(t)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { request(h, cookie, "/?k=w"+strconv.Itoa(i)) })
		}
		wg.Wait()
		req := httptest.NewRequest(http.MethodGet, "/count", nil)
		req.AddCookie(&http.Cookie{Name: "session", Value: cookie})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		got, err := strconv.Atoi(rec.Body.String())
		if err != nil {
			t.Fatalf("%s: count: %q", im.name, rec.Body.String())
		}
		kept[im.name] = got
	}
	t.Logf("keys kept out of %d concurrent writes to one session: %v", n, kept)
	if kept["sinew"] != n {
		t.Errorf("sinew kept %d of %d writes", kept["sinew"], n)
	}
}
