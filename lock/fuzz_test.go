package lock_test

import (
	"testing"

	"github.com/sinew-dev/sinew/lock"
)

// FuzzFence checks Fence against a map of maxima: a token is admitted iff
// it is at least the highest admitted for its resource.
func FuzzFence(f *testing.F) {
	f.Add([]byte{0, 5, 0, 3, 1, 2, 0, 5})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, ops []byte) {
		fence := lock.NewFence()
		ref := map[string]uint64{}
		for i := 0; i+1 < len(ops); i += 2 {
			res, tok := string(rune('a'+ops[i]%4)), uint64(ops[i+1])
			last, seen := ref[res]
			err := fence.Admit(res, tok)
			if want := seen && tok < last; want != (err != nil) {
				t.Fatalf("Admit(%q, %d) after %d: err %v", res, tok, last, err)
			}
			if err == nil {
				ref[res] = tok
			}
			if got, _ := fence.Highest(res); got != ref[res] {
				t.Fatalf("Highest(%q) = %d, want %d", res, got, ref[res])
			}
		}
	})
}
