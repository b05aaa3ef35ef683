package ratelimit

import (
	"math"
	"strconv"
	"time"
)

// Algorithm is how a limiter counts. Every algorithm enforces several limits per key atomically
// and returns the same [Result].
type Algorithm uint8

// The algorithms.
const (
	// GCRA, the default, is the generic cell rate algorithm: it admits the same events as a
	// token bucket of Burst tokens refilled at Rate per Period, keeping one timestamp per limit.
	// Over any span T it admits at most Burst + Rate×T/Period events.
	GCRA Algorithm = iota
	// SlidingWindow is the sliding-window counter: it keeps the counts of the current and the
	// previous fixed window of one Period, and admits n events when
	// previous × (1 − elapsed/Period) + current + n ≤ Rate. It smooths the fixed window's
	// double bursts at window edges; no fixed window ever holds more than Rate events. Burst
	// is ignored.
	SlidingWindow
	// FixedWindow counts events in consecutive windows of one Period (aligned to the Unix
	// epoch on Redis, to the limiter's creation in memory) and admits at most Rate per window.
	// Burst is ignored.
	FixedWindow
	// TokenBucket is a bucket of Burst tokens, full at first, refilled continuously at Rate
	// tokens per Period; n events are admitted when n tokens are in the bucket, and take
	// them. It makes the same decisions as GCRA for the same limits (both admit at most
	// Burst + Rate×T/Period events over any span T) and reports the same Results; only the
	// state differs: per limit, the tokens left and the time of the last refill (in Redis a
	// hash {t: tokens, ts: µs}) instead of GCRA's single timestamp. In Redis the tokens are a
	// float, and a request short of its tokens by less than 10⁻⁹ (the rounding of the refill
	// division) is admitted, the shortfall carried over. Choose it when you think and monitor
	// in tokens; GCRA keeps one value per limit and is the default.
	TokenBucket
)

// String returns "gcra", "sliding-window", "fixed-window" or "token-bucket".
func (a Algorithm) String() string {
	switch a {
	case GCRA:
		return "gcra"
	case SlidingWindow:
		return "sliding-window"
	case FixedWindow:
		return "fixed-window"
	case TokenBucket:
		return "token-bucket"
	}
	return "Algorithm(" + strconv.Itoa(int(a)) + ")"
}

// capacity returns the most events one decision may ask under algo: the burst for GCRA and
// the token bucket, the rate for the windows.
func capacity(l Limit, algo Algorithm) int {
	if algo == GCRA || algo == TokenBucket {
		return l.burst()
	}
	return l.Rate
}

// windowState is the stride of a window limit's state: window index, count in it, count in
// the window before.
const windowState = 3

// decideWindow is decide for the window algorithms; st holds windowState values per limit
// (nil: none). The weighted count is computed in float64, as the Redis script does.
func (m *Memory) decideWindow(st []int64, t int64, n int) (Result, bool) {
	allowed := true
	best, bestRemain, bestRetry := 0, int64(-1), int64(-1)
	var bestReset int64
	fn := float64(n)
	for i, lim := range m.limits {
		W := int64(lim.Period)
		w := t / W
		e := t - w*W // elapsed in the current window
		var c, p int64
		if st != nil {
			switch st[i*windowState] {
			case w:
				c, p = st[i*windowState+1], st[i*windowState+2]
			case w - 1:
				p = st[i*windowState+1]
			}
		}
		if m.algo == FixedWindow {
			p = 0
		}
		R, fW, fc, fp := float64(lim.Rate), float64(W), float64(c), float64(p)
		est := fp*float64(W-e)/fW + fc
		if est+fn > R {
			var wait int64
			switch {
			case m.algo == FixedWindow:
				wait = W - e
			case fc+fn <= R && p > 0:
				// within this window, once the previous window's weight has decayed enough
				wait = int64(math.Ceil(fW-(R-fc-fn)*fW/fp)) - e
			default:
				// in the next window the current count becomes the previous one
				wait = W - e
				if c > 0 {
					wait += max(int64(math.Ceil(fW-(R-fn)*fW/fc)), 0)
				}
			}
			wait = max(wait, 1)
			if allowed || wait > bestRetry {
				best, bestRetry = i, wait
				bestRemain = int64(max(R-est, 0))
				bestReset = windowReset(m.algo, W, e, c, p)
			}
			allowed = false
			continue
		}
		if !allowed {
			continue
		}
		remain := int64(math.Floor(R - est - fn))
		if bestRemain < 0 || remain < bestRemain {
			best, bestRemain = i, remain
			bestReset = windowReset(m.algo, W, e, c+int64(n), p)
		}
	}
	r := Result{
		Allowed:    allowed,
		Limit:      m.limits[best],
		Remaining:  int(max(bestRemain, 0)),
		ResetAfter: time.Duration(bestReset),
	}
	if !allowed {
		r.RetryAfter = time.Duration(bestRetry)
	}
	return r, allowed
}

// windowReset is how long until a window limit counts nothing.
func windowReset(algo Algorithm, W, e, c, p int64) int64 {
	switch {
	case c > 0 && algo == SlidingWindow:
		return 2*W - e
	case c > 0 || p > 0:
		return W - e
	}
	return 0
}

// commitWindow adds n events at t to st.
func (m *Memory) commitWindow(st []int64, t int64, n int) {
	for i, lim := range m.limits {
		W := int64(lim.Period)
		w := t / W
		s := st[i*windowState : i*windowState+windowState : i*windowState+windowState]
		switch s[0] {
		case w:
		case w - 1:
			s[0], s[1], s[2] = w, 0, s[1]
		default:
			s[0], s[1], s[2] = w, 0, 0
		}
		s[1] += int64(n)
	}
}

// idleWindow reports whether st counts nothing at t any more.
func (m *Memory) idleWindow(st []int64, t int64) bool {
	for i, lim := range m.limits {
		if st[i*windowState] >= t/int64(lim.Period)-1 {
			return false
		}
	}
	return true
}
