package vclock

import (
	"bytes"
	"encoding"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrMalformed is wrapped by every decoding error: the input is truncated,
// has trailing bytes, or is not the canonical encoding of a value.
var ErrMalformed = errors.New("vclock: malformed encoding")

// ErrInvalidUTF8 is returned by [Clock.MarshalJSON] when a replica ID is not
// valid UTF-8 and so has no exact JSON representation. The binary encoding
// takes any ID.
var ErrInvalidUTF8 = errors.New("vclock: replica ID is not valid UTF-8")

var (
	_ encoding.BinaryAppender    = Clock{}
	_ encoding.BinaryMarshaler   = Clock{}
	_ encoding.BinaryUnmarshaler = (*Clock)(nil)
	_ json.Marshaler             = Clock{}
	_ json.Unmarshaler           = (*Clock)(nil)
	_ encoding.BinaryAppender    = Dot{}
)

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// readUvarint reads a canonical (minimal-length) unsigned varint at b[p:]
// and returns it with the position after it.
func readUvarint(b []byte, p int, what string) (uint64, int, error) {
	v, n := binary.Uvarint(b[p:])
	switch {
	case n == 0:
		return 0, 0, malformed("truncated %s at byte %d", what, p)
	case n < 0:
		return 0, 0, malformed("%s overflows 64 bits at byte %d", what, p)
	case n > 1 && b[p+n-1] == 0:
		return 0, 0, malformed("non-minimal varint %s at byte %d", what, p)
	}
	return v, p + n, nil
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// The binary form of a Clock is
//
//	uvarint(number of entries)
//	for each entry, in strictly increasing byte-wise order of ID:
//	    uvarint(len(ID)) ID uvarint(Counter)
//
// with every varint minimal and every Counter > 0. A Clock has exactly one
// such encoding, so equal clocks encode to identical bytes. The form of a
// Dot is the same as one entry.

// minEntry is the smallest encoded entry: the empty ID and a one-byte
// counter. It bounds the entry count a decoder believes before allocating.
const minEntry = 2

// AppendBinary appends the canonical binary encoding of c to b and returns
// the extended slice. Equal clocks produce identical bytes. The error is
// always nil; it is there to implement [encoding.BinaryAppender].
func (c Clock) AppendBinary(b []byte) ([]byte, error) {
	size := uvarintLen(uint64(len(c.e)))
	for _, d := range c.e {
		size += uvarintLen(uint64(len(d.ID))) + len(d.ID) + uvarintLen(d.Counter)
	}
	b = slices.Grow(b, size)
	b = binary.AppendUvarint(b, uint64(len(c.e)))
	for _, d := range c.e {
		b = binary.AppendUvarint(b, uint64(len(d.ID)))
		b = append(b, d.ID...)
		b = binary.AppendUvarint(b, d.Counter)
	}
	return b, nil
}

// MarshalBinary returns the canonical binary encoding of c (see
// AppendBinary). The error is always nil.
func (c Clock) MarshalBinary() ([]byte, error) {
	return c.AppendBinary(nil)
}

// UnmarshalBinary sets c to the clock encoded in data, which must hold
// exactly one canonical encoding and nothing after it. On error, which
// wraps ErrMalformed, c is unchanged. The decoded clock does not share
// memory with data.
func (c *Clock) UnmarshalBinary(data []byte) error {
	d, n, err := DecodeClock(data)
	if err != nil {
		return err
	}
	if n != len(data) {
		return malformed("%d trailing bytes after clock", len(data)-n)
	}
	*c = d
	return nil
}

// DecodeClock decodes the canonical binary encoding of a clock at the start
// of b and returns the clock and the number of bytes it used; bytes after
// it are ignored, so clocks can be embedded in larger encodings. It returns
// an error wrapping ErrMalformed for truncated input, non-minimal varints,
// IDs not in strictly increasing order (including duplicates) and zero
// counters.
//
// It never panics, and it allocates only after the whole clock has been
// validated: three blocks proportional to the bytes used (the entries, one
// string holding every ID, and an index of the replica set). The result
// does not share memory with b.
func DecodeClock(b []byte) (Clock, int, error) {
	// Pass 1: validate and find the end.
	count, p, err := readUvarint(b, 0, "entry count")
	if err != nil {
		return Clock{}, 0, err
	}
	if count > uint64(len(b)-p)/minEntry {
		return Clock{}, 0, malformed("entry count %d exceeds the input", count)
	}
	start := p
	var prev []byte
	idsLen := 0 // length of Clock.ids
	for k := range int(count) {
		var l, ctr uint64
		q := p
		if l, p, err = readUvarint(b, p, "ID length"); err != nil {
			return Clock{}, 0, err
		}
		if l > uint64(len(b)-p) {
			return Clock{}, 0, malformed("ID length %d exceeds the input at entry %d", l, k)
		}
		id := b[p : p+int(l)]
		p += int(l)
		idsLen += p - q
		if k > 0 && bytes.Compare(prev, id) >= 0 {
			return Clock{}, 0, malformed("IDs not strictly increasing at entry %d", k)
		}
		prev = id
		if ctr, p, err = readUvarint(b, p, "counter"); err != nil {
			return Clock{}, 0, err
		}
		if ctr == 0 {
			return Clock{}, 0, malformed("zero counter at entry %d", k)
		}
	}
	if count == 0 {
		return Clock{}, p, nil
	}

	// Pass 2: the input is valid; build the clock with three allocations.
	s := string(b[start:p])
	e := make([]Dot, count)
	ids := make([]byte, 0, idsLen)
	q := 0
	for k := range e {
		l, n := binary.Uvarint(b[start+q:])
		ids = append(ids, b[start+q:start+q+n+int(l)]...)
		q += n
		e[k].ID = s[q : q+int(l)]
		q += int(l)
		e[k].Counter, n = binary.Uvarint(b[start+q:])
		q += n
	}
	return Clock{e: e, ids: ids}, p, nil
}

// AppendBinary appends the binary encoding of d to b:
// uvarint(len(ID)) ID uvarint(Counter), with minimal varints. The error is
// always nil; it is there to implement [encoding.BinaryAppender].
func (d Dot) AppendBinary(b []byte) ([]byte, error) {
	b = slices.Grow(b, uvarintLen(uint64(len(d.ID)))+len(d.ID)+uvarintLen(d.Counter))
	b = binary.AppendUvarint(b, uint64(len(d.ID)))
	b = append(b, d.ID...)
	return binary.AppendUvarint(b, d.Counter), nil
}

// DecodeDot decodes a dot encoded by [Dot.AppendBinary] at the start of b
// and returns it with the number of bytes used. It returns an error
// wrapping ErrMalformed for truncated input or non-minimal varints; a zero
// Counter is accepted. It never panics and allocates only the ID, after
// checking that the input holds it.
func DecodeDot(b []byte) (Dot, int, error) {
	l, p, err := readUvarint(b, 0, "ID length")
	if err != nil {
		return Dot{}, 0, err
	}
	if l > uint64(len(b)-p) {
		return Dot{}, 0, malformed("ID length %d exceeds the input", l)
	}
	id := b[p : p+int(l)]
	ctr, p, err := readUvarint(b, p+int(l), "counter")
	if err != nil {
		return Dot{}, 0, err
	}
	return Dot{ID: string(id), Counter: ctr}, p, nil
}

// MarshalJSON encodes c as a JSON object mapping each replica ID to its
// counter, keys in ascending order, for example {"a":3,"b":1}; the empty
// clock is {}. Counters are written as exact integers (values above 2^53
// lose precision in JavaScript's numbers). It returns ErrInvalidUTF8 if an
// ID is not valid UTF-8.
func (c Clock) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 2+len(c.e)*16)
	b = append(b, '{')
	for i, d := range c.e {
		if !utf8.ValidString(d.ID) {
			return nil, fmt.Errorf("%w: %q", ErrInvalidUTF8, d.ID)
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, d.ID)
		b = append(b, ':')
		b = strconv.AppendUint(b, d.Counter, 10)
	}
	return append(b, '}'), nil
}

// appendJSONString appends s, which is valid UTF-8, as a JSON string. Like
// encoding/json it escapes U+2028 and U+2029, which JavaScript does not
// accept unescaped in strings.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch == '"' || ch == '\\':
			b = append(b, '\\', ch)
		case ch < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[ch>>4], hex[ch&0xf])
		case ch == 0xe2 && i+2 < len(s) && s[i+1] == 0x80 && s[i+2]&^1 == 0xa8:
			b = append(b, '\\', 'u', '2', '0', '2', hex[s[i+2]&0xf])
			i += 2
		default:
			b = append(b, ch)
		}
	}
	return append(b, '"')
}

// UnmarshalJSON sets c from a JSON object mapping replica IDs to counters,
// as written by MarshalJSON. Keys may come in any order and zero counters
// are dropped (zero means absent), but a duplicate key, a counter that is
// not an integer in [0, 2^64), or anything other than one object is an
// error wrapping ErrMalformed. JSON null leaves c unchanged, as
// encoding/json expects. On error c is unchanged.
func (c *Clock) UnmarshalJSON(data []byte) error {
	if string(bytes.TrimSpace(data)) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return malformed("clock JSON is not an object")
	}
	var e []Dot
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return malformed("clock JSON: %v", err)
		}
		id, ok := tok.(string)
		if !ok {
			return malformed("clock JSON: key is not a string")
		}
		if tok, err = dec.Token(); err != nil {
			return malformed("clock JSON: %v", err)
		}
		num, ok := tok.(json.Number)
		if !ok {
			return malformed("clock JSON: counter of %q is not a number", id)
		}
		n, err := strconv.ParseUint(string(num), 10, 64)
		if err != nil {
			return malformed("clock JSON: counter of %q is not an integer in [0, 2^64): %s", id, num)
		}
		e = append(e, Dot{ID: id, Counter: n})
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return malformed("clock JSON: unterminated object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return malformed("clock JSON: data after the object")
	}
	slices.SortFunc(e, func(a, b Dot) int { return strings.Compare(a.ID, b.ID) })
	for i := 1; i < len(e); i++ {
		if e[i].ID == e[i-1].ID {
			return malformed("clock JSON: duplicate ID %q", e[i].ID)
		}
	}
	e = slices.DeleteFunc(e, func(d Dot) bool { return d.Counter == 0 })
	if len(e) == 0 {
		*c = Clock{}
		return nil
	}
	*c = Clock{e: e, ids: appendIDs(nil, e)}
	return nil
}
