package balancer

// leastConnections returns the index with the fewest requests in flight per unit of weight,
// scanning from a random start so that ties do not all go to the first backend.
func leastConnections[B comparable](b *Balancer[B], s *snapshot[B]) int {
	n := len(s.set)
	if n == 1 {
		return 0
	}
	start := below(uint32(b.rand64()), n)
	best, bestLoad, bestW := start, s.set[start].inflight.Load(), s.weights[start]
	for k := 1; k < n; k++ {
		i := start + k
		if i >= n {
			i -= n
		}
		load, w := s.set[i].inflight.Load(), s.weights[i]
		if load*bestW < bestLoad*w { // load/w < bestLoad/bestW
			best, bestLoad, bestW = i, load, w
		}
	}
	return best
}
