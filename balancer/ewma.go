package balancer

import (
	"context"
	"errors"
	"math"
	"time"
)

// peakEWMA returns the cheaper of two random candidates, the cost being the decayed latency
// average times (requests in flight + 1), per unit of weight.
func peakEWMA[B comparable](b *Balancer[B], s *snapshot[B], now int64) int {
	i, j := twoChoices(b, s)
	if s.set[j].cost(now)*float64(s.weights[i]) < s.set[i].cost(now)*float64(s.weights[j]) {
		return j
	}
	return i
}

// unmeasuredLatency is the latency assumed for a backend with requests in flight and no latency
// observed yet, as in Finagle: an idle one costs 0, so a new backend gets one request at once,
// then is avoided until that request's answer says how fast it is.
const unmeasuredLatency = float64(1000 * time.Second)

// cost is n's load for PeakEWMA at time now (ns since epoch).
func (n *node[B]) cost(now int64) float64 {
	pending := n.inflight.Load()
	ewma := f64(n.ewma.Load())
	if ewma == 0 {
		if pending == 0 {
			return 0
		}
		ewma = unmeasuredLatency
	} else if dt := now - n.stamp.Load(); dt > 0 {
		ewma *= decay(dt, n.bal.opts.Decay)
	}
	return ewma * float64(pending+1)
}

// observe folds one latency observation into n's peak EWMA at time now. It takes no lock: it
// computes the new average from the current one and swaps it in if no other update came first
// (else it starts again), then records the time. Two updates of one backend racing within those
// few nanoseconds may decay the second by a little more than its true age: an error far below
// the average's own noise, for half the atomic operations of a mutex.
func (n *node[B]) observe(now int64, err error, latency time.Duration) {
	rtt := float64(max(latency, 0))
	if err != nil && !errors.Is(err, context.Canceled) && n.bal.opts.FailurePenalty > 0 {
		rtt = max(rtt, float64(n.bal.opts.FailurePenalty))
	}
	for {
		bits := n.ewma.Load()
		old := f64(bits)
		dt := now - n.stamp.Load()
		var next float64
		switch {
		case old == 0 || rtt > old:
			next = rtt // peak: jump up at once
		case dt <= 0:
			next = old
		default:
			w := decay(dt, n.bal.opts.Decay)
			next = old*w + rtt*(1-w)
		}
		// At least 1 ns: 0 means "unmeasured", and a value that decays towards 0 must not become
		// a subnormal float, whose arithmetic costs a microcode assist (hundreds of cycles) on
		// x86. A latency under 1 ns is not measurable anyway (time.Duration counts nanoseconds).
		next = max(next, minEWMA)
		if !n.ewma.CompareAndSwap(bits, math.Float64bits(next)) {
			continue
		}
		if dt > 0 || old == 0 {
			n.stamp.Store(now)
		}
		return
	}
}

// minEWMA is the least latency average recorded, in ns.
const minEWMA = 1.0

// maxDecayExponent bounds dt/tau in decay: exp(-700) ≈ 1e-304 is still a normal float, and so is
// its product with any latency average (at least minEWMA), so no subnormal arithmetic follows.
const maxDecayExponent = 700

// decay returns exp(-dt/tau), the weight of an observation dt nanoseconds old (at least
// exp(-maxDecayExponent)). Most picks come within a small fraction of tau of the last
// observation, where a second-order Taylor polynomial is exact to 2e-7 and much cheaper than
// math.Exp.
func decay(dt int64, tau time.Duration) float64 {
	x := float64(dt) / float64(tau)
	if x < 0.01 {
		return 1 - x + x*x/2
	}
	return math.Exp(-min(x, maxDecayExponent))
}

func f64(bits uint64) float64 { return math.Float64frombits(bits) }
