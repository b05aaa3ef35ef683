package hashring

import "math/bits"

// XXH64 primes (xxHash specification).
const (
	xxPrime1 uint64 = 11400714785074694791
	xxPrime2 uint64 = 14029467366897019727
	xxPrime3 uint64 = 1609587929392839161
	xxPrime4 uint64 = 9650029242287828579
	xxPrime5 uint64 = 2870177450012600261
)

// shortKey is the length below which the default hash is sum64Short
// rather than a call of xxhash.Sum64String: keys of 32 bytes or more take
// XXH64's four-accumulator path, which stays with xxhash.
const shortKey = 32

// sum64Short returns xxhash.Sum64String(s) (XXH64, seed 0) for len(s) <
// shortKey. It is XXH64's short-input path, unrolled: up to three 8-byte
// lanes, at most one 4-byte step, up to three single bytes, then the
// avalanche. On amd64 xxhash is assembly behind a stack-based call, and for
// the short keys lookups see (IDs, cache keys) this leaf function, which
// needs no stack frame, is slightly faster (BenchmarkHash). For longer s
// the result is not XXH64: callers check the length.
func sum64Short(s string) uint64 {
	h := xxPrime5 + uint64(len(s))
	if len(s) >= 16 {
		h = xxLane(h, xxLoad64(s))
		h = xxLane(h, xxLoad64(s[8:]))
		s = s[16:]
	}
	if len(s) >= 8 {
		h = xxLane(h, xxLoad64(s))
		s = s[8:]
	}
	if len(s) >= 4 {
		k := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24
		h ^= k * xxPrime1
		h = bits.RotateLeft64(h, 23)*xxPrime2 + xxPrime3
		s = s[4:]
	}
	switch len(s) {
	case 3:
		h = xxByte(xxByte(xxByte(h, s[0]), s[1]), s[2])
	case 2:
		h = xxByte(xxByte(h, s[0]), s[1])
	case 1:
		h = xxByte(h, s[0])
	}
	h ^= h >> 33
	h *= xxPrime2
	h ^= h >> 29
	h *= xxPrime3
	h ^= h >> 32
	return h
}

// xxLoad64 reads s[:8] little-endian; the compiler merges it into one load.
func xxLoad64(s string) uint64 {
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// xxLane mixes one 8-byte lane k into h: h ^= round(0, k), then h =
// rotl(h, 27)*prime1 + prime4.
func xxLane(h, k uint64) uint64 {
	h ^= bits.RotateLeft64(k*xxPrime2, 31) * xxPrime1
	return bits.RotateLeft64(h, 27)*xxPrime1 + xxPrime4
}

// xxByte mixes one trailing byte into h.
func xxByte(h uint64, b byte) uint64 {
	h ^= uint64(b) * xxPrime5
	return bits.RotateLeft64(h, 11) * xxPrime1
}
