package retry

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// BudgetOptions configures a [Budget]. The zero value means the defaults:
// 10% retries, a floor of 10 retries per second, at most 100 banked retries.
type BudgetOptions struct {
	// Ratio is the number of retries each call earns: 0.1 lets retries add at
	// most 10% to the load a dependency sees. Default 0.1. It may exceed 1.
	Ratio float64
	// MinPerSecond is a floor of retries per second allowed whatever the
	// traffic, so that a client making few calls can still retry. Its bucket
	// holds one second's worth (at least one token) and starts full. Default
	// 10; negative means no floor.
	MinPerSecond float64
	// Max is the most retries the Ratio part can bank, which bounds the burst
	// of retries a sudden outage sets off after a long healthy spell. Default
	// 100.
	Max int
}

// A Budget limits retries to a fraction of calls, shared by every [Policy]
// (and goroutine) that holds it, in the manner of Finagle's RetryBudget and
// gRPC's retry throttling: a healthy dependency's failures are retried, but
// when most calls fail the retries stop multiplying the load.
//
// It is two token buckets. Each call deposits Ratio tokens into the first,
// up to Max; each retry withdraws one. When the first is empty a retry may
// still take a token from the second, which refills at MinPerSecond. When both
// are empty the call returns an error matching [ErrBudgetExhausted].
//
// The first bucket starts empty and is lock-free: a deposit into a full bucket
// is a single atomic load, so the healthy steady state shares the bucket's
// cache line without writing it. The floor bucket is behind a mutex and is
// touched only when the first bucket is empty.
//
// A Budget is safe for concurrent use. The zero Budget allows no retries; use
// [NewBudget].
type Budget struct {
	tokens  atomic.Int64 // ratio bucket, in units of 1/budgetUnit retry
	deposit int64        // units added per call
	max     int64        // capacity in units

	rate  float64 // floor refill, tokens per second; 0: no floor
	burst float64 // floor capacity in tokens

	mu    sync.Mutex // protects floor, last
	floor float64    // floor tokens available at last
	last  time.Time  // when floor was last brought up to date; zero: never
}

// budgetUnit is one retry in the ratio bucket; ratios are kept to 1e-6.
const budgetUnit = 1_000_000

// NewBudget returns a Budget configured by o. It panics if Ratio is negative
// or not a number, or Max is negative.
func NewBudget(o BudgetOptions) *Budget {
	if o.Ratio < 0 || math.IsNaN(o.Ratio) || math.IsInf(o.Ratio, 0) || o.Max < 0 || math.IsNaN(o.MinPerSecond) {
		panic("retry: invalid BudgetOptions")
	}
	if o.Ratio == 0 {
		o.Ratio = 0.1
	}
	if o.MinPerSecond == 0 {
		o.MinPerSecond = 10
	}
	if o.Max == 0 {
		o.Max = 100
	}
	b := &Budget{max: math.MaxInt64 / 2}
	if o.Max < math.MaxInt64/2/budgetUnit {
		b.max = int64(o.Max) * budgetUnit
	}
	b.deposit = int64(min(math.Round(o.Ratio*budgetUnit), float64(b.max)))
	if o.MinPerSecond > 0 && !math.IsInf(o.MinPerSecond, 0) {
		b.rate = o.MinPerSecond
		b.burst = max(1, o.MinPerSecond)
		b.floor = b.burst
	}
	return b
}

// Deposit credits the budget for one call. [Do] and [Policy.Do] call it once
// per call, before the first attempt; call it yourself only for calls made
// outside them that should earn retries.
func (b *Budget) Deposit() {
	for {
		t := b.tokens.Load()
		if t >= b.max {
			return
		}
		if b.tokens.CompareAndSwap(t, min(t+b.deposit, b.max)) {
			return
		}
	}
}

// Withdraw takes one retry from the budget, reporting whether there was one.
// It is WithdrawAt(time.Now()).
func (b *Budget) Withdraw() bool {
	return b.WithdrawAt(time.Now())
}

// WithdrawAt is [Budget.Withdraw] at time now, which only the per-second floor
// reads. Times earlier than one already seen count as that one.
func (b *Budget) WithdrawAt(now time.Time) bool {
	for {
		t := b.tokens.Load()
		if t < budgetUnit {
			break
		}
		if b.tokens.CompareAndSwap(t, t-budgetUnit) {
			return true
		}
	}
	if b.rate == 0 {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.last.IsZero() {
		if el := now.Sub(b.last); el > 0 {
			b.floor = min(b.burst, b.floor+el.Seconds()*b.rate)
		}
	}
	if b.last.IsZero() || now.After(b.last) {
		b.last = now
	}
	if b.floor < 1 {
		return false
	}
	b.floor--
	return true
}
