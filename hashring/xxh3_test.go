package hashring

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// goldenInput is the n-byte input of the golden vectors: byte i is
// (131*i + 7) mod 256.
func goldenInput(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*131 + 7)
	}
	return string(b)
}

// TestXXH3Golden: values computed with github.com/zeebo/xxh3 v1.1.0
// (HashString), at the edges of every path: 0, 1-3, 4-8, 9-16, 17-128 (one
// to four pairs of blocks), 129-240 and the striped path (> 240; one, two
// and four 1024-byte blocks). bench/hashring checks every length 0-1024
// against that library directly.
func TestXXH3Golden(t *testing.T) {
	sized := []struct {
		n    int
		want uint64
	}{
		{0, 0x2d06800538d394c2},
		{1, 0x4c5cca45d0f4811f},
		{2, 0x29c60963cbfa4e6e},
		{3, 0x6e3e2670e61106ac},
		{4, 0x5c4c63133443d03f},
		{5, 0x49f5eb3111280b63},
		{8, 0xf9fd4dd0b04d78f5},
		{9, 0x7c20df9712c26edf},
		{15, 0xb345a7b2698ba575},
		{16, 0x86abf6baccea0858},
		{17, 0xb58bf5dc5022d071},
		{18, 0x4e1decedad22d303},
		{32, 0xe3712ed84c04a66e},
		{33, 0xa4dee99b093e1f73},
		{64, 0x1291d2d4042330dd},
		{65, 0x97c6bf83217e5ec9},
		{96, 0x81296929fc063365},
		{97, 0xf145a45b658ab9dd},
		{127, 0xed4cf62104020db5},
		{128, 0x10d17f72c0ccba41},
		{129, 0x1648bdc3db49d1a2},
		{143, 0xd05ced598f7f87b3},
		{144, 0xb46dbfc6d9e31aba},
		{239, 0xf0d154819adb16cd},
		{240, 0xb6cfaf343fab81e6},
		{241, 0x956cae592c67279e},
		{255, 0x64a6073025eb7929},
		{256, 0xb15e550733c5dfac},
		{1023, 0xa94ffcd2254368e4},
		{1024, 0x70bd377d9574f4bb},
		{1025, 0x66c4487c41e127a7},
		{2048, 0x8b46caa67dab3a30},
		{2049, 0x581cd184fd9b76c5},
		{4160, 0xd88adf76afa2022a},
	}
	for _, c := range sized {
		s := goldenInput(c.n)
		assert.Equal(t, c.want, XXH3(s), "XXH3 of %d bytes", c.n)
		assert.Equal(t, c.want, xxh3([]byte(s)), "xxh3 of %d bytes as []byte", c.n)
	}
	named := []struct {
		s    string
		want uint64
	}{
		{"", 0x2d06800538d394c2},
		{"a", 0xe6c632b61e964e1f},
		{"abc", 0x78af5f94892f3950},
		{"user:1", 0x3b577afd7fed9501},
		{"user:12345678901", 0x95f9036b4c016968},
		{"10.0.0.1:8080", 0xb655a4a4783c5011},
		{"node-0#0", 0x83a47bc94be7b766},
		{"The quick brown fox jumps over the lazy dog", 0xce7d19a5418fb365},
	}
	for _, c := range named {
		assert.Equal(t, c.want, XXH3(c.s), "XXH3(%q)", c.s)
	}
}

// TestXXH3Secret: the secret is 192 bytes and the word constants that the
// short path uses are its little-endian words.
func TestXXH3Secret(t *testing.T) {
	require.Len(t, xxh3Secret, 192)
	words := []uint64{secret0, secret8, secret16, secret24, secret32, secret40, secret48, secret56,
		secret64, secret72, secret80, secret88, secret96, secret104, secret112, secret120}
	for i, w := range words {
		assert.Equal(t, binary.LittleEndian.Uint64([]byte(xxh3Secret[8*i:])), w, "secret%d", 8*i)
	}
}

// TestXXH3Reference: XXH3 equals refXXH3, written independently from the
// specification, for every length 0..2200 (every path, the edges of the
// 64-byte stripes and of the first two 1024-byte blocks) over random
// bytes, all-zero and all-0xff inputs; the []byte instantiation and the
// short path called directly agree.
func TestXXH3Reference(t *testing.T) {
	const seed = 13
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 14))
	for n := 0; n <= 2200; n++ {
		inputs := []string{strings.Repeat("\x00", n), strings.Repeat("\xff", n)}
		for range 8 {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			inputs = append(inputs, string(b))
		}
		for _, s := range inputs {
			want := refXXH3([]byte(s))
			if got := XXH3(s); got != want {
				require.Equal(t, want, got, "XXH3 of %d bytes %x", n, s)
			}
			if got := xxh3([]byte(s)); got != want {
				require.Equal(t, want, got, "xxh3([]byte) of %d bytes %x", n, s)
			}
			if n <= xxh3ShortMax {
				if got := xxh3Short(s); got != want {
					require.Equal(t, want, got, "xxh3Short of %d bytes %x", n, s)
				}
			}
		}
	}
}

// TestXXH3Allocs: hashing a key, short or long, and a virtual-node label
// does not allocate.
func TestXXH3Allocs(t *testing.T) {
	for _, n := range []int{17, 200, 3000} {
		s := goldenInput(n)
		assert.Zero(t, testing.AllocsPerRun(100, func() { hashSink = XXH3(s) }), "XXH3 of %d bytes", n)
		assert.Zero(t, testing.AllocsPerRun(100, func() { hashSink = hashKey(nil, s) }), "hashKey of %d bytes", n)
	}
	lh := labelHasher{}
	lh.hash(strings.Repeat("n", 300), 1) // grow the buffer once
	for _, name := range []string{"node-1", strings.Repeat("n", 200)} {
		assert.Zero(t, testing.AllocsPerRun(100, func() { hashSink = lh.hash(name, 123) }), "label of %q", name)
	}
}

// TestDefaultHash: nil Options.Hash is XXH3, for keys (Get(key) ==
// GetHash(XXH3(key)) on every algorithm, for keys on either side of the
// short path's limit) and for the Ring's labels (TestRingPlacement).
func TestDefaultHash(t *testing.T) {
	type hashGetter interface{ GetHash(uint64) (string, bool) }
	for _, ac := range algoCases {
		a := smallAlgo(ac.name)
		require.NoError(t, a.Set(Names(nodeNames(20)...)))
		for _, k := range qualityKeys(300) {
			for _, n := range []int{1, 16, 17, 128, 129, 240, 241, 300} {
				key := strings.Repeat(k, 300/len(k)+1)[:n]
				want, _ := a.(hashGetter).GetHash(XXH3(key))
				got, _ := a.Get(key)
				assert.Equal(t, want, got, "%s.Get(%q)", ac.name, key)
			}
		}
	}
	for _, s := range []string{"", "k", "user:42", goldenInput(300)} {
		assert.Equal(t, XXH3(s), hashKey(nil, s))
		assert.Equal(t, uint64(42), hashKey(func(string) uint64 { return 42 }, s))
	}
}

// refXXH3 is XXH3-64 with seed 0 as the specification states it, on bytes,
// without unrolling or shortcuts; it shares only the secret with xxh3.go.
func refXXH3(in []byte) uint64 {
	const (
		p32_1 = 2654435761
		p32_2 = 2246822519
		p32_3 = 3266489917
		p64_1 = 11400714785074694791
		p64_2 = 14029467366897019727
		p64_3 = 1609587929392839161
		p64_4 = 9650029242287828579
		p64_5 = 2870177450012600261
	)
	sec := []byte(xxh3Secret)
	r64 := func(b []byte, i int) uint64 { return binary.LittleEndian.Uint64(b[i : i+8]) }
	r32 := func(b []byte, i int) uint64 { return uint64(binary.LittleEndian.Uint32(b[i : i+4])) }
	fold := func(a, b uint64) uint64 { hi, lo := bits.Mul64(a, b); return hi ^ lo }
	avalanche := func(h uint64) uint64 {
		h ^= h >> 37
		h *= 0x165667919e3779f9
		return h ^ h>>32
	}
	avalanche64 := func(h uint64) uint64 {
		h ^= h >> 33
		h *= p64_2
		h ^= h >> 29
		h *= p64_3
		return h ^ h>>32
	}
	mix16 := func(i, k int) uint64 { return fold(r64(in, i)^r64(sec, k), r64(in, i+8)^r64(sec, k+8)) }
	n := len(in)
	switch {
	case n == 0:
		return avalanche64(r64(sec, 56) ^ r64(sec, 64))
	case n <= 3:
		combined := uint64(in[0])<<16 | uint64(in[n>>1])<<24 | uint64(in[n-1]) | uint64(n)<<8
		return avalanche64(combined ^ (r32(sec, 0) ^ r32(sec, 4)))
	case n <= 8:
		x := r32(in, n-4) + r32(in, 0)<<32
		x ^= r64(sec, 8) ^ r64(sec, 16)
		x ^= bits.RotateLeft64(x, 49) ^ bits.RotateLeft64(x, 24)
		x *= 0x9fb21c651e98df25
		x ^= (x >> 35) + uint64(n)
		x *= 0x9fb21c651e98df25
		return x ^ x>>28
	case n <= 16:
		lo := r64(in, 0) ^ (r64(sec, 24) ^ r64(sec, 32))
		hi := r64(in, n-8) ^ (r64(sec, 40) ^ r64(sec, 48))
		return avalanche(uint64(n) + bits.ReverseBytes64(lo) + hi + fold(lo, hi))
	case n <= 128:
		acc := uint64(n) * p64_1
		for i := 0; i <= (n-1)/32; i++ {
			acc += mix16(16*i, 32*i) + mix16(n-16*(i+1), 32*i+16)
		}
		return avalanche(acc)
	case n <= 240:
		acc := uint64(n) * p64_1
		for i := 0; i < 8; i++ {
			acc += mix16(16*i, 16*i)
		}
		acc = avalanche(acc)
		for i := 8; i < n/16; i++ {
			acc += mix16(16*i, 16*(i-8)+3)
		}
		acc += mix16(n-16, 136-17)
		return avalanche(acc)
	}
	acc := []uint64{p32_3, p64_1, p64_2, p64_3, p64_4, p32_2, p64_5, p32_1}
	stripe := func(at, k int) {
		for i := 0; i < 8; i++ {
			v := r64(in, at+8*i)
			key := v ^ r64(sec, k+8*i)
			acc[i^1] += v
			acc[i] += (key & 0xffffffff) * (key >> 32)
		}
	}
	const perBlock = (192 - 64) / 8
	blocks := (n - 1) / (64 * perBlock)
	for b := 0; b < blocks; b++ {
		for s := 0; s < perBlock; s++ {
			stripe(b*64*perBlock+64*s, 8*s)
		}
		for i := range acc {
			acc[i] = (acc[i] ^ acc[i]>>47 ^ r64(sec, 192-64+8*i)) * p32_1
		}
	}
	for s := 0; s < (n-1-blocks*64*perBlock)/64; s++ {
		stripe(blocks*64*perBlock+64*s, 8*s)
	}
	stripe(n-64, 192-64-7)
	h := uint64(n) * p64_1
	for i := 0; i < 4; i++ {
		h += fold(acc[2*i]^r64(sec, 11+16*i), acc[2*i+1]^r64(sec, 11+16*i+8))
	}
	return avalanche(h)
}

// BenchmarkXXH3 hashes keys of each size as lookups do (impl=xxh3, the
// default, through hashKey) and with XXH64 (impl=xxh64, cespare/xxhash,
// the default before XXH3), cycling over 64Ki seeded alphanumeric keys of
// that size.
func BenchmarkXXH3(b *testing.B) {
	for _, size := range []int{8, 17, 40, 100, 200, 1024} {
		keys := sizedKeys(1<<16, size)
		mask := len(keys) - 1
		b.Run(fmt.Sprintf("impl=xxh3/size=%d", size), func(b *testing.B) {
			b.SetBytes(int64(size))
			var sum uint64
			i := 0
			for b.Loop() {
				sum += hashKey(nil, keys[i&mask])
				i++
			}
			hashSink = sum
		})
		b.Run(fmt.Sprintf("impl=xxh64/size=%d", size), func(b *testing.B) {
			b.SetBytes(int64(size))
			var sum uint64
			i := 0
			for b.Loop() {
				sum += xxhash.Sum64String(keys[i&mask])
				i++
			}
			hashSink = sum
		})
	}
}

// sizedKeys returns n seeded random alphanumeric keys of length size.
func sizedKeys(n, size int) []string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	rng := rand.New(rand.NewPCG(keySeed, uint64(size)))
	keys := make([]string, n)
	b := make([]byte, size)
	for i := range keys {
		for j := range b {
			b[j] = alphabet[rng.IntN(len(alphabet))]
		}
		keys[i] = string(b)
	}
	return keys
}
