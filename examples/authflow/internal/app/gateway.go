package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sinew-dev/sinew/balancer"
	"github.com/sinew-dev/sinew/breaker"
	"github.com/sinew-dev/sinew/ratelimit"
	"github.com/sinew-dev/sinew/retry"
	"github.com/sinew-dev/sinew/session"
)

// GatewayOptions configure a Gateway. Nodes is required; every other zero
// field means the default in its comment.
type GatewayOptions struct {
	// Nodes are the base URLs of the auth nodes, e.g. "http://127.0.0.1:8081".
	// A URL is also the node's name on the hash ring, so every gateway given
	// the same URLs routes the same way.
	Nodes []string
	// TrustedProxies are the peers whose X-Forwarded-For header names the
	// client. Default none: the client is the connection's peer.
	TrustedProxies []netip.Prefix
	// HealthInterval is the period of the active health checks (GET /health
	// on every node). Default 1 s.
	HealthInterval time.Duration
	// HealthTimeout bounds one health check. Default 500 ms.
	HealthTimeout time.Duration
	// BreakerFailures is how many consecutive failed requests (transport
	// errors and 5xx answers) open a node's breaker. Default 2.
	BreakerFailures int
	// BreakerOpen is how long an open breaker keeps its node out before it
	// lets a probe request through. Default 2 s.
	BreakerOpen time.Duration
	// MaxAttempts is the most attempts per client request. Only requests
	// that cannot have reached a node (the connection was refused) and
	// idempotent ones (GET, HEAD) are retried. Default 4.
	MaxAttempts int
	// AttemptTimeout bounds one attempt. Default 5 s.
	AttemptTimeout time.Duration
	// OnEvent, if set, is called for every health or breaker change, on the
	// goroutine that noticed it (the health checker or a request's), with no
	// lock held. It must be safe for concurrent use.
	OnEvent func(Event)
	// Logger receives structured logs. Default slog.Default().
	Logger *slog.Logger
}

// EventKind says what a gateway noticed about a node.
type EventKind int

// The kinds of Event.
const (
	// NodeDown: a health check failed; the node is out of rotation.
	NodeDown EventKind = iota + 1
	// NodeUp: a health check passed again; the node is back in rotation.
	NodeUp
	// BreakerOpen: the node's breaker opened after consecutive failures.
	BreakerOpen
	// BreakerClosed: the node's breaker closed after a successful probe.
	BreakerClosed
)

// String returns the kind's name.
func (k EventKind) String() string {
	switch k {
	case NodeDown:
		return "node-down"
	case NodeUp:
		return "node-up"
	case BreakerOpen:
		return "breaker-open"
	case BreakerClosed:
		return "breaker-closed"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is a change in a node's health or breaker.
type Event struct {
	Kind EventKind
	Node string // the node's URL
	At   time.Time
}

type nodeState struct {
	url     string
	breaker *breaker.Breaker
	open    atomic.Bool // last breaker state seen: open (or half-open)
	down    atomic.Bool // marked down by the health checker
	served  atomic.Int64
	failed  atomic.Int64
}

// Gateway is a reverse proxy in front of the auth nodes. It routes each
// request by consistent hashing on its user name (register, login) or its
// session cookie (everything else), so one user keeps hitting one node;
// it keeps a circuit breaker per node and health-checks them, and when a
// key's owner is down or ejected the balancer sends the request to the
// least-loaded healthy node instead. Failed attempts are retried with full
// jitter within a retry budget.
//
// A Gateway is safe for concurrent use. It starts one goroutine, the health
// checker, which Close stops and waits for.
type Gateway struct {
	bal      *balancer.Balancer[string]
	nodes    map[string]*nodeState
	order    []string
	client   *http.Client
	policy   *retry.Policy
	trusted  []netip.Prefix
	interval time.Duration
	hcTime   time.Duration
	attempt  time.Duration
	onEvent  func(Event)
	log      *slog.Logger

	retries  atomic.Int64
	failures atomic.Int64 // 5xx answers sent to clients

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// NewGateway returns a gateway over the nodes and starts its health checker.
// It panics if Nodes is empty or holds a duplicate.
func NewGateway(o GatewayOptions) *Gateway {
	if len(o.Nodes) == 0 {
		panic("app: NewGateway needs nodes")
	}
	if o.HealthInterval <= 0 {
		o.HealthInterval = time.Second
	}
	if o.HealthTimeout <= 0 {
		o.HealthTimeout = 500 * time.Millisecond
	}
	if o.BreakerFailures <= 0 {
		o.BreakerFailures = 2
	}
	if o.BreakerOpen <= 0 {
		o.BreakerOpen = 2 * time.Second
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 4
	}
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	g := &Gateway{
		bal: balancer.New[string](balancer.ConsistentHash, balancer.Options[string]{
			// Never send traffic to a node known to be down, however few remain.
			PanicThreshold: -1,
			Breaker: &breaker.Options{
				ConsecutiveFailures: o.BreakerFailures,
				OpenDuration:        o.BreakerOpen,
				MaxOpenDuration:     4 * o.BreakerOpen,
				Jitter:              0.2,
			},
		}),
		nodes: make(map[string]*nodeState, len(o.Nodes)),
		order: append([]string(nil), o.Nodes...),
		client: &http.Client{
			Transport: &http.Transport{
				DialContext:         (&net.Dialer{Timeout: time.Second}).DialContext,
				MaxIdleConnsPerHost: 64,
				IdleConnTimeout:     30 * time.Second,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		trusted:  o.TrustedProxies,
		interval: o.HealthInterval,
		hcTime:   o.HealthTimeout,
		attempt:  o.AttemptTimeout,
		onEvent:  o.OnEvent,
		log:      o.Logger.With("component", "gateway"),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	g.policy = retry.New(retry.Options{
		MaxAttempts: o.MaxAttempts,
		Backoff:     retry.FullJitter(5*time.Millisecond, 200*time.Millisecond),
		Budget:      retry.NewBudget(retry.BudgetOptions{}),
		OnRetry: func(attempt int, err error, d time.Duration) {
			g.retries.Add(1)
			g.log.Debug("retrying", "attempt", attempt, "err", err, "wait", d)
		},
	})
	members := make([]balancer.Member[string], len(o.Nodes))
	for i, u := range o.Nodes {
		members[i] = balancer.Member[string]{Backend: u, Weight: 1}
	}
	if err := g.bal.Set(members); err != nil {
		panic("app: NewGateway: " + err.Error())
	}
	for _, st := range g.bal.Members() {
		g.nodes[st.Backend] = &nodeState{url: st.Backend, breaker: st.Breaker}
	}
	go g.healthLoop()
	return g
}

// Close stops the health checker, waits for it, and closes idle
// connections to the nodes.
func (g *Gateway) Close() {
	g.once.Do(func() { close(g.stop) })
	<-g.done
	g.client.CloseIdleConnections()
}

// Owner returns the node that owns key ("user:<name>" or "session:<token>")
// on the hash ring, whatever its health.
func (g *Gateway) Owner(key string) string {
	n, _ := g.bal.Owner(key)
	return n
}

// GatewayStats count what a gateway did since it was created.
type GatewayStats struct {
	Served  map[string]int64 // requests answered, by node URL
	Failed  map[string]int64 // failed attempts, by node URL
	Retries int64            // attempts retried
	Errors  int64            // 5xx answers sent to clients by the gateway itself
}

// Stats returns the gateway's counters.
func (g *Gateway) Stats() GatewayStats {
	s := GatewayStats{Served: map[string]int64{}, Failed: map[string]int64{}, Retries: g.retries.Load(), Errors: g.failures.Load()}
	for u, st := range g.nodes {
		s.Served[u] = st.served.Load()
		s.Failed[u] = st.failed.Load()
	}
	return s
}

// NodeStatus is a node as a gateway sees it.
type NodeStatus struct {
	URL      string `json:"url"`
	Down     bool   `json:"down"`
	Breaker  string `json:"breaker"`
	InFlight int    `json:"in_flight"`
	Served   int64  `json:"served"`
}

// Status returns the state of every node, in the order given to NewGateway.
func (g *Gateway) Status() []NodeStatus {
	byURL := map[string]balancer.Status[string]{}
	for _, st := range g.bal.Members() {
		byURL[st.Backend] = st
	}
	out := make([]NodeStatus, 0, len(g.order))
	for _, u := range g.order {
		st := byURL[u]
		out = append(out, NodeStatus{URL: u, Down: st.Down, Breaker: st.Breaker.State().String(), InFlight: st.InFlight, Served: g.nodes[u].served.Load()})
	}
	return out
}

func (g *Gateway) emit(kind EventKind, node string) {
	g.log.Info("node event", "event", kind.String(), "node", node)
	if g.onEvent != nil {
		g.onEvent(Event{Kind: kind, Node: node, At: time.Now()})
	}
}

// observe reports a change of st's breaker since it was last looked at.
func (g *Gateway) observe(st *nodeState) {
	switch s := st.breaker.State(); {
	case s == breaker.Open && st.open.CompareAndSwap(false, true):
		g.emit(BreakerOpen, st.url)
	case s == breaker.Closed && st.open.CompareAndSwap(true, false):
		g.emit(BreakerClosed, st.url)
	}
}

func (g *Gateway) healthLoop() {
	defer close(g.done)
	t := time.NewTicker(g.interval)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
			g.checkAll()
		}
	}
}

// checkAll health-checks every node in parallel and waits for all.
func (g *Gateway) checkAll() {
	var wg sync.WaitGroup
	for _, st := range g.nodes {
		wg.Go(func() {
			ok := g.check(st.url)
			switch {
			case !ok && st.down.CompareAndSwap(false, true):
				g.bal.MarkDown(st.url)
				g.emit(NodeDown, st.url)
			case ok && st.down.CompareAndSwap(true, false):
				g.bal.MarkUp(st.url)
				g.emit(NodeUp, st.url)
			}
			g.observe(st)
		})
	}
	wg.Wait()
}

func (g *Gateway) check(url string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), g.hcTime)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/health", nil)
	if err != nil {
		return false
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// routingKey is the request's key on the ring: the user name of a register
// or login, else the session cookie, else "" (any node).
func routingKey(r *http.Request, body []byte) string {
	if r.Method == http.MethodPost && (r.URL.Path == "/login" || r.URL.Path == "/register") {
		var c Credentials
		if json.Unmarshal(body, &c) == nil && c.Username != "" {
			return "user:" + c.Username
		}
	}
	if c, err := r.Cookie(session.DefaultCookieName); err == nil && c.Value != "" {
		return "session:" + c.Value
	}
	return ""
}

// isDial reports whether err happened while connecting: the request never
// reached the node, so it is safe to send again whatever its method.
// isDial reports whether err means the node never received the request, so
// that even a non-idempotent request may be sent to another node: the
// connection was refused, or the node had closed the kept-alive connection
// while it was idle (net/http's unexported errServerClosedIdle, matched by
// its text), which happens when a node dies between two requests.
func isDial(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return strings.Contains(err.Error(), "http: server closed idle connection")
}

type statusError int

func (e statusError) Error() string { return fmt.Sprintf("node answered %d", int(e)) }

// ServeHTTP forwards r to a node.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/gateway/status" && r.Method == http.MethodGet {
		writeJSON(w, http.StatusOK, g.Status())
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4<<10))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "body too large")
		return
	}
	key := routingKey(r, body)
	client := "unknown"
	if a, ok := ratelimit.ClientIP(r, g.trusted); ok {
		client = a.String()
	}
	idempotent := r.Method == http.MethodGet || r.Method == http.MethodHead
	var node *nodeState
	resp, err := retry.Do(r.Context(), g.policy, func(ctx context.Context) (*http.Response, error) {
		var p balancer.Pick[string]
		var err error
		if key == "" {
			p, err = g.bal.Pick()
		} else {
			p, err = g.bal.PickKey(key)
		}
		if err != nil {
			return nil, err // every node out: wait and try again
		}
		st := g.nodes[p.Backend]
		actx, cancel := context.WithTimeout(ctx, g.attempt)
		req, err := http.NewRequestWithContext(actx, r.Method, p.Backend+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			cancel()
			p.Done(nil, 0)
			return nil, retry.Permanent(err)
		}
		for k, v := range r.Header {
			req.Header[k] = v
		}
		for _, h := range hopHeaders {
			req.Header.Del(h)
		}
		req.Header.Set("X-Forwarded-For", client)
		start := time.Now()
		resp, err := g.client.Do(req)
		if err == nil && resp.StatusCode >= 500 {
			if idempotent {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				err = statusError(resp.StatusCode)
				resp = nil
			} else {
				// Not retried, but it still counts against the node.
				p.Done(statusError(resp.StatusCode), time.Since(start))
				st.failed.Add(1)
				g.observe(st)
				node = st
				return withCancel(resp, cancel), nil
			}
		}
		p.Done(err, time.Since(start))
		g.observe(st)
		if err != nil {
			cancel()
			st.failed.Add(1)
			g.log.Debug("attempt failed", "node", p.Backend, "err", err)
			if isDial(err) || idempotent {
				return nil, err
			}
			return nil, retry.Permanent(err)
		}
		node = st
		return withCancel(resp, cancel), nil
	})
	if err != nil {
		g.failures.Add(1)
		g.log.Warn("request failed", "path", r.URL.Path, "err", err)
		writeError(w, http.StatusBadGateway, "no auth node could answer")
		return
	}
	defer resp.Body.Close()
	node.served.Add(1)
	if resp.StatusCode >= 500 {
		g.failures.Add(1)
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	for _, h := range hopHeaders {
		w.Header().Del(h)
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// withCancel ties cancel to the closing of resp's body.
func withCancel(resp *http.Response, cancel context.CancelFunc) *http.Response {
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp
}

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
