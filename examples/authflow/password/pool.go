package password

import (
	"context"
	"crypto/rand"
	"errors"
	"runtime"
)

// ErrBusy means the pool's queue is full: the caller should answer 503 and
// let the client retry later, rather than pile work up.
var ErrBusy = errors.New("password: hashing pool busy")

// PoolOptions configure a [Pool]. The zero value of each field means its
// default.
type PoolOptions struct {
	// Workers is how many hashes run at once. Default runtime.GOMAXPROCS(0):
	// argon2id with p=1 keeps one core busy, so more would only queue inside
	// the scheduler and multiply memory use.
	Workers int
	// Queue is how many callers may wait for a worker; one more gets
	// ErrBusy at once. Default 4 × Workers.
	Queue int
	// Params are the argon2id parameters for new hashes (default: OWASP).
	Params Params
}

// Pool bounds the password hashing of one process: at most Workers hashes
// run at once, at most Queue callers wait, and a waiting caller gives up
// when its context ends. The dummy hash it keeps makes a login for an
// unknown user cost the same as one for a known user.
type Pool struct {
	slots  chan struct{} // one token per worker
	queue  chan struct{} // one token per waiting caller
	params Params
	dummy  string
}

// NewPool returns a pool. It computes one dummy hash, so it takes as long as
// one Hash call.
func NewPool(o PoolOptions) *Pool {
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Queue <= 0 {
		o.Queue = 4 * o.Workers
	}
	p := &Pool{
		slots:  make(chan struct{}, o.Workers),
		queue:  make(chan struct{}, o.Queue),
		params: o.Params.withDefaults(),
	}
	// A hash of a random password nobody knows: verifying against it fails
	// in exactly the time a real verification takes.
	p.dummy = Hash(rand.Text(), p.params)
	return p
}

// Params returns the parameters the pool hashes with.
func (p *Pool) Params() Params { return p.params }

// acquire takes a worker slot, waiting in the bounded queue.
func (p *Pool) acquire(ctx context.Context) error {
	select {
	case p.slots <- struct{}{}:
		return nil
	default:
	}
	select {
	case p.queue <- struct{}{}:
	default:
		return ErrBusy
	}
	defer func() { <-p.queue }()
	select {
	case p.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *Pool) release() { <-p.slots }

// Hash hashes pw with the pool's parameters. It returns [ErrBusy] when the
// queue is full, or ctx.Err() when ctx ends while waiting.
func (p *Pool) Hash(ctx context.Context, pw string) (string, error) {
	if err := p.acquire(ctx); err != nil {
		return "", err
	}
	defer p.release()
	return Hash(pw, p.params), nil
}

// Verify checks pw against encoded like [Verify], in a pool slot. When
// encoded is empty (an unknown user) it verifies against the dummy hash and
// returns [ErrMismatch], taking the same time as a real check.
func (p *Pool) Verify(ctx context.Context, pw, encoded string) (rehash bool, err error) {
	if err := p.acquire(ctx); err != nil {
		return false, err
	}
	defer p.release()
	if encoded == "" {
		_, _ = Verify(pw, p.dummy, p.params)
		return false, ErrMismatch
	}
	return Verify(pw, encoded, p.params)
}
