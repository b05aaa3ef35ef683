// Command authflow is sinew's flagship example: a distributed authentication
// system built from sinew's packages. Auth nodes hash passwords with argon2id
// in a bounded pool, limit logins per user and per address in a shared
// limiter, keep sessions in a shared store, and migrate legacy bcrypt hashes
// under a lock with fencing tokens; a gateway routes by consistent hashing,
// health-checks the nodes, keeps a breaker per node and retries with jitter.
//
// Run the scripted demo (3 nodes and a gateway in this process, in-memory
// backends, about ten seconds):
//
//	go run ./examples/authflow
//
// The same demo with the state in Redis, standalone or Cluster:
//
//	go run ./examples/authflow -redis redis://localhost:6379
//	go run ./examples/authflow -redis 127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002
//
// Or as separate processes sharing Redis (see README.md):
//
//	go run ./examples/authflow -role node -redis redis://localhost:6379 -addr 127.0.0.1:8081
//	go run ./examples/authflow -role gateway -backends http://127.0.0.1:8081,http://127.0.0.1:8082
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sinew-dev/sinew/examples/authflow/internal/app"
	"github.com/sinew-dev/sinew/examples/authflow/password"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "authflow:", err)
		os.Exit(1)
	}
}

type flags struct {
	role, redisAddr, addr, name, backends, prefix, logLevel, trust string
	nodes                                                          int
	cluster, insecureCookies                                       bool
}

func run() error {
	var f flags
	flag.StringVar(&f.role, "role", "demo", "what to run: demo (nodes, gateway and the scripted scenario in this process), node or gateway")
	flag.StringVar(&f.redisAddr, "redis", "", "keep the state in Redis: redis://host:port for one server, or a comma-separated list of host:port for a Cluster (default: in-memory, demo only)")
	flag.BoolVar(&f.cluster, "cluster", false, "treat a single -redis address as a Cluster seed")
	flag.IntVar(&f.nodes, "nodes", 3, "demo: auth nodes to start; node: how many nodes share the limits (for the limiter's fallback share)")
	flag.StringVar(&f.addr, "addr", "", "node or gateway: listen address (default 127.0.0.1:8081 for a node, 127.0.0.1:8080 for the gateway)")
	flag.StringVar(&f.name, "name", "", "node: its name in logs and in the X-Authflow-Node header (default node@<addr>)")
	flag.StringVar(&f.backends, "backends", "http://127.0.0.1:8081,http://127.0.0.1:8082,http://127.0.0.1:8083", "gateway: comma-separated base URLs of the nodes")
	flag.StringVar(&f.prefix, "prefix", "authflow:", "node: Redis key prefix (the demo uses a fresh one per run)")
	flag.StringVar(&f.trust, "trust", "", "gateway: comma-separated CIDRs of proxies whose X-Forwarded-For is believed (default: none)")
	flag.BoolVar(&f.insecureCookies, "insecure-cookies", false, "node: drop the Secure flag of the session cookie (plain HTTP away from localhost)")
	flag.StringVar(&f.logLevel, "log", "", "log level on stderr: debug, info, warn, error (default warn for the demo, info otherwise)")
	flag.Parse()

	level := slog.LevelInfo
	if f.role == "demo" {
		level = slog.LevelWarn
	}
	if f.logLevel != "" {
		if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
			return fmt.Errorf("-log: %w", err)
		}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	switch f.role {
	case "demo":
		return runDemo(ctx, f, log)
	case "node":
		return runNode(ctx, f, log)
	case "gateway":
		return runGateway(ctx, f, log)
	}
	return fmt.Errorf("-role %q: want demo, node or gateway", f.role)
}

// redisClient connects to the -redis flag's server or Cluster.
func redisClient(ctx context.Context, f flags) (app.RedisClient, func() error, string, error) {
	var c interface {
		app.RedisClient
		Ping(context.Context) *redis.StatusCmd
		Close() error
	}
	var kind string
	if strings.Contains(f.redisAddr, ",") || f.cluster {
		var addrs []string
		for _, a := range strings.Split(f.redisAddr, ",") {
			addrs = append(addrs, strings.TrimPrefix(strings.TrimSpace(a), "redis://"))
		}
		c = redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ContextTimeoutEnabled: true})
		kind = "Redis Cluster " + strings.Join(addrs, ",")
	} else {
		u := f.redisAddr
		if !strings.Contains(u, "://") {
			u = "redis://" + u
		}
		opt, err := redis.ParseURL(u)
		if err != nil {
			return nil, nil, "", fmt.Errorf("-redis: %w", err)
		}
		opt.ContextTimeoutEnabled = true
		c = redis.NewClient(opt)
		kind = "Redis " + opt.Addr
	}
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		c.Close()
		return nil, nil, "", fmt.Errorf("redis %s: %w", f.redisAddr, err)
	}
	return c, c.Close, kind, nil
}

func runDemo(ctx context.Context, f flags, log *slog.Logger) error {
	cfg := app.Config{Nodes: f.nodes, Logger: log}
	if f.redisAddr != "" {
		c, closeFn, kind, err := redisClient(ctx, f)
		if err != nil {
			return err
		}
		defer closeFn()
		// A fresh namespace per run, so runs never see each other's users.
		cfg.Backends = app.Redis(c, kind, "authflow:demo:"+rand.Text()[:8]+":", f.nodes)
		defer cfg.Backends.Close() // before the client: deferred calls run last-in first-out
	}
	rep, err := app.RunDemo(ctx, cfg, os.Stdout)
	if err != nil {
		return err
	}
	if !rep.OK() {
		return errors.New("some checks failed (see the summary)")
	}
	return nil
}

func runNode(ctx context.Context, f flags, log *slog.Logger) error {
	if f.redisAddr == "" {
		return errors.New("-role node needs -redis: separate processes share their state through Redis")
	}
	if f.addr == "" {
		f.addr = "127.0.0.1:8081"
	}
	if f.name == "" {
		f.name = "node@" + f.addr
	}
	c, closeFn, kind, err := redisClient(ctx, f)
	if err != nil {
		return err
	}
	defer closeFn()
	b := app.Redis(c, kind, f.prefix, f.nodes)
	defer b.Close()
	n := app.NewNode(app.NodeOptions{
		Name: f.name, Deps: b.Node(), Pool: password.NewPool(password.PoolOptions{}),
		InsecureCookies: f.insecureCookies, Logger: log,
	})
	s, err := app.Listen(f.addr, n.Handler(), log)
	if err != nil {
		return err
	}
	log.Info("auth node listening", "node", f.name, "url", s.URL(), "backends", kind)
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.Shutdown(sctx)
}

func runGateway(ctx context.Context, f flags, log *slog.Logger) error {
	if f.addr == "" {
		f.addr = "127.0.0.1:8080"
	}
	var trusted []netip.Prefix
	for _, s := range strings.Split(f.trust, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return fmt.Errorf("-trust: %w", err)
		}
		trusted = append(trusted, p)
	}
	var nodes []string
	for _, u := range strings.Split(f.backends, ",") {
		if u = strings.TrimSpace(u); u != "" {
			nodes = append(nodes, strings.TrimSuffix(u, "/"))
		}
	}
	if len(nodes) == 0 {
		return errors.New("-backends: no node URLs")
	}
	g := app.NewGateway(app.GatewayOptions{Nodes: nodes, TrustedProxies: trusted, Logger: log})
	defer g.Close()
	s, err := app.Listen(f.addr, g, log)
	if err != nil {
		return err
	}
	log.Info("gateway listening", "url", s.URL(), "nodes", nodes)
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.Shutdown(sctx)
}
