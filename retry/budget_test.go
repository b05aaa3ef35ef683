package retry_test

import (
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/sinew-dev/sinew/retry"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func withdrawals(b *retry.Budget, now time.Time, n int) int {
	got := 0
	for range n {
		if b.WithdrawAt(now) {
			got++
		}
	}
	return got
}

func TestBudgetRatio(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opts     retry.BudgetOptions
		deposits int
		want     int
	}{
		{"default ratio 0.1", retry.BudgetOptions{MinPerSecond: -1}, 95, 9},
		{"ratio 0.25", retry.BudgetOptions{Ratio: 0.25, MinPerSecond: -1}, 10, 2},
		{"ratio above 1", retry.BudgetOptions{Ratio: 3, MinPerSecond: -1}, 5, 15},
		{"capped by Max", retry.BudgetOptions{Ratio: 1, MinPerSecond: -1, Max: 4}, 100, 4},
		{"default Max 100", retry.BudgetOptions{Ratio: 1, MinPerSecond: -1}, 1000, 100},
		{"starts empty", retry.BudgetOptions{MinPerSecond: -1}, 0, 0},
		{"tiny ratio earns nothing", retry.BudgetOptions{Ratio: 1e-9, MinPerSecond: -1}, 1000, 0},
		{"huge values do not overflow", retry.BudgetOptions{Ratio: 1e30, MinPerSecond: -1, Max: math.MaxInt}, 3, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := retry.NewBudget(tc.opts)
			for range tc.deposits {
				b.Deposit()
			}
			assert.Equal(t, tc.want, withdrawals(b, t0, 1000))
		})
	}
}

func TestBudgetFloor(t *testing.T) {
	b := retry.NewBudget(retry.BudgetOptions{MinPerSecond: 4})
	assert.Equal(t, 4, withdrawals(b, t0, 100), "starts with one second's worth")
	assert.Equal(t, 0, withdrawals(b, t0.Add(200*ms), 100), "less than one token refilled")
	assert.Equal(t, 1, withdrawals(b, t0.Add(250*ms), 100))
	assert.Equal(t, 2, withdrawals(b, t0.Add(750*ms), 100))
	assert.Equal(t, 4, withdrawals(b, t0.Add(time.Hour), 100), "refill is capped at one second's worth")
	assert.Equal(t, 0, withdrawals(b, t0, 100), "time going backwards refills nothing")
	assert.Equal(t, 1, withdrawals(b, t0.Add(time.Hour+250*ms), 100))
}

func TestBudgetFloorBelowOnePerSecond(t *testing.T) {
	b := retry.NewBudget(retry.BudgetOptions{MinPerSecond: 0.5})
	assert.Equal(t, 1, withdrawals(b, t0, 10), "the floor bucket holds at least one token")
	assert.Equal(t, 0, withdrawals(b, t0.Add(time.Second), 10))
	assert.Equal(t, 1, withdrawals(b, t0.Add(2*time.Second), 10))
}

func TestBudgetRatioBeforeFloor(t *testing.T) {
	b := retry.NewBudget(retry.BudgetOptions{Ratio: 1, MinPerSecond: 2})
	for range 3 {
		b.Deposit()
	}
	assert.Equal(t, 3+2, withdrawals(b, t0, 100))
	assert.Equal(t, 2, withdrawals(b, t0.Add(time.Second), 100), "only the floor refills with time")
}

func TestBudgetDefaultFloor(t *testing.T) {
	b := retry.NewBudget(retry.BudgetOptions{})
	assert.Equal(t, 10, withdrawals(b, t0, 100))
}

func TestBudgetWithdrawUsesClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := retry.NewBudget(retry.BudgetOptions{MinPerSecond: 1})
		assert.True(t, b.Withdraw())
		assert.False(t, b.Withdraw())
		time.Sleep(time.Second)
		assert.True(t, b.Withdraw())
	})
}

func TestZeroBudgetAllowsNothing(t *testing.T) {
	var b retry.Budget
	b.Deposit()
	assert.False(t, b.Withdraw())
}

func TestNewBudgetPanics(t *testing.T) {
	for _, o := range []retry.BudgetOptions{
		{Ratio: -1},
		{Ratio: math.NaN()},
		{Ratio: math.Inf(1)},
		{Max: -1},
		{MinPerSecond: math.NaN()},
	} {
		assert.Panics(t, func() { retry.NewBudget(o) }, "%+v", o)
	}
}

// TestBudgetConcurrent deposits and withdraws from many goroutines: the
// number of withdrawals granted is exactly what the deposits earned (the
// floor is off), however they interleave. Run with -race.
func TestBudgetConcurrent(t *testing.T) {
	b := retry.NewBudget(retry.BudgetOptions{Ratio: 0.5, MinPerSecond: -1, Max: 1 << 20})
	const goroutines, per = 8, 10000
	var granted atomic.Int64
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range per {
				b.Deposit()
				if b.Withdraw() {
					granted.Add(1)
				}
			}
		})
	}
	wg.Wait()
	rest := int64(withdrawals(b, t0, goroutines*per))
	assert.Equal(t, int64(goroutines*per/2), granted.Load()+rest)
}
