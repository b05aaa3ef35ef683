package hashring_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zeebo/xxh3"

	"github.com/sinew-dev/sinew/hashring"
)

// TestXXH3MatchesZeebo: sinew's default hash, hashring.XXH3, is XXH3-64
// with seed 0 as github.com/zeebo/xxh3 computes it (HashString), for every
// length 0-1024 (each of XXH3's paths and the first 1024-byte block of the
// striped one) over seeded random bytes, for constant inputs and for a few
// fixed strings; and Options{} hashes keys with it in every algorithm.
func TestXXH3MatchesZeebo(t *testing.T) {
	const seed = 17
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 18))
	for n := 0; n <= 1024; n++ {
		inputs := []string{strings.Repeat("\x00", n), strings.Repeat("\xff", n)}
		for range 20 {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			inputs = append(inputs, string(b))
		}
		for _, s := range inputs {
			if want, got := xxh3.HashString(s), hashring.XXH3(s); want != got {
				require.Equal(t, want, got, "XXH3 of %d bytes %x", n, s)
			}
		}
	}
	for _, s := range []string{
		"", "a", "ab", "abc", "user:1", "user:12345678901", "10.0.0.1:8080", "node-0#0", "node-12#999",
		"The quick brown fox jumps over the lazy dog", "é ü \x00 #", strings.Repeat("xyz", 1000),
	} {
		assert.Equal(t, xxh3.HashString(s), hashring.XXH3(s), "XXH3(%q)", s)
	}

	algos := map[string]hashring.Algorithm[string]{
		"ring":       hashring.NewRing[string](hashring.Options{}),
		"maglev":     hashring.NewMaglev[string](hashring.Options{}),
		"rendezvous": hashring.NewRendezvous[string](hashring.Options{}),
		"jump":       hashring.NewJump[string](hashring.Options{}),
	}
	for name, a := range algos {
		require.NoError(t, a.Set(hashring.Names(nodeNames(30)...)))
		g, ok := a.(hashGetter)
		require.True(t, ok, name)
		for _, k := range coldKeys[:2000] {
			for _, key := range []string{k, strings.Repeat(k, 20)} {
				want, _ := g.GetHash(xxh3.HashString(key))
				got, _ := a.Get(key)
				assert.Equal(t, want, got, "%s.Get(%q)", name, key)
			}
		}
	}
}
