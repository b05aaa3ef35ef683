package password

import (
	"errors"
	"testing"
	"time"
)

const (
	testTimeout = 5 * time.Second
	tick        = time.Millisecond
)

// FuzzDecode: stored hashes are data; a corrupt or forged one must yield an
// error, never a panic or an oversized allocation.
func FuzzDecode(f *testing.F) {
	f.Add(Hash("pw", fast))
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")
	f.Add("$2b$10$abcdefghijklmnopqrstuu")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Decode(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if d.Params.MemoryKiB > maxMemoryKiB || d.Params.Iterations > maxIterations || len(d.Key) > maxKeyLen {
			t.Fatalf("limits not enforced: %+v", d.Params)
		}
		if got := encode(d.Params, d.Salt, d.Key); got != s {
			t.Fatalf("decode accepted a non-canonical string:\n in %q\nout %q", s, got)
		}
	})
}
