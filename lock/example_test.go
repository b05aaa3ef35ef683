package lock_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sinew-dev/sinew/lock"
)

// The in-memory backend behind the same API as Redis: obtain, write under
// the fencing token, release.
func Example() {
	ctx := context.Background()
	locker := lock.New(lock.NewMemory(), lock.Options{})
	fence := lock.NewFence() // on the resource's side

	lk, err := locker.Obtain(ctx, "user:42", 10*time.Second, lock.ObtainOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, ok, _ := locker.TryObtain(ctx, "user:42", time.Second, lock.ObtainOptions{})
	fmt.Println("second owner got it:", ok)

	err = fence.Do("user:42", lk.Token(), func() error { return nil /* write */ })
	fmt.Println("write:", err)
	fmt.Println("release:", lk.Release(ctx))
	fmt.Println("release again:", lk.Release(ctx))
	// Output:
	// second owner got it: false
	// write: <nil>
	// release: <nil>
	// release again: lock: not held
}

// A holder paused past its TTL comes back with an old token: the fence
// rejects its write.
func ExampleFence() {
	fence := lock.NewFence()
	fmt.Println(fence.Admit("invoice:7", 101)) // holder A
	fmt.Println(fence.Admit("invoice:7", 102)) // holder B, after A's lock expired
	err := fence.Admit("invoice:7", 101)       // A wakes up
	fmt.Println(errors.Is(err, lock.ErrStaleToken))
	// Output:
	// <nil>
	// <nil>
	// true
}

// An auto-renewed Redis lock: the work runs under the lock's context,
// cancelled the moment the lock is lost.
func ExampleLocker_Obtain() {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	locker := lock.New(lock.NewRedis(rdb, lock.RedisOptions{}), lock.Options{})

	lk, err := locker.Obtain(ctx, "migrate:user:42", 10*time.Second, lock.ObtainOptions{
		AutoRenew: true,
		MaxHold:   time.Minute,
	})
	if errors.Is(err, lock.ErrNotObtained) {
		return // someone else is migrating this user
	}
	if err != nil {
		panic(err)
	}
	defer lk.Release(context.WithoutCancel(ctx))

	work := func(ctx context.Context, token uint64) error { return nil }
	if err := work(lk.Context(), lk.Token()); err != nil {
		fmt.Println(context.Cause(lk.Context()))
	}
}

// Redlock over three independent servers.
func ExampleNewRedlock() {
	var servers []*lock.Redis
	for _, addr := range []string{"redis-a:6379", "redis-b:6379", "redis-c:6379"} {
		servers = append(servers, lock.NewRedis(redis.NewClient(&redis.Options{Addr: addr}), lock.RedisOptions{}))
	}
	locker := lock.New(lock.NewRedlock(servers, lock.RedlockOptions{}), lock.Options{})
	_ = locker
}
