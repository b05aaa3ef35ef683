package balancer

// RoundRobin shares WeightedRoundRobin's code: its sequence is the set in order, 0, 1, ..., n-1,
// so a pick is the same atomic add and table reads (see smoothRoundRobin), and Pick inlines it.

// roundRobinSchedule returns the RoundRobin sequence over a set of n backends: 0, 1, ..., n-1.
// The position is a 32-bit counter, so when n does not divide 2^32 the rotation restarts at the
// first backend once every 2^32 picks.
func roundRobinSchedule(n int) []uint32 {
	sched := make([]uint32, n)
	for i := range sched {
		sched[i] = uint32(i)
	}
	return sched
}
