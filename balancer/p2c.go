package balancer

// twoChoices draws two distinct indexes of the set (in proportion to weight when weighted; the
// second is redrawn once if it repeats the first, then taken as the next index). One 64-bit random
// value gives both candidates: 32 bits each.
func twoChoices[B comparable](b *Balancer[B], s *snapshot[B]) (int, int) {
	n := len(s.set)
	if n == 1 {
		return 0, 0
	}
	r := b.rand64()
	if !s.weighted {
		i := below(uint32(r>>32), n)
		j := below(uint32(r), n-1)
		if j >= i {
			j++
		}
		return i, j
	}
	i, j := s.alias.draw32(uint32(r>>32)), s.alias.draw32(uint32(r))
	if j == i {
		if j = s.alias.draw(b.rand64()); j == i {
			if j = i + 1; j == n {
				j = 0
			}
		}
	}
	return i, j
}

// powerOfTwo returns the less loaded of two random candidates, comparing requests in flight per
// unit of weight.
func powerOfTwo[B comparable](b *Balancer[B], s *snapshot[B]) int {
	i, j := twoChoices(b, s)
	if s.set[j].inflight.Load()*s.weights[i] < s.set[i].inflight.Load()*s.weights[j] {
		return j
	}
	return i
}
