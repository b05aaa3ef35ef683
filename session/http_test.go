package session

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sinew-dev/sinew/internal/redistest"
)

// app is a small site: /set?k=&v=, /get?k=, /login?u=, /logout, /logout-everywhere, /noop.
func app(m *Manager) http.Handler {
	mux := http.NewServeMux()
	sess := func(r *http.Request) *Session {
		s, ok := FromContext(r.Context())
		if !ok {
			panic("no session in context")
		}
		return s
	}
	mux.HandleFunc("/set", func(w http.ResponseWriter, r *http.Request) {
		sess(r).SetBytes(r.FormValue("k"), []byte(r.FormValue("v")))
		_, _ = io.WriteString(w, "ok")
	})
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		v, ok := sess(r).GetBytes(r.FormValue("k"))
		if !ok {
			v = []byte("-")
		}
		_, _ = w.Write(v)
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		s := sess(r)
		s.SetUser(r.FormValue("u"))
		s.Rotate()
		_, _ = io.WriteString(w, "welcome")
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		sess(r).Destroy()
		_, _ = io.WriteString(w, "bye")
	})
	mux.HandleFunc("/logout-everywhere", func(w http.ResponseWriter, r *http.Request) {
		s := sess(r)
		if _, err := m.RevokeUser(r.Context(), s.User()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		s.Destroy()
		_, _ = io.WriteString(w, "bye everywhere")
	})
	mux.HandleFunc("/noop", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "hi")
	})
	return m.Middleware(mux)
}

type browser struct {
	t   *testing.T
	c   *http.Client
	url string
}

func newBrowser(t *testing.T, ts *httptest.Server) *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := ts.Client()
	c.Jar = jar
	return &browser{t: t, c: c, url: ts.URL}
}

func (b *browser) get(path string) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.c.Get(b.url + path)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return resp, string(body)
}

func (b *browser) cookie() string {
	u, _ := url.Parse(b.url)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == DefaultCookieName {
			return c.Value
		}
	}
	return ""
}

// withCookie sends one request carrying the given cookie value, outside the jar.
func withCookie(t *testing.T, ts *httptest.Server, path, value string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, ts.URL+path, nil)
	require.NoError(t, err)
	req.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: value})
	resp, err := ts.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}

func TestMiddleware_EndToEnd(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		m := New(be.store, Options{})
		ts := httptest.NewTLSServer(app(m))
		defer ts.Close()
		alice := newBrowser(t, ts)

		resp, body := alice.get("/noop")
		assert.Equal(t, "hi", body)
		assert.Empty(t, resp.Header.Values("Set-Cookie"), "no session is stored for a visitor who writes nothing")

		resp, _ = alice.get("/set?k=cart&v=book")
		require.Len(t, resp.Header.Values("Set-Cookie"), 1)
		raw := resp.Header.Get("Set-Cookie")
		for _, attr := range []string{"HttpOnly", "Secure", "SameSite=Lax", "Path=/", "Expires=", "Max-Age="} {
			assert.Contains(t, raw, attr)
		}
		assert.NotContains(t, raw, "Domain=")
		assert.Contains(t, resp.Header.Values("Vary"), "Cookie")
		anon := alice.cookie()
		require.Len(t, anon, tokenLen)

		_, body = alice.get("/get?k=cart")
		assert.Equal(t, "book", body)

		_, body = alice.get("/login?u=alice")
		assert.Equal(t, "welcome", body)
		loggedIn := alice.cookie()
		assert.NotEqual(t, anon, loggedIn, "login must rotate the token (fixation)")
		_, body = alice.get("/get?k=cart")
		assert.Equal(t, "book", body)

		// The pre-login token is dead: no session, the cookie is cleared, no error page.
		resp, body = withCookie(t, ts, "/get?k=cart", anon)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "-", body)
		assert.Contains(t, resp.Header.Get("Set-Cookie"), "Max-Age=0")

		// A tampered cookie is no session either.
		tampered := []byte(loggedIn)
		tampered[5] ^= 1
		for _, v := range []string{string(tampered), loggedIn + "x", "garbage", ""} {
			resp, body = withCookie(t, ts, "/get?k=cart", v)
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, "-", body)
		}

		// Log out everywhere reaches a second device.
		phone := newBrowser(t, ts)
		phone.get("/set?k=x&v=1")
		phone.get("/login?u=alice")
		_, body = phone.get("/get?k=x")
		assert.Equal(t, "1", body)
		_, body = alice.get("/logout-everywhere")
		assert.Equal(t, "bye everywhere", body)
		assert.Empty(t, alice.cookie(), "logout clears the cookie")
		_, body = phone.get("/get?k=x")
		assert.Equal(t, "-", body)
		assert.Empty(t, phone.cookie(), "a revoked cookie is cleared")

		// Plain logout.
		alice.get("/set?k=a&v=1")
		require.NotEmpty(t, alice.cookie())
		old := alice.cookie()
		alice.get("/logout")
		assert.Empty(t, alice.cookie())
		_, body = withCookie(t, ts, "/get?k=a", old)
		assert.Equal(t, "-", body)
		assertTTLs(t, be, "http")
	})
}

func TestMiddleware_ExpiredCookieIsNoSession(t *testing.T) {
	eachBackend(t, func(t *testing.T, be backend) {
		m := New(be.store, Options{IdleTimeout: 150 * time.Millisecond, TouchInterval: -1})
		ts := httptest.NewTLSServer(app(m))
		defer ts.Close()
		b := newBrowser(t, ts)
		b.get("/set?k=a&v=1")
		tok := b.cookie()
		require.NotEmpty(t, tok)
		time.Sleep(250 * time.Millisecond)
		resp, body := withCookie(t, ts, "/get?k=a", tok)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "-", body)
	})
}

// Every load that touches the session renews the cookie's expiry.
func TestMiddleware_RenewsCookie(t *testing.T) {
	m := New(NewMemoryStore(), Options{IdleTimeout: time.Hour, TouchInterval: -1})
	ts := httptest.NewTLSServer(app(m))
	defer ts.Close()
	b := newBrowser(t, ts)
	b.get("/set?k=a&v=1")
	resp, _ := b.get("/get?k=a")
	assert.Contains(t, resp.Header.Get("Set-Cookie"), "Expires=")

	m = New(NewMemoryStore(), Options{IdleTimeout: time.Hour, TouchInterval: time.Hour})
	ts2 := httptest.NewTLSServer(app(m))
	defer ts2.Close()
	b = newBrowser(t, ts2)
	b.get("/set?k=a&v=1")
	resp, _ = b.get("/get?k=a")
	assert.Empty(t, resp.Header.Get("Set-Cookie"), "an untouched load sends no cookie")
}

func TestMiddleware_CookieOptions(t *testing.T) {
	m := New(NewMemoryStore(), Options{Cookie: CookieOptions{
		Name: "sid", Path: "/app", Domain: "example.com", Insecure: true, SameSite: http.SameSiteStrictMode, BrowserSession: true,
	}})
	rec := httptest.NewRecorder()
	app(m).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/set?k=a&v=1", nil))
	raw := rec.Header().Get("Set-Cookie")
	assert.True(t, strings.HasPrefix(raw, "sid="), raw)
	for _, attr := range []string{"Path=/app", "Domain=example.com", "HttpOnly", "SameSite=Strict"} {
		assert.Contains(t, raw, attr)
	}
	for _, attr := range []string{"Secure", "Expires=", "Max-Age="} {
		assert.NotContains(t, raw, attr)
	}
}

// Redis down: a clear 503 from the error handler, never a panic or a 500.
func TestMiddleware_StoreDownIs503(t *testing.T) {
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	m := New(NewRedisStore(srv.Client(t), RedisOptions{}), Options{})
	ts := httptest.NewTLSServer(app(m))
	defer ts.Close()
	b := newBrowser(t, ts)
	b.get("/set?k=a&v=1")
	tok := b.cookie()
	require.NotEmpty(t, tok)

	srv.Kill(t)
	resp, body := withCookie(t, ts, "/get?k=a", tok) // load fails
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Contains(t, body, "session store unavailable")

	resp, body = newBrowser(t, ts).get("/set?k=a&v=1") // commit fails
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Contains(t, body, "session store unavailable")
	assert.Empty(t, resp.Header.Values("Set-Cookie"))

	resp, body = newBrowser(t, ts).get("/noop") // no session: no store call at all
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "hi", body)

	srv.Restart(t) // empty: the old session is gone, not an error
	resp, body = withCookie(t, ts, "/get?k=a", tok)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "-", body)
}

func TestMiddleware_CustomErrorHandler(t *testing.T) {
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	var seen error
	m := New(NewRedisStore(srv.Client(t), RedisOptions{}), Options{ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
		seen = err
		http.Error(w, "try later", http.StatusTeapot)
	}})
	srv.Kill(t)
	rec := httptest.NewRecorder()
	app(m).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/set?k=a&v=1", nil))
	assert.Equal(t, http.StatusTeapot, rec.Code)
	require.Error(t, seen)
	assert.Contains(t, seen.Error(), "session: create")
}

// Explicit commits inside the handler (to read Result.Replicas) and writes
// after the header was sent.
func TestMiddleware_ExplicitAndLateCommits(t *testing.T) {
	m := New(NewMemoryStore(), Options{})
	var token string
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := FromContext(r.Context())
		s.SetBytes("a", []byte("1"))
		res, ok, err := m.Commit(r.Context(), s)
		if err != nil || !ok {
			http.Error(w, "commit", http.StatusInternalServerError)
			return
		}
		token = res.Token
		w.WriteHeader(http.StatusCreated)
		s.SetBytes("late", []byte("2")) // after the header
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	assert.Equal(t, http.StatusCreated, rec.Code)
	assert.Contains(t, rec.Header().Get("Set-Cookie"), token)
	s := mustLoad(t, m, token)
	assert.Equal(t, []string{"a", "late"}, s.Keys())
}

func TestMiddleware_FlushCommitsFirst(t *testing.T) {
	m := New(NewMemoryStore(), Options{})
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := FromContext(r.Context())
		s.SetBytes("a", []byte("1"))
		require.NoError(t, http.NewResponseController(w).Flush())
		_, _ = io.WriteString(w, "streamed")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	assert.True(t, rec.Flushed)
	assert.NotEmpty(t, rec.Header().Get("Set-Cookie"))
	assert.Equal(t, "streamed", rec.Body.String())
}

func TestFromContext_Missing(t *testing.T) {
	_, ok := FromContext(t.Context())
	assert.False(t, ok)
	s := New(NewMemoryStore(), Options{}).New()
	got, ok := FromContext(NewContext(t.Context(), s))
	assert.True(t, ok)
	assert.Same(t, s, got)
}

// Hijacking (WebSockets) commits the session first.
func TestMiddleware_Hijack(t *testing.T) {
	m := New(NewMemoryStore(), Options{})
	var token string
	ts := httptest.NewServer(m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := FromContext(r.Context())
		s.SetBytes("ws", []byte("1"))
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer conn.Close()
		token = s.Token()
		_, _ = buf.WriteString("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
		_ = buf.Flush()
	})))
	defer ts.Close()
	resp, err := ts.Client().Get(ts.URL)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.NotEmpty(t, token)
	mustLoad(t, m, token)

	// A writer that cannot hijack says so.
	rec := httptest.NewRecorder()
	m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _, err := http.NewResponseController(w).Hijack()
		assert.Error(t, err)
	})).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
}
