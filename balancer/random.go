package balancer

// random returns a uniformly random index of the set.
func random[B comparable](b *Balancer[B], s *snapshot[B]) int {
	return below(uint32(b.rand64()), len(s.set))
}

// weightedRandom returns a random index of the set drawn in proportion to the weights.
func weightedRandom[B comparable](b *Balancer[B], s *snapshot[B]) int {
	if !s.weighted {
		return random(b, s)
	}
	return s.alias.draw(b.rand64())
}

// alias is Vose's alias table: draw is O(1) for any weights.
type alias struct {
	prob  []uint32 // keep i with probability prob[i]/2^32, else take alias[i]
	alias []uint32
}

// newAlias builds the table for positive weights.
func newAlias(weights []int64) alias {
	n := len(weights)
	var total float64
	for _, w := range weights {
		total += float64(w)
	}
	a := alias{prob: make([]uint32, n), alias: make([]uint32, n)}
	scaled := make([]float64, n)
	var small, large []int
	for i, w := range weights {
		scaled[i] = float64(w) * float64(n) / total
		if scaled[i] < 1 {
			small = append(small, i)
		} else {
			large = append(large, i)
		}
	}
	for len(small) > 0 && len(large) > 0 {
		l, g := small[len(small)-1], large[len(large)-1]
		small = small[:len(small)-1]
		a.prob[l] = uint32(scaled[l] * (1 << 32))
		a.alias[l] = uint32(g)
		scaled[g] -= 1 - scaled[l]
		if scaled[g] < 1 {
			large = large[:len(large)-1]
			small = append(small, g)
		}
	}
	// What remains has probability 1 (up to rounding): keep always.
	for _, i := range append(small, large...) {
		a.prob[i] = 1<<32 - 1
		a.alias[i] = uint32(i)
	}
	return a
}

// draw maps 64 random bits to an index: the high half picks a column, the low half the coin.
func (a alias) draw(r uint64) int { return a.toss(below(uint32(r>>32), len(a.prob)), uint32(r)) }

// draw32 is draw from 32 random bits: the high half of r*n picks the column, the low half, the
// position of r within the column, is the coin (uniform in steps of n/2^32, which is plenty for
// P2C's candidates; draw keeps full 32-bit coins for WeightedRandom).
func (a alias) draw32(r uint32) int {
	m := uint64(r) * uint64(len(a.prob))
	return a.toss(int(m>>32), uint32(m))
}

// toss returns column i, or its alias when coin is at or above i's probability.
func (a alias) toss(i int, coin uint32) int {
	if coin < a.prob[i] {
		return i
	}
	return int(a.alias[i])
}
