package session

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sinew-dev/sinew/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// backend is one store under test plus, for Redis, a way to inspect its keys.
type backend struct {
	name   string
	store  Store
	client Client        // nil for memory
	cmd    redis.Cmdable // inspection; nil for memory
	keys   func(t *testing.T) []string
}

func scanKeys(ctx context.Context, c redis.Cmdable, match string) ([]string, error) {
	var out []string
	var cursor uint64
	for {
		ks, next, err := c.Scan(ctx, cursor, match, 1000).Result()
		if err != nil {
			return nil, err
		}
		out = append(out, ks...)
		if cursor = next; cursor == 0 {
			return out, nil
		}
	}
}

func standaloneBackend(t *testing.T, c *redis.Client, prefix string) backend {
	return backend{
		name: "standalone", store: NewRedisStore(c, RedisOptions{Prefix: prefix}), client: c, cmd: c,
		keys: func(t *testing.T) []string {
			ks, err := scanKeys(t.Context(), c, prefix+"*")
			require.NoError(t, err)
			return ks
		},
	}
}

func clusterBackend(t *testing.T, c *redis.ClusterClient, prefix string) backend {
	return backend{
		name: "cluster", store: NewRedisStore(c, RedisOptions{Prefix: prefix}), client: c, cmd: c,
		keys: func(t *testing.T) []string {
			var mu sync.Mutex
			var all []string
			err := c.ForEachMaster(t.Context(), func(ctx context.Context, n *redis.Client) error {
				ks, err := scanKeys(ctx, n, prefix+"*")
				mu.Lock()
				all = append(all, ks...)
				mu.Unlock()
				return err
			})
			require.NoError(t, err)
			return all
		},
	}
}

// eachBackend runs fn against the memory store, standalone Redis and Redis
// Cluster, each with its own key prefix.
func eachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	t.Helper()
	t.Run("impl=memory", func(t *testing.T) {
		t.Parallel()
		fn(t, backend{name: "memory", store: NewMemoryStore()})
	})
	t.Run("impl=standalone", func(t *testing.T) {
		t.Parallel()
		fn(t, standaloneBackend(t, redistest.Standalone(t), redistest.Prefix(t)))
	})
	t.Run("impl=cluster", func(t *testing.T) {
		t.Parallel()
		fn(t, clusterBackend(t, redistest.Cluster(t), redistest.Prefix(t)))
	})
}

// assertTTLs checks that every key of b has a positive TTL.
func assertTTLs(t *testing.T, b backend, when string) {
	t.Helper()
	if b.keys == nil {
		return
	}
	for _, k := range b.keys(t) {
		ttl, err := b.cmd.PTTL(t.Context(), k).Result()
		if err != nil || ttl == -2*time.Nanosecond { // expired between SCAN and PTTL
			continue
		}
		assert.Greater(t, ttl, time.Duration(0), "%s: key %s has TTL %v", when, k, ttl)
	}
}

func mustCommit(t *testing.T, m *Manager, s *Session) Result {
	t.Helper()
	res, ok, err := m.Commit(t.Context(), s)
	require.NoError(t, err)
	require.True(t, ok, "commit: session gone")
	return res
}

func mustLoad(t *testing.T, m *Manager, token string) *Session {
	t.Helper()
	s, ok, err := m.Load(t.Context(), token)
	require.NoError(t, err)
	require.True(t, ok, "load: no session")
	return s
}

func assertGone(t *testing.T, m *Manager, token string) {
	t.Helper()
	_, ok, err := m.Load(t.Context(), token)
	require.NoError(t, err)
	assert.False(t, ok, "session still loads")
}

func TestStore_CreateLoadCommit(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		m := New(b.store, Options{})
		s := m.New()
		assert.True(t, s.IsNew())
		res, ok, err := m.Commit(t.Context(), s)
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Empty(t, res.Token, "an empty new session is not stored")

		require.NoError(t, Set(s, "n", 42))
		s.SetBytes("raw", []byte{0, 1, 2})
		res = mustCommit(t, m, s)
		require.Len(t, res.Token, tokenLen)
		assert.Equal(t, res.Token, s.Token())
		assert.False(t, s.IsNew())
		assert.WithinDuration(t, time.Now().Add(DefaultIdleTimeout), res.Expires, 5*time.Second)
		assertTTLs(t, b, "create")

		got := mustLoad(t, m, res.Token)
		n, ok := Get[int](got, "n")
		assert.True(t, ok)
		assert.Equal(t, 42, n)
		raw, ok := got.GetBytes("raw")
		assert.True(t, ok)
		assert.Equal(t, []byte{0, 1, 2}, raw)
		assert.Equal(t, []string{"n", "raw"}, got.Keys())
		_, ok = Get[string](got, "n")
		assert.False(t, ok, "a value that does not decode as T reads as absent")

		got.Delete("raw")
		require.NoError(t, Set(got, "s", "x"))
		mustCommit(t, m, got)
		assertTTLs(t, b, "commit")
		again := mustLoad(t, m, res.Token)
		assert.Equal(t, []string{"n", "s"}, again.Keys())

		again.Destroy()
		res, ok, err = m.Commit(t.Context(), again)
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Empty(t, res.Token)
		assertGone(t, m, s.Token())
	})
}

func TestStore_MalformedAndUnknownTokens(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		m := New(b.store, Options{})
		unknown, _ := newToken()
		for name, tok := range map[string]string{
			"empty":     "",
			"short":     "abc",
			"notBase64": strings.Repeat("*", tokenLen),
			"padded":    unknown[:42] + "=",
			"unknown":   unknown,
		} {
			s, ok, err := m.Load(t.Context(), tok)
			require.NoError(t, err, name)
			assert.False(t, ok, name)
			assert.Nil(t, s, name)
		}
	})
}

func TestStore_IdleTimeout(t *testing.T) {
	// touch=every runs load.lua on each load; touch=due reads with
	// HGETALL+PTTL and runs load.lua only when a touch is due.
	for name, touch := range map[string]time.Duration{"touch=every": -1, "touch=due": 100 * time.Millisecond} {
		t.Run(name, func(t *testing.T) { testIdleTimeout(t, touch) })
	}
}

func testIdleTimeout(t *testing.T, touch time.Duration) {
	eachBackend(t, func(t *testing.T, b backend) {
		const idle = 500 * time.Millisecond
		m := New(b.store, Options{IdleTimeout: idle, Lifetime: time.Minute, TouchInterval: touch})
		s := m.New()
		s.SetBytes("k", []byte("v"))
		prevStart := time.Now()
		tok := mustCommit(t, m, s).Token
		prevEnd := time.Now()
		// Used every 150 ms, the session outlives its idle timeout. The store
		// touched it somewhere in [prevStart, prevEnd], so a load that ends
		// less than idle after prevStart must find it; on a machine so loaded
		// that a round trip takes longer, the session may be gone.
		alive := 0
		for range 6 {
			time.Sleep(150 * time.Millisecond)
			start := time.Now()
			_, ok, err := m.Load(t.Context(), tok)
			end := time.Now()
			require.NoError(t, err)
			if end.Sub(prevStart) < idle {
				require.True(t, ok, "load %v after the last touch", end.Sub(prevStart))
			}
			if !ok {
				break
			}
			alive++
			assertTTLs(t, b, "touch")
			prevStart, prevEnd = start, end
		}
		t.Logf("%d loads kept the session alive", alive)
		time.Sleep(time.Until(prevEnd.Add(idle + 50*time.Millisecond)))
		assertGone(t, m, tok)
		if b.keys != nil {
			assert.Empty(t, b.keys(t))
		}
	})
}

func TestStore_TouchIsThrottled(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		const idle = 500 * time.Millisecond
		m := New(b.store, Options{IdleTimeout: idle, Lifetime: time.Minute, TouchInterval: 10 * time.Second})
		s := m.New()
		s.SetBytes("k", []byte("v"))
		start := time.Now()
		res := mustCommit(t, m, s)
		end := time.Now()
		// Loads inside the touch interval do not push the idle deadline, so
		// the session ends idle after its last write however often it is read.
		for range 3 {
			time.Sleep(80 * time.Millisecond)
			got, ok, err := m.Load(t.Context(), res.Token)
			require.NoError(t, err)
			if time.Since(start) >= idle {
				break // too loaded a machine to tell
			}
			require.True(t, ok)
			assert.Equal(t, res.Expires, got.Expires(), "a throttled load must not move the deadline")
		}
		time.Sleep(time.Until(end.Add(idle + 50*time.Millisecond)))
		assertGone(t, m, res.Token)
	})
}

// Commits of thousands of fields (more than one Lua unpack can take).
func TestStore_ManyFields(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		m := New(b.store, Options{})
		s := m.New()
		for i := range 1500 {
			s.SetBytes(fmt.Sprintf("a%04d", i), []byte{byte(i)})
		}
		tok := mustCommit(t, m, s).Token
		for i := range 2500 {
			s.SetBytes(fmt.Sprintf("b%04d", i), []byte{byte(i)})
		}
		for i := range 1200 {
			s.Delete(fmt.Sprintf("a%04d", i))
		}
		mustCommit(t, m, s)
		got := mustLoad(t, m, tok)
		assert.Len(t, got.Keys(), 300+2500)
		v, ok := got.GetBytes("b2499")
		assert.True(t, ok)
		assert.Equal(t, []byte{byte(2499 % 256)}, v)
		assertTTLs(t, b, "many fields")
	})
}

// The absolute deadline passes while a slow request holds the session: its
// commit must not resurrect the session (scs writes it back without a TTL).
func TestStore_AbsoluteDeadlineDuringSlowRequest(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		var events []Event
		var mu sync.Mutex
		const life = time.Second
		m := New(b.store, Options{IdleTimeout: time.Minute, Lifetime: life, TouchInterval: -1,
			OnEvent: func(e Event) { mu.Lock(); events = append(events, e); mu.Unlock() }})
		s := m.New()
		s.SetUser("alice")
		s.SetBytes("k", []byte("v"))
		start := time.Now()
		res := mustCommit(t, m, s)
		end := time.Now()
		assert.False(t, res.Expires.Before(start.Add(life-10*time.Millisecond)), "expires %v", res.Expires.Sub(start))
		assert.False(t, res.Expires.After(end.Add(life+10*time.Millisecond)), "expires %v", res.Expires.Sub(end))

		slow := mustLoad(t, m, res.Token)
		fast := mustLoad(t, m, res.Token)
		time.Sleep(time.Until(end.Add(life + 50*time.Millisecond))) // the slow request's work
		slow.SetBytes("late", []byte("write"))
		_, ok, err := m.Commit(t.Context(), slow)
		require.NoError(t, err)
		assert.False(t, ok, "commit after the absolute deadline must fail")
		assert.Empty(t, slow.Token())
		fast.Rotate()
		_, ok, err = m.Commit(t.Context(), fast)
		require.NoError(t, err)
		assert.False(t, ok, "rotation after the absolute deadline must fail")
		assertGone(t, m, res.Token)
		assertTTLs(t, b, "after deadline")
		if b.keys != nil {
			for _, k := range b.keys(t) {
				assert.NotContains(t, k, ":s:", "a session key survived its deadline: %s", k)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		require.NotEmpty(t, events)
		assert.Equal(t, Event{Kind: EventCreated, User: "alice", Count: 1}, events[0])
	})
}

// Rotation keeps an ID alive past its absolute deadline in no store.
func TestStore_RotationKeepsDeadline(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		m := New(b.store, Options{IdleTimeout: time.Minute, Lifetime: 1500 * time.Millisecond})
		s := m.New()
		s.SetBytes("k", []byte("v"))
		first := mustCommit(t, m, s)
		time.Sleep(50 * time.Millisecond)
		s.Rotate()
		second := mustCommit(t, m, s)
		assert.NotEqual(t, first.Token, second.Token)
		assert.WithinDuration(t, first.Expires, second.Expires, 5*time.Millisecond)
		assertTTLs(t, b, "rotate")
		time.Sleep(time.Until(first.Expires.Add(50 * time.Millisecond)))
		assertGone(t, m, second.Token)
	})
}

// Two overlapping requests write different fields of one session: both
// writes survive (scs loses one: it writes back the whole blob).
func TestStore_OverlappingRequestsKeepBothWrites(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		m := New(b.store, Options{})
		s := m.New()
		s.SetBytes("base", []byte("0"))
		tok := mustCommit(t, m, s).Token

		r1 := mustLoad(t, m, tok)
		r2 := mustLoad(t, m, tok)
		r1.SetBytes("cart", []byte("book"))
		r2.SetBytes("theme", []byte("dark"))
		r2.Delete("base")
		mustCommit(t, m, r1)
		mustCommit(t, m, r2)
		got := mustLoad(t, m, tok)
		assert.Equal(t, []string{"cart", "theme"}, got.Keys())

		// Many requests at once, each writing its own field.
		const n = 16
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				s, ok, err := m.Load(context.Background(), tok)
				if err != nil || !ok {
					errs[i] = fmt.Errorf("load: ok=%v err=%v", ok, err)
					return
				}
				s.SetBytes(fmt.Sprintf("f%02d", i), []byte{byte(i)})
				if _, ok, err := m.Commit(context.Background(), s); err != nil || !ok {
					errs[i] = fmt.Errorf("commit: ok=%v err=%v", ok, err)
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		got = mustLoad(t, m, tok)
		assert.Len(t, got.Keys(), n+2)
		for i := range n {
			v, ok := got.GetBytes(fmt.Sprintf("f%02d", i))
			assert.True(t, ok)
			assert.Equal(t, []byte{byte(i)}, v)
		}
	})
}

// Fixation: the token before login differs from the one after, and the old
// one no longer loads.
func TestStore_RotationPreventsFixation(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		var events []Event
		m := New(b.store, Options{OnEvent: func(e Event) { events = append(events, e) }})
		s := m.New()
		s.SetBytes("cart", []byte("book"))
		before := mustCommit(t, m, s).Token

		login := mustLoad(t, m, before) // the attacker planted this token
		login.SetUser("alice")
		login.Rotate()
		after := mustCommit(t, m, login).Token
		assert.NotEqual(t, before, after)
		assertGone(t, m, before)
		got := mustLoad(t, m, after)
		assert.Equal(t, "alice", got.User())
		v, _ := got.GetBytes("cart")
		assert.Equal(t, []byte("book"), v)
		assertTTLs(t, b, "rotate")

		// A request still holding the old session cannot write through it.
		stale := m.New()
		stale.mu.Lock()
		stale.token, stale.hash = before, mustHash(t, before)
		stale.mu.Unlock()
		stale.SetBytes("x", []byte("y"))
		_, ok, err := m.Commit(t.Context(), stale)
		require.NoError(t, err)
		assert.False(t, ok)
		assertGone(t, m, before)
		assert.Equal(t, []EventKind{EventCreated, EventRotated}, kinds(events))
	})
}

func kinds(es []Event) []EventKind {
	out := make([]EventKind, len(es))
	for i, e := range es {
		out[i] = e.Kind
	}
	return out
}

func mustHash(t *testing.T, tok string) string {
	h, ok := hashToken(tok)
	require.True(t, ok)
	return h
}

// With a grace window, requests in flight with the old token reach the new
// session (reads and writes), until the window closes.
func TestStore_RotationGrace(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		const grace = 2 * time.Second
		m := New(b.store, Options{RotateGrace: grace})
		s := m.New()
		s.SetBytes("a", []byte("1"))
		before := mustCommit(t, m, s).Token
		inflight := mustLoad(t, m, before)
		s.Rotate()
		after := mustCommit(t, m, s).Token
		rotated := time.Now()
		assertTTLs(t, b, "grace")

		inflight.SetBytes("b", []byte("2")) // written through the old token
		res := mustCommit(t, m, inflight)
		assert.Equal(t, before, res.Token, "a forwarded session keeps its client's token")
		late := mustLoad(t, m, before)
		assert.Equal(t, []string{"a", "b"}, late.Keys())
		got := mustLoad(t, m, after)
		assert.Equal(t, []string{"a", "b"}, got.Keys())

		time.Sleep(time.Until(rotated.Add(grace + 50*time.Millisecond)))
		assertGone(t, m, before)
		mustLoad(t, m, after)
	})
}

func TestStore_RevokeUser(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		var mu sync.Mutex
		var events []Event
		m := New(b.store, Options{OnEvent: func(e Event) { mu.Lock(); events = append(events, e); mu.Unlock() }})
		ctx := t.Context()
		var alice []string
		for i := range 12 { // 12 random hashes: several slots on the cluster
			s := m.New()
			s.SetUser("alice")
			s.SetBytes("i", []byte{byte(i)})
			alice = append(alice, mustCommit(t, m, s).Token)
		}
		// A session bound at login by rotation, and one whose user changed.
		s := m.New()
		s.SetBytes("anon", []byte("1"))
		mustCommit(t, m, s)
		s.SetUser("alice")
		s.Rotate()
		alice = append(alice, mustCommit(t, m, s).Token)
		moved := m.New()
		moved.SetUser("alice")
		moved.SetBytes("k", []byte("v"))
		movedTok := mustCommit(t, m, moved).Token
		moved.SetUser("bob")
		mustCommit(t, m, moved)

		bob := m.New()
		bob.SetUser("bob")
		bob.SetBytes("k", []byte("v"))
		bobTok := mustCommit(t, m, bob).Token
		anon := m.New()
		anon.SetBytes("k", []byte("v"))
		anonTok := mustCommit(t, m, anon).Token
		if b.keys != nil {
			slots := map[int64]bool{}
			for _, tok := range alice {
				slots[redisSlot(b.store.(*RedisStore).sessionKey(mustHash(t, tok)))] = true
			}
			assert.Greater(t, len(slots), 3, "sessions should spread over slots")
		}

		n, err := m.RevokeUser(ctx, "alice")
		require.NoError(t, err)
		assert.Equal(t, len(alice), n)
		for _, tok := range alice {
			assertGone(t, m, tok)
		}
		mustLoad(t, m, bobTok)
		mustLoad(t, m, anonTok)
		assert.Equal(t, "bob", mustLoad(t, m, movedTok).User(), "a session rebound to bob is not alice's")
		assertTTLs(t, b, "revoke")

		n, err = m.RevokeUser(ctx, "alice")
		require.NoError(t, err)
		assert.Equal(t, 0, n)
		n, err = m.RevokeUser(ctx, "bob")
		require.NoError(t, err)
		assert.Equal(t, 2, n)
		assertGone(t, m, bobTok)
		assertGone(t, m, movedTok)
		mu.Lock()
		defer mu.Unlock()
		assert.Contains(t, events, Event{Kind: EventRevoked, User: "alice", Count: len(alice)})
	})
}

// redisSlot is CRC16 mod 16384 of the hash tag, as Redis Cluster computes it.
func redisSlot(key string) int64 {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc ^= uint16(key[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int64(crc) % 16384
}

// No Redis key or value contains a token, raw or encoded.
func TestStore_NoTokenInKeyspace(t *testing.T) {
	check := func(t *testing.T, cmd redis.Cmdable, keys []string, tokens []string) {
		require.NotEmpty(t, keys)
		var needles [][]byte
		for _, tok := range tokens {
			raw, err := base64.RawURLEncoding.DecodeString(tok)
			require.NoError(t, err)
			needles = append(needles, []byte(tok), raw)
		}
		for _, k := range keys {
			var blob []string
			blob = append(blob, k)
			typ, err := cmd.Type(t.Context(), k).Result()
			require.NoError(t, err)
			switch typ {
			case "hash":
				kv, err := cmd.HGetAll(t.Context(), k).Result()
				require.NoError(t, err)
				for f, v := range kv {
					blob = append(blob, f, v)
				}
			case "zset":
				ms, err := cmd.ZRange(t.Context(), k, 0, -1).Result()
				require.NoError(t, err)
				blob = append(blob, ms...)
			case "none":
			default:
				t.Fatalf("unexpected key type %s for %s", typ, k)
			}
			for _, s := range blob {
				for _, n := range needles {
					assert.NotContains(t, s, string(n), "key %s reveals a token", k)
				}
			}
		}
	}
	scenario := func(t *testing.T, m *Manager) []string {
		var tokens []string
		for i := range 5 {
			s := m.New()
			s.SetBytes("k", []byte("v"))
			tokens = append(tokens, mustCommit(t, m, s).Token)
			s.SetUser(fmt.Sprintf("user%d", i%2))
			s.Rotate()
			tokens = append(tokens, mustCommit(t, m, s).Token)
		}
		return tokens
	}
	t.Run("impl=standalone/whole-keyspace", func(t *testing.T) {
		t.Parallel()
		srv := redistest.StartServer(t, redistest.ServerOptions{})
		c := srv.Client(t)
		m := New(NewRedisStore(c, RedisOptions{}), Options{RotateGrace: time.Minute})
		tokens := scenario(t, m)
		keys, err := scanKeys(t.Context(), c, "*")
		require.NoError(t, err)
		check(t, c, keys, tokens)
	})
	t.Run("impl=cluster", func(t *testing.T) {
		t.Parallel()
		b := clusterBackend(t, redistest.Cluster(t), redistest.Prefix(t))
		m := New(b.store, Options{RotateGrace: time.Minute})
		tokens := scenario(t, m)
		check(t, b.cmd, b.keys(t), tokens)
	})
}

func TestEventKind_String(t *testing.T) {
	for want, k := range map[string]EventKind{"created": EventCreated, "rotated": EventRotated, "expired": EventExpired, "revoked": EventRevoked, "EventKind(9)": 9} {
		assert.Equal(t, want, k.String())
	}
}

func TestNew_PanicsOnNilStore(t *testing.T) {
	assert.PanicsWithValue(t, "session: nil store", func() { New(nil, Options{}) })
	assert.PanicsWithValue(t, "session: nil redis client", func() { NewRedisStore(nil, RedisOptions{}) })
	assert.PanicsWithValue(t, "session: redis prefix contains a brace", func() {
		NewRedisStore(redis.NewClient(&redis.Options{}), RedisOptions{Prefix: "a{b}"})
	})
}

func TestSet_Unencodable(t *testing.T) {
	s := New(NewMemoryStore(), Options{}).New()
	err := Set(s, "c", make(chan int))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `session: set "c"`)
	assert.Empty(t, s.Keys())
}

func TestSession_EndedIgnoresWrites(t *testing.T) {
	m := New(NewMemoryStore(), Options{})
	s := m.New()
	s.SetBytes("k", []byte("v"))
	mustCommit(t, m, s)
	s.Destroy()
	mustCommit(t, m, s)
	s.SetBytes("k", []byte("again"))
	s.SetUser("u")
	s.Rotate()
	assert.Empty(t, s.Keys())
	assert.Empty(t, s.User())
	assert.False(t, s.IsNew())
	res, ok, err := m.Commit(t.Context(), s)
	require.NoError(t, err)
	assert.False(t, ok, "an ended session stays ended")
	assert.Empty(t, res.Token)
}

func TestToken_Format(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok, h := newToken()
		assert.Len(t, tok, tokenLen)
		assert.False(t, seen[tok])
		seen[tok] = true
		got, ok := hashToken(tok)
		assert.True(t, ok)
		assert.Equal(t, h, got)
		assert.NotContains(t, h, tok)
	}
}

func TestAllocs(t *testing.T) {
	tok, _ := newToken()
	s := New(NewMemoryStore(), Options{}).New()
	s.SetBytes("k", []byte("v"))
	tests := []struct {
		name string
		max  float64
		fn   func()
	}{
		{"GetBytes", 0, func() { _, _ = s.GetBytes("k") }},
		{"decodeToken", 1, func() { _, _ = decodeToken(tok) }},
		{"hashToken", 2, func() { _, _ = hashToken(tok) }},
		{"decodeToken/malformed", 0, func() { _, _ = decodeToken("short") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.LessOrEqual(t, testing.AllocsPerRun(100, tt.fn), tt.max)
		})
	}
}
