package crdt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/sinew-dev/sinew/vclock"
)

// ErrMalformed is wrapped by every decoding error: the input is truncated,
// has trailing bytes, is the encoding of another type, or is not the
// canonical encoding of a well-formed state. Errors found while decoding an
// embedded vector clock or dot also wrap [vclock.ErrMalformed].
var ErrMalformed = errors.New("crdt: malformed encoding")

// Type tags: the first byte of every binary encoding, so that bytes of one
// type are never decoded as another.
const (
	tagGCounter   byte = 0x01
	tagPNCounter  byte = 0x02
	tagGSet       byte = 0x03
	tagORSet      byte = 0x04
	tagLWW        byte = 0x05
	tagMVRegister byte = 0x06
	tagLWWMap     byte = 0x07
)

// Codec converts the values stored in a generic type (set elements,
// register values) to and from bytes, for the binary encodings. The package
// frames every value with its length, so a codec only sees the bytes of one
// value.
//
// The encoding must be deterministic and injective: equal values give
// identical bytes and different values different bytes; this is what makes
// the encodings of this package canonical. Decoders of this package check
// that every decoded value re-encodes to the bytes it came from, so a codec
// that accepts several spellings of a value cannot make them accept a
// non-canonical encoding.
//
// [StringCodec], [BytesCodec], [Int64Codec] and [Uint64Codec] cover the
// common element types.
type Codec[T any] interface {
	// AppendValue appends the encoding of v to b and returns the extended
	// slice.
	AppendValue(b []byte, v T) []byte
	// DecodeValue decodes a value from exactly the bytes b. It returns an
	// error for input AppendValue cannot produce and never panics. The
	// result must not share memory with b.
	DecodeValue(b []byte) (T, error)
}

// StringCodec encodes a string as its bytes. Any byte string is valid.
type StringCodec struct{}

// AppendValue appends v to b.
func (StringCodec) AppendValue(b []byte, v string) []byte { return append(b, v...) }

// DecodeValue returns b as a string.
func (StringCodec) DecodeValue(b []byte) (string, error) { return string(b), nil }

// BytesCodec encodes a byte slice as itself. A decoded value is a copy;
// a nil and an empty slice encode alike and decode as an empty slice.
type BytesCodec struct{}

// AppendValue appends v to b.
func (BytesCodec) AppendValue(b []byte, v []byte) []byte { return append(b, v...) }

// DecodeValue returns a copy of b.
func (BytesCodec) DecodeValue(b []byte) ([]byte, error) { return append([]byte{}, b...), nil }

// Int64Codec encodes an int64 as a minimal zig-zag varint.
type Int64Codec struct{}

// AppendValue appends the varint encoding of v to b.
func (Int64Codec) AppendValue(b []byte, v int64) []byte { return binary.AppendVarint(b, v) }

// DecodeValue decodes a minimal varint that fills b exactly.
func (Int64Codec) DecodeValue(b []byte) (int64, error) {
	v, n := binary.Varint(b)
	if n <= 0 || n != len(b) || (n > 1 && b[n-1] == 0) {
		return 0, malformed("invalid int64 varint")
	}
	return v, nil
}

// Uint64Codec encodes a uint64 as a minimal unsigned varint.
type Uint64Codec struct{}

// AppendValue appends the varint encoding of v to b.
func (Uint64Codec) AppendValue(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

// DecodeValue decodes a minimal varint that fills b exactly.
func (Uint64Codec) DecodeValue(b []byte) (uint64, error) {
	v, n := binary.Uvarint(b)
	if n <= 0 || n != len(b) || (n > 1 && b[n-1] == 0) {
		return 0, malformed("invalid uint64 varint")
	}
	return v, nil
}

var (
	_ Codec[string] = StringCodec{}
	_ Codec[[]byte] = BytesCodec{}
	_ Codec[int64]  = Int64Codec{}
	_ Codec[uint64] = Uint64Codec{}
)

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// satAdd returns a+b, saturating at math.MaxUint64.
func satAdd(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}

// appendValue appends v framed by its length: uvarint(len) bytes. scratch
// is a reusable buffer; the possibly grown buffer is returned with b.
func appendValue[T any](b, scratch []byte, c Codec[T], v T) ([]byte, []byte) {
	scratch = c.AppendValue(scratch[:0], v)
	b = binary.AppendUvarint(b, uint64(len(scratch)))
	return append(b, scratch...), scratch
}

// appendString appends uvarint(len(s)) s.
func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// reader decodes a binary encoding with a sticky error: after the first
// failure every read returns zero values, so decoders check err once per
// loop iteration.
type reader struct {
	b       []byte
	p       int
	err     error
	scratch []byte
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format+" at byte %d", append(append([]any{ErrMalformed}, args...), r.p)...)
	}
}

func (r *reader) remaining() int { return len(r.b) - r.p }

// tag reads the type tag and checks it.
func (r *reader) tag(want byte, name string) {
	if r.err != nil {
		return
	}
	if r.remaining() < 1 || r.b[r.p] != want {
		r.fail("not the encoding of a %s", name)
		return
	}
	r.p++
}

// uvarint reads a minimal unsigned varint.
func (r *reader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.p:])
	switch {
	case n == 0:
		r.fail("truncated %s", what)
		return 0
	case n < 0:
		r.fail("%s overflows 64 bits", what)
		return 0
	case n > 1 && r.b[r.p+n-1] == 0:
		r.fail("non-minimal varint %s", what)
		return 0
	}
	r.p += n
	return v
}

// count reads a number of items each at least minSize bytes long and
// checks it against the remaining input, so that no allocation is sized by
// a forged count.
func (r *reader) count(what string, minSize int) int {
	n := r.uvarint(what)
	if r.err != nil {
		return 0
	}
	if n > uint64(r.remaining()/minSize) {
		r.fail("%s %d exceeds the input", what, n)
		return 0
	}
	return int(n)
}

// bytes reads uvarint(len) and that many bytes, which alias the input.
func (r *reader) bytes(what string) []byte {
	n := r.uvarint(what + " length")
	if r.err != nil {
		return nil
	}
	if n > uint64(r.remaining()) {
		r.fail("%s length %d exceeds the input", what, n)
		return nil
	}
	v := r.b[r.p : r.p+int(n)]
	r.p += int(n)
	return v
}

// byte1 reads one byte.
func (r *reader) byte1(what string) byte {
	if r.err != nil {
		return 0
	}
	if r.remaining() < 1 {
		r.fail("truncated %s", what)
		return 0
	}
	r.p++
	return r.b[r.p-1]
}

// clock reads an embedded vector clock.
func (r *reader) clock() vclock.Clock {
	if r.err != nil {
		return vclock.Clock{}
	}
	c, n, err := vclock.DecodeClock(r.b[r.p:])
	if err != nil {
		r.err = fmt.Errorf("%w: %w", ErrMalformed, err)
		return vclock.Clock{}
	}
	r.p += n
	return c
}

// dot reads an embedded dot.
func (r *reader) dot() vclock.Dot {
	if r.err != nil {
		return vclock.Dot{}
	}
	d, n, err := vclock.DecodeDot(r.b[r.p:])
	if err != nil {
		r.err = fmt.Errorf("%w: %w", ErrMalformed, err)
		return vclock.Dot{}
	}
	r.p += n
	return d
}

// timestamp reads an embedded HLC timestamp.
func (r *reader) timestamp() vclock.Timestamp {
	if r.err != nil {
		return vclock.Timestamp{}
	}
	t, n, err := vclock.DecodeTimestamp(r.b[r.p:])
	if err != nil {
		r.err = fmt.Errorf("%w: %w", ErrMalformed, err)
		return vclock.Timestamp{}
	}
	r.p += n
	return t
}

// value reads a length-framed value with c and checks that it re-encodes
// to the same bytes.
func value[T any](r *reader, c Codec[T], what string) T {
	var zero T
	raw := r.bytes(what)
	if r.err != nil {
		return zero
	}
	v, err := c.DecodeValue(raw)
	if err != nil {
		r.err = fmt.Errorf("%w: %s: %w", ErrMalformed, what, err)
		return zero
	}
	r.scratch = c.AppendValue(r.scratch[:0], v)
	if string(r.scratch) != string(raw) {
		r.fail("%s is not in the codec's canonical form", what)
		return zero
	}
	return v
}

// end checks that the whole input was used.
func (r *reader) end() error {
	if r.err == nil && r.p != len(r.b) {
		r.fail("%d trailing bytes", len(r.b)-r.p)
	}
	return r.err
}

func appendUvarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }
