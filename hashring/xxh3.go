package hashring

import "math/bits"

// XXH3 constants (xxHash specification, XXH3 section).
const (
	prime32_1 uint64 = 0x9e3779b1
	prime32_2 uint64 = 0x85ebca77
	prime32_3 uint64 = 0xc2b2ae3d
	prime64_1 uint64 = 0x9e3779b185ebca87
	prime64_2 uint64 = 0xc2b2ae3d27d4eb4f
	prime64_3 uint64 = 0x165667b19e3779f9
	prime64_4 uint64 = 0x85ebca77c2b2ae63
	prime64_5 uint64 = 0x27d4eb2f165667c5
)

// xxh3Secret is XXH3's default 192-byte secret (XXH3_kSecret in the
// reference). Inputs of more than 128 bytes also read it at offsets that
// are not multiples of 8; the others use the word constants below.
const xxh3Secret = "" +
	"\xb8\xfe\x6c\x39\x23\xa4\x4b\xbe\x7c\x01\x81\x2c\xf7\x21\xad\x1c" +
	"\xde\xd4\x6d\xe9\x83\x90\x97\xdb\x72\x40\xa4\xa4\xb7\xb3\x67\x1f" +
	"\xcb\x79\xe6\x4e\xcc\xc0\xe5\x78\x82\x5a\xd0\x7d\xcc\xff\x72\x21" +
	"\xb8\x08\x46\x74\xf7\x43\x24\x8e\xe0\x35\x90\xe6\x81\x3a\x26\x4c" +
	"\x3c\x28\x52\xbb\x91\xc3\x00\xcb\x88\xd0\x65\x8b\x1b\x53\x2e\xa3" +
	"\x71\x64\x48\x97\xa2\x0d\xf9\x4e\x38\x19\xef\x46\xa9\xde\xac\xd8" +
	"\xa8\xfa\x76\x3f\xe3\x9c\x34\x3f\xf9\xdc\xbb\xc7\xc7\x0b\x4f\x1d" +
	"\x8a\x51\xe0\x4b\xcd\xb4\x59\x31\xc8\x9f\x7e\xc9\xd9\x78\x73\x64" +
	"\xea\xc5\xac\x83\x34\xd3\xeb\xc3\xc5\x81\xa0\xff\xfa\x13\x63\xeb" +
	"\x17\x0d\xdd\x51\xb7\xf0\xda\x49\xd3\x16\x55\x26\x29\xd4\x68\x9e" +
	"\x2b\x16\xbe\x58\x7d\x47\xa1\xfc\x8f\xf8\xb8\xd1\x7a\xd0\x31\xce" +
	"\x45\xcb\x3a\x8f\x95\x16\x04\x28\xaf\xd7\xfb\xca\xbb\x4b\x40\x7e"

// The secret's little-endian 64-bit words at offsets 0, 8, ..., 120, as
// constants, which cost no load (TestXXH3Secret checks them against
// xxh3Secret).
const (
	secret0   uint64 = 0xbe4ba423396cfeb8
	secret8   uint64 = 0x1cad21f72c81017c
	secret16  uint64 = 0xdb979083e96dd4de
	secret24  uint64 = 0x1f67b3b7a4a44072
	secret32  uint64 = 0x78e5c0cc4ee679cb
	secret40  uint64 = 0x2172ffcc7dd05a82
	secret48  uint64 = 0x8e2443f7744608b8
	secret56  uint64 = 0x4c263a81e69035e0
	secret64  uint64 = 0xcb00c391bb52283c
	secret72  uint64 = 0xa32e531b8b65d088
	secret80  uint64 = 0x4ef90da297486471
	secret88  uint64 = 0xd8acdea946ef1938
	secret96  uint64 = 0x3f349ce33f76faa8
	secret104 uint64 = 0x1d4f0bc7c7bbdcf9
	secret112 uint64 = 0x3159b4cd4be0518a
	secret120 uint64 = 0x647378d9c97e9fc8
)

// bytesOrString lets one XXH3 serve keys (strings) and the Ring's
// virtual-node labels (built in a []byte) without a copy.
type bytesOrString interface{ string | []byte }

// XXH3 returns the 64-bit XXH3 hash of s's bytes with seed 0 and the
// default secret: the value of XXH3_64bits in the xxHash reference
// implementation (github.com/Cyan4973/xxHash) and of HashString in
// github.com/zeebo/xxh3. It is the default Hash of every algorithm in this
// package (Options.Hash nil), so programs in other languages can reproduce
// the placement from the hashes of keys, node names and the Ring's
// virtual-node labels (see each type). Options{Hash: XXH3} places keys
// exactly as Options{} does, only through an indirect call. XXH3 does not
// allocate.
func XXH3(s string) uint64 {
	return xxh3(s)
}

// xxh3 is XXH3 of a string or a byte slice.
func xxh3[T bytesOrString](s T) uint64 {
	switch n := len(s); {
	case n <= xxh3ShortMax:
		return xxh3Short(s)
	case n <= 240:
		return xxh3Mid(s)
	}
	return xxh3Long(s)
}

// xxh3ShortMax is the longest input xxh3Short hashes.
const xxh3ShortMax = 128

// xxh3Short is XXH3-64 of up to 128 bytes: up to 16 bytes take at most
// one 64x64->128-bit multiply, longer inputs one per 16-byte block. It
// compiles to a leaf function with no stack frame, so that lookups, which
// call it directly for short keys, pay little more than the arithmetic.
// For longer s the result is not XXH3: callers check the length.
func xxh3Short[T bytesOrString](s T) uint64 {
	n := len(s)
	switch {
	case n > 16:
		// 17-128 bytes: one to four pairs of 16-byte blocks, taken from
		// both ends towards the middle, each block mixed with its own
		// 16 bytes of the secret.
		acc := uint64(n) * prime64_1
		if n > 32 {
			if n > 64 {
				if n > 96 {
					acc += mulFold(le64(s[48:])^secret96, le64(s[56:])^secret104)
					acc += mulFold(le64(s[n-64:])^secret112, le64(s[n-56:])^secret120)
				}
				acc += mulFold(le64(s[32:])^secret64, le64(s[40:])^secret72)
				acc += mulFold(le64(s[n-48:])^secret80, le64(s[n-40:])^secret88)
			}
			acc += mulFold(le64(s[16:])^secret32, le64(s[24:])^secret40)
			acc += mulFold(le64(s[n-32:])^secret48, le64(s[n-24:])^secret56)
		}
		acc += mulFold(le64(s)^secret0, le64(s[8:])^secret8)
		acc += mulFold(le64(s[n-16:])^secret16, le64(s[n-8:])^secret24)
		return xxh3Avalanche(acc)
	case n > 8:
		lo := le64(s) ^ (secret24 ^ secret32)
		hi := le64(s[n-8:]) ^ (secret40 ^ secret48)
		return xxh3Avalanche(uint64(n) + bits.ReverseBytes64(lo) + hi + mulFold(lo, hi))
	case n >= 4:
		x := uint64(le32(s[n-4:])) | uint64(le32(s))<<32
		return rrmxmx(x^(secret8^secret16), uint64(n))
	case n > 0:
		mid := s[0] // s[n/2], written so that it needs no bounds check
		if n > 1 {
			mid = s[1]
		}
		x := uint64(s[0])<<16 | uint64(mid)<<24 | uint64(s[n-1]) | uint64(n)<<8
		return xxh64Avalanche(x ^ ((secret0 ^ secret0>>32) & 0xffffffff))
	}
	return xxh64Avalanche(secret56 ^ secret64)
}

// xxh3Mid is XXH3-64 of 129-240 bytes: the first eight 16-byte blocks,
// an avalanche, the remaining whole blocks against the secret from offset
// 3, and the last 16 bytes.
func xxh3Mid[T bytesOrString](s T) uint64 {
	n := len(s)
	acc := uint64(n) * prime64_1
	head := s[:128]
	acc += mulFold(le64(head)^secret0, le64(head[8:])^secret8)
	acc += mulFold(le64(head[16:])^secret16, le64(head[24:])^secret24)
	acc += mulFold(le64(head[32:])^secret32, le64(head[40:])^secret40)
	acc += mulFold(le64(head[48:])^secret48, le64(head[56:])^secret56)
	acc += mulFold(le64(head[64:])^secret64, le64(head[72:])^secret72)
	acc += mulFold(le64(head[80:])^secret80, le64(head[88:])^secret88)
	acc += mulFold(le64(head[96:])^secret96, le64(head[104:])^secret104)
	acc += mulFold(le64(head[112:])^secret112, le64(head[120:])^secret120)
	acc = xxh3Avalanche(acc)
	key := xxh3Secret[3:] // at most 7 more blocks: len(key) >= 16 always holds, for the compiler
	for rest := s[128:]; len(rest) >= 16 && len(key) >= 16; rest, key = rest[16:], key[16:] {
		acc += mulFold(le64(rest)^le64(key), le64(rest[8:])^le64(key[8:]))
	}
	acc += mulFold(le64(s[n-16:])^secretAt(119), le64(s[n-8:])^secretAt(127))
	return xxh3Avalanche(acc)
}

// xxh3Long is XXH3-64 of more than 240 bytes. Eight accumulators take
// the input in 64-byte stripes, each stripe against the secret advanced by
// 8 bytes from the last; after every block of 16 stripes (1024 bytes) the
// accumulators are scrambled with the secret's last 64 bytes. A final
// stripe ends at the end of the input (overlapping the previous one), and
// the accumulators are merged pairwise into the length times prime64_1.
func xxh3Long[T bytesOrString](s T) uint64 {
	const (
		stripeLen       = 64
		stripesPerBlock = (len(xxh3Secret) - stripeLen) / 8 // 16
		blockLen        = stripeLen * stripesPerBlock       // 1024
	)
	acc := [8]uint64{prime32_3, prime64_1, prime64_2, prime64_3, prime64_4, prime32_2, prime64_5, prime32_1}
	n := len(s)
	blocks := (n - 1) / blockLen
	for b := range blocks {
		block := s[b*blockLen : (b+1)*blockLen]
		for i := range stripesPerBlock {
			xxh3Stripe(&acc, block[i*stripeLen:], xxh3Secret[8*i:])
		}
		key := xxh3Secret[len(xxh3Secret)-stripeLen:]
		for i, a := range acc {
			a ^= a >> 47
			a ^= le64(key[8*i:])
			acc[i] = a * prime32_1
		}
	}
	tail := s[blocks*blockLen:]
	for i := range (len(tail) - 1) / stripeLen {
		xxh3Stripe(&acc, tail[i*stripeLen:], xxh3Secret[8*i:])
	}
	xxh3Stripe(&acc, s[n-stripeLen:], xxh3Secret[len(xxh3Secret)-stripeLen-7:])
	h := uint64(n) * prime64_1
	for i := 0; i < len(acc); i += 2 {
		h += mulFold(acc[i]^secretAt(11+8*i), acc[i+1]^secretAt(19+8*i))
	}
	return xxh3Avalanche(h)
}

// xxh3Stripe accumulates the 64-byte stripe st[:64] with the secret bytes
// key[:64].
func xxh3Stripe[T bytesOrString](acc *[8]uint64, st T, key string) {
	st, key = st[:64], key[:64]
	acc[0], acc[1] = xxh3Lanes(acc[0], acc[1], le64(st), le64(st[8:]), le64(key), le64(key[8:]))
	acc[2], acc[3] = xxh3Lanes(acc[2], acc[3], le64(st[16:]), le64(st[24:]), le64(key[16:]), le64(key[24:]))
	acc[4], acc[5] = xxh3Lanes(acc[4], acc[5], le64(st[32:]), le64(st[40:]), le64(key[32:]), le64(key[40:]))
	acc[6], acc[7] = xxh3Lanes(acc[6], acc[7], le64(st[48:]), le64(st[56:]), le64(key[48:]), le64(key[56:]))
}

// xxh3Lanes accumulates two adjacent 8-byte lanes v0, v1 of a stripe, with
// secret words k0, k1, into accumulators a0, a1: each lane's value goes to
// its neighbour, and its 32x32-bit product of keyed halves to its own.
func xxh3Lanes(a0, a1, v0, v1, k0, k1 uint64) (uint64, uint64) {
	x0, x1 := v0^k0, v1^k1
	return a0 + v1 + uint64(uint32(x0))*(x0>>32), a1 + v0 + uint64(uint32(x1))*(x1>>32)
}

// mulFold returns the xor of the two halves of the 128-bit product x*y.
func mulFold(x, y uint64) uint64 {
	hi, lo := bits.Mul64(x, y)
	return hi ^ lo
}

// xxh3Avalanche is XXH3's final mix.
func xxh3Avalanche(h uint64) uint64 {
	h ^= h >> 37
	h *= 0x165667919e3779f9
	return h ^ h>>32
}

// xxh64Avalanche is XXH64's final mix, which XXH3 uses for 0-3 bytes.
func xxh64Avalanche(h uint64) uint64 {
	h ^= h >> 33
	h *= prime64_2
	h ^= h >> 29
	h *= prime64_3
	return h ^ h>>32
}

// rrmxmx is XXH3's final mix for 4-8 bytes; n is the length.
func rrmxmx(h, n uint64) uint64 {
	h ^= bits.RotateLeft64(h, 49) ^ bits.RotateLeft64(h, 24)
	h *= 0x9fb21c651e98df25
	h ^= h>>35 + n
	h *= 0x9fb21c651e98df25
	return h ^ h>>28
}

// secretAt reads the secret's 64-bit word at byte offset k.
func secretAt(k int) uint64 { return le64(xxh3Secret[k:]) }

// le64 reads s[:8] little-endian; the compiler merges it into one load.
func le64[T bytesOrString](s T) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// le32 reads s[:4] little-endian.
func le32[T bytesOrString](s T) uint32 {
	_ = s[3]
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}
