package vclock

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzDecodeClock checks that DecodeClock never panics, reports a sane
// length, returns only canonical clocks, and that whatever it accepts
// re-encodes to exactly the bytes it used.
func FuzzDecodeClock(f *testing.F) {
	for _, c := range []Clock{{}, Of(Dot{"a", 1}), Of(Dot{"", 2}, Dot{"a", 1}, Dot{"b", 300}), clockN(16, 1)} {
		b, _ := c.MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte{2, 1, 'b', 1, 1, 'a', 1})
	f.Add([]byte{1, 1, 'a', 0})
	f.Add([]byte{0x80, 0x00})
	f.Fuzz(func(t *testing.T, in []byte) {
		c, n, err := DecodeClock(in)
		if err != nil {
			require.ErrorIs(t, err, ErrMalformed)
			return
		}
		require.True(t, n >= 1 && n <= len(in), "n = %d for %d bytes", n, len(in))
		checkInvariant(t, c)
		out, _ := c.MarshalBinary()
		require.Equal(t, in[:n], out, "only canonical input is accepted")
		var u Clock
		err = u.UnmarshalBinary(in)
		require.Equal(t, n == len(in), err == nil, "UnmarshalBinary agrees with DecodeClock: %v", err)
		if err == nil {
			require.True(t, u.Equal(c), "UnmarshalBinary = %v, DecodeClock = %v", u, c)
		}
	})
}

// FuzzDecodeDot checks DecodeDot the same way.
func FuzzDecodeDot(f *testing.F) {
	f.Add([]byte{1, 'a', 1})
	f.Add([]byte{0, 0})
	f.Add([]byte{1, 'a', 0x80, 0x00})
	f.Fuzz(func(t *testing.T, in []byte) {
		d, n, err := DecodeDot(in)
		if err != nil {
			require.ErrorIs(t, err, ErrMalformed)
			return
		}
		require.LessOrEqual(t, n, len(in))
		out, _ := d.AppendBinary(nil)
		require.Equal(t, in[:n], out, "only canonical input is accepted")
	})
}

// FuzzClockUnmarshalJSON checks that UnmarshalJSON never panics, that what
// it accepts is a canonical clock, and that the clock round-trips through
// MarshalJSON.
func FuzzClockUnmarshalJSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1,"b":2}`, `{"b":2,"a":0}`, `{"a":1,"a":2}`, `null`, `{"\u00e9\n":18446744073709551615}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var c Clock
		if err := c.UnmarshalJSON(in); err != nil {
			require.ErrorIs(t, err, ErrMalformed)
			return
		}
		checkInvariant(t, c)
		out, err := c.MarshalJSON()
		require.NoError(t, err, "encoding/json yields valid UTF-8 keys")
		require.True(t, json.Valid(out), "valid JSON: %s", out)
		var back Clock
		require.NoError(t, back.UnmarshalJSON(out))
		require.True(t, back.Equal(c), "round trip: %v → %s → %v", c, out, back)
	})
}

// FuzzTimestamp checks both timestamp decoders: binary input of any length
// and text input. Accepted text must be exactly what String prints.
func FuzzTimestamp(f *testing.F) {
	f.Add([]byte("1700000000.000000042,3"))
	f.Add([]byte("-9223372036.854775808,0"))
	f.Add([]byte{0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, in []byte) {
		ts, n, err := DecodeTimestamp(in)
		if len(in) < TimestampSize {
			require.ErrorIs(t, err, ErrMalformed)
		} else {
			require.NoError(t, err)
			require.Equal(t, TimestampSize, n)
			out, _ := ts.MarshalBinary()
			require.Equal(t, in[:n], out, "binary round trip")
		}
		var tt Timestamp
		if err := tt.UnmarshalText(in); err != nil {
			require.ErrorIs(t, err, ErrMalformed)
			return
		}
		require.Equal(t, string(in), tt.String(), "only canonical text is accepted")
	})
}
