package vclock

import (
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"
)

// Timestamp is a hybrid logical clock timestamp: a wall-clock time in
// nanoseconds since the Unix epoch and a logical counter that orders events
// sharing a wall time. Timestamps are totally ordered by (WallTime,
// Logical); == is equality.
//
// Timestamp is a small comparable value: copy it, compare it with ==, use it
// as a map key. Like any value it is safe to share between goroutines that
// only read it.
type Timestamp struct {
	// WallTime is nanoseconds since 1970-01-01 UTC, as in [time.Time.UnixNano].
	WallTime int64
	// Logical orders timestamps with the same WallTime.
	Logical uint32
}

// TimestampSize is the length of the binary encoding of a Timestamp.
const TimestampSize = 12

var (
	_ encoding.BinaryAppender    = Timestamp{}
	_ encoding.BinaryMarshaler   = Timestamp{}
	_ encoding.BinaryUnmarshaler = (*Timestamp)(nil)
	_ encoding.TextAppender      = Timestamp{}
	_ encoding.TextMarshaler     = Timestamp{}
	_ encoding.TextUnmarshaler   = (*Timestamp)(nil)
)

// Compare returns -1 if t is before u, 0 if they are equal and +1 if t is
// after u.
func (t Timestamp) Compare(u Timestamp) int {
	switch {
	case t.WallTime < u.WallTime:
		return -1
	case t.WallTime > u.WallTime:
		return 1
	case t.Logical < u.Logical:
		return -1
	case t.Logical > u.Logical:
		return 1
	}
	return 0
}

// Less reports whether t is before u.
func (t Timestamp) Less(u Timestamp) bool {
	return t.WallTime < u.WallTime || (t.WallTime == u.WallTime && t.Logical < u.Logical)
}

// IsZero reports whether t is the zero Timestamp, which precedes every
// timestamp an HLC issues.
func (t Timestamp) IsZero() bool { return t == Timestamp{} }

// Time returns the wall-clock part of t as a time.Time.
func (t Timestamp) Time() time.Time { return time.Unix(0, t.WallTime) }

// next returns the smallest timestamp after t. At the very largest value it
// returns t unchanged (the clock saturates rather than wrapping).
func (t Timestamp) next() Timestamp {
	switch {
	case t.Logical < math.MaxUint32:
		t.Logical++
	case t.WallTime < math.MaxInt64:
		t.WallTime++
		t.Logical = 0
	}
	return t
}

// AppendBinary appends the 12-byte binary encoding of t to b: WallTime as
// 8 big-endian bytes with the sign bit flipped, then Logical as 4 big-endian
// bytes. bytes.Compare on two encodings agrees with Compare on the
// timestamps, so encodings can serve as sort keys. The error is always nil;
// it is there to implement [encoding.BinaryAppender].
func (t Timestamp) AppendBinary(b []byte) ([]byte, error) {
	b = binary.BigEndian.AppendUint64(b, uint64(t.WallTime)^(1<<63))
	return binary.BigEndian.AppendUint32(b, t.Logical), nil
}

// MarshalBinary returns the 12-byte encoding of t (see AppendBinary). The
// error is always nil.
func (t Timestamp) MarshalBinary() ([]byte, error) {
	return t.AppendBinary(make([]byte, 0, TimestampSize))
}

// DecodeTimestamp decodes a timestamp from the first TimestampSize bytes of
// b and returns it with the number of bytes used (always TimestampSize). It
// returns an error wrapping ErrMalformed if b is shorter. Every 12-byte
// string is the canonical encoding of exactly one timestamp.
func DecodeTimestamp(b []byte) (Timestamp, int, error) {
	if len(b) < TimestampSize {
		return Timestamp{}, 0, malformed("timestamp needs %d bytes, have %d", TimestampSize, len(b))
	}
	return Timestamp{
		WallTime: int64(binary.BigEndian.Uint64(b) ^ (1 << 63)),
		Logical:  binary.BigEndian.Uint32(b[8:]),
	}, TimestampSize, nil
}

// UnmarshalBinary sets t from exactly TimestampSize bytes. Any other length
// is an error wrapping ErrMalformed.
func (t *Timestamp) UnmarshalBinary(data []byte) error {
	if len(data) != TimestampSize {
		return malformed("timestamp needs exactly %d bytes, have %d", TimestampSize, len(data))
	}
	*t, _, _ = DecodeTimestamp(data)
	return nil
}

// String returns t as "seconds.nanoseconds,logical", with exactly nine
// digits of nanoseconds, for example "1700000000.000000042,3". Negative
// wall times get a leading '-'.
func (t Timestamp) String() string {
	b, _ := t.AppendText(make([]byte, 0, 32))
	return string(b)
}

// AppendText appends the String form of t to b. The error is always nil.
// JSON encodes a Timestamp as this string, which keeps all 64 bits of
// WallTime (a JSON number would lose precision in JavaScript).
func (t Timestamp) AppendText(b []byte) ([]byte, error) {
	mag := uint64(t.WallTime)
	if t.WallTime < 0 {
		b = append(b, '-')
		mag = -mag
	}
	b = strconv.AppendUint(b, mag/1e9, 10)
	b = append(b, '.')
	ns := mag % 1e9
	for d := uint64(1e8); d > 0; d /= 10 {
		b = append(b, byte('0'+ns/d%10))
	}
	b = append(b, ',')
	return strconv.AppendUint(b, uint64(t.Logical), 10), nil
}

// MarshalText returns the String form of t. The error is always nil.
func (t Timestamp) MarshalText() ([]byte, error) {
	return t.AppendText(make([]byte, 0, 32))
}

// UnmarshalText parses the String form of a timestamp. It accepts only the
// exact form String produces (no '+', no leading zeros, exactly nine digits
// of nanoseconds, no "-0"), so each timestamp has one text form; anything
// else is an error wrapping ErrMalformed.
func (t *Timestamp) UnmarshalText(text []byte) error {
	s := string(text)
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	dot, comma := -1, -1
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '.':
			if dot < 0 {
				dot = i
			}
		case ',':
			if comma < 0 {
				comma = i
			}
		}
	}
	if dot < 0 || comma != dot+10 {
		return malformed("timestamp %q is not seconds.nnnnnnnnn,logical", text)
	}
	sec, ok1 := parseDecimal(s[:dot])
	ns, ok2 := parseDigits(s[dot+1 : comma])
	logical, ok3 := parseDecimal(s[comma+1:])
	if !ok1 || !ok2 || !ok3 || logical > math.MaxUint32 || sec > math.MaxUint64/1_000_000_000 {
		return malformed("timestamp %q is not seconds.nnnnnnnnn,logical", text)
	}
	mag := sec*1e9 + ns // sec*1e9 cannot overflow; adding ns can, which wraps
	if mag < ns {
		return malformed("timestamp %q is out of range", text)
	}
	var wall int64
	switch {
	case !neg && mag <= math.MaxInt64:
		wall = int64(mag)
	case neg && mag != 0 && mag <= 1<<63:
		wall = int64(-mag) // -(1<<63) wraps to MinInt64, as wanted
	default:
		return malformed("timestamp %q is out of range", text)
	}
	*t = Timestamp{WallTime: wall, Logical: uint32(logical)}
	return nil
}

// parseDigits parses a non-empty string of ASCII digits that fits in a
// uint64, leading zeros allowed.
func parseDigits(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' || v > (math.MaxUint64-uint64(c-'0'))/10 {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

// parseDecimal is parseDigits without leading zeros ("0" itself is fine).
func parseDecimal(s string) (uint64, bool) {
	if len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	return parseDigits(s)
}

// DefaultMaxOffset is the MaxOffset used when HLCOptions.MaxOffset is zero:
// CockroachDB's default maximum clock offset.
const DefaultMaxOffset = 500 * time.Millisecond

// ErrRemoteAhead is matched (with errors.Is) by the error HLC.Update returns
// when a remote timestamp is further ahead of the local wall clock than the
// maximum offset. The concrete error is an *OffsetError.
var ErrRemoteAhead = errors.New("vclock: remote timestamp too far ahead of the local wall clock")

// OffsetError describes a remote timestamp rejected by HLC.Update. It
// matches ErrRemoteAhead.
type OffsetError struct {
	Remote    Timestamp     // the rejected timestamp
	Wall      int64         // the local wall clock when it was checked, in Unix nanoseconds
	MaxOffset time.Duration // the limit that Remote.WallTime - Wall exceeded
}

// Error describes the offset.
func (e *OffsetError) Error() string {
	return fmt.Sprintf("%v: remote %v is %v ahead, max offset %v",
		ErrRemoteAhead, e.Remote, time.Duration(e.Remote.WallTime-e.Wall), e.MaxOffset)
}

// Unwrap returns ErrRemoteAhead.
func (e *OffsetError) Unwrap() error { return ErrRemoteAhead }

// HLCOptions configures an HLC. The zero value gives the defaults.
type HLCOptions struct {
	// MaxOffset is how far a remote timestamp's wall time may be ahead of the
	// local wall clock before Update rejects it. It should be the maximum
	// clock offset the deployment tolerates between any two nodes. Zero means
	// DefaultMaxOffset (500ms); a negative value disables the check, so a
	// single remote timestamp from a broken clock can push this clock
	// arbitrarily far into the future.
	MaxOffset time.Duration

	// WallClock returns the current wall-clock time in nanoseconds since the
	// Unix epoch. Nil means time.Now().UnixNano(). It exists for tests; it
	// must be safe for concurrent use and is called outside the HLC's lock.
	WallClock func() int64
}

// HLC is a hybrid logical clock (Kulkarni, Demirbas et al., "Logical
// Physical Clocks", 2014), modelled on CockroachDB's hlc package. It issues
// Timestamps that:
//
//   - strictly increase: every Now or Update result is after every earlier
//     result of the same HLC, even when the wall clock steps backwards;
//   - respect causality: Update(remote) is after remote;
//   - stay close to wall-clock time: WallTime is the largest wall time seen
//     locally or in an accepted remote timestamp, and Logical only counts
//     events within one such wall time.
//
// The max-offset check bounds how far a remote clock can drag this one
// ahead of real time: Update rejects, with an error matching
// ErrRemoteAhead, a remote timestamp more than MaxOffset ahead of the local
// wall clock, and leaves the clock untouched.
//
// At the largest timestamp (WallTime math.MaxInt64, Logical
// math.MaxUint32) the clock saturates and repeats it; with the max-offset
// check enabled no remote timestamp can take it there before the year 2262.
//
// The zero value is ready to use with the default options. An HLC is safe
// for concurrent use; one mutex guards its state. It must not be copied
// after first use.
type HLC struct {
	maxOffset time.Duration // read-only after NewHLC; 0 means the default
	wall      func() int64  // read-only after NewHLC; nil means time.Now

	mu   sync.Mutex // protects last
	last Timestamp  // the latest timestamp issued
}

// NewHLC returns a hybrid logical clock configured by opts.
func NewHLC(opts HLCOptions) *HLC {
	return &HLC{maxOffset: opts.MaxOffset, wall: opts.WallClock}
}

// MaxOffset returns the maximum offset Update enforces; a negative value
// means the check is disabled.
func (h *HLC) MaxOffset() time.Duration {
	if h.maxOffset == 0 {
		return DefaultMaxOffset
	}
	return h.maxOffset
}

func (h *HLC) physicalNow() int64 {
	if h.wall != nil {
		return h.wall()
	}
	return time.Now().UnixNano()
}

// Now returns a timestamp for a local or send event: the wall clock if it
// is ahead of every timestamp issued so far, otherwise the latest timestamp
// with Logical increased by one.
func (h *HLC) Now() Timestamp {
	pt := h.physicalNow()
	h.mu.Lock()
	if pt > h.last.WallTime {
		h.last = Timestamp{WallTime: pt}
	} else {
		h.last = h.last.next()
	}
	t := h.last
	h.mu.Unlock()
	return t
}

// Update records the receipt of a message stamped remote and returns the
// timestamp of the receive event, which is after both remote and every
// timestamp this clock has issued.
//
// If remote.WallTime is more than MaxOffset ahead of the local wall clock,
// Update returns a zero Timestamp and an *OffsetError matching
// ErrRemoteAhead, and the clock is not changed: the message should be
// refused, since accepting it would push every later timestamp of this node
// that far into the future.
func (h *HLC) Update(remote Timestamp) (Timestamp, error) {
	pt := h.physicalNow()
	if off := h.MaxOffset(); off > 0 && remote.WallTime > pt &&
		uint64(remote.WallTime)-uint64(pt) > uint64(off) {
		return Timestamp{}, &OffsetError{Remote: remote, Wall: pt, MaxOffset: off}
	}
	h.mu.Lock()
	l := h.last
	switch {
	case pt > l.WallTime && pt > remote.WallTime:
		l = Timestamp{WallTime: pt}
	case l.WallTime > remote.WallTime:
		l = l.next()
	case remote.WallTime > l.WallTime:
		l = remote.next()
	default: // equal wall times, not behind the wall clock
		l.Logical = max(l.Logical, remote.Logical)
		l = l.next()
	}
	h.last = l
	h.mu.Unlock()
	return l, nil
}
