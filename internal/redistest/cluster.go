package redistest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ClusterNodes is a real Redis Cluster of 3 masters with 1 replica each,
// on loopback ports. Its methods are safe for concurrent use.
type ClusterNodes struct {
	nodes []*Server // all six, masters first at creation
}

// formTimeout bounds each phase of forming a cluster. It is generous: on a
// loaded 2-core machine gossip and replica syncs can take tens of seconds.
const formTimeout = 120 * time.Second

// slotRanges splits the 16384 slots over three masters.
var slotRanges = [3][2]int{{0, 5460}, {5461, 10922}, {10923, 16383}}

// Cluster returns a client for the Redis Cluster shared by the tests of
// this binary, created on first use. It is returned only once every node
// reports cluster_state:ok and all nodes agree on the slot map. The client
// is closed when t ends. Keep keys under [Prefix]; tests that fail nodes
// over or kill them use [StartCluster] instead.
func Cluster(t testing.TB) *redis.ClusterClient {
	t.Helper()
	need(t)
	shared.mu.Lock()
	if shared.cluster == nil && shared.clustErr == nil {
		// Hold the lock while building: a second caller must wait for the
		// first cluster rather than build another one.
		shared.cluster, shared.clustErr = startCluster()
	}
	c, err := shared.cluster, shared.clustErr
	shared.mu.Unlock()
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	return c.Client(t)
}

// StartCluster creates a private Redis Cluster for t, stopped when t ends.
func StartCluster(t testing.TB) *ClusterNodes {
	t.Helper()
	need(t)
	c, err := startCluster()
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(func() {
		for _, s := range c.nodes {
			s.stop()
		}
	})
	return c
}

func startCluster() (*ClusterNodes, error) {
	c := &ClusterNodes{nodes: make([]*Server, 6)}
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range c.nodes {
		wg.Go(func() { c.nodes[i], errs[i] = startServer(ServerOptions{cluster: true}) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		c.stopNodes()
		return nil, err
	}
	if err := c.form(); err != nil {
		c.stopNodes()
		return nil, err
	}
	return c, nil
}

func (c *ClusterNodes) stopNodes() {
	for _, s := range c.nodes {
		if s != nil {
			s.stop()
		}
	}
}

// form assigns slots, joins the nodes and attaches one replica per master.
func (c *ClusterNodes) form() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*formTimeout)
	defer cancel()
	clients := make([]*redis.Client, len(c.nodes))
	for i, s := range c.nodes {
		clients[i] = s.rawClient()
		defer clients[i].Close()
	}
	ids := make([]string, len(c.nodes))
	for i, cl := range clients {
		id, err := cl.ClusterMyID(ctx).Result()
		if err != nil {
			return fmt.Errorf("redistest: cluster myid: %w", err)
		}
		ids[i] = id
		c.nodes[i].id = id
	}
	for i, r := range slotRanges {
		if err := clients[i].ClusterAddSlotsRange(ctx, r[0], r[1]).Err(); err != nil {
			return fmt.Errorf("redistest: cluster addslotsrange: %w", err)
		}
	}
	meet := func(ctx context.Context) error {
		for _, s := range c.nodes[1:] {
			if err := clients[0].ClusterMeet(ctx, "127.0.0.1", strconv.Itoa(s.port)).Err(); err != nil {
				return fmt.Errorf("redistest: cluster meet: %w", err)
			}
		}
		return nil
	}
	if err := meet(ctx); err != nil {
		return err
	}
	// Every node must know every other before replicas can attach. On a
	// loaded machine the gossip can be slow, so MEET is repeated (it is
	// idempotent) while waiting.
	polls := 0
	err := waitFor(formTimeout, func(ctx context.Context) error {
		if polls++; polls%50 == 0 {
			if err := meet(ctx); err != nil {
				return err
			}
		}
		for i, cl := range clients {
			nodes, err := cl.ClusterNodes(ctx).Result()
			if err != nil {
				return err
			}
			for _, id := range ids {
				if !strings.Contains(nodes, id) || strings.Contains(nodes, "handshake") {
					return fmt.Errorf("node %d does not know %s yet", i, id)
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := range 3 {
		if err := clients[3+i].ClusterReplicate(ctx, ids[i]).Err(); err != nil {
			return fmt.Errorf("redistest: cluster replicate: %w", err)
		}
	}
	return c.waitStable(formTimeout, true)
}

// waitStable waits until every live node reports cluster_state:ok, all agree
// on the slot map, and (when replicas is true) every replica's link is up.
func (c *ClusterNodes) waitStable(timeout time.Duration, replicas bool) error {
	return waitFor(timeout, func(ctx context.Context) error {
		var want string
		masters := 0
		for _, s := range c.live() {
			cl := s.rawClient()
			info, err := cl.ClusterInfo(ctx).Result()
			if err != nil {
				cl.Close()
				return err
			}
			if !strings.Contains(info, "cluster_state:ok") {
				cl.Close()
				return fmt.Errorf("%s: cluster_state not ok", s.Addr())
			}
			m, err := slotMap(ctx, cl, replicas)
			if err != nil {
				cl.Close()
				return err
			}
			if want == "" {
				want = m
			} else if m != want {
				cl.Close()
				return fmt.Errorf("%s disagrees on slots:\n%s\nvs\n%s", s.Addr(), m, want)
			}
			role, err := cl.Info(ctx, "replication").Result()
			cl.Close()
			if err != nil {
				return err
			}
			switch {
			case strings.Contains(role, "role:master"):
				masters++
				// WAIT counts a replica only once its master has put it
				// online (at its first REPLCONF ACK).
				if replicas && !strings.Contains(role, "state=online") {
					return fmt.Errorf("%s: no replica online yet", s.Addr())
				}
			case replicas && !strings.Contains(role, "master_link_status:up"):
				return fmt.Errorf("%s: replica link not up", s.Addr())
			}
		}
		if masters < 3 {
			return fmt.Errorf("only %d masters", masters)
		}
		return nil
	})
}

// shardsOf reads CLUSTER SHARDS from one node as, per slot-owning shard,
// its slot ranges, its master's address and its healthy replicas' addresses.
type shard struct {
	slots    []redis.SlotRange
	master   string
	replicas []string
}

func shardsOf(ctx context.Context, cl *redis.Client) ([]shard, error) {
	raw, err := cl.ClusterShards(ctx).Result()
	if err != nil {
		return nil, err
	}
	var out []shard
	for _, r := range raw {
		if len(r.Slots) == 0 {
			continue
		}
		var sh shard
		sh.slots = r.Slots
		for _, n := range r.Nodes {
			addr := fmt.Sprintf("%s:%d", n.IP, n.Port)
			switch {
			case n.Role == "master" && n.Health == "online":
				sh.master = addr
			case n.Role == "replica" && n.Health == "online":
				sh.replicas = append(sh.replicas, addr)
			}
		}
		out = append(out, sh)
	}
	return out, nil
}

// slotMap renders the shards as sorted "start-end master" lines. With
// replicas, a shard without a healthy replica is an error and replicas are
// listed.
func slotMap(ctx context.Context, cl *redis.Client, replicas bool) (string, error) {
	shards, err := shardsOf(ctx, cl)
	if err != nil {
		return "", err
	}
	var lines []string
	for _, sh := range shards {
		if sh.master == "" {
			return "", errors.New("a shard has no healthy master")
		}
		for _, r := range sh.slots {
			line := fmt.Sprintf("%05d-%05d %s", r.Start, r.End, sh.master)
			if replicas {
				if len(sh.replicas) == 0 {
					return "", fmt.Errorf("slots %d-%d have no replica yet", r.Start, r.End)
				}
				line += " " + strings.Join(slices.Sorted(slices.Values(sh.replicas)), " ")
			}
			lines = append(lines, line)
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n"), nil
}

func (c *ClusterNodes) live() []*Server {
	var out []*Server
	for _, s := range c.nodes {
		s.mu.Lock()
		ok := s.cmd != nil && !s.paused && !s.stopped && !isClosed(s.exited)
		s.mu.Unlock()
		if ok {
			out = append(out, s)
		}
	}
	return out
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// Nodes returns all six servers of the cluster.
func (c *ClusterNodes) Nodes() []*Server { return slices.Clone(c.nodes) }

// Addrs returns the addresses of all six servers.
func (c *ClusterNodes) Addrs() []string {
	out := make([]string, len(c.nodes))
	for i, s := range c.nodes {
		out[i] = s.Addr()
	}
	return out
}

// Client returns a new cluster client for these nodes, closed when t ends.
func (c *ClusterNodes) Client(t testing.TB) *redis.ClusterClient {
	t.Helper()
	cl := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

func (c *ClusterNodes) byAddr(addr string) *Server {
	for _, s := range c.nodes {
		if s.Addr() == addr {
			return s
		}
	}
	return nil
}

// MasterFor returns the server that currently serves key's hash slot.
func (c *ClusterNodes) MasterFor(t testing.TB, key string) *Server {
	t.Helper()
	s, err := c.masterFor(key)
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	return s
}

func (c *ClusterNodes) masterFor(key string) (*Server, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range c.live() {
		cl := s.rawClient()
		slot, err := cl.ClusterKeySlot(ctx, key).Result()
		if err != nil {
			cl.Close()
			continue
		}
		shards, err := shardsOf(ctx, cl)
		cl.Close()
		if err != nil {
			continue
		}
		for _, sh := range shards {
			for _, r := range sh.slots {
				if r.Start <= slot && slot <= r.End {
					if m := c.byAddr(sh.master); m != nil {
						return m, nil
					}
				}
			}
		}
	}
	return nil, fmt.Errorf("redistest: no master found for key %q", key)
}

// ReplicaOf returns a replica of master.
func (c *ClusterNodes) ReplicaOf(t testing.TB, master *Server) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	id := master.id
	for _, s := range c.live() {
		if s == master {
			continue
		}
		rc := s.rawClient()
		nodes, err := rc.ClusterNodes(ctx).Result()
		rc.Close()
		if err != nil {
			continue
		}
		for line := range strings.SplitSeq(nodes, "\n") {
			f := strings.Fields(line)
			if len(f) > 3 && strings.Contains(f[2], "myself") && strings.Contains(f[2], "slave") && f[3] == id {
				return s
			}
		}
	}
	t.Fatalf("redistest: no replica of %s", master.Addr())
	return nil
}

// Failover promotes the replica of the master that serves key with CLUSTER
// FAILOVER (FORCE when the master is down), waits until the cluster agrees,
// then makes each given client reload its slot map and waits until it
// routes key to the new master. It returns the new master.
func (c *ClusterNodes) Failover(t testing.TB, key string, clients ...*redis.ClusterClient) *Server {
	t.Helper()
	old := c.MasterFor(t, key)
	replica := c.ReplicaOf(t, old)
	rc := replica.rawClient()
	defer rc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mode := ""
	if !slices.Contains(c.live(), old) || old.ping() != nil {
		mode = "FORCE"
	}
	args := []any{"cluster", "failover"}
	if mode != "" {
		args = append(args, mode)
	}
	if err := rc.Do(ctx, args...).Err(); err != nil {
		t.Fatalf("redistest: cluster failover: %v", err)
	}
	err := waitFor(formTimeout, func(ctx context.Context) error {
		m, err := c.masterFor(key)
		if err != nil {
			return err
		}
		if m != replica {
			return fmt.Errorf("%s still not master", replica.Addr())
		}
		return nil
	})
	if err != nil {
		t.Fatalf("redistest: failover: %v", err)
	}
	if err := c.waitStable(formTimeout, false); err != nil {
		t.Fatalf("redistest: failover: %v", err)
	}
	for _, cl := range clients {
		err := waitFor(formTimeout, func(ctx context.Context) error {
			cl.ReloadState(ctx)
			m, err := cl.MasterForKey(ctx, key)
			if err != nil {
				return err
			}
			if addr := m.Options().Addr; addr != replica.Addr() {
				return fmt.Errorf("client still routes %q to %s", key, addr)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("redistest: failover: %v", err)
		}
	}
	return replica
}
