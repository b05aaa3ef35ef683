// Package password hashes passwords with argon2id, encodes them in the PHC
// string format, verifies them (including legacy bcrypt hashes, which it
// reports as needing a rehash), and runs the hashing in a bounded pool
// because argon2id is deliberately CPU- and memory-heavy.
//
// # Concurrency
//
// [Params] values and the package functions are safe for concurrent use. A
// [Pool] is safe for concurrent use; it starts no goroutine (hashing runs on
// the caller's goroutine once it holds a slot).
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Errors returned by [Verify] and [Decode]. [ErrMismatch] is the only one a
// caller should turn into "wrong password"; the others mean the stored hash
// is unusable.
var (
	// ErrMismatch means the password does not match the hash.
	ErrMismatch = errors.New("password: mismatch")
	// ErrMalformed means the encoded hash is not a valid PHC argon2id string
	// or bcrypt hash.
	ErrMalformed = errors.New("password: malformed hash")
	// ErrUnsupported means the hash uses an algorithm or version this
	// package does not verify.
	ErrUnsupported = errors.New("password: unsupported hash")
)

// Params are argon2id parameters. The zero value of each field means the
// OWASP Password Storage Cheat Sheet recommendation (m=19 MiB, t=2, p=1),
// with a 16-byte salt and a 32-byte key.
type Params struct {
	// MemoryKiB is the memory cost in KiB. Default 19456 (19 MiB).
	MemoryKiB uint32
	// Iterations is the time cost. Default 2.
	Iterations uint32
	// Parallelism is the number of lanes. Default 1.
	Parallelism uint8
	// SaltLen is the salt length in bytes. Default 16.
	SaltLen int
	// KeyLen is the derived key length in bytes. Default 32.
	KeyLen int
}

func (p Params) withDefaults() Params {
	if p.MemoryKiB == 0 {
		p.MemoryKiB = 19456
	}
	if p.Iterations == 0 {
		p.Iterations = 2
	}
	if p.Parallelism == 0 {
		p.Parallelism = 1
	}
	if p.SaltLen == 0 {
		p.SaltLen = 16
	}
	if p.KeyLen == 0 {
		p.KeyLen = 32
	}
	return p
}

// Limits on decoded parameters, so a forged stored hash cannot make the
// server allocate gigabytes or spin for minutes.
const (
	maxMemoryKiB  = 1 << 20 // 1 GiB
	maxIterations = 64
	maxKeyLen     = 128
	maxSaltLen    = 64
)

var b64 = base64.RawStdEncoding

// Hash derives an argon2id hash of pw with a fresh random salt and returns
// it in PHC string format:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
func Hash(pw string, p Params) string {
	p = p.withDefaults()
	salt := make([]byte, p.SaltLen)
	_, _ = rand.Read(salt) // never fails (crypto/rand, Go 1.24+)
	key := argon2.IDKey([]byte(pw), salt, p.Iterations, p.MemoryKiB, p.Parallelism, uint32(p.KeyLen))
	return encode(p, salt, key)
}

func encode(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Iterations, p.Parallelism, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Decoded is a parsed PHC argon2id hash.
type Decoded struct {
	Params Params
	Salt   []byte
	Key    []byte
}

// Decode parses a PHC argon2id string. It returns an error wrapping
// [ErrMalformed] or [ErrUnsupported] for anything else, and never panics.
func Decode(encoded string) (Decoded, error) {
	parts := strings.Split(encoded, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	if len(parts) != 6 || parts[0] != "" {
		return Decoded{}, fmt.Errorf("%w: want 5 '$'-separated fields", ErrMalformed)
	}
	if parts[1] != "argon2id" {
		return Decoded{}, fmt.Errorf("%w: algorithm %q", ErrUnsupported, parts[1])
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return Decoded{}, fmt.Errorf("%w: version %q", ErrUnsupported, parts[2])
	}
	var d Decoded
	seen := map[string]bool{}
	for kv := range strings.SplitSeq(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || seen[k] {
			return Decoded{}, fmt.Errorf("%w: parameter %q", ErrMalformed, kv)
		}
		seen[k] = true
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 0 || (len(v) > 1 && v[0] == '0') {
			return Decoded{}, fmt.Errorf("%w: parameter %q", ErrMalformed, kv)
		}
		switch k {
		case "m":
			if n > maxMemoryKiB {
				return Decoded{}, fmt.Errorf("%w: memory %d KiB over the limit", ErrMalformed, n)
			}
			d.Params.MemoryKiB = uint32(n)
		case "t":
			if n > maxIterations {
				return Decoded{}, fmt.Errorf("%w: %d iterations over the limit", ErrMalformed, n)
			}
			d.Params.Iterations = uint32(n)
		case "p":
			if n > 255 {
				return Decoded{}, fmt.Errorf("%w: parallelism %d", ErrMalformed, n)
			}
			d.Params.Parallelism = uint8(n)
		default:
			return Decoded{}, fmt.Errorf("%w: unknown parameter %q", ErrMalformed, k)
		}
	}
	if len(seen) != 3 {
		return Decoded{}, fmt.Errorf("%w: want m, t and p", ErrMalformed)
	}
	if d.Params.MemoryKiB < 8*uint32(d.Params.Parallelism) {
		return Decoded{}, fmt.Errorf("%w: memory below 8*p KiB", ErrMalformed)
	}
	var err error
	if d.Salt, err = decodeB64(parts[4], maxSaltLen); err != nil {
		return Decoded{}, err
	}
	if d.Key, err = decodeB64(parts[5], maxKeyLen); err != nil {
		return Decoded{}, err
	}
	if len(d.Salt) < 8 || len(d.Key) < 16 {
		return Decoded{}, fmt.Errorf("%w: salt or key too short", ErrMalformed)
	}
	d.Params.SaltLen, d.Params.KeyLen = len(d.Salt), len(d.Key)
	return d, nil
}

func decodeB64(s string, maxLen int) ([]byte, error) {
	if b64.DecodedLen(len(s)) > maxLen {
		return nil, fmt.Errorf("%w: field too long", ErrMalformed)
	}
	b, err := b64.DecodeString(s)
	if err != nil || b64.EncodeToString(b) != s {
		return nil, fmt.Errorf("%w: bad base64", ErrMalformed)
	}
	return b, nil
}

// IsLegacy reports whether encoded is a bcrypt hash ($2a$, $2b$ or $2y$).
func IsLegacy(encoded string) bool {
	return strings.HasPrefix(encoded, "$2a$") || strings.HasPrefix(encoded, "$2b$") || strings.HasPrefix(encoded, "$2y$")
}

// Verify checks pw against an argon2id PHC string or a legacy bcrypt hash.
// It returns nil on a match, an error wrapping [ErrMismatch] on a wrong
// password, and [ErrMalformed] or [ErrUnsupported] for an unusable hash.
// rehash is true when the password matched but the hash should be replaced
// (a bcrypt hash, or argon2id with parameters other than want).
func Verify(pw, encoded string, want Params) (rehash bool, err error) {
	if IsLegacy(encoded) {
		switch err := bcrypt.CompareHashAndPassword([]byte(encoded), []byte(pw)); {
		case err == nil:
			return true, nil
		case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
			return false, ErrMismatch
		default:
			return false, fmt.Errorf("%w: bcrypt: %v", ErrMalformed, err)
		}
	}
	d, err := Decode(encoded)
	if err != nil {
		return false, err
	}
	p := d.Params
	key := argon2.IDKey([]byte(pw), d.Salt, p.Iterations, p.MemoryKiB, p.Parallelism, uint32(p.KeyLen))
	if subtle.ConstantTimeCompare(key, d.Key) != 1 {
		return false, ErrMismatch
	}
	return p != want.withDefaults(), nil
}
