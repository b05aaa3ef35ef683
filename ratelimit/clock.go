package ratelimit

import (
	"sync"
	"sync/atomic"
	"time"
)

// coarseClock is the monotonic time in nanoseconds since base, stored every tick by a
// goroutine of its own so that readers pay one atomic load instead of a clock read.
type coarseClock struct {
	now  atomic.Int64 // ns since base; -1 once stopped
	base time.Time
	quit chan struct{}
	done chan struct{}
	once sync.Once
}

// startCoarseClock starts a clock of resolution tick; stop it with stop.
func startCoarseClock(base time.Time, tick time.Duration) *coarseClock {
	c := &coarseClock{base: base, quit: make(chan struct{}), done: make(chan struct{})}
	c.now.Store(int64(time.Since(base)))
	go c.run(tick)
	return c
}

func (c *coarseClock) run(tick time.Duration) {
	defer close(c.done)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			c.now.Store(int64(time.Since(c.base)))
		case <-c.quit:
			return
		}
	}
}

// stop ends the goroutine and waits for it; readers then see -1 and read the system clock.
func (c *coarseClock) stop() {
	c.once.Do(func() { close(c.quit) })
	<-c.done
	c.now.Store(-1)
}
