package breaker

import (
	"fmt"
	"sort"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGroupGetCreatesOnDemand(t *testing.T) {
	g := NewGroup(GroupOptions[string]{Breaker: Options{ConsecutiveFailures: 1}})
	a := g.Get("a")
	assert.Same(t, a, g.Get("a"))
	assert.NotSame(t, a, g.Get("b"))
	assert.Equal(t, 2, g.Len())
	_ = call(a, errDown)
	assert.Equal(t, Open, g.Get("a").State())
	assert.Equal(t, Closed, g.Get("b").State(), "breakers are independent")

	got, ok := g.Lookup("a")
	assert.True(t, ok)
	assert.Same(t, a, got)
	_, ok = g.Lookup("zzz")
	assert.False(t, ok)
	assert.Equal(t, 2, g.Len(), "Lookup does not create")

	var keys []string
	g.Range(func(k string, b *Breaker) bool {
		keys = append(keys, k)
		return true
	})
	sort.Strings(keys)
	assert.Equal(t, []string{"a", "b"}, keys)

	assert.True(t, g.Remove("a"))
	assert.False(t, g.Remove("a"))
	assert.Equal(t, 1, g.Len())
	assert.Equal(t, Closed, g.Get("a").State(), "a removed key starts afresh")
}

func TestGroupBoundedSize(t *testing.T) {
	g := NewGroup(GroupOptions[int]{MaxBreakers: 3})
	for k := range 3 {
		g.Get(k)
	}
	// Every breaker was used since the last sweep: one of them makes room for the new key.
	g.Get(3)
	assert.Equal(t, 3, g.Len())
	for k := range 100 {
		g.Get(k)
		assert.LessOrEqual(t, g.Len(), 3)
	}
}

func TestGroupIdleEviction(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGroup(GroupOptions[string]{IdleTimeout: time.Minute})
		idle, busy := g.Get("idle"), g.Get("busy")
		for range 5 { // a minute and a quarter of use of "busy" only
			time.Sleep(15 * time.Second)
			g.Get("busy")
		}
		g.Get("new1") // a sweep: both were used since the (creation-time) last sweep
		assert.Equal(t, 3, g.Len())
		for range 5 {
			time.Sleep(15 * time.Second)
			g.Get("busy")
		}
		// A sweep: "idle" has not been used since the last sweep, over a minute ago. "new1" was
		// created at that sweep, so it gets its second chance now (evicted after between one and
		// two IdleTimeouts).
		g.Get("new2")
		assert.Equal(t, 3, g.Len())
		_, ok := g.Lookup("new1")
		assert.True(t, ok)
		got, ok := g.Lookup("busy")
		assert.True(t, ok)
		assert.Same(t, busy, got)
		_, ok = g.Lookup("idle")
		assert.False(t, ok)
		assert.NotSame(t, idle, g.Get("idle"), "a new breaker after eviction")
	})
}

func TestGroupDisabledIdleEviction(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := NewGroup(GroupOptions[string]{IdleTimeout: -1})
		g.Get("a")
		time.Sleep(24 * time.Hour)
		g.Get("b")
		assert.Equal(t, 2, g.Len())
	})
}

func TestGroupKeyedCallback(t *testing.T) {
	var mu sync.Mutex
	var got []string
	g := NewGroup(GroupOptions[string]{
		Breaker: Options{ConsecutiveFailures: 1, OnStateChange: func(from, to State) {
			mu.Lock()
			got = append(got, fmt.Sprintf("plain %v->%v", from, to))
			mu.Unlock()
		}},
		OnStateChange: func(key string, from, to State) {
			mu.Lock()
			got = append(got, fmt.Sprintf("%s %v->%v", key, from, to))
			mu.Unlock()
		},
	})
	_ = call(g.Get("node-1"), errDown)
	g.Get("node-2").ForceOpen()
	assert.Equal(t, []string{
		"plain closed->open", "node-1 closed->open",
		"plain closed->forced-open", "node-2 closed->forced-open",
	}, got)
}

func TestGroupConcurrentGet(t *testing.T) {
	g := NewGroup(GroupOptions[int]{MaxBreakers: 64})
	var wg sync.WaitGroup
	seen := make([]map[int]*Breaker, 4)
	for w := range 4 {
		seen[w] = map[int]*Breaker{}
		wg.Go(func() {
			for i := range 2000 {
				k := i % 32
				b := g.Get(k)
				if prev, ok := seen[w][k]; ok && prev != b {
					t.Errorf("key %d: two breakers without eviction", k)
				}
				seen[w][k] = b
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 32, g.Len())
	for k := range 32 {
		b := g.Get(k)
		for w := range 4 {
			require.Same(t, b, seen[w][k])
		}
	}
}

func TestGroupGetAllocations(t *testing.T) {
	g := NewGroup(GroupOptions[string]{})
	g.Get("10.0.0.1:443")
	key := "10.0.0.1:443"
	assert.Zero(t, testing.AllocsPerRun(1000, func() { _ = g.Get(key) }))
}

func TestNewGroupPanics(t *testing.T) {
	assert.Panics(t, func() { NewGroup(GroupOptions[int]{MaxBreakers: -1}) })
	assert.Panics(t, func() { NewGroup(GroupOptions[int]{Breaker: Options{FailureRate: 2}}) })
}
