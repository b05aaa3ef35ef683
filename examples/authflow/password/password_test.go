package password

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

// fast keeps the unit tests quick; one test uses the OWASP defaults.
var fast = Params{MemoryKiB: 64, Iterations: 1}

func TestHash_VerifyRoundTrip(t *testing.T) {
	enc := Hash("correct horse", fast)
	assert.True(t, strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$"), enc)
	rehash, err := Verify("correct horse", enc, fast)
	require.NoError(t, err)
	assert.False(t, rehash)
	_, err = Verify("wrong", enc, fast)
	assert.ErrorIs(t, err, ErrMismatch)
}

func TestHash_DefaultsAreOWASP(t *testing.T) {
	enc := Hash("pw", Params{})
	d, err := Decode(enc)
	require.NoError(t, err)
	assert.Equal(t, Params{MemoryKiB: 19456, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32}, d.Params)
}

func TestHash_SaltIsRandom(t *testing.T) {
	assert.NotEqual(t, Hash("pw", fast), Hash("pw", fast))
}

func TestVerify_RehashWhenParamsChange(t *testing.T) {
	enc := Hash("pw", fast)
	rehash, err := Verify("pw", enc, Params{MemoryKiB: 128, Iterations: 1})
	require.NoError(t, err)
	assert.True(t, rehash)
}

func TestVerify_LegacyBcrypt(t *testing.T) {
	legacy, err := bcrypt.GenerateFromPassword([]byte("old secret"), bcrypt.MinCost)
	require.NoError(t, err)
	assert.True(t, IsLegacy(string(legacy)))
	rehash, err := Verify("old secret", string(legacy), fast)
	require.NoError(t, err)
	assert.True(t, rehash, "a matching bcrypt hash must be migrated")
	_, err = Verify("nope", string(legacy), fast)
	assert.ErrorIs(t, err, ErrMismatch)
	_, err = Verify("x", "$2b$04$short", fast)
	assert.ErrorIs(t, err, ErrMalformed)
}

func TestDecode_Rejects(t *testing.T) {
	good := Hash("pw", fast)
	parts := strings.Split(good, "$")
	salt, key := parts[4], parts[5]
	tests := []struct {
		name, in string
		want     error
	}{
		{"empty", "", ErrMalformed},
		{"argon2i", "$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key, ErrUnsupported},
		{"old version", "$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key, ErrUnsupported},
		{"missing param", "$argon2id$v=19$m=64,t=1$" + salt + "$" + key, ErrMalformed},
		{"duplicate param", "$argon2id$v=19$m=64,m=64,t=1$" + salt + "$" + key, ErrMalformed},
		{"zero iterations", "$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key, ErrMalformed},
		{"huge memory", "$argon2id$v=19$m=4294967295,t=1,p=1$" + salt + "$" + key, ErrMalformed},
		{"leading zero", "$argon2id$v=19$m=064,t=1,p=1$" + salt + "$" + key, ErrMalformed},
		{"bad base64", "$argon2id$v=19$m=64,t=1,p=1$!!!$" + key, ErrMalformed},
		{"padded base64", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "==$" + key, ErrMalformed},
		{"short key", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$AAAA", ErrMalformed},
		{"extra field", good + "$x", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.in)
			assert.ErrorIs(t, err, tt.want)
		})
	}
}

func TestPool_BoundsConcurrencyAndQueue(t *testing.T) {
	p := NewPool(PoolOptions{Workers: 1, Queue: 1, Params: fast})
	ctx := context.Background()
	// Hold the only worker slot and the only queue place by hand.
	require.NoError(t, p.acquire(ctx))
	waiting := make(chan error, 1)
	go func() { waiting <- p.acquire(ctx) }()
	require.Eventually(t, func() bool { return len(p.queue) == 1 }, testTimeout, tick)

	_, err := p.Hash(ctx, "pw")
	assert.ErrorIs(t, err, ErrBusy, "queue full: refuse at once")

	p.release()
	require.NoError(t, <-waiting, "the queued caller gets the slot")
	p.release()

	enc, err := p.Hash(ctx, "pw")
	require.NoError(t, err)
	_, err = p.Verify(ctx, "pw", enc)
	assert.NoError(t, err)
}

func TestPool_WaitEndsWithContext(t *testing.T) {
	p := NewPool(PoolOptions{Workers: 1, Params: fast})
	require.NoError(t, p.acquire(context.Background()))
	defer p.release()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := p.Verify(ctx, "pw", "")
	assert.ErrorIs(t, err, context.Canceled)
}

func TestPool_UnknownUserIsAMismatch(t *testing.T) {
	p := NewPool(PoolOptions{Params: fast})
	_, err := p.Verify(context.Background(), "anything", "")
	assert.ErrorIs(t, err, ErrMismatch)
}

func TestPool_ConcurrentUse(t *testing.T) {
	p := NewPool(PoolOptions{Workers: 2, Queue: 64, Params: fast})
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			enc, err := p.Hash(context.Background(), "pw")
			if assert.NoError(t, err, i) {
				_, err = p.Verify(context.Background(), "pw", enc)
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	assert.Zero(t, len(p.slots))
	assert.Zero(t, len(p.queue))
}
