package redistest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ServerOptions configures a private server started by [StartServer].
// The zero value starts a standalone master without persistence.
type ServerOptions struct {
	// ReplicaOf, when set, makes the new server a replica of that server and
	// waits until the replication link is up before returning.
	ReplicaOf *Server

	// Args are extra redis-server arguments, e.g. []string{"--maxmemory", "10mb"}.
	Args []string

	// cluster makes the server a cluster node (used by the cluster builder).
	cluster bool
}

// Server is a redis-server process owned by the test harness. Its methods
// are safe for concurrent use. A server started with [StartServer] is
// stopped when its test ends; the shared servers behind [Standalone] and
// [Cluster] are stopped by [Main].
type Server struct {
	port int
	dir  string
	id   string // cluster node ID, set when the cluster is formed
	opts ServerOptions

	mu      sync.Mutex // protects cmd, exited, paused
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd has been reaped
	paused  bool
	stopped bool
}

// startServer launches redis-server on a free loopback port and waits until
// it answers PING. It is the one place where processes are created.
func startServer(opts ServerOptions) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errNoServer
	}
	dir, err := os.MkdirTemp(harnessDir(), "node-")
	if err != nil {
		return nil, fmt.Errorf("redistest: %w", err)
	}
	var lastErr error
	for range 20 {
		port, err := freePort(opts.cluster)
		if err != nil {
			lastErr = err
			continue
		}
		s := &Server{port: port, dir: dir, opts: opts}
		if err := s.launch(bin); err != nil {
			lastErr = err
			continue
		}
		if opts.ReplicaOf != nil {
			if err := s.waitReplicaLink(); err != nil {
				s.stop()
				return nil, err
			}
		}
		registerProcess(s)
		return s, nil
	}
	return nil, fmt.Errorf("redistest: cannot start redis-server: %w", lastErr)
}

func (s *Server) args() []string {
	args := []string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--dir", s.dir,
		"--save", "",
		"--appendonly", "no",
		"--protected-mode", "no",
		"--daemonize", "no",
		"--logfile", filepath.Join(s.dir, "redis.log"),
		"--repl-diskless-sync-delay", "0",
	}
	if s.opts.cluster {
		args = append(args,
			"--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(s.dir, "nodes.conf"),
			"--cluster-node-timeout", "1000",
			"--cluster-replica-validity-factor", "0",
		)
	}
	if s.opts.ReplicaOf != nil {
		args = append(args, "--replicaof", "127.0.0.1", strconv.Itoa(s.opts.ReplicaOf.port))
	}
	return append(args, s.opts.Args...)
}

// launch starts the process and waits for it to answer PING.
func (s *Server) launch(bin string) error {
	cmd := exec.Command(bin, s.args()...)
	// If the test binary dies (panic, timeout, SIGKILL), the kernel kills
	// the server too: no orphan redis-server outlives a test run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redistest: start redis-server: %w", err)
	}
	exited := make(chan struct{})
	go func() { // reaper: owned by the Server, ends when the process exits
		_ = cmd.Wait()
		close(exited)
	}()
	s.mu.Lock()
	s.cmd, s.exited, s.paused = cmd, exited, false
	s.mu.Unlock()

	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
			return fmt.Errorf("redistest: redis-server on port %d exited at start: %s%s", s.port, stderr.String(), lastLines(log, 5))
		default:
		}
		if s.ping() == nil {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.kill()
	return fmt.Errorf("redistest: redis-server on port %d did not answer PING within 10s", s.port)
}

func (s *Server) ping() error {
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), DialTimeout: time.Second, ReadTimeout: time.Second, MaxRetries: -1, Protocol: 2})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}

// waitReplicaLink waits until the replica reports its link up and the
// master counts it as online: with diskless sync the master puts a replica
// online only at its first REPLCONF ACK, up to a second later, and until
// then WAIT does not count it.
func (s *Server) waitReplicaLink() error {
	c := s.rawClient()
	defer c.Close()
	m := s.opts.ReplicaOf.rawClient()
	defer m.Close()
	want := fmt.Sprintf("port=%d,state=online", s.port)
	return waitFor(30*time.Second, func(ctx context.Context) error {
		info, err := c.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "master_link_status:up") {
			return errors.New("replication link not up")
		}
		minfo, err := m.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(minfo, want) {
			return errors.New("master does not count the replica as online yet")
		}
		return nil
	})
}

// Addr returns the server's "127.0.0.1:port" address.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Port returns the server's TCP port.
func (s *Server) Port() int { return s.port }

// Client returns a new client for this server, closed when t ends. Its
// timeouts are short (1 s) so that fault tests fail fast.
func (s *Server) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := s.rawClient()
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func (s *Server) rawClient() *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr:         s.Addr(),
		DialTimeout:  time.Second,
		ReadTimeout:  time.Second,
		WriteTimeout: time.Second,
		Protocol:     2,
	})
}

// Kill stops the server with SIGKILL and waits until the process is gone.
// Its data is lost; [Server.Restart] brings it back empty on the same port.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	s.kill()
}

func (s *Server) kill() {
	s.mu.Lock()
	cmd, exited, paused := s.cmd, s.exited, s.paused
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	if paused {
		_ = cmd.Process.Signal(syscall.SIGCONT)
	}
	<-exited
}

// Restart starts a killed server again on the same port, with no data
// (cluster nodes keep their nodes.conf, so they rejoin their cluster). It
// kills the server first if it is still running.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.kill()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redistest: %v", errNoServer)
	}
	var lastErr error
	for range 50 { // the port may linger briefly in the kernel
		if lastErr = s.launch(bin); lastErr == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("redistest: restart: %v", lastErr)
}

// Pause stops the server with SIGSTOP: it still accepts TCP connections
// (the kernel completes the handshake) but never answers, like a
// black-holed or GC-paused server. The server is resumed automatically
// when t ends.
func (s *Server) Pause(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.paused {
		return
	}
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatalf("redistest: pause: %v", err)
	}
	s.paused = true
	t.Cleanup(s.resume)
}

// Resume continues a server stopped by [Server.Pause].
func (s *Server) Resume(t testing.TB) {
	t.Helper()
	s.resume()
}

func (s *Server) resume() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil && s.paused {
		_ = s.cmd.Process.Signal(syscall.SIGCONT)
		s.paused = false
	}
}

// stop kills the process for good and removes its directory.
func (s *Server) stop() {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	s.kill()
	_ = os.RemoveAll(s.dir)
}

// freePort finds a loopback port that is free, and for cluster nodes whose
// cluster bus port (port+10000) is free as well.
func freePort(cluster bool) (int, error) {
	if !cluster {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port, nil
	}
	for range 100 {
		port := 20000 + rand.IntN(25000)
		if portFree(port) && portFree(port+10000) {
			return port, nil
		}
	}
	return 0, errors.New("redistest: no free port pair for a cluster node")
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// waitFor polls fn until it returns nil or the timeout passes.
func waitFor(timeout time.Duration, fn func(ctx context.Context) error) error {
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = fn(ctx)
		cancel()
		if err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("redistest: timed out after %v: %w", timeout, err)
}

func lastLines(b []byte, n int) string {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
