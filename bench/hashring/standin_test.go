package hashring_test

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// checkStandin checks what every stand-in must do for its benchmark
// figures to mean anything: every key maps to a member, every member gets
// keys, a removed member's keys all move to the others, and a joiner
// takes keys.
func checkStandin(t *testing.T, c contender) {
	t.Helper()
	names := nodeNames(11)
	ks := coldKeys[:20000]

	l := c.build(names[:10])
	before := owners(l, ks)
	for i, o := range before {
		require.Contains(t, names[:10], o, ks[i])
	}
	for _, n := range names[:10] {
		assert.Contains(t, before, n)
	}

	l = c.remove(l, names[3])
	after := owners(l, ks)
	for i, o := range after {
		require.Contains(t, names[:10], o, ks[i])
		assert.NotEqual(t, names[3], o, ks[i])
	}

	l = c.add(l, names[10])
	joined := owners(l, ks)
	assert.Contains(t, joined, names[10])
	for i, o := range joined {
		require.True(t, slices.Contains(names, o) && o != names[3], "%s -> %q", ks[i], o)
	}
}
