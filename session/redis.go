package session

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Client is the part of a go-redis client that [RedisStore] uses: scripts,
// and pipelines for the commands of a rotation or a revocation that touch
// several hash slots. *redis.Client, *redis.ClusterClient and *redis.Ring
// satisfy it.
type Client interface {
	redis.Scripter
	Pipeline() redis.Pipeliner
}

var (
	_ Client = (*redis.Client)(nil)
	_ Client = (*redis.ClusterClient)(nil)
	_ Client = (*redis.Ring)(nil)
)

// DefaultPrefix is the key prefix of a [RedisStore] whose
// [RedisOptions.Prefix] is empty.
const DefaultPrefix = "sinew:session:"

// tombstoneTTL is how long a revoked session's key stays as a tombstone,
// so a rotation in flight during a revocation cannot recreate it.
const tombstoneTTL = time.Minute

// revokeRounds bounds the rounds of RevokeUser that pick up sessions
// added to the index while it runs.
const revokeRounds = 8

// RedisOptions configures a [RedisStore]. The zero value is ready to use.
type RedisOptions struct {
	// Prefix is put before every key. Default [DefaultPrefix]. It must not
	// contain '{' or '}': keys carry their own hash tags.
	Prefix string
}

// RedisStore keeps sessions in Redis (standalone, Sentinel, Cluster or
// Ring), one hash per session keyed by the SHA-256 of its token. See the
// package documentation, sections "Redis keys" and "Failure modes".
//
// A RedisStore is safe for concurrent use.
type RedisStore struct {
	c      Client
	prefix string
}

var _ Store = (*RedisStore)(nil)

// NewRedisStore returns a store over c. It panics if c is nil or the prefix
// contains a brace.
//
// When Redis cannot be reached every call fails with an error wrapping the
// client's error; a [Manager] passes it on, and its middleware answers 503.
func NewRedisStore(c Client, opts RedisOptions) *RedisStore {
	if c == nil {
		panic("session: nil redis client")
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(opts.Prefix, "{}") {
		panic("session: redis prefix contains a brace")
	}
	return &RedisStore{c: c, prefix: opts.Prefix}
}

var (
	//go:embed create.lua
	createSrc string
	//go:embed load.lua
	loadSrc string
	//go:embed commit.lua
	commitSrc string
	//go:embed rotate.lua
	rotateSrc string
	//go:embed revoke.lua
	revokeSrc string
	//go:embed index.lua
	indexSrc string
	//go:embed list.lua
	listSrc string

	createScript = redis.NewScript(createSrc)
	loadScript   = redis.NewScript(loadSrc)
	commitScript = redis.NewScript(commitSrc)
	rotateScript = redis.NewScript(rotateSrc)
	revokeScript = redis.NewScript(revokeSrc)
	indexScript  = redis.NewScript(indexSrc)
	listScript   = redis.NewScript(listSrc)
)

// fieldPrefix marks data fields in a session hash; metadata fields start
// with '_'.
const fieldPrefix = "d:"

func (r *RedisStore) sessionKey(h string) string { return r.prefix + "s:{" + h + "}" }

// userKey hashes the user ID so that any ID (braces included) makes a
// well-formed, fixed-size hash tag.
func (r *RedisStore) userKey(user string) string {
	sum := sha256.Sum256([]byte(user))
	return r.prefix + "u:{" + hex.EncodeToString(sum[:16]) + "}"
}

func ms(d time.Duration) int64 {
	m := d.Milliseconds()
	if m < 1 {
		m = 1
	}
	return m
}

func fromMS(v int64) time.Time { return time.UnixMilli(v) }

// run runs script with EVALSHA (EVAL on NOSCRIPT), and when w asks for
// replicas, sends WAIT on the same connection in the same round trip.
func (r *RedisStore) run(ctx context.Context, s *redis.Script, key string, w wait, args ...any) ([]any, int, error) {
	keys := []string{key}
	if w.replicas <= 0 {
		v, err := s.Run(ctx, r.c, keys, args...).Slice()
		return v, 0, err
	}
	// WAIT counts the replicas that acknowledged this connection's writes,
	// so it must follow the script on one connection to the key's master.
	var p redis.Pipeliner
	if mk, ok := r.c.(interface {
		MasterForKey(ctx context.Context, key string) (*redis.Client, error)
	}); ok {
		node, err := mk.MasterForKey(ctx, key)
		if err != nil {
			return nil, 0, err
		}
		p = node.Pipeline()
	} else {
		p = r.c.Pipeline()
	}
	timeout := w.timeout
	if timeout < time.Millisecond {
		timeout = time.Millisecond
	}
	for _, eval := range []func(context.Context, redis.Scripter, []string, ...any) *redis.Cmd{s.EvalSha, s.Eval} {
		cmd := eval(ctx, p, keys, args...)
		wc := p.Do(ctx, "wait", w.replicas, timeout.Milliseconds())
		_, _ = p.Exec(ctx)
		if err := cmd.Err(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			continue
		}
		v, err := cmd.Slice()
		if err != nil {
			return nil, 0, err
		}
		n, err := wc.Int64()
		if err != nil {
			return nil, 0, err
		}
		return v, int(n), nil
	}
	return nil, 0, errors.New("session: script not loaded")
}

func replyInt(v []any, i int) (int64, bool) {
	if i >= len(v) {
		return 0, false
	}
	n, ok := v[i].(int64)
	return n, ok
}

func replyString(v []any, i int) (string, bool) {
	if i >= len(v) {
		return "", false
	}
	s, ok := v[i].(string)
	return s, ok
}

func errReply(op string, v []any) error {
	return fmt.Errorf("session: %s: unexpected script reply %v", op, v)
}

// parseFields splits an HGETALL reply into data fields and the user.
func parseFields(v any) (map[string][]byte, string, bool) {
	arr, ok := v.([]any)
	if !ok || len(arr)%2 != 0 {
		return nil, "", false
	}
	fields := make(map[string][]byte, len(arr)/2)
	user := ""
	for i := 0; i < len(arr); i += 2 {
		k, ok1 := arr[i].(string)
		val, ok2 := arr[i+1].(string)
		if !ok1 || !ok2 {
			return nil, "", false
		}
		switch {
		case strings.HasPrefix(k, fieldPrefix):
			fields[k[len(fieldPrefix):]] = []byte(val)
		case k == "_u":
			user = val
		}
	}
	return fields, user, true
}

// parseStored reads {1, deadline, expires} replies and the status codes
// shared by every script.
func parseStored(op string, v []any) (stored, status, string, error) {
	code, ok := replyInt(v, 0)
	if !ok {
		return stored{}, 0, "", errReply(op, v)
	}
	switch code {
	case 0:
		return stored{}, statusGone, "", nil
	case 2:
		u, _ := replyString(v, 1)
		return stored{user: u}, statusExpired, "", nil
	case 3:
		h, ok := replyString(v, 1)
		if !ok {
			return stored{}, 0, "", errReply(op, v)
		}
		return stored{}, statusGone, h, nil
	case 1:
		abs, ok1 := replyInt(v, 1)
		exp, ok2 := replyInt(v, 2)
		if !ok1 || !ok2 {
			return stored{}, 0, "", errReply(op, v)
		}
		return stored{abs: fromMS(abs), expires: fromMS(exp)}, statusOK, "", nil
	}
	return stored{}, 0, "", errReply(op, v)
}

func fieldArgs(args []any, m map[string][]byte) []any {
	for k, v := range m {
		args = append(args, fieldPrefix+k, v)
	}
	return args
}

func changeArgs(args []any, ch changes) []any {
	flag := "0"
	if ch.userSet {
		flag = "1"
	}
	args = append(args, len(ch.set), flag, ch.user)
	args = fieldArgs(args, ch.set)
	for _, k := range ch.del {
		args = append(args, fieldPrefix+k)
	}
	return args
}

func (r *RedisStore) create(ctx context.Context, h string, rec record, w wait) (stored, status, error) {
	args := make([]any, 0, 4+2*len(rec.fields))
	if rec.created.IsZero() {
		args = append(args, ms(rec.idle), ms(rec.life), 0, rec.user)
	} else {
		args = append(args, ms(rec.idle), rec.abs.UnixMilli(), rec.created.UnixMilli(), rec.user)
	}
	args = fieldArgs(args, rec.fields)
	v, n, err := r.run(ctx, createScript, r.sessionKey(h), w, args...)
	if err != nil {
		return stored{}, 0, fmt.Errorf("session: create: %w", err)
	}
	st, code, _, err := parseStored("create", v)
	if err != nil || code != statusOK {
		return st, code, err
	}
	st.hash, st.replicas = h, n
	if rec.user != "" {
		// The index is written after the session here: the session's
		// deadline is only known now. If the index write fails the session
		// is deleted, so no session of a user escapes RevokeUser.
		if err := r.index(ctx, rec.user, h, st.abs); err != nil {
			_ = r.destroy(ctx, h)
			return stored{}, 0, err
		}
	}
	return st, statusOK, nil
}

func (r *RedisStore) index(ctx context.Context, user, h string, abs time.Time) error {
	if err := indexScript.Run(ctx, r.c, []string{r.userKey(user)}, h, abs.UnixMilli()).Err(); err != nil {
		return fmt.Errorf("session: user index: %w", err)
	}
	return nil
}

// load reads a session with HGETALL and PTTL in one pipeline: plain
// commands, no script. A key that exists is within both deadlines by the
// server's clock, because every write sets its TTL to
// min(idle, absolute deadline - now). The time since the last touch is
// known from the TTL too (the TTL set at that touch minus the TTL left),
// so when a touch is due the load runs load.lua instead, which re-checks
// the deadlines with TIME and pushes the idle deadline back.
func (r *RedisStore) load(ctx context.Context, h string, touch time.Duration) (loaded, status, error) {
	if touch <= 0 {
		return r.loadScripted(ctx, h, 0)
	}
	for hop := 0; ; hop++ {
		key := r.sessionKey(h)
		p := r.c.Pipeline()
		all := p.HGetAll(ctx, key)
		ttl := p.PTTL(ctx, key)
		if _, err := p.Exec(ctx); err != nil {
			return loaded{}, 0, fmt.Errorf("session: load: %w", err)
		}
		m, pttl := all.Val(), ttl.Val()
		if len(m) == 0 || pttl <= 0 {
			return loaded{}, statusGone, nil
		}
		if _, ok := m["_x"]; ok {
			return loaded{}, statusGone, nil
		}
		if next, ok := m["_m"]; ok {
			if hop > 0 {
				return loaded{}, statusGone, nil
			}
			h = next
			continue
		}
		abs, ok1 := parseMS(m["_a"])
		idle, ok2 := parseMS(m["_i"])
		seen, ok3 := parseMS(m["_s"])
		if !ok1 || !ok2 || !ok3 {
			return loaded{}, statusGone, nil
		}
		if min(idle, abs-seen)-pttl.Milliseconds() >= touch.Milliseconds() {
			return r.loadScripted(ctx, h, touch.Milliseconds())
		}
		fields := make(map[string][]byte, len(m))
		for k, v := range m {
			if strings.HasPrefix(k, fieldPrefix) {
				fields[k[len(fieldPrefix):]] = []byte(v)
			}
		}
		return loaded{hash: h, fields: fields, user: m["_u"], abs: fromMS(abs), expires: fromMS(min(abs, seen+idle))}, statusOK, nil
	}
}

func parseMS(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// loadScripted reads a session with load.lua: deadlines checked with the
// server's TIME, and a touch when the last one is at least t ms old.
func (r *RedisStore) loadScripted(ctx context.Context, h string, t int64) (loaded, status, error) {
	for hop := 0; ; hop++ {
		v, err := loadScript.Run(ctx, r.c, []string{r.sessionKey(h)}, t).Slice()
		if err != nil {
			return loaded{}, 0, fmt.Errorf("session: load: %w", err)
		}
		code, ok := replyInt(v, 0)
		if !ok {
			return loaded{}, 0, errReply("load", v)
		}
		switch code {
		case 0:
			return loaded{}, statusGone, nil
		case 2:
			u, _ := replyString(v, 1)
			return loaded{user: u}, statusExpired, nil
		case 3:
			next, ok := replyString(v, 1)
			if !ok {
				return loaded{}, 0, errReply("load", v)
			}
			if hop > 0 {
				return loaded{}, statusGone, nil
			}
			h = next
			continue
		case 1:
			abs, ok1 := replyInt(v, 1)
			exp, ok2 := replyInt(v, 2)
			touched, ok3 := replyInt(v, 3)
			if !ok1 || !ok2 || !ok3 || len(v) < 5 {
				return loaded{}, 0, errReply("load", v)
			}
			fields, user, ok := parseFields(v[4])
			if !ok {
				return loaded{}, 0, errReply("load", v)
			}
			return loaded{hash: h, fields: fields, user: user, abs: fromMS(abs), expires: fromMS(exp), touched: touched == 1}, statusOK, nil
		default:
			return loaded{}, 0, errReply("load", v)
		}
	}
}

func (r *RedisStore) commit(ctx context.Context, h string, ch changes, w wait) (stored, status, error) {
	if ch.userSet && ch.user != "" {
		// Index first: a session is never bound to a user it is not indexed under.
		if err := r.index(ctx, ch.user, h, ch.abs); err != nil {
			return stored{}, 0, err
		}
	}
	args := changeArgs(make([]any, 0, 3+2*len(ch.set)+len(ch.del)), ch)
	for hop := 0; ; hop++ {
		v, n, err := r.run(ctx, commitScript, r.sessionKey(h), w, args...)
		if err != nil {
			return stored{}, 0, fmt.Errorf("session: commit: %w", err)
		}
		st, code, next, err := parseStored("commit", v)
		if err != nil {
			return stored{}, 0, err
		}
		if next != "" && hop == 0 {
			// Forwarded by a rotation's grace window: write to the new key.
			if ch.userSet && ch.user != "" {
				if err := r.index(ctx, ch.user, next, ch.abs); err != nil {
					return stored{}, 0, err
				}
			}
			h = next
			continue
		}
		st.hash, st.replicas = h, n
		return st, code, nil
	}
}

func (r *RedisStore) rotate(ctx context.Context, oldH, newH string, ch changes, grace time.Duration, w wait) (stored, status, error) {
	// Index the new hash before the old session is read, so that a
	// RevokeUser running concurrently either finds the old session still
	// alive, or finds the new hash in the index and tombstones it before
	// (or after) create.lua writes it.
	if ch.bound != "" {
		if err := r.index(ctx, ch.bound, newH, ch.abs); err != nil {
			return stored{}, 0, err
		}
	}
	args := []any{ms(grace), newH}
	if grace <= 0 {
		args[0] = 0
	}
	args = changeArgs(args, ch)
	v, err := rotateScript.Run(ctx, r.c, []string{r.sessionKey(oldH)}, args...).Slice()
	if err != nil {
		return stored{}, 0, fmt.Errorf("session: rotate: %w", err)
	}
	code, ok := replyInt(v, 0)
	if !ok {
		return stored{}, 0, errReply("rotate", v)
	}
	switch code {
	case 0:
		return stored{}, statusGone, nil
	case 2:
		u, _ := replyString(v, 1)
		return stored{user: u}, statusExpired, nil
	case 1:
	default:
		return stored{}, 0, errReply("rotate", v)
	}
	abs, ok1 := replyInt(v, 1)
	idle, ok2 := replyInt(v, 2)
	created, ok3 := replyInt(v, 3)
	if !ok1 || !ok2 || !ok3 || len(v) < 5 {
		return stored{}, 0, errReply("rotate", v)
	}
	fields, user, ok := parseFields(v[4])
	if !ok {
		return stored{}, 0, errReply("rotate", v)
	}
	if user != "" && user != ch.bound {
		// Bound by a concurrent request: index the new hash for that user too.
		if err := r.index(ctx, user, newH, fromMS(abs)); err != nil {
			return stored{}, 0, err
		}
	}
	// The old key is dead; if this write fails the session is lost, never
	// left alive under the old token.
	rec := record{fields: fields, user: user, idle: time.Duration(idle) * time.Millisecond, created: fromMS(created), abs: fromMS(abs)}
	return r.create2(ctx, newH, rec, w)
}

// create2 writes the second half of a rotation: create without indexing.
func (r *RedisStore) create2(ctx context.Context, h string, rec record, w wait) (stored, status, error) {
	args := []any{ms(rec.idle), rec.abs.UnixMilli(), rec.created.UnixMilli(), rec.user}
	args = fieldArgs(args, rec.fields)
	v, n, err := r.run(ctx, createScript, r.sessionKey(h), w, args...)
	if err != nil {
		return stored{}, 0, fmt.Errorf("session: rotate: %w", err)
	}
	st, code, _, err := parseStored("rotate", v)
	st.hash, st.replicas = h, n
	return st, code, err
}

func (r *RedisStore) destroy(ctx context.Context, h string) error {
	p := r.c.Pipeline()
	p.Del(ctx, r.sessionKey(h))
	if _, err := p.Exec(ctx); err != nil {
		return fmt.Errorf("session: destroy: %w", err)
	}
	return nil
}

func (r *RedisStore) revokeUser(ctx context.Context, user string) (int, error) {
	ukey := r.userKey(user)
	total := 0
	for range revokeRounds {
		members, err := listScript.Run(ctx, r.c, []string{ukey}).StringSlice()
		if err != nil {
			return total, fmt.Errorf("session: revoke: %w", err)
		}
		if len(members) == 0 {
			return total, nil
		}
		n, err := r.revokeKeys(ctx, user, members)
		total += n
		if err != nil {
			return total, err
		}
		p := r.c.Pipeline()
		rem := make([]any, len(members))
		for i, m := range members {
			rem[i] = m
		}
		p.ZRem(ctx, ukey, rem...)
		if _, err := p.Exec(ctx); err != nil {
			return total, fmt.Errorf("session: revoke: %w", err)
		}
	}
	return total, nil
}

// revokeKeys runs revoke.lua on every member, one command per key in one
// pipeline (a Cluster client sends each node its commands in parallel).
func (r *RedisStore) revokeKeys(ctx context.Context, user string, members []string) (int, error) {
	tomb := ms(tombstoneTTL)
	exec := func(eval func(context.Context, redis.Scripter, []string, ...any) *redis.Cmd, hs []string) ([]*redis.Cmd, error) {
		p := r.c.Pipeline()
		cmds := make([]*redis.Cmd, len(hs))
		for i, h := range hs {
			cmds[i] = eval(ctx, p, []string{r.sessionKey(h)}, user, tomb)
		}
		_, err := p.Exec(ctx)
		return cmds, err
	}
	cmds, err := exec(revokeScript.EvalSha, members)
	var retry []string
	n := 0
	for i, c := range cmds {
		if e := c.Err(); e != nil {
			if redis.HasErrorPrefix(e, "NOSCRIPT") {
				retry = append(retry, members[i])
				continue
			}
			return n, fmt.Errorf("session: revoke: %w", e)
		}
		if v, e := c.Int64(); e == nil && v == 1 {
			n++
		}
	}
	if err != nil && len(retry) == 0 {
		return n, fmt.Errorf("session: revoke: %w", err)
	}
	if len(retry) > 0 {
		cmds, err = exec(revokeScript.Eval, retry)
		if err != nil {
			return n, fmt.Errorf("session: revoke: %w", err)
		}
		for _, c := range cmds {
			if v, e := c.Int64(); e == nil && v == 1 {
				n++
			}
		}
	}
	return n, nil
}
