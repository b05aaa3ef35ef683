package hashring

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzAlgorithms feeds arbitrary node names and keys (both can come from
// untrusted input: host names from discovery, keys from requests) to every
// algorithm: membership changes must either succeed or fail with a
// documented error, lookups must never panic and must return members, and
// Ring must agree with the brute-force nearest-point reference.
func FuzzAlgorithms(f *testing.F) {
	f.Add("a,b,c", "user:1", uint8(2), uint8(1))
	f.Add("x,,y", "", uint8(0), uint8(0))
	f.Add("n1,n1", "k", uint8(5), uint8(3))
	f.Add("é,ü,\x00,#,1#2,12", "#1", uint8(9), uint8(2))
	f.Fuzz(func(t *testing.T, nameList, key string, n, removeIdx uint8) {
		names := strings.Split(nameList, ",")
		algos := []Algorithm[string]{
			NewRing[string](Options{VirtualNodes: 7}),
			NewMaglev[string](Options{TableSize: 251}),
			NewRendezvous[string](Options{}),
			NewJump[string](Options{}),
		}
		for _, a := range algos {
			err := a.Set(Names(names...))
			if err != nil {
				require.True(t, isDocumented(err), "undocumented error %v", err)
				assert.Zero(t, a.Len())
				continue
			}
			if len(names) > 1 {
				require.NoError(t, a.Remove(names[int(removeIdx)%len(names)]))
			}
			members := map[string]bool{}
			for _, m := range a.Members() {
				members[m.Name] = true
			}
			got, ok := a.Get(key)
			require.Equal(t, len(members) > 0, ok)
			if ok {
				require.True(t, members[got], "Get returned %q, not a member", got)
			}
			nodes := a.GetN(key, int(n), nil)
			require.Len(t, nodes, min(int(n), len(members)))
			sorted := slices.Clone(nodes)
			slices.Sort(sorted)
			require.Len(t, slices.Compact(sorted), len(nodes), "GetN repeats: %v", nodes)
			if r, isRing := a.(*Ring[string]); isRing && ok {
				c := &r.snap.Load().core
				h := hashKey(nil, key)
				require.Equal(t, c.own[referenceOwner(c.pts, h)], c.owner(h))
			}
		}
	})
}

func isDocumented(err error) bool {
	for _, e := range []error{ErrDuplicate, ErrNotFound, ErrInvalidWeight, ErrEmptyName, ErrUnsupported, ErrTooManyNodes} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// FuzzXXH3: the default key hash, XXH3, never panics and equals the
// specification's reference (refXXH3) for any input, whether hashed as a
// key (hashKey, XXH3, the short path) or as a []byte (the Ring's labels).
func FuzzXXH3(f *testing.F) {
	for _, n := range []int{0, 1, 3, 4, 8, 9, 16, 17, 31, 32, 33, 128, 129, 240, 241, 1024, 1025} {
		f.Add(goldenInput(n))
	}
	f.Add("user:12345678901")
	f.Add(strings.Repeat("\xff", 300))
	f.Fuzz(func(t *testing.T, s string) {
		want := refXXH3([]byte(s))
		require.Equal(t, want, XXH3(s))
		require.Equal(t, want, hashKey(nil, s))
		require.Equal(t, want, xxh3([]byte(s)))
		if len(s) <= xxh3ShortMax {
			require.Equal(t, want, xxh3Short(s))
		}
	})
}
