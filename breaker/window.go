package breaker

import (
	"sync/atomic"
	"time"
)

// countWindow holds the outcomes of the last len(ring) calls. It is guarded by Breaker.mu.
type countWindow struct {
	ring     []uint8 // per call: bit 0 failure, bit 1 slow
	head     int     // next slot to write
	size     int     // calls held, up to len(ring)
	failures int
	slow     int
}

func (w *countWindow) add(failure, slow bool) {
	var v uint8
	if failure {
		v |= 1
	}
	if slow {
		v |= 2
	}
	if w.size == len(w.ring) {
		old := w.ring[w.head]
		w.failures -= int(old & 1)
		w.slow -= int(old >> 1)
	} else {
		w.size++
	}
	w.ring[w.head] = v
	if w.head++; w.head == len(w.ring) {
		w.head = 0
	}
	w.failures += int(v & 1)
	w.slow += int(v >> 1)
}

func (w *countWindow) reset() {
	clear(w.ring)
	w.head, w.size, w.failures, w.slow = 0, 0, 0, 0
}

// timeWindow holds the outcomes of the last len(buckets) bucket widths. A bucket covers the
// calls that reported during one width of time, counted from the breaker's creation.
//
// Successes in a clean window are added lock-free to the current bucket, whose index a coarse
// clock keeps in idx: a timer moves it every quarter width while calls arrive (touched says one
// did since the last tick) and stops when they do not; the first call after a pause moves it
// itself. Everything else is guarded by Breaker.mu.
type timeWindow struct {
	idx     atomic.Uint32 // current bucket
	touched atomic.Bool   // a call arrived since the last tick
	buckets []bucket
	width   int64 // ns
	tick    time.Duration

	// Guarded by Breaker.mu.
	epoch    int64 // current bucket number: ns since base / width
	running  bool  // the tick timer is scheduled
	timer    *time.Timer
	failures int // sums over buckets
	slow     int
}

type bucket struct {
	calls    atomic.Uint64
	failures int // guarded by Breaker.mu
	slow     int
}

func newTimeWindow(span time.Duration, n int) *timeWindow {
	width := max(int64(span)/int64(n), 1)
	return &timeWindow{
		buckets: make([]bucket, n),
		width:   width,
		tick:    max(time.Duration(width/4), time.Millisecond),
	}
}

// success counts a success in a clean window, lock-free.
func (tw *timeWindow) success(b *Breaker) {
	if !tw.touched.Load() {
		b.mu.Lock()
		tw.touchLocked(b)
		b.mu.Unlock()
	}
	tw.buckets[tw.idx.Load()].calls.Add(1)
}

// touchLocked notes a call, restarting the coarse clock if it had stopped. Call with b.mu held.
func (tw *timeWindow) touchLocked(b *Breaker) {
	if !tw.running {
		tw.running = true
		tw.advanceLocked(b.since())
		if b.state == Closed {
			b.setClean(b.isClean(b.countsLocked()))
		}
		if tw.timer == nil {
			tw.timer = time.AfterFunc(tw.tick, func() { tw.onTick(b) })
		} else {
			tw.timer.Reset(tw.tick)
		}
	}
	if !tw.touched.Load() {
		tw.touched.Store(true)
	}
}

func (tw *timeWindow) onTick(b *Breaker) {
	b.mu.Lock()
	tw.advanceLocked(b.since())
	if b.state == Closed {
		b.setClean(b.isClean(b.countsLocked()))
	}
	if tw.touched.Load() {
		tw.touched.Store(false)
		tw.timer.Reset(tw.tick)
	} else {
		tw.running = false
	}
	b.mu.Unlock()
}

// advanceLocked moves the window to the bucket of now (ns since base), emptying the buckets it
// passes. Call with b.mu held.
func (tw *timeWindow) advanceLocked(now int64) {
	to := now / tw.width
	if to <= tw.epoch {
		return
	}
	n := int64(len(tw.buckets))
	for e := tw.epoch + 1; e <= to && e <= tw.epoch+n; e++ {
		bk := &tw.buckets[e%n]
		tw.failures -= bk.failures
		tw.slow -= bk.slow
		bk.failures, bk.slow = 0, 0
		bk.calls.Store(0)
	}
	tw.epoch = to
	tw.idx.Store(uint32(to % n))
}

// addLocked records a call in the current bucket. Call with b.mu held.
func (tw *timeWindow) addLocked(failure, slow bool) {
	bk := &tw.buckets[tw.idx.Load()]
	bk.calls.Add(1)
	if failure {
		bk.failures++
		tw.failures++
	}
	if slow {
		bk.slow++
		tw.slow++
	}
}

// resetLocked empties the window. Call with b.mu held.
func (tw *timeWindow) resetLocked(b *Breaker) {
	for i := range tw.buckets {
		bk := &tw.buckets[i]
		bk.calls.Store(0)
		bk.failures, bk.slow = 0, 0
	}
	tw.failures, tw.slow = 0, 0
	tw.advanceLocked(b.since())
}

func (tw *timeWindow) countsLocked() Counts {
	c := Counts{Failures: tw.failures, SlowCalls: tw.slow}
	for i := range tw.buckets {
		c.Calls += int(tw.buckets[i].calls.Load())
	}
	return c
}
