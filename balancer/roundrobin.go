package balancer

// roundRobin returns the next index of the set in rotation. The position is a 32-bit counter, so
// when the set's size does not divide 2^32 the rotation restarts at the first backend once every
// 2^32 picks.
func roundRobin[B comparable](b *Balancer[B], s *snapshot[B]) int {
	return next(&b.rr, s.setMod, len(s.set))
}
