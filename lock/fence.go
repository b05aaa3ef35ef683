package lock

import (
	"errors"
	"fmt"
	"sync"
)

// ErrStaleToken: a [Fence] rejected a token lower than one it had already
// admitted for the same resource: the writer's lock was lost and someone
// else has held it since.
var ErrStaleToken = errors.New("lock: stale fencing token")

// A Fence guards resources against writers whose lock was lost, as in
// Martin Kleppmann's fencing scheme: a resource remembers the highest
// fencing token it has admitted and rejects lower ones. Use it on the
// resource side, where writes land; the lock holder passes [Lock.Token]
// along with each write.
//
// A Fence keeps one entry per resource name, for its lifetime. Its zero
// value is not usable; call [NewFence]. It is safe for concurrent use.
type Fence struct {
	mu   sync.Mutex // protects last, and serialises Do's fn
	last map[string]uint64
}

// NewFence returns a Fence that has admitted no token.
func NewFence() *Fence {
	return &Fence{last: make(map[string]uint64)}
}

// Admit records token for resource and returns nil if it is at least the
// highest token admitted for resource so far (the same holder may write
// many times); otherwise it returns an error matching [ErrStaleToken].
func (f *Fence) Admit(resource string, token uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.admit(resource, token)
}

func (f *Fence) admit(resource string, token uint64) error {
	if last, ok := f.last[resource]; ok && token < last {
		return fmt.Errorf("%w: %q: token %d, already admitted %d", ErrStaleToken, resource, token, last)
	}
	f.last[resource] = token
	return nil
}

// Do admits token for resource as [Fence.Admit] does and, if admitted,
// calls fn before any other Admit or Do on this Fence can proceed, so that
// no newer holder slips in between the check and the write. It returns
// Admit's error or fn's. fn must not call the Fence.
func (f *Fence) Do(resource string, token uint64, fn func() error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.admit(resource, token); err != nil {
		return err
	}
	return fn()
}

// Highest returns the highest token admitted for resource; ok is false if
// none was.
func (f *Fence) Highest(resource string) (token uint64, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	token, ok = f.last[resource]
	return token, ok
}
