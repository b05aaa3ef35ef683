package lock_test

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sinew-dev/sinew/lock"
)

func TestFenceAdmit(t *testing.T) {
	for _, c := range []struct {
		name   string
		tokens []uint64
		stale  []bool // want ErrStaleToken
	}{
		{"increasing", []uint64{1, 2, 5}, []bool{false, false, false}},
		{"repeat is the same holder", []uint64{3, 3, 3}, []bool{false, false, false}},
		{"lower rejected", []uint64{5, 4, 6, 5}, []bool{false, true, false, true}},
		{"zero first", []uint64{0, 0, 1}, []bool{false, false, false}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := lock.NewFence()
			_, ok := f.Highest("r")
			assert.False(t, ok)
			var highest uint64
			for i, tok := range c.tokens {
				err := f.Admit("r", tok)
				if c.stale[i] {
					assert.ErrorIs(t, err, lock.ErrStaleToken, "token %d", tok)
				} else {
					require.NoError(t, err, "token %d", tok)
					highest = tok
				}
				got, ok := f.Highest("r")
				assert.True(t, ok)
				assert.Equal(t, highest, got)
			}
			require.NoError(t, f.Admit("other", 0), "resources are independent")
		})
	}
}

func TestFenceDo(t *testing.T) {
	f := lock.NewFence()
	var ran []uint64
	write := func(tok uint64) error {
		return f.Do("r", tok, func() error { ran = append(ran, tok); return nil })
	}
	require.NoError(t, write(2))
	assert.ErrorIs(t, write(1), lock.ErrStaleToken)
	require.NoError(t, write(3))
	assert.Equal(t, []uint64{2, 3}, ran)
	assert.Equal(t, assert.AnError, f.Do("r", 3, func() error { return assert.AnError }))
}

// TestFenceDoConcurrent: writes admitted through Do land in token order.
func TestFenceDoConcurrent(t *testing.T) {
	f := lock.NewFence()
	var (
		wg   sync.WaitGroup
		last uint64
	)
	for i := range 64 {
		wg.Go(func() {
			tok := uint64(i)
			_ = f.Do("r", tok, func() error {
				if tok < last {
					t.Errorf("write %d after %d", tok, last)
				}
				last = tok
				return nil
			})
		})
	}
	wg.Wait()
	got, _ := f.Highest("r")
	assert.Equal(t, last, got)
}

func TestFenceAdmitAllocs(t *testing.T) {
	f := lock.NewFence()
	require.NoError(t, f.Admit("r", 1))
	tok := uint64(1)
	allocs := testing.AllocsPerRun(1000, func() {
		tok++
		_ = f.Admit("r", tok)
	})
	assert.Zero(t, allocs)
}
