package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/sinew-dev/sinew/examples/authflow/password"
	"github.com/sinew-dev/sinew/session"
)

var tinyParams = password.Params{MemoryKiB: 64, Iterations: 1}

func newTestNode(t *testing.T, b *Backends, name string) *Node {
	t.Helper()
	return NewNode(NodeOptions{Name: name, Deps: b.Node(), Pool: password.NewPool(password.PoolOptions{Params: tinyParams}), Logger: discard()})
}

// post sends a JSON body to h from addr and returns the recorder.
func post(h http.Handler, path, body, addr, token string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", path, strings.NewReader(body))
	r.RemoteAddr = addr + ":1234"
	if token != "" {
		r.AddCookie(&http.Cookie{Name: session.DefaultCookieName, Value: token})
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func sessionCookie(w *httptest.ResponseRecorder) *http.Cookie {
	for _, c := range w.Result().Cookies() {
		if c.Name == session.DefaultCookieName {
			return c
		}
	}
	return nil
}

func TestNodeRegister(t *testing.T) {
	n := newTestNode(t, Embedded(), "n1")
	require.Equal(t, http.StatusCreated, post(n.Handler(), "/register", `{"username":"ann","password":"long enough"}`, "192.0.2.1", "").Code)
	tests := []struct {
		name string
		body string
		want int
	}{
		{"taken", `{"username":"ann","password":"long enough"}`, http.StatusConflict},
		{"bad name", `{"username":"Ann!","password":"long enough"}`, http.StatusBadRequest},
		{"short password", `{"username":"bea","password":"short"}`, http.StatusBadRequest},
		{"not json", `username=bea`, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, post(n.Handler(), "/register", tt.body, "192.0.2.1", "").Code)
		})
	}
}

func TestNodeLoginAnswersDoNotRevealUsers(t *testing.T) {
	n := newTestNode(t, Embedded(), "n1")
	require.Equal(t, http.StatusCreated, post(n.Handler(), "/register", `{"username":"ann","password":"long enough"}`, "192.0.2.1", "").Code)
	wrong := post(n.Handler(), "/login", `{"username":"ann","password":"wrong password"}`, "192.0.2.2", "")
	unknown := post(n.Handler(), "/login", `{"username":"nobody","password":"wrong password"}`, "192.0.2.3", "")
	assert.Equal(t, http.StatusUnauthorized, wrong.Code)
	assert.Equal(t, wrong.Code, unknown.Code)
	assert.Equal(t, wrong.Body.String(), unknown.Body.String())
	assert.Nil(t, sessionCookie(wrong))

	// The user limit is shared by every node of the backends: 5 attempts
	// a minute, wherever they land.
	b := Embedded()
	nodes := []*Node{newTestNode(t, b, "a"), newTestNode(t, b, "b"), newTestNode(t, b, "c")}
	require.Equal(t, http.StatusCreated, post(nodes[0].Handler(), "/register", `{"username":"ann","password":"long enough"}`, "192.0.2.1", "").Code)
	codes := map[int]int{}
	var limited *httptest.ResponseRecorder
	for i := range 9 {
		w := post(nodes[i%3].Handler(), "/login", `{"username":"ann","password":"wrong password"}`, "198.51.100."+string(rune('1'+i)), "")
		codes[w.Code]++
		if w.Code == http.StatusTooManyRequests {
			limited = w
		}
	}
	assert.Equal(t, map[int]int{http.StatusUnauthorized: 5, http.StatusTooManyRequests: 4}, codes)
	require.NotNil(t, limited)
	assert.Equal(t, wrong.Body.String(), limited.Body.String(), "a limited login gets the generic message")
	assert.NotEmpty(t, limited.Header().Get("Retry-After"))
}

func TestNodeSessionLifecycle(t *testing.T) {
	n := newTestNode(t, Embedded(), "n1")
	h := n.Handler()
	require.Equal(t, http.StatusCreated, post(h, "/register", `{"username":"ann","password":"long enough"}`, "192.0.2.1", "").Code)
	w := post(h, "/login", `{"username":"ann","password":"long enough"}`, "192.0.2.1", "")
	require.Equal(t, http.StatusOK, w.Code)
	c := sessionCookie(w)
	require.NotNil(t, c)
	assert.True(t, c.Secure)
	assert.True(t, c.HttpOnly)
	assert.Equal(t, http.SameSiteLaxMode, c.SameSite)
	assert.Equal(t, "n1", w.Header().Get(NodeHeader))

	me := func(token string) int {
		r := httptest.NewRequest("GET", "/me", nil)
		r.AddCookie(&http.Cookie{Name: session.DefaultCookieName, Value: token})
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	assert.Equal(t, http.StatusOK, me(c.Value))
	w = post(h, "/login", `{"username":"ann","password":"long enough"}`, "192.0.2.1", c.Value)
	require.Equal(t, http.StatusOK, w.Code)
	rotated := sessionCookie(w)
	require.NotNil(t, rotated)
	assert.NotEqual(t, c.Value, rotated.Value)
	assert.Equal(t, http.StatusUnauthorized, me(c.Value), "the pre-login token is dead")
	assert.Equal(t, http.StatusOK, post(h, "/logout", "", "192.0.2.1", rotated.Value).Code)
	assert.Equal(t, http.StatusUnauthorized, me(rotated.Value))
	assert.Equal(t, http.StatusUnauthorized, post(h, "/logout", "", "192.0.2.1", rotated.Value).Code)
}

func TestNodeMigratesLegacyHashOnce(t *testing.T) {
	b := Embedded()
	h, err := bcrypt.GenerateFromPassword([]byte("old password"), bcrypt.MinCost)
	require.NoError(t, err)
	require.NoError(t, b.Users().Create(context.Background(), "old", string(h)))
	nodes := []*Node{newTestNode(t, b, "a"), newTestNode(t, b, "b"), newTestNode(t, b, "c")}
	codes := make([]int, len(nodes))
	done := make(chan struct{})
	for i, n := range nodes {
		go func() {
			defer func() { done <- struct{}{} }()
			codes[i] = post(n.Handler(), "/login", `{"username":"old","password":"old password"}`, "192.0.2.1", "").Code
		}()
	}
	for range nodes {
		<-done
	}
	assert.Equal(t, []int{200, 200, 200}, codes)
	u, ok, err := b.Users().Get(context.Background(), "old")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, 1, u.Migrations)
	assert.False(t, password.IsLegacy(u.Hash))
	var migrated, skipped int64
	for _, n := range nodes {
		s := n.Stats()
		migrated += s.Migrated
		skipped += s.MigrationBusy + s.MigrationDone
	}
	assert.Equal(t, int64(1), migrated)
	// A login that read the user after the migration verifies the new hash
	// and has nothing to skip.
	assert.LessOrEqual(t, skipped, int64(2))
}

func TestRoutingKey(t *testing.T) {
	tests := []struct {
		name, method, path, body, cookie, want string
	}{
		{"login by user", "POST", "/login", `{"username":"ann"}`, "tok", "user:ann"},
		{"register by user", "POST", "/register", `{"username":"bea","password":"x"}`, "", "user:bea"},
		{"me by session", "GET", "/me", "", "tok", "session:tok"},
		{"bad body falls back to session", "POST", "/login", `{`, "tok", "session:tok"},
		{"nothing", "GET", "/me", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.path, nil)
			if tt.cookie != "" {
				r.AddCookie(&http.Cookie{Name: session.DefaultCookieName, Value: tt.cookie})
			}
			assert.Equal(t, tt.want, routingKey(r, []byte(tt.body)))
		})
	}
}

// TestGatewayFailsOver kills the node owning a user and checks that a login
// (not idempotent, but refused at connect) is retried on another node, that
// the owner's breaker opens, and that the owner gets traffic back after it
// returns.
func TestGatewayFailsOver(t *testing.T) {
	b := Embedded()
	var servers []*Server
	var urls []string
	for _, name := range []string{"a", "b", "c"} {
		s, err := Listen("127.0.0.1:0", newTestNode(t, b, name).Handler(), discard())
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		servers, urls = append(servers, s), append(urls, s.URL())
	}
	events := newEventLog()
	g := NewGateway(GatewayOptions{Nodes: urls, HealthInterval: 50 * time.Millisecond, BreakerOpen: 100 * time.Millisecond, OnEvent: events.add, Logger: discard()})
	defer g.Close()
	gw := httptest.NewServer(g)
	defer gw.Close()

	reg := func(name string) *http.Response {
		resp, err := http.Post(gw.URL+"/register", "application/json", strings.NewReader(`{"username":"`+name+`","password":"long enough"}`))
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	waitFor := func(kind EventKind, node string) {
		for {
			_, ok, next := events.find(func(e Event) bool { return e.Node == node && e.Kind == kind })
			if ok {
				return
			}
			<-next
		}
	}
	owner := g.Owner("user:ann")
	resp := reg("ann")
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	i := slices.IndexFunc(servers, func(s *Server) bool { return s.URL() == owner })
	require.NoError(t, servers[i].Close())

	// Registrations owned by the dead node are refused at connect, so
	// retried elsewhere although POST is not idempotent.
	for k := range 20 {
		name := fmt.Sprintf("u%d", k)
		if g.Owner("user:"+name) != owner {
			continue
		}
		resp = reg(name)
		assert.Equal(t, http.StatusCreated, resp.StatusCode, "registration of %s retried on another node", name)
		assert.NotEmpty(t, resp.Header.Get(NodeHeader))
	}
	waitFor(NodeDown, owner)
	s, err := Listen(servers[i].Addr(), newTestNode(t, b, "again").Handler(), discard())
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	waitFor(NodeUp, owner)
	// Its breaker may still be open for a moment: keep sending the owner's
	// keys until one probes it and the breaker closes.
	back := false
	for k := 0; !back && k < 100000; k++ {
		name := fmt.Sprintf("v%d", k)
		if g.Owner("user:"+name) != owner {
			continue
		}
		resp = reg(name)
		require.Equal(t, http.StatusCreated, resp.StatusCode)
		back = resp.Header.Get(NodeHeader) == "again"
	}
	assert.True(t, back, "traffic came back to the owner")
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
