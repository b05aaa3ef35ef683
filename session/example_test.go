package session_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sinew-dev/sinew/session"
)

func Example() {
	ctx := context.Background()
	m := session.New(session.NewMemoryStore(), session.Options{})

	// A visitor puts something in the cart: the session is created.
	s := m.New()
	_ = session.Set(s, "cart", []string{"book"})
	res, _, _ := m.Commit(ctx, s)
	anonymous := res.Token

	// Login: bind the user and rotate the token.
	s, _, _ = m.Load(ctx, anonymous)
	s.SetUser("alice")
	s.Rotate()
	res, _, _ = m.Commit(ctx, s)

	_, ok, _ := m.Load(ctx, anonymous)
	fmt.Println("old token works:", ok)
	s, ok, _ = m.Load(ctx, res.Token)
	cart, _ := session.Get[[]string](s, "cart")
	fmt.Println("new token works:", ok, s.User(), cart)

	n, _ := m.RevokeUser(ctx, "alice")
	fmt.Println("revoked:", n)
	// Output:
	// old token works: false
	// new token works: true alice [book]
	// revoked: 1
}

func ExampleManager_Middleware() {
	m := session.New(session.NewMemoryStore(), session.Options{})
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := session.FromContext(r.Context())
		visits, _ := session.Get[int](s, "visits")
		_ = session.Set(s, "visits", visits+1)
		fmt.Fprintf(w, "visit %d", visits+1)
	}))

	var cookie *http.Cookie
	for range 3 {
		req := httptest.NewRequest(http.MethodGet, "https://example.com/", nil)
		if cookie != nil {
			req.AddCookie(cookie)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if cs := rec.Result().Cookies(); len(cs) > 0 {
			cookie = cs[0]
		}
		body, _ := io.ReadAll(rec.Body)
		fmt.Println(string(body), cookie.HttpOnly, cookie.Secure, cookie.SameSite == http.SameSiteLaxMode)
	}
	// Output:
	// visit 1 true true true
	// visit 2 true true true
	// visit 3 true true true
}

func ExampleNewRedisStore() {
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:7000"}})
	m := session.New(session.NewRedisStore(rdb, session.RedisOptions{Prefix: "myapp:session:"}), session.Options{
		IdleTimeout:  30 * time.Minute,
		Lifetime:     12 * time.Hour,
		WaitReplicas: 1, // report whether each write reached a replica
	})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s, _ := session.FromContext(r.Context())
		s.SetUser(r.FormValue("user")) // after checking the password
		s.Rotate()                     // new token: no session fixation
		res, ok, err := m.Commit(r.Context(), s)
		if err != nil || !ok {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "welcome (replicas: %d)", res.Replicas)
	})
	_ = http.ListenAndServe(":8080", m.Middleware(mux))
}
