package hashring

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The quality tests use 1M seeded keys. Under -short or the race detector
// (race build tag, see race_on_test.go) they use 200k keys and widen each
// bound by that size's sampling noise; the full-size figures are always
// produced by bench/hashring's BenchmarkQuality, which uses 1M keys.
func qualityKeyCount() (n int, slack float64) {
	if testing.Short() || raceEnabled {
		return 200_000, 0.01
	}
	return 1_000_000, 0
}

type qualityBounds struct {
	peakMean    float64 // at 10 nodes
	addMoved    float64 // fraction of keys moved when an 11th node joins
	addNeedless float64 // fraction of keys moved between old nodes then
	remNeedless float64 // the same when a middle node leaves
	weightErr   float64 // max |share/expected-1|; 0: weights unsupported
}

// Targets from issue 5. Ring's weight error follows its balance (both are
// about 1/sqrt(2*V*w)), so it is held to its balance bound, not 2%.
var bounds = map[string]qualityBounds{
	"Ring":       {peakMean: 1.05, addMoved: 0.095, weightErr: 0.05},
	"Maglev":     {peakMean: 1.01, addMoved: 0.095, addNeedless: 0.005, remNeedless: 0.005, weightErr: 0.02},
	"Rendezvous": {peakMean: 1.01, addMoved: 0.095, weightErr: 0.02},
	"Jump":       {peakMean: 1.01, addMoved: 0.095, remNeedless: 1},
}

func TestQuality(t *testing.T) {
	nkeys, slack := qualityKeyCount()
	t.Logf("%d keys, seed %d", nkeys, keySeed)
	keys := qualityKeys(nkeys)
	names := nodeNames(11)
	for _, ac := range algoCases {
		t.Run(ac.name, func(t *testing.T) {
			b := bounds[ac.name]
			a := ac.make()
			require.NoError(t, a.Set(Names(names[:10]...)))
			before := owners(a, keys)
			pm := peakMean(before, 10)
			t.Logf("peak/mean at 10 nodes: %.4f", pm)
			assert.LessOrEqual(t, pm, b.peakMean+slack, "peak/mean")

			newcomer := names[10]
			require.NoError(t, a.Add(newcomer, newcomer))
			after := owners(a, keys)
			moved, needless := movement(before, after, func(_, to string) bool { return to == newcomer })
			t.Logf("11th node joins: moved %.3f%% (ideal %.3f%%), needless %d", 100*moved, 100.0/11, needless)
			assert.LessOrEqual(t, moved, b.addMoved+slack, "moved on add")
			assert.LessOrEqual(t, float64(needless), b.addNeedless*float64(nkeys), "needless moves on add")

			leaver := names[3]
			require.NoError(t, a.Remove(leaver))
			afterRm := owners(a, keys)
			moved, needless = movement(after, afterRm, func(from, _ string) bool { return from == leaver })
			t.Logf("node-3 leaves: moved %.3f%%, needless %d", 100*moved, needless)
			assert.LessOrEqual(t, float64(needless), b.remNeedless*float64(nkeys), "needless moves on remove")

			if b.weightErr > 0 {
				weights := map[string]float64{}
				ms := make([]Member[string], 10)
				for i, n := range names[:10] {
					w := float64(1 + i%4) // 1,2,3,4,1,2,...
					weights[n] = w
					ms[i] = Member[string]{Name: n, Node: n, Weight: w}
				}
				require.NoError(t, a.Set(ms))
				we := weightError(owners(a, keys), weights)
				t.Logf("weight error (weights 1-4): %.3f%%", 100*we)
				assert.LessOrEqual(t, we, b.weightErr+2*slack, "weight error")
			}
		})
	}
}

// TestRemoveOnlyMovesRemovedKeys checks for every node of a ring that
// removing it moves exactly its keys (Ring and Rendezvous), and that
// Jump's removal of the last bucket is equally clean.
func TestRemoveOnlyMovesRemovedKeys(t *testing.T) {
	keys := qualityKeys(20_000)
	names := nodeNames(8)
	for _, ac := range algoCases {
		if ac.name == "Maglev" {
			continue // rebuilds its table: a few needless moves (TestQuality)
		}
		for _, leaver := range names {
			if ac.name == "Jump" && leaver != names[len(names)-1] {
				continue
			}
			a := ac.make()
			require.NoError(t, a.Set(Names(names...)))
			before := owners(a, keys)
			require.NoError(t, a.Remove(leaver))
			moved, needless := movement(before, owners(a, keys), func(from, _ string) bool { return from == leaver })
			assert.Zero(t, needless, "%s: removing %s", ac.name, leaver)
			assert.Greater(t, moved, 0.0, "%s: removing %s", ac.name, leaver)
		}
	}
}

// TestGetNSecondReplicaBalance: the second replica is spread evenly too
// (it takes the load when primaries fail).
func TestGetNSecondReplicaBalance(t *testing.T) {
	keys := qualityKeys(100_000)
	names := nodeNames(10)
	for _, ac := range algoCases {
		a := ac.make()
		require.NoError(t, a.Set(Names(names...)))
		second := make([]string, len(keys))
		var buf []string
		for i, k := range keys {
			buf = a.GetN(k, 2, buf[:0])
			second[i] = buf[1]
		}
		pm := peakMean(second, 10)
		t.Logf("%s: second-replica peak/mean %.4f", ac.name, pm)
		assert.LessOrEqual(t, pm, 1.1, ac.name)
	}
}
