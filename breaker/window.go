package breaker

import (
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"
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
// Successes in a clean window are counted lock-free, and not in a bucket: each adds one to a
// running total in one of several stripes, each on its own cache lines, picked by the address
// of the caller's stack, so that goroutines on different cores rarely write the same line. The
// successes counted since the window last moved (the stripes' sum less mark) belong to the
// current bucket, which absorbs them when the window moves. A coarse clock moves it: a timer
// every quarter width while calls arrive (touched says one did since the last tick), stopping
// when they do not; the first call after a pause moves it itself. So a success lands in the
// bucket that was current up to a quarter width before it reported, as if a bucket index were
// refreshed by the timer. Everything but the stripes and touched is guarded by Breaker.mu.
type timeWindow struct {
	touched atomic.Bool // a call arrived since the last tick
	stripes []stripe
	mask    uint64 // len(stripes) - 1
	buckets []bucket
	width   int64 // ns
	tick    time.Duration

	// Guarded by Breaker.mu.
	epoch    int64  // current bucket number: ns since base / width
	mark     uint64 // the stripes' sum when the current bucket last absorbed them
	running  bool   // the tick timer is scheduled
	timer    *time.Timer
	calls    int // sums over buckets, without the successes not yet absorbed
	failures int
	slow     int
}

type bucket struct{ calls, failures, slow int }

// stripe is a running total of lock-free successes, alone on its cache lines (128 bytes, as
// some processors fetch lines in pairs).
type stripe struct {
	n atomic.Uint64
	_ [120]byte
}

func newTimeWindow(span time.Duration, n int) *timeWindow {
	width := max(int64(span)/int64(n), 1)
	// A power of two, 4 per processor (16 to 64, 2 to 8 KiB), so that two goroutines rarely
	// share one.
	s := 16
	for s < 4*runtime.GOMAXPROCS(0) && s < 64 {
		s *= 2
	}
	return &timeWindow{
		stripes: make([]stripe, s),
		mask:    uint64(s - 1),
		buckets: make([]bucket, n),
		width:   width,
		tick:    max(time.Duration(width/4), time.Millisecond),
	}
}

// success counts a success in a clean window, lock-free.
func (tw *timeWindow) success(b *Breaker) {
	if !tw.touched.Load() {
		tw.touch(b)
	}
	// A goroutine's stack address is a free hint that stays the same from call to call: a
	// goroutine (so mostly a core) keeps writing the same stripe. Stacks lie at least 2 KiB
	// apart; a multiplicative hash spreads their numbers over the stripes.
	var here byte
	h := uint64(uintptr(unsafe.Pointer(&here))) >> 11 * 0x9e3779b97f4a7c15 >> 40
	tw.stripes[h&tw.mask].n.Add(1)
}

func (tw *timeWindow) touch(b *Breaker) {
	b.mu.Lock()
	tw.touchLocked(b)
	b.mu.Unlock()
}

// sum returns the total of the lock-free successes ever counted.
func (tw *timeWindow) sum() uint64 {
	var s uint64
	for i := range tw.stripes {
		s += tw.stripes[i].n.Load()
	}
	return s
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
	s := tw.sum()
	d := int(s - tw.mark)
	tw.mark = s
	tw.buckets[tw.epoch%n].calls += d // the current bucket absorbs its lock-free successes
	tw.calls += d
	for e := tw.epoch + 1; e <= to && e <= tw.epoch+n; e++ {
		bk := &tw.buckets[e%n]
		tw.calls -= bk.calls
		tw.failures -= bk.failures
		tw.slow -= bk.slow
		*bk = bucket{}
	}
	tw.epoch = to
}

// addLocked records a call in the current bucket. Call with b.mu held.
func (tw *timeWindow) addLocked(failure, slow bool) {
	bk := &tw.buckets[tw.epoch%int64(len(tw.buckets))]
	bk.calls++
	tw.calls++
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
	clear(tw.buckets)
	tw.calls, tw.failures, tw.slow = 0, 0, 0
	tw.mark = tw.sum()
	tw.advanceLocked(b.since())
}

func (tw *timeWindow) countsLocked() Counts {
	return Counts{Calls: tw.calls + int(tw.sum()-tw.mark), Failures: tw.failures, SlowCalls: tw.slow}
}
