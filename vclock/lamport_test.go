package vclock

import (
	"math"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLamport(t *testing.T) {
	var l Lamport
	require.Zero(t, l.Now(), "zero value")
	for _, tc := range []struct {
		name string
		op   func() uint64
		want uint64
	}{
		{"tick", l.Tick, 1},
		{"tick again", l.Tick, 2},
		{"update from behind", func() uint64 { return l.Update(1) }, 3},
		{"update from equal", func() uint64 { return l.Update(3) }, 4},
		{"update from ahead", func() uint64 { return l.Update(10) }, 11},
		{"now does not tick", l.Now, 11},
		{"update to the top", func() uint64 { return l.Update(math.MaxUint64 - 1) }, math.MaxUint64},
		{"saturated tick", l.Tick, math.MaxUint64},
		{"saturated update", func() uint64 { return l.Update(math.MaxUint64) }, math.MaxUint64},
	} {
		require.Equal(t, tc.want, tc.op(), tc.name)
	}
}

// TestLamportConcurrent checks that concurrent Ticks and Updates never
// return the same time twice. Run it with -race.
func TestLamportConcurrent(t *testing.T) {
	var l Lamport
	const workers, per = 8, 5000
	var mu sync.Mutex
	seen := make(map[uint64]bool, workers*per)
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			got := make([]uint64, 0, per)
			for i := range per {
				if i%3 == 0 {
					got = append(got, l.Update(uint64(g*i)))
				} else {
					got = append(got, l.Tick())
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for _, v := range got {
				assert.False(t, seen[v], "time %d returned twice", v) // assert: no require in goroutines
				seen[v] = true
			}
		})
	}
	wg.Wait()
	assert.Len(t, seen, workers*per, "distinct times")
}

func TestLamportAllocs(t *testing.T) {
	var l Lamport
	assert.Zero(t, testing.AllocsPerRun(100, func() { l.Tick(); l.Update(5) }))
}
