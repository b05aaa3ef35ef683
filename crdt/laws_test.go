package crdt

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sinew-dev/sinew/vclock"
)

// This file holds the law harness and the simulated network, shared by
// every type through a subject: how to merge, clone, encode and mutate a
// state, and a sequential reference model of its value.

// mop is one operation in the reference model.
type mop struct {
	replica  string
	kind     byte // '+' add/inc/write, '-' remove/dec, 'p' prune
	elem     string
	n        uint64
	ts       vclock.Timestamp
	observed []int // ops this op overwrites or removes
}

// model is the history of every operation, in the order they happened.
type model struct{ ops []mop }

// known is the set of operations a state reflects, by op index.
type known []bool

func (k known) has(i int) bool { return i < len(k) && k[i] }

func (k *known) add(i int) {
	for len(*k) <= i {
		*k = append(*k, false)
	}
	(*k)[i] = true
}

func (k *known) union(o known) {
	for i, b := range o {
		if b {
			k.add(i)
		}
	}
}

// alive returns the known ops satisfying match that no known op observed.
func (m *model) alive(k known, match func(mop) bool) []int {
	dead := map[int]bool{}
	for i := range m.ops {
		if k.has(i) {
			for _, x := range m.ops[i].observed {
				dead[x] = true
			}
		}
	}
	var out []int
	for i, o := range m.ops {
		if k.has(i) && !dead[i] && match(o) {
			out = append(out, i)
		}
	}
	return out
}

// subject adapts one CRDT type to the harness.
type subject[S any] struct {
	name   string
	merge  func(*S, S)
	clone  func(S) S
	encode func(S) []byte
	decode func([]byte) (S, error)
	// op applies a random operation at replica and returns its delta, the
	// model op and the other ops the delta carries (besides the op itself).
	op func(r *rand.Rand, s *S, replica string, m *model, k known) (S, mop, []int)
	// value is the observable value; modelValue the reference for a set of
	// known ops. Both are canonical strings.
	value      func(S) string
	modelValue func(m *model, k known) string
	// fromJSON decodes the JSON encoding.
	fromJSON func([]byte) (S, error)
	// wellFormed checks internal invariants.
	wellFormed func(S) error
	// prune, if set, prunes departed into replica (counters only).
	prune func(s *S, departed, into string, m *model, k known) (S, mop, []int)
}

func (sub subject[S]) join(a, b S) S {
	c := sub.clone(a)
	sub.merge(&c, b)
	return c
}

func (sub subject[S]) same(a, b S) bool { return bytes.Equal(sub.encode(a), sub.encode(b)) }

// universe runs replicas that mutate and merge, full states and deltas,
// and collects every state and delta along the way: values from one
// history, as the laws need (dots must mean the same thing everywhere).
type universe[S any] struct {
	pool []S
	// steps are (before, delta, after) of every mutation.
	steps [][3]S
}

func buildUniverse[S any](r *rand.Rand, sub subject[S], replicas, n int) universe[S] {
	var u universe[S]
	var m model
	states := make([]S, replicas)
	ks := make([]known, replicas)
	var deltas []S
	for range n {
		i := r.IntN(replicas)
		switch x := r.IntN(10); {
		case x == 0 && sub.prune != nil:
			// Prunes break the rules of pruning here (any replica prunes
			// any other, repeatedly), which only costs the value: the
			// lattice laws must hold regardless.
			j := (i + 1 + r.IntN(replicas-1)) % replicas
			before := sub.clone(states[i])
			d, _, _ := sub.prune(&states[i], fmt.Sprint("r", j), fmt.Sprint("r", i), &m, ks[i])
			u.steps = append(u.steps, [3]S{before, sub.clone(d), sub.clone(states[i])})
			deltas = append(deltas, d)
			u.pool = append(u.pool, sub.clone(d))
		case x < 6:
			before := sub.clone(states[i])
			d, o, _ := sub.op(r, &states[i], fmt.Sprint("r", i), &m, ks[i])
			m.ops = append(m.ops, o)
			ks[i].add(len(m.ops) - 1)
			u.steps = append(u.steps, [3]S{before, sub.clone(d), sub.clone(states[i])})
			deltas = append(deltas, d)
			u.pool = append(u.pool, sub.clone(d))
		case x < 8 && len(deltas) > 0:
			sub.merge(&states[i], deltas[r.IntN(len(deltas))])
		default:
			sub.merge(&states[i], states[r.IntN(replicas)])
		}
		u.pool = append(u.pool, sub.clone(states[i]))
	}
	return u
}

// checkLaws checks the semilattice laws, delta mutation, inflation,
// encoding and non-aliasing on states drawn from one universe.
func checkLaws[S any](t *testing.T, sub subject[S]) {
	seed := newSeed()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0))
	for round := range 8 {
		u := buildUniverse(r, sub, 3, 40)
		for _, st := range u.steps {
			before, d, after := st[0], st[1], st[2]
			require.NoError(t, sub.wellFormed(after), "round %d (seed %d)", round, seed)
			require.NoError(t, sub.wellFormed(d), "round %d (seed %d)", round, seed)
			// Inflation: the mutator only moves the state up.
			require.True(t, sub.same(after, sub.join(before, after)), "round %d: mutation is not an inflation (seed %d)", round, seed)
			require.True(t, sub.same(after, sub.join(after, before)), "round %d: after does not absorb before (seed %d)", round, seed)
			// Delta mutation: m(x) = x ⊔ mδ(x), and the delta is below it.
			require.True(t, sub.same(after, sub.join(before, d)), "round %d: before ⊔ delta != after (seed %d)", round, seed)
			require.True(t, sub.same(after, sub.join(after, d)), "round %d: delta not below after (seed %d)", round, seed)
			// The same from anywhere else in the universe.
			x := u.pool[r.IntN(len(u.pool))]
			require.True(t, sub.same(sub.join(sub.join(x, before), d), sub.join(x, after)),
				"round %d: (x ⊔ before) ⊔ delta != x ⊔ after (seed %d)", round, seed)
		}
		for range 60 {
			a := u.pool[r.IntN(len(u.pool))]
			b := u.pool[r.IntN(len(u.pool))]
			c := u.pool[r.IntN(len(u.pool))]
			ab := sub.join(a, b)
			require.True(t, sub.same(ab, sub.join(b, a)), "round %d: merge not commutative (seed %d)", round, seed)
			require.True(t, sub.same(sub.join(ab, c), sub.join(a, sub.join(b, c))), "round %d: merge not associative (seed %d)", round, seed)
			require.True(t, sub.same(a, sub.join(a, a)), "round %d: merge not idempotent (seed %d)", round, seed)
			require.True(t, sub.same(ab, sub.join(ab, a)), "round %d: a not below a ⊔ b (seed %d)", round, seed)
			require.NoError(t, sub.wellFormed(ab), "round %d (seed %d)", round, seed)
			assert.Equal(t, sub.value(ab), sub.value(sub.join(b, a)))

			// Encoding round trip.
			enc := sub.encode(ab)
			dec, err := sub.decode(enc)
			require.NoError(t, err, "round %d (seed %d)", round, seed)
			require.Equal(t, enc, sub.encode(dec))
			assert.Equal(t, sub.value(ab), sub.value(dec))

			// JSON round trip, deterministic output.
			js, err := json.Marshal(ab)
			require.NoError(t, err)
			js2, err := json.Marshal(sub.join(b, a))
			require.NoError(t, err)
			require.Equal(t, string(js), string(js2), "round %d: JSON not canonical (seed %d)", round, seed)
			fromJS, err := sub.fromJSON(js)
			require.NoError(t, err, "round %d (seed %d): %s", round, seed, js)
			require.Equal(t, enc, sub.encode(fromJS), "round %d: JSON round trip (seed %d)", round, seed)

			// No aliasing: after merging b into a copy of a, mutating
			// either side leaves the other unchanged.
			bc := sub.clone(b)
			ac := sub.clone(a)
			require.NoError(t, sub.wellFormed(bc), "round %d: clone (seed %d)", round, seed)
			sub.merge(&ac, bc)
			encA := sub.encode(ac)
			var m model
			sub.op(r, &bc, "rx", &m, nil)
			sub.merge(&bc, sub.clone(a))
			require.Equal(t, encA, sub.encode(ac), "round %d: merge result aliases its argument (seed %d)", round, seed)
			encB := sub.encode(bc)
			sub.op(r, &ac, "ry", &m, nil)
			require.Equal(t, encB, sub.encode(bc), "round %d: argument aliases the merge result (seed %d)", round, seed)
		}
	}
}

// message is a state or delta in flight, encoded as on a real wire, with
// the ops it carries for the model.
type message struct {
	to   int
	data []byte
	ops  known
}

// simOptions sizes a convergence run.
type simOptions struct {
	replicas, steps int
	depart          bool // the last replica leaves halfway, and r0 prunes it
}

// converge runs replicas that apply random operations and exchange deltas,
// delta groups and full states through a network that loses, reorders,
// duplicates and delays messages. After every delivery the receiver's value
// must equal the reference model's value for the ops it has received; at
// the end every replica must hold identical bytes and the model's value for
// all ops.
func converge[S any](t *testing.T, sub subject[S], seed uint64, o simOptions) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 0))
	var m model
	n := o.replicas
	states := make([]S, n)
	ks := make([]known, n)
	groups := make([]S, n) // deltas not yet sent as a group
	groupOps := make([]known, n)
	var net []message
	departed := -1
	pruned := false

	send := func(from, to int, s S, ops known) {
		if from == departed || to == departed {
			return
		}
		net = append(net, message{to: to, data: sub.encode(s), ops: slices.Clone(ops)})
	}
	deliver := func(i int) {
		msg := net[i]
		if r.IntN(5) == 0 {
			net = append(net, msg) // duplicate: deliver again later
		}
		net = slices.Delete(net, i, i+1)
		if msg.to == departed {
			return
		}
		s, err := sub.decode(msg.data)
		require.NoError(t, err, "seed %d", seed)
		sub.merge(&states[msg.to], s)
		ks[msg.to].union(msg.ops)
		require.NoError(t, sub.wellFormed(states[msg.to]), "seed %d", seed)
		require.Equal(t, sub.modelValue(&m, ks[msg.to]), sub.value(states[msg.to]),
			"replica %d differs from the model after a delivery (seed %d)", msg.to, seed)
	}
	record := func(i int, d S, op mop, implied []int) {
		m.ops = append(m.ops, op)
		id := len(m.ops) - 1
		ks[i].add(id)
		var carried known
		carried.add(id)
		for _, x := range implied {
			carried.add(x)
		}
		sub.merge(&groups[i], d)
		groupOps[i].union(carried)
		for j := range n {
			if j != i && r.IntN(10) < 7 { // 30% of deltas are lost
				send(i, j, d, carried)
			}
		}
	}

	for step := range o.steps {
		if o.depart && step == o.steps/2 {
			departed = n - 1
		}
		if o.depart && !pruned && step == 3*o.steps/4 && sub.prune != nil {
			d, op, implied := sub.prune(&states[0], fmt.Sprint("r", departed), "r0", &m, ks[0])
			record(0, d, op, implied)
			pruned = true
			continue
		}
		i := r.IntN(n)
		if i == departed {
			continue
		}
		switch x := r.IntN(20); {
		case x < 9:
			d, op, implied := sub.op(r, &states[i], fmt.Sprint("r", i), &m, ks[i])
			record(i, d, op, implied)
		case x < 11:
			j := r.IntN(n)
			if j != i {
				send(i, j, groups[i], groupOps[i])
				var zero S
				groups[i], groupOps[i] = zero, nil
			}
		case x < 12:
			send(i, r.IntN(n), states[i], ks[i])
		default:
			if len(net) > 0 {
				deliver(r.IntN(len(net)))
			}
		}
	}
	for len(net) > 0 {
		deliver(r.IntN(len(net)))
	}
	// Anti-entropy: everyone to r0, r0 to everyone.
	for i := 1; i < n; i++ {
		send(i, 0, states[i], ks[i])
	}
	for len(net) > 0 {
		deliver(r.IntN(len(net)))
	}
	for i := 1; i < n; i++ {
		send(0, i, states[0], ks[0])
	}
	for len(net) > 0 {
		deliver(r.IntN(len(net)))
	}
	var all, live known
	for i := range m.ops {
		all.add(i)
	}
	for i := range n {
		if i != departed {
			live.union(ks[i])
		}
	}
	// A departed replica's ops that reached nobody before it left are
	// lost; every other op must be reflected.
	want := sub.modelValue(&m, live)
	if departed < 0 {
		require.Equal(t, sub.modelValue(&m, all), want, "seed %d", seed)
	}
	for i := range n {
		if i == departed {
			continue
		}
		require.Equal(t, sub.encode(states[0]), sub.encode(states[i]), "replicas 0 and %d did not converge (seed %d)", i, seed)
		require.Equal(t, want, sub.value(states[i]), "replica %d differs from the model (seed %d)", i, seed)
	}
}

// seedFlag replays one seed: go test -run 'Convergence|Laws' -args -seed=N
var seedFlag = flag.Uint64("seed", 0, "seed for the law and convergence tests (0: random)")

func newSeed() uint64 {
	if *seedFlag != 0 {
		return *seedFlag
	}
	return rand.Uint64()
}

// runConvergence runs converge with several seeds, printing each.
func runConvergence[S any](t *testing.T, sub subject[S], o simOptions) {
	for range 6 {
		seed := newSeed()
		t.Logf("seed %d", seed)
		converge(t, sub, seed, o)
	}
}

func sortedString(xs []string) string {
	slices.Sort(xs)
	return strings.Join(xs, ",")
}
