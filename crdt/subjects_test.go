package crdt

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/sinew-dev/sinew/vclock"
)

// The subjects: one per type, with its reference model.

// ownHistory returns the known ops of replica of the given kind, with the
// ops of that kind carried by the prunes replica performed: what a delta
// holding replica's count carries.
func ownHistory(m *model, k known, replica string, kind byte) []int {
	var out []int
	for i, o := range m.ops {
		if !k.has(i) || o.replica != replica {
			continue
		}
		switch o.kind {
		case kind:
			out = append(out, i)
		case 'p':
			for _, x := range o.observed {
				if m.ops[x].kind == kind {
					out = append(out, x)
				}
			}
		}
	}
	return out
}

// pruneOp records a prune of departed into replica, carrying the ops of
// the given kinds that the moved counts hold.
func pruneOp(m *model, k known, departed, into string, kinds ...byte) (mop, []int) {
	var carried []int
	for _, kind := range kinds {
		carried = append(carried, ownHistory(m, k, into, kind)...)
		carried = append(carried, ownHistory(m, k, departed, kind)...)
	}
	return mop{replica: into, kind: 'p', elem: departed, observed: carried}, carried
}

func counterModel(m *model, k known) string {
	var v int64
	for i, o := range m.ops {
		if k.has(i) {
			switch o.kind {
			case '+':
				v += int64(o.n)
			case '-':
				v -= int64(o.n)
			}
		}
	}
	return strconv.FormatInt(v, 10)
}

func wellFormedGCounter(c GCounter) error {
	for _, mk := range c.marks {
		if n := c.counts.Get(mk.departed); n != 0 && n <= mk.count {
			return fmt.Errorf("count of %q at or below its mark", mk.departed)
		}
	}
	return nil
}

var gcounterSubject = subject[GCounter]{
	fromJSON: fromJSON[GCounter],
	name:     "GCounter",
	merge:    (*GCounter).Merge,
	clone:    GCounter.Clone,
	encode: func(c GCounter) []byte {
		b, _ := c.MarshalBinary()
		return b
	},
	decode: func(b []byte) (GCounter, error) {
		var c GCounter
		err := c.UnmarshalBinary(b)
		return c, err
	},
	op: func(r *rand.Rand, c *GCounter, replica string, m *model, k known) (GCounter, mop, []int) {
		n := r.Uint64N(4)
		implied := ownHistory(m, k, replica, '+')
		return c.Inc(replica, n), mop{replica: replica, kind: '+', n: n}, implied
	},
	value:      func(c GCounter) string { return strconv.FormatUint(c.Value(), 10) },
	modelValue: counterModel,
	wellFormed: wellFormedGCounter,
	prune: func(c *GCounter, departed, into string, m *model, k known) (GCounter, mop, []int) {
		var kinds []byte
		if c.Count(departed) > 0 {
			kinds = append(kinds, '+')
		}
		o, carried := pruneOp(m, k, departed, into, kinds...)
		return c.Prune(departed, into), o, carried
	},
}

var pncounterSubject = subject[PNCounter]{
	fromJSON: fromJSON[PNCounter],
	name:     "PNCounter",
	merge:    (*PNCounter).Merge,
	clone:    PNCounter.Clone,
	encode: func(c PNCounter) []byte {
		b, _ := c.MarshalBinary()
		return b
	},
	decode: func(b []byte) (PNCounter, error) {
		var c PNCounter
		err := c.UnmarshalBinary(b)
		return c, err
	},
	op: func(r *rand.Rand, c *PNCounter, replica string, m *model, k known) (PNCounter, mop, []int) {
		n := r.Uint64N(4)
		if r.IntN(2) == 0 {
			return c.Inc(replica, n), mop{replica: replica, kind: '+', n: n}, ownHistory(m, k, replica, '+')
		}
		return c.Dec(replica, n), mop{replica: replica, kind: '-', n: n}, ownHistory(m, k, replica, '-')
	},
	value:      func(c PNCounter) string { return strconv.FormatInt(c.Value(), 10) },
	modelValue: counterModel,
	wellFormed: func(c PNCounter) error { return errors.Join(wellFormedGCounter(c.p), wellFormedGCounter(c.n)) },
	prune: func(c *PNCounter, departed, into string, m *model, k known) (PNCounter, mop, []int) {
		// Only the halves with something to fold ship a count.
		var kinds []byte
		if c.p.Count(departed) > 0 {
			kinds = append(kinds, '+')
		}
		if c.n.Count(departed) > 0 {
			kinds = append(kinds, '-')
		}
		o, carried := pruneOp(m, k, departed, into, kinds...)
		return c.Prune(departed, into), o, carried
	},
}

// elems is the small universe of set elements, so that adds and removes
// of one element collide often.
var elems = []string{"a", "b", "c", "d", "e", "f"}

var gsetSubject = subject[GSet[string]]{
	fromJSON: fromJSON[GSet[string]],
	name:     "GSet",
	merge:    (*GSet[string]).Merge,
	clone:    GSet[string].Clone,
	encode:   func(s GSet[string]) []byte { return s.AppendBinary(nil, StringCodec{}) },
	decode:   func(b []byte) (GSet[string], error) { return DecodeGSet(b, StringCodec{}) },
	op: func(r *rand.Rand, s *GSet[string], replica string, _ *model, _ known) (GSet[string], mop, []int) {
		e := elems[r.IntN(len(elems))]
		return s.Add(e), mop{replica: replica, kind: '+', elem: e}, nil
	},
	value: func(s GSet[string]) string { return sortedString(s.Elements()) },
	modelValue: func(m *model, k known) string {
		set := map[string]bool{}
		for i, o := range m.ops {
			if k.has(i) {
				set[o.elem] = true
			}
		}
		var out []string
		for e := range set {
			out = append(out, e)
		}
		return sortedString(out)
	},
	wellFormed: func(GSet[string]) error { return nil },
}

// wellFormedContext checks the normal form of a causal context.
func wellFormedContext(c *causalContext) error {
	for i, d := range c.cloud {
		if cur := c.clock.Get(d.ID); d.Counter <= cur+1 {
			return fmt.Errorf("cloud dot %v not beyond the clock", d)
		}
		if i > 0 && dotCompare(c.cloud[i-1], d) >= 0 {
			return fmt.Errorf("cloud not sorted")
		}
	}
	return nil
}

var orsetSubject = subject[ORSet[string]]{
	fromJSON: fromJSON[ORSet[string]],
	name:     "ORSet",
	merge:    (*ORSet[string]).Merge,
	clone:    ORSet[string].Clone,
	encode:   func(s ORSet[string]) []byte { return s.AppendBinary(nil, StringCodec{}) },
	decode:   func(b []byte) (ORSet[string], error) { return DecodeORSet(b, StringCodec{}) },
	op: func(r *rand.Rand, s *ORSet[string], replica string, m *model, k known) (ORSet[string], mop, []int) {
		e := elems[r.IntN(len(elems))]
		observed := m.alive(k, func(o mop) bool { return o.kind == '+' && o.elem == e })
		if r.IntN(3) == 0 {
			return s.Remove(e), mop{replica: replica, kind: '-', elem: e, observed: observed}, nil
		}
		return s.Add(replica, e), mop{replica: replica, kind: '+', elem: e, observed: observed}, nil
	},
	value: func(s ORSet[string]) string { return sortedString(s.Elements()) },
	modelValue: func(m *model, k known) string {
		set := map[string]bool{}
		for _, i := range m.alive(k, func(o mop) bool { return o.kind == '+' }) {
			set[m.ops[i].elem] = true
		}
		var out []string
		for e := range set {
			out = append(out, e)
		}
		return sortedString(out)
	},
	wellFormed: func(s ORSet[string]) error {
		if err := wellFormedLive(s); err != nil {
			return err
		}
		for e, ds := range s.entries {
			seen := map[vclock.Dot]bool{}
			for d := range ds.all() {
				if !s.ctx.contains(d) || d.Counter == 0 || seen[d] {
					return fmt.Errorf("element %q: bad dot %v", e, d)
				}
				seen[d] = true
			}
		}
		return wellFormedContext(&s.ctx)
	},
}

var lwwSubject = subject[LWWRegister[string]]{
	fromJSON: fromJSON[LWWRegister[string]],
	name:     "LWWRegister",
	merge:    (*LWWRegister[string]).Merge,
	clone:    func(r LWWRegister[string]) LWWRegister[string] { return r },
	encode:   func(r LWWRegister[string]) []byte { return r.AppendBinary(nil, StringCodec{}) },
	decode:   func(b []byte) (LWWRegister[string], error) { return DecodeLWWRegister(b, StringCodec{}) },
	op: func(r *rand.Rand, reg *LWWRegister[string], replica string, m *model, _ known) (LWWRegister[string], mop, []int) {
		// Timestamps collide across replicas (ties go to the replica ID)
		// but never within one: Logical is the replica's op number.
		seq := 0
		for _, o := range m.ops {
			if o.replica == replica {
				seq++
			}
		}
		ts := vclock.Timestamp{WallTime: int64(r.IntN(5)), Logical: uint32(seq)}
		v := fmt.Sprintf("%s#%d", replica, seq)
		return reg.Set(replica, ts, v), mop{replica: replica, kind: '+', elem: v, ts: ts}, nil
	},
	value: func(r LWWRegister[string]) string {
		v, ok := r.Get()
		return fmt.Sprint(v, ok)
	},
	modelValue: func(m *model, k known) string {
		best := -1
		for i, o := range m.ops {
			if !k.has(i) {
				continue
			}
			if best < 0 {
				best = i
				continue
			}
			b := m.ops[best]
			if c := o.ts.Compare(b.ts); c > 0 || (c == 0 && o.replica > b.replica) {
				best = i
			}
		}
		if best < 0 {
			return fmt.Sprint("", false)
		}
		return fmt.Sprint(m.ops[best].elem, true)
	},
	wellFormed: func(LWWRegister[string]) error { return nil },
}

var mvSubject = subject[MVRegister[string]]{
	fromJSON: fromJSON[MVRegister[string]],
	name:     "MVRegister",
	merge:    (*MVRegister[string]).Merge,
	clone:    MVRegister[string].Clone,
	encode:   func(r MVRegister[string]) []byte { return r.AppendBinary(nil, StringCodec{}) },
	decode:   func(b []byte) (MVRegister[string], error) { return DecodeMVRegister(b, StringCodec{}) },
	op: func(r *rand.Rand, reg *MVRegister[string], replica string, m *model, k known) (MVRegister[string], mop, []int) {
		observed := m.alive(k, func(mop) bool { return true })
		v := fmt.Sprintf("%s#%d", replica, len(m.ops))
		return reg.Write(replica, v), mop{replica: replica, kind: '+', elem: v, observed: observed}, nil
	},
	value: func(r MVRegister[string]) string { return sortedString(r.Values()) },
	modelValue: func(m *model, k known) string {
		var out []string
		for _, i := range m.alive(k, func(mop) bool { return true }) {
			out = append(out, m.ops[i].elem)
		}
		return sortedString(out)
	},
	wellFormed: func(r MVRegister[string]) error {
		for i, t := range r.vals {
			if !r.ctx.contains(t.d) || t.d.Counter == 0 || (i > 0 && dotCompare(r.vals[i-1].d, t.d) >= 0) {
				return fmt.Errorf("bad value dot %v", t.d)
			}
		}
		return wellFormedContext(&r.ctx)
	},
}

func TestLaws(t *testing.T) {
	t.Run("type=GCounter", func(t *testing.T) { checkLaws(t, gcounterSubject) })
	t.Run("type=PNCounter", func(t *testing.T) { checkLaws(t, pncounterSubject) })
	t.Run("type=GSet", func(t *testing.T) { checkLaws(t, gsetSubject) })
	t.Run("type=ORSet", func(t *testing.T) { checkLaws(t, orsetSubject) })
	t.Run("type=LWWRegister", func(t *testing.T) { checkLaws(t, lwwSubject) })
	t.Run("type=MVRegister", func(t *testing.T) { checkLaws(t, mvSubject) })
}

func TestConvergence(t *testing.T) {
	o := simOptions{replicas: 5, steps: 600}
	prune := simOptions{replicas: 5, steps: 600, depart: true}
	t.Run("type=GCounter", func(t *testing.T) { runConvergence(t, gcounterSubject, o) })
	t.Run("type=GCounter/prune", func(t *testing.T) { runConvergence(t, gcounterSubject, prune) })
	t.Run("type=PNCounter", func(t *testing.T) { runConvergence(t, pncounterSubject, o) })
	t.Run("type=PNCounter/prune", func(t *testing.T) { runConvergence(t, pncounterSubject, prune) })
	t.Run("type=GSet", func(t *testing.T) { runConvergence(t, gsetSubject, o) })
	t.Run("type=ORSet", func(t *testing.T) { runConvergence(t, orsetSubject, o) })
	t.Run("type=LWWRegister", func(t *testing.T) { runConvergence(t, lwwSubject, o) })
	t.Run("type=MVRegister", func(t *testing.T) { runConvergence(t, mvSubject, o) })
}

func fromJSON[S any](b []byte) (S, error) {
	var s S
	err := json.Unmarshal(b, &s)
	return s, err
}

var lwwMapSubject = subject[LWWMap[string, string]]{
	fromJSON: fromJSON[LWWMap[string, string]],
	name:     "LWWMap",
	merge:    (*LWWMap[string, string]).Merge,
	clone:    LWWMap[string, string].Clone,
	encode: func(m LWWMap[string, string]) []byte {
		return m.AppendBinary(nil, StringCodec{}, StringCodec{})
	},
	decode: func(b []byte) (LWWMap[string, string], error) {
		return DecodeLWWMap(b, StringCodec{}, StringCodec{})
	},
	op: func(r *rand.Rand, m *LWWMap[string, string], replica string, md *model, k known) (LWWMap[string, string], mop, []int) {
		key := elems[r.IntN(3)]
		observed := md.alive(k, func(o mop) bool { return o.kind == '+' && o.elem == key })
		if r.IntN(4) == 0 {
			return m.Delete(key), mop{replica: replica, kind: '-', elem: key, observed: observed}, nil
		}
		seq := 0
		for _, o := range md.ops {
			if o.replica == replica {
				seq++
			}
		}
		ts := vclock.Timestamp{WallTime: int64(r.IntN(5)), Logical: uint32(seq)}
		v := fmt.Sprintf("%s#%d", replica, seq)
		return m.Set(replica, ts, key, v), mop{replica: replica, kind: '+', elem: key, n: uint64(seq), ts: ts, observed: observed}, nil
	},
	value: func(m LWWMap[string, string]) string {
		var out []string
		for k, v := range m.All() {
			out = append(out, k+"="+v)
		}
		return sortedString(out)
	},
	modelValue: func(md *model, k known) string {
		best := map[string]mop{}
		for _, i := range md.alive(k, func(o mop) bool { return o.kind == '+' }) {
			o := md.ops[i]
			b, ok := best[o.elem]
			if !ok || o.ts.Compare(b.ts) > 0 || (o.ts == b.ts && o.replica > b.replica) {
				best[o.elem] = o
			}
		}
		var out []string
		for key, o := range best {
			out = append(out, fmt.Sprintf("%s=%s#%d", key, o.replica, o.n))
		}
		return sortedString(out)
	},
	wellFormed: func(m LWWMap[string, string]) error {
		seen := map[vclock.Dot]bool{}
		for key, ws := range m.entries {
			if len(ws) == 0 {
				return fmt.Errorf("key %q with no writes", key)
			}
			for i, w := range ws {
				if !m.ctx.contains(w.d) || w.d.Counter == 0 || seen[w.d] || (i > 0 && dotCompare(ws[i-1].d, w.d) >= 0) {
					return fmt.Errorf("key %q: bad write dot %v", key, w.d)
				}
				seen[w.d] = true
			}
		}
		return wellFormedContext(&m.ctx)
	},
}

func TestLawsLWWMap(t *testing.T) { checkLaws(t, lwwMapSubject) }

func TestConvergenceLWWMap(t *testing.T) {
	runConvergence(t, lwwMapSubject, simOptions{replicas: 5, steps: 600})
}

// wellFormedLive checks that the live index holds exactly the dots of the
// entries.
func wellFormedLive(s ORSet[string]) error {
	if s.live.stale {
		return nil
	}
	want := map[vclock.Dot]bool{}
	for _, ds := range s.entries {
		for d := range ds.all() {
			want[d] = true
		}
	}
	if n := s.live.count(); n != len(want) {
		return fmt.Errorf("live index has %d dots, entries %d", n, len(want))
	}
	for id, c := range s.live.cols {
		dead := 0
		for i, x := range c.ctrs {
			if x&deadBit != 0 {
				dead++
				continue
			}
			if !want[vclock.Dot{ID: id, Counter: x}] {
				return fmt.Errorf("live index has %s:%d, entries do not", id, x)
			}
			if i > 0 && c.ctrs[i-1]&^deadBit >= x {
				return fmt.Errorf("live column %s not sorted", id)
			}
		}
		if dead != c.dead || dead == len(c.ctrs) {
			return fmt.Errorf("live column %s: dead count %d, counted %d of %d", id, c.dead, dead, len(c.ctrs))
		}
	}
	return nil
}
