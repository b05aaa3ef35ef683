package users_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sinew-dev/sinew/examples/authflow/users"
	"github.com/sinew-dev/sinew/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// stores runs a behavioural test against every Store implementation.
func stores(t *testing.T, test func(t *testing.T, s users.Store)) {
	t.Run("memory", func(t *testing.T) { test(t, users.NewMemory()) })
	t.Run("redis", func(t *testing.T) {
		test(t, users.NewRedis(redistest.Standalone(t), redistest.Prefix(t)))
	})
	t.Run("cluster", func(t *testing.T) {
		test(t, users.NewRedis(redistest.Cluster(t), redistest.Prefix(t)))
	})
}

func TestStore_CreateGet(t *testing.T) {
	stores(t, func(t *testing.T, s users.Store) {
		ctx := context.Background()
		_, ok, err := s.Get(ctx, "alice")
		require.NoError(t, err)
		assert.False(t, ok)

		require.NoError(t, s.Create(ctx, "alice", "h1"))
		assert.ErrorIs(t, s.Create(ctx, "alice", "h2"), users.ErrExists)
		u, ok, err := s.Get(ctx, "alice")
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, users.User{Name: "alice", Hash: "h1"}, u)
	})
}

func TestStore_UpdateHashIsFenced(t *testing.T) {
	stores(t, func(t *testing.T, s users.Store) {
		ctx := context.Background()
		assert.ErrorIs(t, s.UpdateHash(ctx, "nobody", "h", 1), users.ErrNotFound)
		require.NoError(t, s.Create(ctx, "bob", "legacy"))
		require.NoError(t, s.UpdateHash(ctx, "bob", "new", 7))
		assert.ErrorIs(t, s.UpdateHash(ctx, "bob", "stale", 6), users.ErrStaleToken, "lower token")
		assert.ErrorIs(t, s.UpdateHash(ctx, "bob", "stale", 7), users.ErrStaleToken, "same token")
		u, _, err := s.Get(ctx, "bob")
		require.NoError(t, err)
		assert.Equal(t, users.User{Name: "bob", Hash: "new", Fence: 7, Migrations: 1}, u)
	})
}

// TestStore_ConcurrentWritersOneTokenWins: many writers with the same token
// race; exactly one is accepted.
func TestStore_ConcurrentWritersOneTokenWins(t *testing.T) {
	stores(t, func(t *testing.T, s users.Store) {
		ctx := context.Background()
		require.NoError(t, s.Create(ctx, "carol", "legacy"))
		var wg sync.WaitGroup
		var mu sync.Mutex
		accepted := 0
		for range 16 {
			wg.Go(func() {
				if s.UpdateHash(ctx, "carol", "new", 1) == nil {
					mu.Lock()
					accepted++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		assert.Equal(t, 1, accepted)
		u, _, err := s.Get(ctx, "carol")
		require.NoError(t, err)
		assert.Equal(t, 1, u.Migrations)
	})
}
