package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/sinew-dev/sinew/examples/authflow/password"
	"github.com/sinew-dev/sinew/examples/authflow/users"
	"github.com/sinew-dev/sinew/lock"
)

// round sends one GET /me per client through the gateway, all at once, and
// returns how many failed (anything but 200); served counts the others by
// node.
func (c *cluster) round(ctx context.Context, live []*demoClient, served map[string]int, r *FailoverReport) int {
	results := make([]answer, len(live))
	var wg sync.WaitGroup
	for i, cl := range live {
		wg.Go(func() { results[i] = cl.do(ctx, "GET", c.gwSrv.URL()+"/me", nil) })
	}
	wg.Wait()
	failed := 0
	for _, a := range results {
		r.Requests++
		if a.err != nil || a.status != http.StatusOK {
			failed++
			continue
		}
		served[a.node]++
	}
	return failed
}

func (c *cluster) failover(ctx context.Context, live []*demoClient, p func(string, ...any)) (FailoverReport, error) {
	r := FailoverReport{ServedBefore: map[string]int{}, ServedWhileDown: map[string]int{}, ServedAfter: map[string]int{}}
	// Kill the node that owns the most sessions, so the move is visible.
	owned := map[string]int{}
	for _, cl := range live {
		owned[c.gw.Owner("session:"+cl.token)]++
	}
	vi := 0
	for i, s := range c.servers {
		if owned[s.URL()] > owned[c.servers[vi].URL()] {
			vi = i
		}
	}
	victim := c.servers[vi]
	victimURL, addr := victim.URL(), victim.Addr()
	r.Killed = c.nodes[vi].Name()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	pause := func() error {
		select {
		case <-tick.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}

	for range 10 {
		r.ErrorsAfter += c.round(ctx, live, r.ServedBefore, &r) // nothing is down yet
		if err := pause(); err != nil {
			return r, err
		}
	}
	p("  %d logged-in clients poll GET /me through the gateway; sessions owned by %s: %d", len(live), r.Killed, owned[victimURL])
	p("  before:      %s", perNode(r.ServedBefore))

	// Kill it while a round is in flight: its connections are dropped, a
	// crash as far as clients can tell.
	var wg sync.WaitGroup
	inFlight := 0
	retriesBefore := c.gw.Stats().Retries
	// The round racing with the kill is counted apart: the victim may answer
	// some of it just before it dies, which is not "serving while down".
	racing := map[string]int{}
	wg.Go(func() { inFlight = c.round(ctx, live, racing, &r) })
	killed := time.Now()
	victim.Close()
	wg.Wait()
	r.ErrorsInWindow += inFlight
	p("  %s killed (server closed) while a round of requests was in flight", r.Killed)
	detected := func(e Event) bool {
		return e.Node == victimURL && (e.Kind == BreakerOpen || e.Kind == NodeDown) && !e.At.Before(killed)
	}
	for {
		if e, ok, _ := c.events.find(detected); ok {
			r.Detected = e.At.Sub(killed)
			break
		}
		if time.Since(killed) > 10*time.Second {
			return r, errors.New("the gateway never noticed the dead node")
		}
		r.ErrorsInWindow += c.round(ctx, live, r.ServedWhileDown, &r)
		if err := pause(); err != nil {
			return r, err
		}
	}
	for range 15 {
		r.ErrorsAfter += c.round(ctx, live, r.ServedWhileDown, &r)
		if err := pause(); err != nil {
			return r, err
		}
	}
	r.KilledServedDown = r.ServedWhileDown[r.Killed]
	p("  while down:  %s (failed requests: %d before detection, %d after; gateway retries: %d)",
		perNode(r.ServedWhileDown), r.ErrorsInWindow, r.ErrorsAfter, c.gw.Stats().Retries-retriesBefore)

	restarted := time.Now()
	s, err := Listen(addr, c.nodes[vi].Handler(), c.cfg.Logger)
	if err != nil {
		return r, fmt.Errorf("restart %s: %w", r.Killed, err)
	}
	c.servers[vi] = s
	p("  %s restarted on %s", r.Killed, addr)
	for !r.Recovered {
		for _, st := range c.gw.Status() {
			if st.URL == victimURL && !st.Down && st.Breaker == "closed" {
				r.Recovered, r.Recovery = true, time.Since(restarted)
			}
		}
		if time.Since(restarted) > 15*time.Second {
			return r, errors.New("the restarted node never came back into rotation")
		}
		r.ErrorsAfter += c.round(ctx, live, r.ServedAfter, &r)
		if err := pause(); err != nil {
			return r, err
		}
	}
	for range 10 {
		r.ErrorsAfter += c.round(ctx, live, r.ServedAfter, &r)
		if err := pause(); err != nil {
			return r, err
		}
	}
	p("  after:       %s", perNode(r.ServedAfter))
	c.events.mu.Lock()
	for _, e := range c.events.list {
		if e.Node != victimURL {
			continue
		}
		if e.Kind == BreakerOpen {
			r.BreakerOpened = true
		}
		r.Events = append(r.Events, fmt.Sprintf("%s +%v", e.Kind, e.At.Sub(killed).Round(time.Millisecond)))
	}
	c.events.mu.Unlock()
	p("  gateway events for %s since the kill: %v", r.Killed, r.Events)
	p("  detected after %v; back in rotation %v after the restart", r.Detected.Round(time.Millisecond), r.Recovery.Round(time.Millisecond))
	return r, nil
}

func (c *cluster) migration(ctx context.Context, p func(string, ...any)) (MigrationReport, error) {
	r := MigrationReport{Migrations: map[string]int{}}
	store := c.cfg.Backends.Users()
	pw := func(name string) string { return "legacy secret of " + name }
	seed := func(name string) error {
		h, err := bcrypt.GenerateFromPassword([]byte(pw(name)), c.cfg.BcryptCost)
		if err != nil {
			return err
		}
		return store.Create(ctx, name, string(h))
	}
	var names []string
	for i := range c.cfg.LegacyUsers {
		name := fmt.Sprintf("legacy%d", i+1)
		if err := seed(name); err != nil {
			return r, fmt.Errorf("seed %s: %w", name, err)
		}
		names = append(names, name)
	}
	r.Users = len(names)
	p("\n[5/6] %d users imported with legacy bcrypt hashes (cost %d); each logs in on every node at once", r.Users, c.cfg.BcryptCost)
	before := c.nodeStats()
	gate := make(chan struct{})
	ok := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, name := range names {
		for i := range c.servers {
			cl := c.client("10.1")
			url := c.servers[i].URL()
			r.Logins++
			wg.Go(func() {
				<-gate
				a := cl.do(ctx, "POST", url+"/login", Credentials{name, pw(name)})
				if a.status == http.StatusOK {
					mu.Lock()
					ok[name]++
					r.LoginsOK++
					mu.Unlock()
				}
			})
		}
	}
	close(gate)
	wg.Wait()
	after := c.nodeStats()
	for _, name := range names {
		u, _, err := store.Get(ctx, name)
		if err != nil {
			return r, err
		}
		r.Migrations[name] = u.Migrations
		if password.IsLegacy(u.Hash) {
			r.StillLegacy++
		}
		p("  %-8s logins ok %d/%d, migrations %d, hash now %s…", name, ok[name], len(c.servers), u.Migrations, u.Hash[:min(len(u.Hash), 24)])
	}
	for i, n := range c.nodes {
		d := after[i]
		b := before[i]
		r.Skipped += int(d.MigrationBusy - b.MigrationBusy + d.MigrationDone - b.MigrationDone)
		p("  %s: migrated %d, skipped %d (lock held elsewhere) + %d (already migrated), stale writes %d",
			n.Name(), d.Migrated-b.Migrated, d.MigrationBusy-b.MigrationBusy, d.MigrationDone-b.MigrationDone, d.MigrationStale-b.MigrationStale)
	}
	for _, name := range names {
		if a := c.client("10.1").do(ctx, "POST", c.gwSrv.URL()+"/login", Credentials{name, pw(name)}); a.status == http.StatusOK {
			r.AfterLoginsOK++
		}
		u, _, err := store.Get(ctx, name)
		if err != nil {
			return r, err
		}
		r.Migrations[name] = u.Migrations
	}
	p("  later logins with the argon2id hashes: %d/%d ok, migrations unchanged: %v", r.AfterLoginsOK, len(names), r.Migrations)

	// 6. A paused writer.
	p("\n[6/6] fencing: a node pauses while holding the migration lock")
	name := "legacy-paused"
	if err := seed(name); err != nil {
		return r, err
	}
	locker := c.cfg.Backends.Locker()
	key := "migrate:" + name
	lk, err := locker.Obtain(ctx, key, 200*time.Millisecond, lock.ObtainOptions{})
	if err != nil {
		return r, err
	}
	pausedHash, err := c.pool.Hash(ctx, pw(name))
	if err != nil {
		return r, err
	}
	<-lk.Context().Done() // the "GC pause" outlasts the lock
	p("  paused writer took the lock with token %d, computed its hash, and lost the lock: %v", lk.Token(), context.Cause(lk.Context()))
	// The store frees the lock a moment after the holder's own validity ends
	// (clock drift allowance): take it and hand it back to be sure it is free.
	probe, err := locker.Obtain(ctx, key, time.Second, lock.ObtainOptions{})
	if err != nil {
		return r, err
	}
	_ = probe.Release(ctx)
	a := c.client("10.1").do(ctx, "POST", c.servers[0].URL()+"/login", Credentials{name, pw(name)})
	u, _, err := store.Get(ctx, name)
	if err != nil {
		return r, err
	}
	p("  meanwhile %s logged %s in → %d and migrated it with token %d (migrations %d)", c.nodes[0].Name(), name, a.status, u.Fence, u.Migrations)
	err = store.UpdateHash(ctx, name, pausedHash, int64(lk.Token()))
	r.StaleRejected = errors.Is(err, users.ErrStaleToken)
	u2, _, gerr := store.Get(ctx, name)
	if gerr != nil {
		return r, gerr
	}
	r.PausedUser = u2.Migrations
	p("  the paused writer wakes up and writes with token %d → %v; migrations still %d, hash unchanged: %v",
		lk.Token(), err, u2.Migrations, u2.Hash == u.Hash)
	return r, nil
}

func (c *cluster) nodeStats() []NodeStats {
	out := make([]NodeStats, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.Stats()
	}
	return out
}

// Check is one claim of the demo and whether the run bore it out.
type Check struct {
	OK   bool
	Text string
}

// Checks returns the demo's claims, each with whether this run bore it out.
func (rep Report) Checks() []Check {
	var out []Check
	check := func(ok bool, format string, a ...any) { out = append(out, Check{ok, fmt.Sprintf(format, a...)}) }
	check(rep.MeAfterLogin == 200 && rep.OldTokenAfterRotate == 401 && rep.MeAfterLogout == 401,
		"sessions: cookie %s; rotated on login (old token → %d); revoked on logout (→ %d)", rep.CookieFlags, rep.OldTokenAfterRotate, rep.MeAfterLogout)
	check(rep.SameFailure, "wrong password and unknown user get the same answer")
	o := rep.Overload
	check(o.Other == 0 && o.Created+o.Refused == o.Attempts && o.Created > 0,
		"hashing pool bounded: %d of %d simultaneous registrations refused with 503, none piled up", o.Refused, o.Attempts)
	for _, b := range []struct {
		what string
		r    BurstReport
	}{{"per-user", rep.UserBurst}, {"per-address", rep.IPBurst}} {
		check(b.r.Allowed <= b.r.MaxLegal && b.r.Succeeded == 0 && b.r.Errors == 0,
			"%s limit held across %d nodes: %d of %d guesses admitted (limit %d)", b.what, len(b.r.PerNode), b.r.Allowed, b.r.Attempts, b.r.Limit)
	}
	f := rep.Failover
	check(f.ErrorsAfter == 0 && f.KilledServedDown == 0 && f.Recovered && f.ServedAfter[f.Killed] > 0,
		"%s killed: noticed in %v (breaker opened: %v), %d failed requests before that, %d after; traffic moved and came back (%d served by it after restart)",
		f.Killed, f.Detected.Round(time.Millisecond), f.BreakerOpened, f.ErrorsInWindow, f.ErrorsAfter, f.ServedAfter[f.Killed])
	m := rep.Migration
	once := m.StillLegacy == 0 && len(m.Migrations) == m.Users
	for _, n := range m.Migrations {
		once = once && n == 1
	}
	check(once && m.LoginsOK == m.Logins, "%d legacy users migrated exactly once each under %d concurrent logins on %d nodes", m.Users, m.Logins, rep.Nodes)
	check(m.StaleRejected && m.PausedUser == 1, "a paused writer's stale fencing token was rejected")
	return out
}

// OK reports whether every check passed.
func (rep Report) OK() bool {
	for _, c := range rep.Checks() {
		if !c.OK {
			return false
		}
	}
	return true
}

func (c *cluster) summary(rep Report, p func(string, ...any)) {
	p("\nSummary (%s, %d nodes, %v)", rep.Backends, rep.Nodes, rep.Elapsed.Round(10*time.Millisecond))
	for _, ch := range rep.Checks() {
		mark := "[ok]  "
		if !ch.OK {
			mark = "[FAIL]"
		}
		p("  %s %s", mark, ch.Text)
	}
}
