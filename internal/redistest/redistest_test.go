package redistest_test

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sinew-dev/sinew/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

func TestStandalone_SharedAndUsable(t *testing.T) {
	ctx := context.Background()
	a := redistest.Standalone(t)
	b := redistest.Standalone(t)
	key := redistest.Prefix(t) + "k"
	require.NoError(t, a.Set(ctx, key, "v", time.Minute).Err())
	got, err := b.Get(ctx, key).Result()
	require.NoError(t, err)
	assert.Equal(t, "v", got, "both clients reach the same shared server")
}

func TestPrefix_UniquePerCall(t *testing.T) {
	p1, p2 := redistest.Prefix(t), redistest.Prefix(t)
	assert.NotEqual(t, p1, p2)
	assert.Contains(t, p1, "TestPrefix_UniquePerCall")
	assert.NotContains(t, p1, "{")
}

func TestServer_KillRestartLosesData(t *testing.T) {
	ctx := context.Background()
	s := redistest.StartServer(t, redistest.ServerOptions{})
	c := s.Client(t)
	require.NoError(t, c.Set(ctx, "k", "v", 0).Err())

	s.Kill(t)
	assert.Error(t, c.Ping(ctx).Err(), "a killed server does not answer")

	s.Restart(t)
	_, err := c.Get(ctx, "k").Result()
	assert.ErrorIs(t, err, redis.Nil, "data is gone after kill and restart")
	require.NoError(t, c.Set(ctx, "k", "again", 0).Err(), "same port serves again")
}

func TestServer_PauseMakesCallsTimeOut(t *testing.T) {
	s := redistest.StartServer(t, redistest.ServerOptions{})
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), ReadTimeout: 50 * time.Millisecond, WriteTimeout: 50 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	require.NoError(t, c.Ping(context.Background()).Err())

	s.Pause(t)
	// The kernel still accepts connections...
	conn, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	require.NoError(t, err, "a paused server still accepts TCP connections")
	_ = conn.Close()
	// ...but nothing answers: a 50 ms timeout fails fast instead of hanging.
	start := time.Now()
	err = c.Ping(context.Background()).Err()
	var netErr net.Error
	require.ErrorAs(t, err, &netErr)
	assert.True(t, netErr.Timeout(), "want a timeout, got %v", err)
	assert.Less(t, time.Since(start), 2*time.Second, "the call must not hang")

	s.Resume(t)
	assert.NoError(t, c.Ping(context.Background()).Err(), "answers again after Resume")
}

func TestServer_Replica(t *testing.T) {
	ctx := context.Background()
	m := redistest.StartServer(t, redistest.ServerOptions{})
	r := redistest.StartServer(t, redistest.ServerOptions{ReplicaOf: m})
	mc, rc := m.Client(t), r.Client(t)
	require.NoError(t, mc.Set(ctx, "k", "v", 0).Err())
	n, err := mc.Wait(ctx, 1, 5*time.Second).Result()
	require.NoError(t, err)
	assert.Equal(t, int64(1), n, "one replica acknowledged")
	got, err := rc.Get(ctx, "k").Result()
	require.NoError(t, err)
	assert.Equal(t, "v", got)
}

func TestCluster_StateOK(t *testing.T) {
	ctx := context.Background()
	c := redistest.Cluster(t)
	var masters int
	err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		info, err := m.ClusterInfo(ctx).Result()
		if err != nil {
			return err
		}
		assert.Contains(t, info, "cluster_state:ok")
		return nil
	})
	require.NoError(t, err)
	shards, err := c.ClusterShards(ctx).Result()
	require.NoError(t, err)
	for _, s := range shards {
		masters++
		assert.Len(t, s.Nodes, 2, "slots %v: one master and one replica", s.Slots)
	}
	assert.Equal(t, 3, masters)
}

func TestCluster_HashTagsShareASlot(t *testing.T) {
	ctx := context.Background()
	c := redistest.Cluster(t)
	p := redistest.Prefix(t)
	tag := "{" + p + "user:42}"
	want, err := c.ClusterKeySlot(ctx, tag+":a").Result()
	require.NoError(t, err)
	for _, k := range []string{tag + ":b", tag + ":sessions", "x" + tag, tag} {
		got, err := c.ClusterKeySlot(ctx, k).Result()
		require.NoError(t, err)
		assert.Equal(t, want, got, k)
	}
	// A multi-key command on one tag works across the cluster client.
	require.NoError(t, c.MSet(ctx, tag+":a", "1", tag+":b", "2").Err())
	vals, err := c.MGet(ctx, tag+":a", tag+":b").Result()
	require.NoError(t, err)
	assert.Equal(t, []any{"1", "2"}, vals)
	// Keys without a shared tag spread over several slots.
	slots := map[int64]bool{}
	for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
		s, err := c.ClusterKeySlot(ctx, p+k).Result()
		require.NoError(t, err)
		slots[s] = true
	}
	assert.Greater(t, len(slots), 1)
}

func TestCluster_FailoverKeepsAcknowledgedWrites(t *testing.T) {
	ctx := context.Background()
	nodes := redistest.StartCluster(t)
	c := nodes.Client(t)
	key := "failover-key"
	require.NoError(t, c.Set(ctx, key, "v", 0).Err())
	master := nodes.MasterFor(t, key)
	mc := master.Client(t)
	n, err := mc.Wait(ctx, 1, 5*time.Second).Result()
	require.NoError(t, err)
	require.Equal(t, int64(1), n, "the replica has the write")

	promoted := nodes.Failover(t, key, c)
	assert.NotEqual(t, master.Addr(), promoted.Addr())
	got, err := c.Get(ctx, key).Result()
	require.NoError(t, err)
	assert.Equal(t, "v", got, "readable through the cluster client after failover")
	require.NoError(t, c.Set(ctx, key, "w", 0).Err(), "writable on the new master")
}

func TestCluster_KilledMasterForcedFailover(t *testing.T) {
	ctx := context.Background()
	nodes := redistest.StartCluster(t)
	c := nodes.Client(t)
	key := "forced"
	require.NoError(t, c.Set(ctx, key, "v", 0).Err())
	master := nodes.MasterFor(t, key)
	_, err := master.Client(t).Wait(ctx, 1, 5*time.Second).Result()
	require.NoError(t, err)

	master.Kill(t)
	nodes.Failover(t, key, c)
	got, err := c.Get(ctx, key).Result()
	require.NoError(t, err)
	assert.Equal(t, "v", got)
}

// TestMissingServerSkips runs a subtest with an empty PATH: it must skip,
// naming the missing server, rather than fail.
func TestMissingServerSkips(t *testing.T) {
	if os.Getenv(redistest.EnvRequire) != "" {
		t.Setenv(redistest.EnvRequire, "")
		require.NoError(t, os.Unsetenv(redistest.EnvRequire))
	}
	t.Setenv(redistest.EnvAddr, "")
	require.NoError(t, os.Unsetenv(redistest.EnvAddr))
	t.Setenv("PATH", t.TempDir())
	_, err := exec.LookPath("redis-server")
	require.True(t, errors.Is(err, exec.ErrNotFound))

	var skipped bool
	t.Run("inner", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		redistest.Standalone(t)
	})
	assert.True(t, skipped)
	assert.False(t, redistest.Available())
}
