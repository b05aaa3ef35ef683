package app

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/sinew-dev/sinew/examples/authflow/password"
	"github.com/sinew-dev/sinew/examples/authflow/users"
	"github.com/sinew-dev/sinew/lock"
	"github.com/sinew-dev/sinew/ratelimit"
	"github.com/sinew-dev/sinew/retry"
	"github.com/sinew-dev/sinew/session"
)

// NodeHeader is the response header naming the node that served a request.
const NodeHeader = "X-Authflow-Node"

// Messages a client sees. Every failed login gets the same one, whatever the
// reason (wrong password, unknown user, rate limited), so that responses do
// not tell which user names exist.
const (
	msgBadLogin = "invalid user name or password"
	msgBusy     = "server busy, retry later"
)

// Loopback is the default set of trusted proxies of a node: the gateway runs
// beside the nodes.
var Loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// NodeOptions configure a Node. Name, Deps and Pool are required; every other
// zero field means the default in its comment.
type NodeOptions struct {
	// Name identifies the node in logs and in the X-Authflow-Node header.
	Name string
	// Deps are the shared services (see Backends.Node).
	Deps Deps
	// Pool hashes and verifies passwords. Nodes of one process share one
	// pool, sized to the CPUs.
	Pool *password.Pool
	// TrustedProxies are the peers whose X-Forwarded-For header names the
	// client. Default Loopback.
	TrustedProxies []netip.Prefix
	// HashTimeout bounds how long a request waits for a hashing slot before
	// it is answered 503. Default 2 s.
	HashTimeout time.Duration
	// LockTTL is the TTL of the lock taken to migrate a legacy hash.
	// Default 10 s.
	LockTTL time.Duration
	// InsecureCookies drops the Secure flag of the session cookie, for
	// plain-HTTP development away from localhost. Default false.
	InsecureCookies bool
	// Logger receives structured logs. Default slog.Default().
	Logger *slog.Logger
}

// NodeStats count what a node did since it was created.
type NodeStats struct {
	Requests       int64 // requests served
	LoginOK        int64 // successful logins
	LoginFailed    int64 // wrong password or unknown user
	LoginLimited   int64 // refused by a rate limit
	Busy           int64 // answered 503 because the hashing pool was full
	Migrated       int64 // legacy hashes this node replaced
	MigrationBusy  int64 // migrations skipped: another node held the lock
	MigrationDone  int64 // migrations skipped: the hash had already been replaced
	MigrationStale int64 // migration writes rejected for a stale fencing token
}

type nodeCounters struct {
	requests, loginOK, loginFailed, loginLimited, busy     atomic.Int64
	migrated, migrationBusy, migrationDone, migrationStale atomic.Int64
}

// Node is one auth node: an HTTP handler for POST /register, POST /login,
// POST /logout, GET /me and GET /health. It keeps no state of its own beyond
// counters: users, limits, sessions and locks live in its Deps, so any node
// can serve any request.
//
// A Node is safe for concurrent use and starts no goroutine.
type Node struct {
	name     string
	deps     Deps
	pool     *password.Pool
	sessions *session.Manager
	locker   *lock.Locker
	trusted  []netip.Prefix
	hashWait time.Duration
	lockTTL  time.Duration
	log      *slog.Logger
	handler  http.Handler
	// busyRetry waits for a hashing slot in migrations.
	busyRetry *retry.Policy
	c         nodeCounters
}

// NewNode returns a node. It panics if Name is empty or Pool or a service of
// Deps is nil.
func NewNode(o NodeOptions) *Node {
	if o.Name == "" || o.Pool == nil || o.Deps.Users == nil || o.Deps.UserLimiter == nil ||
		o.Deps.IPLimiter == nil || o.Deps.Sessions == nil || o.Deps.Locks == nil {
		panic("app: NewNode needs a Name, a Pool and every service of Deps")
	}
	if o.TrustedProxies == nil {
		o.TrustedProxies = Loopback
	}
	if o.HashTimeout <= 0 {
		o.HashTimeout = 2 * time.Second
	}
	if o.LockTTL <= 0 {
		o.LockTTL = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	n := &Node{
		name:     o.Name,
		deps:     o.Deps,
		pool:     o.Pool,
		locker:   lock.New(o.Deps.Locks, lock.Options{}),
		trusted:  o.TrustedProxies,
		hashWait: o.HashTimeout,
		lockTTL:  o.LockTTL,
		log:      o.Logger.With("node", o.Name),
		busyRetry: retry.New(retry.Options{
			MaxAttempts: -1, // until the deadline
			Backoff:     retry.FullJitter(10*time.Millisecond, 100*time.Millisecond),
		}),
	}
	n.sessions = session.New(o.Deps.Sessions, session.Options{
		Cookie: session.CookieOptions{Insecure: o.InsecureCookies},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			n.log.Error("session store failed", "err", err)
			writeError(w, http.StatusServiceUnavailable, "session store unavailable")
		},
	})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /register", n.register)
	mux.HandleFunc("POST /login", n.login)
	mux.HandleFunc("POST /logout", n.logout)
	mux.HandleFunc("GET /me", n.me)
	withSessions := n.sessions.Middleware(mux)
	root := http.NewServeMux()
	root.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"node": n.name, "status": "ok"})
	})
	root.Handle("/", withSessions)
	n.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.c.requests.Add(1)
		w.Header().Set(NodeHeader, n.name)
		r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
		root.ServeHTTP(w, r)
	})
	return n
}

// Name returns the node's name.
func (n *Node) Name() string { return n.name }

// Handler returns the node's HTTP handler.
func (n *Node) Handler() http.Handler { return n.handler }

// Stats returns the node's counters.
func (n *Node) Stats() NodeStats {
	return NodeStats{
		Requests: n.c.requests.Load(), LoginOK: n.c.loginOK.Load(), LoginFailed: n.c.loginFailed.Load(),
		LoginLimited: n.c.loginLimited.Load(), Busy: n.c.busy.Load(), Migrated: n.c.migrated.Load(),
		MigrationBusy: n.c.migrationBusy.Load(), MigrationDone: n.c.migrationDone.Load(),
		MigrationStale: n.c.migrationStale.Load(),
	}
}

// Credentials is the JSON body of /register and /login.
type Credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

func (n *Node) register(w http.ResponseWriter, r *http.Request) {
	var c Credentials
	if err := json.NewDecoder(r.Body).Decode(&c); err != nil {
		writeError(w, http.StatusBadRequest, "body must be {\"username\":…,\"password\":…}")
		return
	}
	if !validName.MatchString(c.Username) {
		writeError(w, http.StatusBadRequest, "user name: 1-64 of a-z 0-9 . _ -, starting with a letter or digit")
		return
	}
	if len(c.Password) < 8 || len(c.Password) > 256 {
		writeError(w, http.StatusBadRequest, "password: 8 to 256 bytes")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), n.hashWait)
	defer cancel()
	hash, err := n.pool.Hash(ctx, c.Password)
	if err != nil {
		n.busy(w, err)
		return
	}
	switch err := n.deps.Users.Create(r.Context(), c.Username, hash); {
	case errors.Is(err, users.ErrExists):
		writeError(w, http.StatusConflict, "user name taken")
	case err != nil:
		n.log.Error("create user", "err", err)
		writeError(w, http.StatusServiceUnavailable, "user store unavailable")
	default:
		n.log.Debug("registered", "user", c.Username)
		writeJSON(w, http.StatusCreated, map[string]string{"user": c.Username, "node": n.name})
	}
}

// busy answers a request that got no hashing slot.
func (n *Node) busy(w http.ResponseWriter, err error) {
	n.c.busy.Add(1)
	n.log.Info("hashing pool busy: refused", "err", err)
	w.Header().Set("Retry-After", "1")
	writeError(w, http.StatusServiceUnavailable, msgBusy)
}

func (n *Node) login(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var c Credentials
	if err := json.NewDecoder(r.Body).Decode(&c); err != nil {
		writeError(w, http.StatusBadRequest, "body must be {\"username\":…,\"password\":…}")
		return
	}
	ip := "unknown"
	if a, ok := ratelimit.ClientIP(r, n.trusted); ok {
		ip = a.String()
	}
	// Address first: a denied address consumes nothing of the user's limit.
	res, err := n.deps.IPLimiter.Allow(ctx, "ip:"+ip)
	if err == nil && res.Allowed {
		res, err = n.deps.UserLimiter.Allow(ctx, "user:"+c.Username)
	}
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, msgBusy)
		return
	}
	if !res.Allowed {
		n.c.loginLimited.Add(1)
		n.log.Info("login limited", "user", c.Username, "ip", ip, "limit", res.Limit.String())
		w.Header().Set("Retry-After", strconv.Itoa(int((res.RetryAfter+time.Second-1)/time.Second)))
		writeError(w, http.StatusTooManyRequests, msgBadLogin)
		return
	}
	u, found, err := n.deps.Users.Get(ctx, c.Username)
	if err != nil {
		n.log.Error("get user", "err", err)
		writeError(w, http.StatusServiceUnavailable, msgBusy)
		return
	}
	if !found {
		u.Hash = "" // the pool verifies against its dummy hash: same time
	}
	vctx, cancel := context.WithTimeout(ctx, n.hashWait)
	rehash, err := n.pool.Verify(vctx, c.Password, u.Hash)
	cancel()
	switch {
	case errors.Is(err, password.ErrBusy), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		n.busy(w, err)
		return
	case err != nil:
		if !errors.Is(err, password.ErrMismatch) {
			n.log.Error("unusable stored hash", "user", c.Username, "err", err)
		}
		n.c.loginFailed.Add(1)
		n.log.Info("login failed", "user", c.Username, "ip", ip)
		writeError(w, http.StatusUnauthorized, msgBadLogin)
		return
	}
	if rehash {
		n.migrate(ctx, c.Username, c.Password, u.Hash)
	}
	s, _ := session.FromContext(ctx)
	s.Rotate() // a new token at every login: no session fixation
	s.SetUser(c.Username)
	n.c.loginOK.Add(1)
	n.log.Info("login", "user", c.Username, "ip", ip)
	writeJSON(w, http.StatusOK, map[string]string{"user": c.Username, "node": n.name})
}

// migrate replaces old, the legacy hash pw just matched, with an argon2id
// hash: under a lock, so that nodes racing on the same user do the work once,
// and written with the lock's fencing token, so that a node whose lock
// expired while it was paused cannot overwrite a newer hash. A failed
// migration does not fail the login: the next login tries again.
func (n *Node) migrate(ctx context.Context, name, pw, old string) {
	lk, ok, err := n.locker.TryObtain(ctx, "migrate:"+name, n.lockTTL, lock.ObtainOptions{})
	if err != nil {
		n.log.Warn("migration lock failed", "user", name, "err", err)
		return
	}
	if !ok {
		n.c.migrationBusy.Add(1)
		n.log.Info("migration skipped: another node holds the lock", "user", name)
		return
	}
	defer func() {
		if err := lk.Release(context.WithoutCancel(ctx)); err != nil && !errors.Is(err, lock.ErrNotHeld) {
			n.log.Warn("migration unlock failed", "user", name, "err", err)
		}
	}()
	// Work under the lock's context (cancelled if the lock is lost) and the
	// request's.
	wctx, cancel := context.WithCancel(lk.Context())
	defer cancel()
	defer context.AfterFunc(ctx, cancel)()

	u, found, err := n.deps.Users.Get(wctx, name)
	if err != nil || !found {
		n.log.Warn("migration: user vanished or store failed", "user", name, "err", err)
		return
	}
	if u.Hash != old {
		n.c.migrationDone.Add(1)
		n.log.Info("migration skipped: already migrated", "user", name)
		return
	}
	// The login already answered for the CPU: wait for a slot rather than
	// give up on a full queue.
	hctx, hcancel := context.WithTimeout(wctx, n.hashWait)
	hash, err := retry.Do(hctx, n.busyRetry, func(ctx context.Context) (string, error) {
		h, err := n.pool.Hash(ctx, pw)
		if err != nil && !errors.Is(err, password.ErrBusy) {
			return h, retry.Permanent(err)
		}
		return h, err
	})
	hcancel()
	if err != nil {
		n.log.Warn("migration: no hashing slot", "user", name, "err", err)
		return
	}
	switch err := n.deps.Users.UpdateHash(wctx, name, hash, int64(lk.Token())); {
	case errors.Is(err, users.ErrStaleToken):
		n.c.migrationStale.Add(1)
		n.log.Warn("migration rejected: stale fencing token", "user", name, "token", lk.Token())
	case err != nil:
		n.log.Warn("migration write failed", "user", name, "err", err)
	default:
		n.c.migrated.Add(1)
		n.log.Info("migrated legacy hash to argon2id", "user", name, "token", lk.Token())
	}
}

func (n *Node) logout(w http.ResponseWriter, r *http.Request) {
	s, _ := session.FromContext(r.Context())
	user := s.User()
	if user == "" {
		writeError(w, http.StatusUnauthorized, "not logged in")
		return
	}
	s.Destroy()
	revoked := 0
	if r.URL.Query().Get("everywhere") == "1" {
		var err error
		if revoked, err = n.sessions.RevokeUser(r.Context(), user); err != nil {
			n.log.Error("revoke sessions", "user", user, "err", err)
			writeError(w, http.StatusServiceUnavailable, "session store unavailable")
			return
		}
	}
	n.log.Info("logout", "user", user, "revoked", revoked)
	writeJSON(w, http.StatusOK, map[string]any{"user": user, "revoked": revoked})
}

func (n *Node) me(w http.ResponseWriter, r *http.Request) {
	s, _ := session.FromContext(r.Context())
	if s.User() == "" {
		writeError(w, http.StatusUnauthorized, "not logged in")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"user": s.User(), "node": n.name})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
