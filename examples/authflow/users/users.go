// Package users stores the authflow example's accounts: a name, a password
// hash and the fencing token of the last hash migration. It is the resource
// that the lock package's fencing tokens protect: UpdateHash accepts a write
// only with a token higher than any it accepted before, so a node that lost
// its lock (paused past the lock's TTL) cannot overwrite a newer hash.
//
// # Concurrency
//
// Both stores are safe for concurrent use.
package users

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Errors returned by the stores.
var (
	// ErrExists means Create found the name taken.
	ErrExists = errors.New("users: user exists")
	// ErrNotFound means the user does not exist.
	ErrNotFound = errors.New("users: user not found")
	// ErrStaleToken means UpdateHash carried a fencing token not higher than
	// one already accepted: the writer's lock was lost.
	ErrStaleToken = errors.New("users: stale fencing token")
)

// User is one account.
type User struct {
	Name string
	// Hash is the PHC argon2id string, or a legacy bcrypt hash.
	Hash string
	// Fence is the highest fencing token a hash update was accepted with.
	Fence int64
	// Migrations counts accepted hash updates.
	Migrations int
}

// Store is what the auth nodes need from a user store.
type Store interface {
	// Create adds a user; ErrExists if the name is taken.
	Create(ctx context.Context, name, hash string) error
	// Get returns the user; ok is false when there is none.
	Get(ctx context.Context, name string) (u User, ok bool, err error)
	// UpdateHash replaces the hash if token is higher than u.Fence;
	// otherwise ErrStaleToken. ErrNotFound if there is no such user.
	UpdateHash(ctx context.Context, name, hash string, token int64) error
}

// Memory is an in-memory Store.
type Memory struct {
	mu    sync.Mutex // protects users
	users map[string]User
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory { return &Memory{users: map[string]User{}} }

// Create implements Store.
func (m *Memory) Create(_ context.Context, name, hash string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.users[name]; ok {
		return ErrExists
	}
	m.users[name] = User{Name: name, Hash: hash}
	return nil
}

// Get implements Store.
func (m *Memory) Get(_ context.Context, name string) (User, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[name]
	return u, ok, nil
}

// UpdateHash implements Store.
func (m *Memory) UpdateHash(_ context.Context, name, hash string, token int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[name]
	if !ok {
		return ErrNotFound
	}
	if token <= u.Fence {
		return ErrStaleToken
	}
	u.Hash, u.Fence, u.Migrations = hash, token, u.Migrations+1
	m.users[name] = u
	return nil
}

// Client is the part of a go-redis client the Redis store uses; it is
// satisfied by *redis.Client, *redis.ClusterClient and *redis.Ring.
type Client interface {
	redis.Scripter
	HGetAll(ctx context.Context, key string) *redis.MapStringStringCmd
}

var (
	_ Client = (*redis.Client)(nil)
	_ Client = (*redis.ClusterClient)(nil)
	_ Client = (*redis.Ring)(nil)
)

//go:embed create.lua
var createLua string

//go:embed update.lua
var updateLua string

var (
	createScript = redis.NewScript(createLua)
	updateScript = redis.NewScript(updateLua)
)

// Redis is a Store keeping each user in one hash, "<prefix>{<name>}", with
// the fields hash, fence and migrations. User records have no TTL: they are
// accounts, not cache entries.
type Redis struct {
	c      Client
	prefix string
}

// NewRedis returns a Redis store with keys under prefix (default
// "authflow:user:").
func NewRedis(c Client, prefix string) *Redis {
	if prefix == "" {
		prefix = "authflow:user:"
	}
	return &Redis{c: c, prefix: prefix}
}

func (r *Redis) key(name string) string { return r.prefix + "{" + name + "}" }

// Create implements Store.
func (r *Redis) Create(ctx context.Context, name, hash string) error {
	n, err := createScript.Run(ctx, r.c, []string{r.key(name)}, hash).Int()
	if err != nil {
		return fmt.Errorf("users: create: %w", err)
	}
	if n == 0 {
		return ErrExists
	}
	return nil
}

// Get implements Store.
func (r *Redis) Get(ctx context.Context, name string) (User, bool, error) {
	f, err := r.c.HGetAll(ctx, r.key(name)).Result()
	if err != nil {
		return User{}, false, fmt.Errorf("users: get: %w", err)
	}
	if len(f) == 0 {
		return User{}, false, nil
	}
	u := User{Name: name, Hash: f["hash"]}
	if u.Fence, err = strconv.ParseInt(f["fence"], 10, 64); err != nil {
		return User{}, false, fmt.Errorf("users: get %q: bad fence field: %w", name, err)
	}
	if u.Migrations, err = strconv.Atoi(f["migrations"]); err != nil {
		return User{}, false, fmt.Errorf("users: get %q: bad migrations field: %w", name, err)
	}
	return u, true, nil
}

// UpdateHash implements Store: one script compares the token with the
// stored fence and writes the hash only if it is higher.
func (r *Redis) UpdateHash(ctx context.Context, name, hash string, token int64) error {
	n, err := updateScript.Run(ctx, r.c, []string{r.key(name)}, hash, token).Int()
	if err != nil {
		return fmt.Errorf("users: update hash: %w", err)
	}
	switch n {
	case 1:
		return nil
	case 0:
		return ErrStaleToken
	case -1:
		return ErrNotFound
	}
	return fmt.Errorf("users: update hash: unexpected reply %d", n)
}
