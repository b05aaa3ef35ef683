package balancer

// smoothRoundRobin returns the next index of the precomputed sequence: the smooth weighted one, or
// RoundRobin's 0, 1, ..., n-1.
func smoothRoundRobin[B comparable](b *Balancer[B], s *snapshot[B]) int {
	return int(s.sched[next(&b.rr, s.schedMod, len(s.sched))])
}

// smoothSchedule returns one period of nginx's smooth weighted round-robin over positive weights:
// at each step every backend's current weight grows by its weight, the largest is picked (the
// first on ties) and loses the total. One period has sum(weights) picks, each backend picked
// exactly its weight's number of times, after weights are divided by their gcd and, if the sum
// still exceeds MaxScheduleLength, scaled down to fit. Building it costs O(n * period).
func smoothSchedule(weights []int64) []uint32 {
	w := reduceWeights(weights)
	var total int64
	for _, x := range w {
		total += x
	}
	sched := make([]uint32, total)
	cur := make([]int64, len(w))
	for k := range sched {
		best := 0
		for i, x := range w {
			cur[i] += x
			if cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= total
		sched[k] = uint32(best)
	}
	return sched
}

// reduceWeights divides weights by their gcd and scales them down until their sum fits
// MaxScheduleLength.
func reduceWeights(weights []int64) []int64 {
	w := make([]int64, len(weights))
	var g int64
	for _, x := range weights {
		g = gcd(g, x)
	}
	var total int64
	for i, x := range weights {
		w[i] = x / g
		total += w[i]
	}
	for total > MaxScheduleLength {
		f := float64(MaxScheduleLength-len(w)) / float64(total)
		total = 0
		for i, x := range w {
			w[i] = max(1, int64(float64(x)*f))
			total += w[i]
		}
	}
	return w
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
