package lock

import (
	"context"
	"time"
)

// AcquireWithClock is Redis.Acquire as seen by a client whose clock reads
// now, for tests of skewed client clocks.
func AcquireWithClock(r *Redis, ctx context.Context, key, owner string, ttl time.Duration, now time.Time) (Grant, bool, error) {
	return r.acquire(ctx, key, owner, ttl, now.UnixMicro())
}
