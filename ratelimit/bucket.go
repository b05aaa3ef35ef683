package ratelimit

// The in-memory token bucket keeps, per limit, two values: the tokens in the bucket scaled to
// nanoseconds of refill (tokens × interval, so whole arithmetic is exact) and the time of the
// last refill. Its decisions are GCRA's: the bucket's content c at time last stands for the
// theoretical arrival time last + tau − c.

// bucketCredit returns limit i's content at t, in nanoseconds of refill, from state st (nil:
// a full bucket). It may be negative when t is before the last refill.
func (m *Memory) bucketCredit(st []int64, i int, t int64) int64 {
	tau := m.lim[i].tau
	if st == nil {
		return tau
	}
	c, last := st[2*i], st[2*i+1]
	if el := t - last; el < tau-c { // compared so that nothing overflows
		return c + el
	}
	return tau // refilled to the brim
}

// decideBucket is decide for the token bucket: st holds (content, last refill) per limit.
func (m *Memory) decideBucket(st []int64, t int64, n int, r *Result) bool {
	allowed := true
	best, bestRemain, bestRetry := 0, int64(-1), int64(-1)
	var bestReset int64
	for i := range m.lim {
		c := m.bucketCredit(st, i, t)
		cost := m.cost(i, n)
		if c < cost {
			// not enough tokens: the binding limit is the one that refills last
			wait := cost - c
			if allowed || wait > bestRetry {
				best, bestRetry, bestReset = i, wait, m.lim[i].tau-c
				bestRemain = m.div(c, i)
			}
			allowed = false
			continue
		}
		if !allowed {
			continue
		}
		remain := m.div(c-cost, i)
		if bestRemain < 0 || remain < bestRemain {
			best, bestRemain, bestReset = i, remain, m.lim[i].tau-(c-cost)
		}
	}
	m.fill(r, allowed, best, bestRemain, bestRetry, bestReset)
	return allowed
}

// commitBucket takes n events' tokens from every limit at t.
func (m *Memory) commitBucket(st []int64, t int64, n int) {
	for i := range m.lim {
		st[2*i] = m.bucketCredit(st, i, t) - m.cost(i, n)
		st[2*i+1] = t
	}
}

// idleBucket reports whether every bucket of st is full at t.
func (m *Memory) idleBucket(st []int64, t int64) bool {
	for i := range m.lim {
		if m.bucketCredit(st, i, t) < m.lim[i].tau {
			return false
		}
	}
	return true
}
