package session

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sinew-dev/sinew/internal/redistest"
)

// WAIT with a live replica reports it; with the replica paused the commit
// still succeeds after WaitTimeout and reports 0 replicas.
func TestRedisStore_WaitReplicas(t *testing.T) {
	t.Run("impl=standalone", func(t *testing.T) {
		t.Parallel()
		master := redistest.StartServer(t, redistest.ServerOptions{})
		replica := redistest.StartServer(t, redistest.ServerOptions{ReplicaOf: master})
		store := NewRedisStore(master.Client(t), RedisOptions{})
		m := New(store, Options{WaitReplicas: 1, WaitTimeout: 5 * time.Second})
		s := m.New()
		s.SetBytes("k", []byte("v"))
		res := mustCommit(t, m, s)
		assert.Equal(t, 1, res.Replicas)
		s.SetBytes("k2", []byte("v"))
		assert.Equal(t, 1, mustCommit(t, m, s).Replicas)
		s.Rotate()
		assert.Equal(t, 1, mustCommit(t, m, s).Replicas)

		replica.Pause(t)
		m = New(store, Options{WaitReplicas: 1, WaitTimeout: 200 * time.Millisecond})
		s.SetBytes("k3", []byte("v"))
		res = mustCommit(t, m, s)
		assert.Equal(t, 0, res.Replicas, "a paused replica cannot acknowledge")
		mustLoad(t, m, res.Token) // the write itself succeeded on the master
		replica.Resume(t)
	})
	t.Run("impl=cluster", func(t *testing.T) {
		t.Parallel()
		b := clusterBackend(t, redistest.Cluster(t), redistest.Prefix(t))
		m := New(b.store, Options{WaitReplicas: 1, WaitTimeout: 5 * time.Second})
		for range 6 { // sessions on several masters
			s := m.New()
			s.SetBytes("k", []byte("v"))
			assert.Equal(t, 1, mustCommit(t, m, s).Replicas)
			s.SetBytes("k2", []byte("v"))
			assert.Equal(t, 1, mustCommit(t, m, s).Replicas)
		}
		m = New(b.store, Options{WaitReplicas: 2, WaitTimeout: time.Second})
		s := m.New()
		s.SetBytes("k", []byte("v"))
		assert.Equal(t, 1, mustCommit(t, m, s).Replicas, "each master has one replica")
	})
}

// On Cluster, with every replica paused, a commit still succeeds on its
// master after WaitTimeout and reports that no replica acknowledged it.
func TestRedisStore_WaitReplicasPausedOnCluster(t *testing.T) {
	nodes := redistest.StartCluster(t)
	store := NewRedisStore(nodes.Client(t), RedisOptions{Prefix: redistest.Prefix(t)})
	m := New(store, Options{WaitReplicas: 1, WaitTimeout: 5 * time.Second})
	s := m.New()
	s.SetBytes("k", []byte("v"))
	assert.Equal(t, 1, mustCommit(t, m, s).Replicas, "replicas running")

	for _, master := range nodes.Nodes()[:3] { // the masters at creation
		nodes.ReplicaOf(t, master).Pause(t)
	}
	m = New(store, Options{WaitReplicas: 1, WaitTimeout: 200 * time.Millisecond})
	s.SetBytes("k2", []byte("v2"))
	res := mustCommit(t, m, s)
	assert.Equal(t, 0, res.Replicas, "a paused replica cannot acknowledge")
	got := mustLoad(t, m, res.Token)
	v, ok := got.GetBytes("k2")
	assert.True(t, ok)
	assert.Equal(t, []byte("v2"), v, "the write itself succeeded on the master")
}

func TestMemoryStore_WaitReportsZero(t *testing.T) {
	m := New(NewMemoryStore(), Options{WaitReplicas: 1})
	s := m.New()
	s.SetBytes("k", []byte("v"))
	assert.Equal(t, 0, mustCommit(t, m, s).Replicas)
}

// countingClient counts round trips: each script call and each pipeline
// execution is one.
type countingClient struct {
	Client
	n atomic.Int64
}

func (c *countingClient) Eval(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd {
	c.n.Add(1)
	return c.Client.Eval(ctx, script, keys, args...)
}

func (c *countingClient) EvalSha(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	c.n.Add(1)
	return c.Client.EvalSha(ctx, sha1, keys, args...)
}

func (c *countingClient) EvalRO(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd {
	c.n.Add(1)
	return c.Client.EvalRO(ctx, script, keys, args...)
}

func (c *countingClient) EvalShaRO(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	c.n.Add(1)
	return c.Client.EvalShaRO(ctx, sha1, keys, args...)
}

func (c *countingClient) ScriptExists(ctx context.Context, hashes ...string) *redis.BoolSliceCmd {
	c.n.Add(1)
	return c.Client.ScriptExists(ctx, hashes...)
}

func (c *countingClient) ScriptLoad(ctx context.Context, script string) *redis.StringCmd {
	c.n.Add(1)
	return c.Client.ScriptLoad(ctx, script)
}

func (c *countingClient) Pipeline() redis.Pipeliner {
	return &countingPipe{Pipeliner: c.Client.Pipeline(), n: &c.n}
}

type countingPipe struct {
	redis.Pipeliner
	n *atomic.Int64
}

func (p *countingPipe) Exec(ctx context.Context) ([]redis.Cmder, error) {
	p.n.Add(1)
	return p.Pipeliner.Exec(ctx)
}

func (c *countingClient) trips(t *testing.T, fn func()) int64 {
	t.Helper()
	before := c.n.Load()
	fn()
	return c.n.Load() - before
}

// Load is one round trip, commit is one round trip, a request through the
// middleware that reads and writes its session is two.
func TestRedisStore_RoundTrips(t *testing.T) {
	clients := map[string]func(t *testing.T) Client{
		"impl=standalone": func(t *testing.T) Client { return redistest.Standalone(t) },
		"impl=cluster":    func(t *testing.T) Client { return redistest.Cluster(t) },
	}
	for name, mk := range clients {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cc := &countingClient{Client: mk(t)}
			store := NewRedisStore(cc, RedisOptions{Prefix: redistest.Prefix(t)})
			m := New(store, Options{})
			// Warm up the script caches of every node (the first EVALSHA on a
			// node falls back to EVAL: one more round trip, once).
			for range 32 {
				warm := m.New()
				warm.SetBytes("k", []byte("v"))
				mustCommit(t, m, warm)
				warm.SetBytes("k", []byte("w"))
				mustCommit(t, m, warm)
				mustLoad(t, m, warm.Token())
				mustLoad(t, New(store, Options{TouchInterval: -1}), warm.Token())
			}

			var tok string
			assert.Equal(t, int64(1), cc.trips(t, func() {
				s := m.New()
				s.SetBytes("k", []byte("v"))
				tok = mustCommit(t, m, s).Token
			}), "create")
			var s *Session
			assert.Equal(t, int64(1), cc.trips(t, func() { s = mustLoad(t, m, tok) }), "load")
			assert.Equal(t, int64(1), cc.trips(t, func() {
				s.SetBytes("a", []byte("1"))
				s.Delete("k")
				mustCommit(t, m, s)
			}), "commit")
			assert.Equal(t, int64(0), cc.trips(t, func() { mustCommit(t, m, s) }), "commit without changes")

			h := app(m)
			assert.Equal(t, int64(2), cc.trips(t, func() {
				req := httptest.NewRequest(http.MethodGet, "/set?k=b&v=2", nil)
				req.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: tok})
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				assert.Equal(t, http.StatusOK, rec.Code)
			}), "middleware load+commit")
			assert.Equal(t, int64(1), cc.trips(t, func() {
				req := httptest.NewRequest(http.MethodGet, "/get?k=b", nil)
				req.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: tok})
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				assert.Equal(t, "2", rec.Body.String())
			}), "middleware read-only request")

			// Touching on every load: load.lua, still one round trip.
			every := New(store, Options{TouchInterval: -1})
			assert.Equal(t, int64(1), cc.trips(t, func() { mustLoad(t, every, tok) }), "load with touch")
			// A throttled touch that is due costs one more round trip, once
			// per TouchInterval.
			due := New(store, Options{TouchInterval: 20 * time.Millisecond})
			time.Sleep(30 * time.Millisecond)
			assert.Equal(t, int64(2), cc.trips(t, func() {
				assert.NotEqual(t, tok, "")
				s := mustLoad(t, due, tok)
				assert.WithinDuration(t, time.Now().Add(DefaultIdleTimeout), s.Expires(), 5*time.Second)
			}), "load with a due touch")
			assert.Equal(t, int64(1), cc.trips(t, func() { mustLoad(t, due, tok) }), "load after the touch")
		})
	}
}

// A commit that cannot reach Redis returns the error and keeps the changes
// pending; a later commit sends them.
func TestRedisStore_CommitFailureKeepsChanges(t *testing.T) {
	srv := redistest.StartServer(t, redistest.ServerOptions{})
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1, ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = c.Close() })
	m := New(NewRedisStore(c, RedisOptions{}), Options{})
	s := m.New()
	s.SetBytes("a", []byte("1"))
	tok := mustCommit(t, m, s).Token

	srv.Pause(t)
	s.SetBytes("b", []byte("2"))
	_, _, err := m.Commit(t.Context(), s)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "session: commit")
	_, _, err = m.Load(t.Context(), tok)
	require.Error(t, err)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, _, err = m.Commit(ctx, s)
	require.ErrorIs(t, err, context.Canceled)

	srv.Resume(t)
	require.Eventually(t, func() bool { _, _, err := m.Commit(t.Context(), s); return err == nil }, 5*time.Second, 50*time.Millisecond)
	got := mustLoad(t, m, tok)
	assert.Equal(t, []string{"a", "b"}, got.Keys())
}

// A RevokeUser that runs between the two halves of a rotation leaves a
// tombstone on the new key, so the rotation cannot bring the session back.
func TestRedisStore_RevokeDuringRotation(t *testing.T) {
	for name, mk := range map[string]func(t *testing.T) redis.UniversalClient{
		"impl=standalone": func(t *testing.T) redis.UniversalClient { return redistest.Standalone(t) },
		"impl=cluster":    func(t *testing.T) redis.UniversalClient { return redistest.Cluster(t) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := mk(t)
			st := NewRedisStore(c, RedisOptions{Prefix: redistest.Prefix(t)})
			m := New(st, Options{})
			s := m.New()
			s.SetUser("alice")
			s.SetBytes("k", []byte("v"))
			mustCommit(t, m, s)
			ctx := t.Context()

			// First half of a rotation, by hand: index the new hash, kill the old key.
			_, newH := newToken()
			require.NoError(t, st.index(ctx, "alice", newH, s.abs))
			v, err := rotateScript.Run(ctx, st.c, []string{st.sessionKey(s.hash)}, 0, newH, 0, "0", "").Slice()
			require.NoError(t, err)
			code, _ := replyInt(v, 0)
			require.Equal(t, int64(1), code)

			n, err := m.RevokeUser(ctx, "alice")
			require.NoError(t, err)
			assert.Equal(t, 0, n, "no live session: the old key is gone and the new one not written yet")

			// Second half: refused by the tombstone.
			_, status, err := st.create2(ctx, newH, record{fields: map[string][]byte{"k": []byte("v")}, user: "alice",
				idle: time.Minute, created: time.Now(), abs: time.Now().Add(time.Hour)}, wait{})
			require.NoError(t, err)
			assert.Equal(t, statusGone, status)
			ttl, err := c.PTTL(ctx, st.sessionKey(newH)).Result()
			require.NoError(t, err)
			assert.Greater(t, ttl, time.Duration(0), "the tombstone expires")
		})
	}
}

// failingCreate passes every call to Redis except create.lua, which fails
// as if the connection dropped: the second half of a rotation is lost.
type failingCreate struct {
	Client
}

var errInjected = errors.New("injected: connection reset")

func (c failingCreate) EvalSha(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	if sha1 == createScript.Hash() {
		cmd := redis.NewCmd(ctx)
		cmd.SetErr(errInjected)
		return cmd
	}
	return c.Client.EvalSha(ctx, sha1, keys, args...)
}

// A rotation whose second half fails fails closed: the caller gets the
// error, the old token is dead, and no key is left without a TTL.
func TestRedisStore_RotationFailureFailsClosed(t *testing.T) {
	c := redistest.Standalone(t)
	prefix := redistest.Prefix(t)
	good := New(NewRedisStore(c, RedisOptions{Prefix: prefix}), Options{})
	s := good.New()
	s.SetBytes("k", []byte("v"))
	tok := mustCommit(t, good, s).Token

	bad := New(NewRedisStore(failingCreate{c}, RedisOptions{Prefix: prefix}), Options{})
	login := mustLoad(t, bad, tok)
	login.SetUser("alice")
	login.Rotate()
	_, _, err := bad.Commit(t.Context(), login)
	require.ErrorIs(t, err, errInjected)
	assertGone(t, good, tok)

	b := standaloneBackend(t, c, prefix)
	assertTTLs(t, b, "failed rotation")
	for _, k := range b.keys(t) {
		assert.NotContains(t, k, ":s:", "no session key survives: %s", k)
	}
	// Retrying finds the session gone instead of resurrecting it.
	_, ok, err := bad.Commit(t.Context(), login)
	require.NoError(t, err)
	assert.False(t, ok)
}
