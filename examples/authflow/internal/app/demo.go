package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/sinew-dev/sinew/examples/authflow/password"
	"github.com/sinew-dev/sinew/ratelimit"
)

// Config configures RunDemo. The zero value of every field means the default
// in its comment.
type Config struct {
	// Backends hold the shared state. Default Embedded(), which RunDemo
	// then closes; Backends passed in are the caller's to close.
	Backends *Backends
	// Nodes is the number of auth nodes. Default 3, at least 2.
	Nodes int
	// Params are the argon2id parameters. Default OWASP (m=19 MiB, t=2).
	// Tests use tiny ones.
	Params password.Params
	// BcryptCost is the cost of the seeded legacy hashes. Default
	// bcrypt.DefaultCost.
	BcryptCost int
	// Workers is the size of the hashing pool shared by the nodes of this
	// process. Default runtime.GOMAXPROCS(0).
	Workers int
	// PoolQueue is how many requests may wait for a hashing slot. Default
	// 4 × Workers per node: the in-process nodes share one pool, so it gets
	// the queue of all of them.
	PoolQueue int
	// Users is how many users register. Default 6, at least 4.
	Users int
	// LegacyUsers is how many users are seeded with bcrypt hashes.
	// Default 4.
	LegacyUsers int
	// Burst is how many attempts each credential-stuffing run makes.
	// Default 60.
	Burst int
	// HealthInterval is the gateway's health-check period. Default 200 ms.
	HealthInterval time.Duration
	// BreakerOpen is how long a node's breaker stays open. Default 1 s.
	BreakerOpen time.Duration
	// Logger receives the structured logs of nodes and gateway.
	// Default: discarded.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Backends == nil {
		c.Backends = Embedded()
	}
	if c.Nodes < 2 {
		c.Nodes = 3
	}
	if c.BcryptCost == 0 {
		c.BcryptCost = bcrypt.DefaultCost
	}
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if c.PoolQueue <= 0 {
		c.PoolQueue = 4 * c.Workers * c.Nodes
	}
	if c.Users < 4 {
		c.Users = 6
	}
	if c.LegacyUsers <= 0 {
		c.LegacyUsers = 4
	}
	if c.Burst <= 0 {
		c.Burst = 60
	}
	if c.HealthInterval <= 0 {
		c.HealthInterval = 200 * time.Millisecond
	}
	if c.BreakerOpen <= 0 {
		c.BreakerOpen = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// BurstReport is the outcome of one credential-stuffing run.
type BurstReport struct {
	Attempts  int            // requests sent
	Allowed   int            // admitted by the limits (answered 401 or 200)
	Denied    int            // refused by a limit (429)
	Succeeded int            // logged in (200): must be 0
	Errors    int            // 5xx or transport errors
	PerNode   map[string]int // attempts by node name
	Limit     int            // the binding limit's burst
	MaxLegal  int            // most admissions the limits allow over the run's duration
}

// OverloadReport is the outcome of more registrations at once than the
// hashing pool holds.
type OverloadReport struct {
	Attempts int // registrations sent at once
	Created  int // 201
	Refused  int // 503: the pool's queue was full
	Other    int // anything else: must be 0
}

// FailoverReport is the outcome of killing and restarting a node.
type FailoverReport struct {
	Killed           string        // the node's name
	Requests         int           // client requests during the phase
	ErrorsInWindow   int           // failed requests (not 200) between the kill and the gateway noticing it
	ErrorsAfter      int           // failed requests at any other time (before the kill, after detection, after the restart): must be 0
	Detected         time.Duration // kill → first breaker-open or node-down event
	BreakerOpened    bool          // the killed node's breaker opened
	ServedBefore     map[string]int
	ServedWhileDown  map[string]int
	ServedAfter      map[string]int
	Recovered        bool          // node back up with its breaker closed
	Recovery         time.Duration // restart → recovered
	KilledServedDown int           // requests the dead node answered while down: must be 0
	Events           []string
}

// MigrationReport is the outcome of the legacy-hash migration.
type MigrationReport struct {
	Users         int            // legacy users seeded
	Logins        int            // concurrent logins sent (one per node per user)
	LoginsOK      int            // of which succeeded
	Migrations    map[string]int // users.User.Migrations after the race, by user
	StillLegacy   int            // users whose hash is still bcrypt: must be 0
	Skipped       int            // nodes that found the lock held or the hash already replaced
	AfterLoginsOK int            // later logins with the new argon2id hash
	StaleRejected bool           // a paused writer's stale token was refused
	PausedUser    int            // Migrations of the paused-writer user: must be 1
}

// Report is what RunDemo observed; the integration test asserts on it.
type Report struct {
	Backends   string
	Nodes      int
	Registered int
	Overload   OverloadReport
	// Sessions.
	CookieFlags         string // attributes of the session cookie
	MeAfterLogin        int    // status of GET /me after login
	OldTokenAfterRotate int    // status of GET /me with the pre-login-again token
	MeAfterLogout       int    // status of GET /me with the logged-out cookie
	SameFailure         bool   // wrong password and unknown user got the same answer
	UserBurst           BurstReport
	IPBurst             BurstReport
	Failover            FailoverReport
	Migration           MigrationReport
	Elapsed             time.Duration
}

// eventLog collects gateway events and wakes waiters on each.
type eventLog struct {
	mu      sync.Mutex // protects list, changed
	list    []Event
	changed chan struct{}
}

func newEventLog() *eventLog { return &eventLog{changed: make(chan struct{})} }

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	l.list = append(l.list, e)
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

// find returns the first event matching f, and a channel closed on the next
// event.
func (l *eventLog) find(f func(Event) bool) (Event, bool, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.list {
		if f(e) {
			return e, true, l.changed
		}
	}
	return Event{}, false, l.changed
}

// cluster is the running system of the demo.
type cluster struct {
	cfg     Config
	pool    *password.Pool
	nodes   []*Node
	servers []*Server
	gw      *Gateway
	gwSrv   *Server
	events  *eventLog
	hc      *http.Client
	ipSeq   atomic.Int32
}

func (c *cluster) nodeName(url string) string {
	for i, s := range c.servers {
		if s != nil && s.URL() == url {
			return c.nodes[i].Name()
		}
	}
	return url
}

func (c *cluster) client(prefix string) *demoClient {
	n := c.ipSeq.Add(1)
	return &demoClient{hc: c.hc, ip: fmt.Sprintf("%s.%d.%d", prefix, n/250, n%250+1)}
}

func (c *cluster) close() {
	if c.gwSrv != nil {
		c.gwSrv.Close()
	}
	if c.gw != nil {
		c.gw.Close()
	}
	for _, s := range c.servers {
		if s != nil {
			s.Close()
		}
	}
	c.hc.CloseIdleConnections()
}

// RunDemo starts cfg.Nodes auth nodes and a gateway on loopback, runs the
// scripted scenario against them, writes a readable account to out and
// returns what it observed. It stops everything it started before
// returning. An error means the scenario could not run (a port, a backend);
// outcomes that contradict the design are reported, not returned as errors.
func RunDemo(ctx context.Context, cfg Config, out io.Writer) (rep Report, err error) {
	start := time.Now()
	if cfg.Backends == nil {
		cfg.Backends = Embedded()
		defer cfg.Backends.Close()
	}
	cfg = cfg.withDefaults()
	p := func(format string, a ...any) { fmt.Fprintf(out, format+"\n", a...) }
	c := &cluster{cfg: cfg, events: newEventLog(), hc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}}
	defer c.close()

	c.pool = password.NewPool(password.PoolOptions{Workers: cfg.Workers, Queue: cfg.PoolQueue, Params: cfg.Params})
	pp := c.pool.Params()
	rep.Backends, rep.Nodes = cfg.Backends.Kind(), cfg.Nodes
	p("authflow demo: %d auth nodes + 1 gateway on loopback, backends %s", cfg.Nodes, rep.Backends)
	p("  argon2id m=%d KiB t=%d p=%d in a pool of %d workers + %d waiting; login limits %v per user, %v per address", pp.MemoryKiB, pp.Iterations, pp.Parallelism, cfg.Workers, cfg.PoolQueue, UserLimits, IPLimits)
	urls := make([]string, cfg.Nodes)
	for i := range cfg.Nodes {
		n := NewNode(NodeOptions{Name: fmt.Sprintf("node-%d", i+1), Deps: cfg.Backends.Node(), Pool: c.pool, Logger: cfg.Logger})
		s, err := Listen("127.0.0.1:0", n.Handler(), cfg.Logger)
		if err != nil {
			return rep, err
		}
		c.nodes, c.servers, urls[i] = append(c.nodes, n), append(c.servers, s), s.URL()
		p("  %s  %s", n.Name(), s.URL())
	}
	c.gw = NewGateway(GatewayOptions{
		Nodes:          urls,
		TrustedProxies: Loopback, // the demo's clients play the edge proxy
		HealthInterval: cfg.HealthInterval,
		BreakerOpen:    cfg.BreakerOpen,
		OnEvent:        c.events.add,
		Logger:         cfg.Logger,
	})
	if c.gwSrv, err = Listen("127.0.0.1:0", c.gw, cfg.Logger); err != nil {
		return rep, err
	}
	p("  gateway %s", c.gwSrv.URL())

	names := []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"}
	for len(names) < cfg.Users {
		names = append(names, fmt.Sprintf("user%d", len(names)+1))
	}
	names = names[:cfg.Users]
	pw := func(name string) string { return "correct horse battery " + name }

	// 1. Register.
	p("\n[1/6] register %d users through the gateway (routed by user name on the hash ring)", len(names))
	clients := map[string]*demoClient{}
	for _, name := range names {
		cl := c.client("10.1")
		clients[name] = cl
		a := cl.do(ctx, "POST", c.gwSrv.URL()+"/register", Credentials{name, pw(name)})
		if a.err != nil || a.status != http.StatusCreated {
			return rep, fmt.Errorf("register %s: %d %v", name, a.status, a.err)
		}
		rep.Registered++
		p("  %-6s → %s (ring owner %s)", name, a.node, c.nodeName(c.gw.Owner("user:"+name)))
	}
	a := c.client("10.1").do(ctx, "POST", c.gwSrv.URL()+"/register", Credentials{"alice", "another password"})
	p("  alice again → %d %q", a.status, a.msg)
	rep.Overload = c.overload(ctx)
	o := rep.Overload
	p("  overload: %d registrations at once, straight to the nodes → %d created, %d refused at once with 503 + Retry-After, %d other",
		o.Attempts, o.Created, o.Refused, o.Other)

	// 2. Sessions.
	p("\n[2/6] sessions: rotation on login, revocation on logout, generic failures")
	alice := clients["alice"]
	a = alice.do(ctx, "POST", c.gwSrv.URL()+"/login", Credentials{"alice", pw("alice")})
	if a.cookie != nil {
		var f []string
		if a.cookie.HttpOnly {
			f = append(f, "HttpOnly")
		}
		if a.cookie.Secure {
			f = append(f, "Secure")
		}
		switch a.cookie.SameSite {
		case http.SameSiteLaxMode:
			f = append(f, "SameSite=Lax")
		case http.SameSiteStrictMode:
			f = append(f, "SameSite=Strict")
		}
		rep.CookieFlags = strings.Join(f, " ")
	}
	p("  login alice → %d on %s, cookie %s", a.status, a.node, rep.CookieFlags)
	a = alice.do(ctx, "GET", c.gwSrv.URL()+"/me", nil)
	rep.MeAfterLogin = a.status
	p("  GET /me → %d", a.status)
	old := alice.token
	a = alice.do(ctx, "POST", c.gwSrv.URL()+"/login", Credentials{"alice", pw("alice")})
	stale := &demoClient{hc: c.hc, ip: alice.ip, token: old}
	rep.OldTokenAfterRotate = stale.do(ctx, "GET", c.gwSrv.URL()+"/me", nil).status
	p("  login again → %d, token rotated: %v; GET /me with the old token → %d", a.status, old != alice.token, rep.OldTokenAfterRotate)
	loggedOut := &demoClient{hc: c.hc, ip: alice.ip, token: alice.token}
	a = alice.do(ctx, "POST", c.gwSrv.URL()+"/logout", nil)
	rep.MeAfterLogout = loggedOut.do(ctx, "GET", c.gwSrv.URL()+"/me", nil).status
	p("  logout → %d; GET /me with the logged-out cookie → %d", a.status, rep.MeAfterLogout)
	var wrong, unknown answer
	var wrongT, unknownT time.Duration
	for i := range 3 {
		wrong = c.client("10.1").do(ctx, "POST", c.gwSrv.URL()+"/login", Credentials{"bob", "not bob's password"})
		unknown = c.client("10.1").do(ctx, "POST", c.gwSrv.URL()+"/login", Credentials{fmt.Sprintf("mallory%d", i), "whatever"})
		wrongT += wrong.elapsed
		unknownT += unknown.elapsed
	}
	rep.SameFailure = wrong.status == unknown.status && wrong.msg == unknown.msg
	p("  wrong password  → %d %q (mean %v)", wrong.status, wrong.msg, (wrongT / 3).Round(100*time.Microsecond))
	p("  unknown user    → %d %q (mean %v, verified against a dummy hash)", unknown.status, unknown.msg, (unknownT / 3).Round(100*time.Microsecond))

	// 3. Credential stuffing.
	p("\n[3/6] credential stuffing, sent straight to every node in turn: the limits live in the shared backend")
	victim := "carol"
	rep.UserBurst = c.burst(ctx, UserLimits, func(i int) (Credentials, string) {
		return Credentials{victim, fmt.Sprintf("leaked-%d", i)}, fmt.Sprintf("203.0.113.%d", i%50+1)
	})
	b := rep.UserBurst
	p("  %d guesses at %q from 50 addresses over %s:", b.Attempts, victim, perNode(b.PerNode))
	p("    admitted %d (limit %d per user; at most %d possible), refused %d with 429, logged in %d, errors %d", b.Allowed, b.Limit, b.MaxLegal, b.Denied, b.Succeeded, b.Errors)
	rep.IPBurst = c.burst(ctx, IPLimits, func(i int) (Credentials, string) {
		return Credentials{fmt.Sprintf("leaked-user-%d", i), "123456"}, "198.51.100.66"
	})
	b = rep.IPBurst
	p("  %d guesses at %d user names from 198.51.100.66 over %s:", b.Attempts, b.Attempts, perNode(b.PerNode))
	p("    admitted %d (limit %d per address; at most %d possible), refused %d with 429, logged in %d, errors %d", b.Allowed, b.Limit, b.MaxLegal, b.Denied, b.Succeeded, b.Errors)

	// 4. Failover.
	p("\n[4/6] kill a node mid-traffic, then restart it")
	var live []*demoClient
	for _, name := range names {
		if name == victim {
			continue // locked out by the attack, as a real victim would be
		}
		cl := clients[name]
		if a := cl.do(ctx, "POST", c.gwSrv.URL()+"/login", Credentials{name, pw(name)}); a.status != http.StatusOK {
			return rep, fmt.Errorf("login %s: %d %v", name, a.status, a.err)
		}
		live = append(live, cl)
	}
	if rep.Failover, err = c.failover(ctx, live, p); err != nil {
		return rep, err
	}

	// 5 and 6. Migration.
	if rep.Migration, err = c.migration(ctx, p); err != nil {
		return rep, err
	}

	rep.Elapsed = time.Since(start)
	c.summary(rep, p)
	return rep, nil
}

func perNode(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// overload sends twice the pool's capacity of registrations at once,
// straight to the nodes.
func (c *cluster) overload(ctx context.Context) OverloadReport {
	r := OverloadReport{Attempts: 2 * (c.cfg.Workers + c.cfg.PoolQueue)}
	results := make([]answer, r.Attempts)
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i := range r.Attempts {
		cl := c.client("10.2")
		url := c.servers[i%len(c.servers)].URL() + "/register"
		wg.Go(func() {
			<-gate
			results[i] = cl.do(ctx, "POST", url, Credentials{fmt.Sprintf("crowd%d", i), "a long enough password"})
		})
	}
	close(gate)
	wg.Wait()
	for _, a := range results {
		switch {
		case a.err == nil && a.status == http.StatusCreated:
			r.Created++
		case a.err == nil && a.status == http.StatusServiceUnavailable:
			r.Refused++
		default:
			r.Other++
		}
	}
	return r
}

// burst sends cfg.Burst login attempts, round-robin straight to the nodes,
// six at a time.
func (c *cluster) burst(ctx context.Context, limits []ratelimit.Limit, attempt func(i int) (Credentials, string)) BurstReport {
	lim := limits[0]
	if lim.Burst == 0 {
		lim.Burst = lim.Rate
	}
	r := BurstReport{Attempts: c.cfg.Burst, PerNode: map[string]int{}, Limit: lim.Burst}
	var mu sync.Mutex
	var next atomic.Int32
	start := time.Now()
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= c.cfg.Burst {
					return
				}
				cred, ip := attempt(i)
				node := c.servers[i%len(c.servers)]
				a := (&demoClient{hc: c.hc, ip: ip}).do(ctx, "POST", node.URL()+"/login", cred)
				mu.Lock()
				r.PerNode[c.nodes[i%len(c.nodes)].Name()]++
				switch {
				case a.err != nil || a.status >= 500:
					r.Errors++
				case a.status == http.StatusTooManyRequests:
					r.Denied++
				case a.status == http.StatusOK:
					r.Allowed++
					r.Succeeded++
				default:
					r.Allowed++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	// GCRA admits at most Burst + Rate×T/Period over a span T.
	el := time.Since(start)
	r.MaxLegal = lim.Burst + int(float64(lim.Rate)*el.Seconds()/lim.Period.Seconds())
	return r
}
