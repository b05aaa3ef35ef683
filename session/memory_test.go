package session

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
)

// The memory store's deadlines on a fake clock, to the millisecond.
func TestMemoryStore_DeadlinesSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := New(NewMemoryStore(), Options{IdleTimeout: 10 * time.Minute, Lifetime: time.Hour, TouchInterval: time.Minute})
		s := m.New()
		s.SetBytes("k", []byte("v"))
		res := mustCommit(t, m, s)
		assert.Equal(t, time.Now().Add(10*time.Minute), res.Expires)

		time.Sleep(30 * time.Second) // inside the touch interval: no touch
		got := mustLoad(t, m, res.Token)
		assert.Equal(t, res.Expires, got.Expires())
		time.Sleep(9*time.Minute + 29*time.Second) // 1 s before idle expiry
		got = mustLoad(t, m, res.Token)            // touches
		assert.Equal(t, time.Now().Add(10*time.Minute), got.Expires())

		// Kept busy, the session still ends at its absolute deadline.
		for time.Since(res.Expires.Add(-10*time.Minute)) < time.Hour-5*time.Minute {
			time.Sleep(5 * time.Minute)
			mustLoad(t, m, res.Token)
		}
		time.Sleep(5 * time.Minute)
		assertGone(t, m, res.Token)
	})
}

func TestMemoryStore_SweepsExpired(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := NewMemoryStore()
		m := New(st, Options{IdleTimeout: time.Minute})
		for range 100 {
			s := m.New()
			s.SetUser("u")
			s.SetBytes("k", []byte("v"))
			mustCommit(t, m, s)
		}
		time.Sleep(2 * time.Minute)
		for range 10 {
			s := m.New()
			s.SetBytes("k", []byte("v"))
			mustCommit(t, m, s)
		}
		st.mu.Lock()
		defer st.mu.Unlock()
		assert.Len(t, st.sessions, 10, "creates sweep expired sessions")
		assert.Empty(t, st.users)
	})
}

func TestManager_Events(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var events []Event
		m := New(NewMemoryStore(), Options{IdleTimeout: time.Minute, OnEvent: func(e Event) { events = append(events, e) }})
		s := m.New()
		s.SetUser("bob")
		s.SetBytes("k", []byte("v"))
		tok := mustCommit(t, m, s).Token
		s.Rotate()
		mustCommit(t, m, s)
		time.Sleep(2 * time.Minute)
		assertGone(t, m, s.Token()) // found expired: deleted, event
		assertGone(t, m, tok)       // rotated away: no event

		s = m.New()
		s.SetBytes("k", []byte("v"))
		mustCommit(t, m, s)
		s.Destroy()
		mustCommit(t, m, s)
		assert.Equal(t, []Event{
			{Kind: EventCreated, User: "bob", Count: 1},
			{Kind: EventRotated, User: "bob", Count: 1},
			{Kind: EventExpired, User: "bob", Count: 1},
			{Kind: EventCreated, Count: 1},
			{Kind: EventRevoked, Count: 1},
		}, events)
	})
}
