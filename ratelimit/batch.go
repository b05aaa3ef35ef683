package ratelimit

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sinew-dev/sinew/breaker"
)

// call is one decision waiting for, or taking part in, a round trip to Redis.
type call struct {
	keys  []string // one per limit
	n     int
	reply []int64
	err   error
	// done has capacity 1. It is signalled once when the reply is stored; a queued call chosen
	// to lead is signalled once before that, with lead set.
	done chan struct{}
	// permit is the breaker's leave for this call; its outcome is reported once, by whoever
	// sets reported first: the round trip when it ends, or the caller when it gives up.
	permit   breaker.Permit
	reported atomic.Bool

	// guarded by batcher.mu
	queued    bool    // waiting in batcher.queue
	abandoned bool    // its caller gave up while it was in someone else's batch
	lead      []*call // set when this call was chosen to send these calls (itself first)
}

// batcher pipelines concurrent decisions and bounds each caller's wait.
//
// While fewer than maxInflight round trips are in flight, a call is sent at once, alone, so a
// lone caller pays two uncontended mutex operations and nothing else. Calls arriving while
// maxInflight round trips are in flight are queued; when a round trip ends, the oldest queued
// call is woken to send up to maxBatch queued calls in one pipeline.
//
// go-redis does not bound a read by the context's deadline unless the client was built with
// ContextTimeoutEnabled. When it was (inline), the sender makes the round trip itself.
// Otherwise each round trip runs on a sender goroutine while its callers wait for their reply
// or their context, whichever comes first. The senders are long-lived, at most maxInflight of
// them, started on demand and ended after workerIdle without work or by close: handing a
// round trip to a waiting sender costs a third of starting a goroutine for it. A sender ends
// its round trip when go-redis returns (within the client's own timeouts), hands every call of
// its batch its reply, and only then frees its round-trip slot, so a hung Redis never has more
// than maxInflight round trips pending from one limiter.
type batcher struct {
	l        *Redis
	maxBatch int
	inline   bool // the client bounds reads by the context's deadline: no goroutine needed

	work chan roundTrip // unbuffered: a send succeeds only when a sender waits for work
	quit chan struct{}  // closed by close
	wg   sync.WaitGroup // the senders

	mu       sync.Mutex
	inflight int     // round trips in flight
	queue    []*call // oldest first
	senders  int     // sender goroutines running
	closed   bool    // close was called: no more senders
}

// roundTrip is a batch to send within ctx.
type roundTrip struct {
	ctx   context.Context
	batch []*call
}

// workerIdle is how long a sender goroutine waits for work before it ends.
const workerIdle = time.Second

// do decides n events on keys within ctx and returns the script's reply for them.
func (b *batcher) do(ctx context.Context, keys []string, n int) ([]int64, error) {
	p, err := b.l.br.Allow()
	if err != nil {
		return nil, err
	}
	c := &call{keys: keys, n: n, done: make(chan struct{}, 1), permit: p}
	b.mu.Lock()
	if b.inflight < maxInflight || b.maxBatch <= 1 {
		b.inflight++
		b.mu.Unlock()
		return b.send(ctx, c, []*call{c})
	}
	c.queued = true
	b.queue = append(b.queue, c)
	b.mu.Unlock()

	select {
	case <-c.done:
	case <-ctx.Done():
		b.mu.Lock()
		if c.queued {
			b.queue = slices.DeleteFunc(b.queue, func(q *call) bool { return q == c })
			b.mu.Unlock()
			return nil, c.giveUp(ctx)
		}
		lead := c.lead
		c.abandoned = lead == nil
		b.mu.Unlock()
		if lead == nil {
			// in flight in another call's batch: its reply will be dropped
			return nil, c.giveUp(ctx)
		}
		<-c.done // chosen to lead: the signal was sent with c.lead set
		b.abdicate(c)
		return nil, c.giveUp(ctx)
	}
	if c.lead == nil { // written, under b.mu, before the signal was sent
		return c.reply, c.err
	}
	if ctx.Err() != nil {
		b.abdicate(c)
		return nil, c.giveUp(ctx)
	}
	return b.send(ctx, c, c.lead)
}

// giveUp reports to the breaker, unless the round trip already did, that c's caller stopped
// waiting, and returns ctx's error.
func (c *call) giveUp(ctx context.Context) error {
	if c.reported.CompareAndSwap(false, true) {
		c.permit.Done(ctx.Err())
	}
	return ctx.Err()
}

// send makes one round trip for batch, whose first call is c, and waits for c's reply or ctx.
// The caller holds a round-trip slot, which the round trip frees. Unless the client bounds
// reads by the context, the round trip runs on a sender goroutine.
func (b *batcher) send(ctx context.Context, c *call, batch []*call) ([]int64, error) {
	if b.inline {
		b.exchange(ctx, batch)
		return c.reply, c.err
	}
	rt := roundTrip{ctx, batch}
	select {
	case b.work <- rt: // a sender was waiting
	default:
		b.mu.Lock()
		if b.closed || b.senders == maxInflight {
			// closed, or every sender is between two round trips: one goroutine for this one
			b.mu.Unlock()
			go b.exchange(rt.ctx, rt.batch)
			break
		}
		b.senders++
		b.wg.Add(1)
		b.mu.Unlock()
		go b.sender(rt)
	}
	select {
	case <-c.done:
		return c.reply, c.err
	case <-ctx.Done():
		return nil, c.giveUp(ctx)
	}
}

// sender makes round trip rt and then those handed to it, until it has waited workerIdle for
// work or the batcher is closed.
func (b *batcher) sender(rt roundTrip) {
	defer b.wg.Done()
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		b.exchange(rt.ctx, rt.batch)
		idle.Reset(workerIdle)
		select {
		case rt = <-b.work:
			continue
		case <-idle.C:
		case <-b.quit:
		}
		b.mu.Lock()
		b.senders--
		b.mu.Unlock()
		return
	}
}

// close ends the sender goroutines, waiting for a round trip in progress.
func (b *batcher) close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.quit)
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// exchange sends batch, hands each call its reply and frees the round-trip slot.
func (b *batcher) exchange(ctx context.Context, batch []*call) {
	b.l.exchange(ctx, batch)
	for _, o := range batch {
		if o.reported.CompareAndSwap(false, true) {
			o.permit.Done(transportErr(o.err))
		}
		o.done <- struct{}{}
	}
	b.finish()
}

// finish ends a round trip and starts queued ones.
func (b *batcher) finish() {
	b.mu.Lock()
	b.inflight--
	b.dispatchLocked()
	b.mu.Unlock()
}

// abdicate gives back a batch that its chosen leader cannot send (its ctx is done): the calls
// still waiting go back to the front of the queue.
func (b *batcher) abdicate(c *call) {
	b.mu.Lock()
	rest := slices.DeleteFunc(slices.Clone(c.lead[1:]), func(o *call) bool { return o.abandoned })
	for _, o := range rest {
		o.queued = true
	}
	b.queue = append(rest, b.queue...)
	b.inflight--
	b.dispatchLocked()
	b.mu.Unlock()
}

// dispatchLocked wakes leaders for queued calls while round-trip slots are free.
func (b *batcher) dispatchLocked() {
	for b.inflight < maxInflight && len(b.queue) > 0 {
		k := min(len(b.queue), b.maxBatch)
		batch := slices.Clone(b.queue[:k])
		n := copy(b.queue, b.queue[k:])
		clear(b.queue[n:])
		b.queue = b.queue[:n]
		for _, c := range batch {
			c.queued = false
		}
		leader := batch[0]
		leader.lead = batch
		b.inflight++
		leader.done <- struct{}{}
	}
}
