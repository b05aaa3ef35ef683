package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// EnvAddr names the environment variable that points [Standalone] at an
// existing server instead of starting one.
const EnvAddr = "SINEW_REDIS_ADDR"

// EnvRequire names the environment variable that turns a missing
// redis-server from a skip into a test failure. The README test command
// and CI set it.
const EnvRequire = "SINEW_REQUIRE_REDIS"

var errNoServer = errors.New("redis-server not found in PATH")

// shared holds the servers shared by all tests of one test binary.
var shared struct {
	mu        sync.Mutex // protects single, singleErr, cluster, clustErr; held while starting them
	single    *Server
	singleErr error
	cluster   *ClusterNodes
	clustErr  error
}

// Main runs the tests of a package and then stops every redis-server the
// harness started. Use it from TestMain:
//
//	func TestMain(m *testing.M) { redistest.Main(m) }
//
// Servers are also killed by the kernel if the test binary dies, so none
// outlives the run even without Main; Main additionally removes their
// temporary directories.
func Main(m *testing.M) {
	code := m.Run()
	StopAll()
	os.Exit(code)
}

// procs records every process the harness started, for StopAll.
var procs struct {
	mu   sync.Mutex // protects dir, list; never held while calling out
	dir  string
	list []*Server
}

// StopAll stops every server the harness started in this process and
// forgets the shared ones. [Main] calls it after the tests.
func StopAll() {
	shared.mu.Lock()
	shared.single, shared.singleErr = nil, nil
	shared.cluster, shared.clustErr = nil, nil
	shared.mu.Unlock()
	procs.mu.Lock()
	list, dir := procs.list, procs.dir
	procs.list, procs.dir = nil, ""
	procs.mu.Unlock()
	for _, s := range list {
		s.stop()
	}
	if dir != "" {
		_ = os.RemoveAll(dir)
	}
}

func registerProcess(s *Server) {
	procs.mu.Lock()
	procs.list = append(procs.list, s)
	procs.mu.Unlock()
}

func harnessDir() string {
	procs.mu.Lock()
	defer procs.mu.Unlock()
	if procs.dir == "" {
		dir, err := os.MkdirTemp("", "sinew-redistest-")
		if err != nil {
			return os.TempDir()
		}
		procs.dir = dir
	}
	return procs.dir
}

// Available reports whether redis-server is on PATH (or [EnvAddr] is set).
func Available() bool {
	if os.Getenv(EnvAddr) != "" {
		return true
	}
	_, err := exec.LookPath("redis-server")
	return err == nil
}

// need skips t when Redis is missing, or fails it when [EnvRequire] is set.
func need(t testing.TB) {
	t.Helper()
	if Available() {
		return
	}
	if os.Getenv(EnvRequire) != "" {
		t.Fatalf("redistest: redis-server not found in PATH and %s is set: install Redis (apt-get install redis-server)", EnvRequire)
	}
	t.Skip("redistest: skipping, redis-server not found in PATH (install Redis, e.g. apt-get install redis-server, or set " + EnvAddr + ")")
}

// Standalone returns a client for the standalone Redis shared by the tests
// of this binary, started on first use on a free loopback port without
// persistence; or for the server at $SINEW_REDIS_ADDR when that is set.
// The client is closed when t ends. Tests share the server: keep every key
// under [Prefix] and never flush it. Fault tests use [StartServer] instead.
func Standalone(t testing.TB) *redis.Client {
	t.Helper()
	need(t)
	if addr := os.Getenv(EnvAddr); addr != "" {
		c := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { _ = c.Close() })
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := c.Ping(ctx).Err(); err != nil {
			t.Fatalf("redistest: %s=%s: %v", EnvAddr, addr, err)
		}
		return c
	}
	shared.mu.Lock()
	if shared.single == nil && shared.singleErr == nil {
		shared.single, shared.singleErr = startServer(ServerOptions{})
	}
	s, err := shared.single, shared.singleErr
	shared.mu.Unlock()
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	c := redis.NewClient(&redis.Options{Addr: s.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// StartServer starts a private redis-server for t, stopped when t ends.
// Use it for tests that kill, restart or pause the server.
func StartServer(t testing.TB, opts ServerOptions) *Server {
	t.Helper()
	need(t)
	s, err := startServer(opts)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(s.stop)
	return s
}

// Prefix returns a key prefix unique to t (and to this run), such as
// "sinewtest:TestLock_Expiry:3f2a9c1b:". It contains no hash tag braces.
func Prefix(t testing.TB) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			return r
		}
		return '_'
	}, t.Name())
	return fmt.Sprintf("sinewtest:%s:%s:", name, hex.EncodeToString(b[:]))
}
