package vclock

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeWall is a wall clock the test steps by hand.
type fakeWall struct{ ns atomic.Int64 }

func (f *fakeWall) now() int64          { return f.ns.Load() }
func (f *fakeWall) set(ns int64)        { f.ns.Store(ns) }
func ts(wall int64, l uint32) Timestamp { return Timestamp{WallTime: wall, Logical: l} }

func TestHLCNowSteppedBackWallClock(t *testing.T) {
	var w fakeWall
	h := NewHLC(HLCOptions{WallClock: w.now})
	steps := []struct {
		wall int64
		want Timestamp
	}{
		{100, ts(100, 0)},
		{200, ts(200, 0)},
		{200, ts(200, 1)}, // wall clock did not advance
		{150, ts(200, 2)}, // stepped back: stay on 200, count
		{50, ts(200, 3)},  // further back
		{199, ts(200, 4)},
		{201, ts(201, 0)}, // caught up
	}
	prev := Timestamp{}
	for i, s := range steps {
		w.set(s.wall)
		got := h.Now()
		require.Equal(t, s.want, got, "step %d (wall %d)", i, s.wall)
		require.True(t, prev.Less(got), "step %d: %v after %v", i, got, prev)
		prev = got
	}
}

func TestHLCJumpingWallClock(t *testing.T) {
	var w fakeWall
	base := int64(1_700_000_000_000_000_000)
	w.set(base)
	h := NewHLC(HLCOptions{WallClock: w.now, MaxOffset: time.Second})
	h.Now()

	// The wall clock jumps an hour ahead: the HLC follows it.
	w.set(base + int64(time.Hour))
	require.Equal(t, ts(base+int64(time.Hour), 0), h.Now(), "after the forward jump")
	// And jumps back (e.g. NTP corrects it): the HLC stays ahead.
	w.set(base + 1)
	require.Equal(t, ts(base+int64(time.Hour), 1), h.Now(), "after the backward jump")
	// A remote node whose clock is correct is behind us: Update is fine and
	// stays monotonic.
	got, err := h.Update(ts(base+2, 7))
	require.NoError(t, err)
	require.Equal(t, ts(base+int64(time.Hour), 2), got, "Update from behind")
	// A remote node with the same hour-ahead clock is rejected by the
	// offset check against our (now correct) wall clock, and leaves the
	// clock alone.
	_, err = h.Update(ts(base+int64(time.Hour)+5, 0))
	require.ErrorIs(t, err, ErrRemoteAhead)
	require.Equal(t, ts(base+int64(time.Hour), 3), h.Now(), "a rejected Update must not move the clock")
}

func TestHLCUpdate(t *testing.T) {
	for _, tc := range []struct {
		name         string
		last, remote Timestamp
		wall         int64
		want         Timestamp
	}{
		{"wall ahead of both", ts(10, 5), ts(20, 9), 30, ts(30, 0)},
		{"local ahead", ts(50, 5), ts(20, 9), 30, ts(50, 6)},
		{"remote ahead", ts(10, 5), ts(40, 9), 30, ts(40, 10)},
		{"equal wall, remote logical larger", ts(40, 2), ts(40, 9), 30, ts(40, 10)},
		{"equal wall, local logical larger", ts(40, 12), ts(40, 9), 30, ts(40, 13)},
		{"equal to wall clock", ts(30, 1), ts(30, 4), 30, ts(30, 5)},
		{"wall equals local", ts(30, 1), ts(20, 4), 30, ts(30, 2)},
		{"zero remote", ts(30, 1), Timestamp{}, 30, ts(30, 2)},
		{"remote logical overflow", ts(10, 0), ts(40, math.MaxUint32), 30, ts(41, 0)},
		{"local logical overflow", ts(40, math.MaxUint32), ts(20, 0), 30, ts(41, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w fakeWall
			w.set(tc.wall)
			h := NewHLC(HLCOptions{WallClock: w.now, MaxOffset: 100})
			h.last = tc.last
			got, err := h.Update(tc.remote)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.True(t, tc.remote.Less(got) && tc.last.Less(got), "%v after both %v and %v", got, tc.remote, tc.last)
		})
	}
}

func TestHLCMaxOffset(t *testing.T) {
	var w fakeWall
	w.set(1000)
	for _, tc := range []struct {
		name    string
		opt     time.Duration
		remote  int64
		wantErr bool
	}{
		{"default accepts 500ms", 0, 1000 + int64(500*time.Millisecond), false},
		{"default rejects 500ms+1ns", 0, 1000 + int64(500*time.Millisecond) + 1, true},
		{"custom accepts at limit", 10, 1010, false},
		{"custom rejects beyond", 10, 1011, true},
		{"far behind is fine", 10, math.MinInt64, false},
		{"max int64 rejected", 10, math.MaxInt64, true},
		{"disabled accepts anything", -1, math.MaxInt64 - 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHLC(HLCOptions{WallClock: w.now, MaxOffset: tc.opt})
			before := h.Now()
			got, err := h.Update(ts(tc.remote, 3))
			if !tc.wantErr {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrRemoteAhead)
			var oe *OffsetError
			require.ErrorAs(t, err, &oe)
			assert.Equal(t, &OffsetError{Remote: ts(tc.remote, 3), Wall: 1000, MaxOffset: h.MaxOffset()}, oe)
			assert.Zero(t, got, "timestamp returned with the error")
			assert.Equal(t, before.next(), h.Now(), "a rejected Update must not change the clock")
			assert.Regexp(t, `^vclock: remote timestamp too far ahead .*max offset`, err.Error())
		})
	}
	assert.Equal(t, DefaultMaxOffset, (&HLC{}).MaxOffset(), "zero HLC")
	assert.Equal(t, time.Duration(-1), NewHLC(HLCOptions{MaxOffset: -1}).MaxOffset(), "disabled")
}

func TestHLCZeroValueAndRealClock(t *testing.T) {
	var h HLC
	before := time.Now().UnixNano()
	a := h.Now()
	b := h.Now()
	assert.True(t, a.Less(b), "%v before %v", a, b)
	assert.GreaterOrEqual(t, a.WallTime, before, "the zero HLC reads the wall clock")
	c, err := h.Update(b)
	require.NoError(t, err)
	assert.True(t, b.Less(c), "Update(%v) = %v", b, c)
}

func TestHLCSaturates(t *testing.T) {
	var w fakeWall
	h := NewHLC(HLCOptions{WallClock: w.now, MaxOffset: -1})
	top := ts(math.MaxInt64, math.MaxUint32)
	got, err := h.Update(top)
	require.NoError(t, err)
	assert.Equal(t, top, got)
	assert.Equal(t, top, h.Now(), "saturated clock")
}

// TestHLCConcurrent issues timestamps from many goroutines mixing Now and
// Update; every timestamp must be distinct, and each goroutine's sequence
// strictly increasing. Run it with -race.
func TestHLCConcurrent(t *testing.T) {
	var w fakeWall
	w.set(1 << 40)
	h := NewHLC(HLCOptions{WallClock: w.now})
	const workers, per = 8, 2000
	results := make([][]Timestamp, workers)
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			var prev Timestamp
			for i := range per {
				var got Timestamp
				switch i % 4 {
				case 0:
					w.set(1<<40 + int64(i)) // the wall clock wanders
					got = h.Now()
				case 1:
					var err error
					got, err = h.Update(ts(1<<40+int64(i*2), uint32(g)))
					if !assert.NoError(t, err) { // assert, not require, in goroutines
						return
					}
				default:
					got = h.Now()
				}
				if !assert.True(t, prev.Less(got), "goroutine %d: %v after %v", g, got, prev) {
					return
				}
				prev = got
				results[g] = append(results[g], got)
			}
		})
	}
	wg.Wait()
	all := slices.Concat(results...)
	slices.SortFunc(all, Timestamp.Compare)
	require.Len(t, all, workers*per)
	for i := 1; i < len(all); i++ {
		require.NotEqual(t, all[i-1], all[i], "timestamp issued twice")
	}
}

func TestTimestampOrder(t *testing.T) {
	ordered := []Timestamp{
		ts(math.MinInt64, 0), ts(-1, math.MaxUint32), ts(0, 0), ts(0, 1), ts(1, 0),
		ts(1_700_000_000_000_000_000, 7), ts(math.MaxInt64, math.MaxUint32),
	}
	for i, a := range ordered {
		for j, b := range ordered {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			assert.Equal(t, want, a.Compare(b), "%v.Compare(%v)", a, b)
			assert.Equal(t, want < 0, a.Less(b), "%v.Less(%v)", a, b)
			ea, _ := a.MarshalBinary()
			eb, _ := b.MarshalBinary()
			assert.Equal(t, want, bytes.Compare(ea, eb), "encodings of %v and %v", a, b)
		}
	}
	assert.True(t, Timestamp{}.IsZero())
	assert.False(t, ts(0, 1).IsZero())
	assert.True(t, time.Unix(1_500_000_000, 123_456_789).Equal(ts(1_500_000_000_123_456_789, 0).Time()), "Time")
}

func TestTimestampBinary(t *testing.T) {
	x := ts(1_700_000_000_000_000_042, 3)
	b, _ := x.AppendBinary([]byte("h"))
	assert.Equal(t, []byte{'h', 0x97, 0x97, 0x9c, 0xfe, 0x36, 0x2a, 0x00, 0x2a, 0, 0, 0, 3}, b)
	m, _ := x.MarshalBinary()
	assert.Equal(t, b[1:], m, "MarshalBinary = AppendBinary(nil)")

	got, n, err := DecodeTimestamp(append(b[1:], 0xff))
	require.NoError(t, err)
	assert.Equal(t, x, got)
	assert.Equal(t, TimestampSize, n)
	var u Timestamp
	require.NoError(t, u.UnmarshalBinary(b[1:]))
	assert.Equal(t, x, u)
	for _, in := range [][]byte{nil, b[1:12], append(b[1:], 0)} {
		u := x
		assert.ErrorIs(t, u.UnmarshalBinary(in), ErrMalformed, "%x", in)
		assert.Equal(t, x, u, "unchanged on error")
	}
	_, _, err = DecodeTimestamp(b[1:12])
	assert.ErrorIs(t, err, ErrMalformed, "short input")
}

func TestTimestampText(t *testing.T) {
	for _, tc := range []struct {
		ts   Timestamp
		want string
	}{
		{ts(0, 0), "0.000000000,0"},
		{ts(1_700_000_000_000_000_042, 3), "1700000000.000000042,3"},
		{ts(-1, 0), "-0.000000001,0"},
		{ts(-1_500_000_000, 1), "-1.500000000,1"},
		{ts(math.MaxInt64, math.MaxUint32), "9223372036.854775807,4294967295"},
		{ts(math.MinInt64, 0), "-9223372036.854775808,0"},
	} {
		assert.Equal(t, tc.want, tc.ts.String())
		var back Timestamp
		require.NoError(t, back.UnmarshalText([]byte(tc.want)))
		assert.Equal(t, tc.ts, back)
		j, err := json.Marshal(tc.ts)
		require.NoError(t, err)
		assert.Equal(t, `"`+tc.want+`"`, string(j))
		var fromJSON Timestamp
		require.NoError(t, json.Unmarshal(j, &fromJSON))
		assert.Equal(t, tc.ts, fromJSON)
	}
	for _, in := range []string{
		"", "0", "0.0,0", "0.000000000", "0.000000000,", ",0", "0.000000000,0,", "+0.000000000,0",
		"-0.000000000,0", "00.000000000,0", "0.000000000,01", "0.0000000000,0", "0.00000000a,0",
		"a.000000000,0", "1.000000000,4294967296", "9223372036.854775808,0", "-9223372036.854775809,0",
		"18446744073.709551615,0", "99999999999999999999.000000000,0", "0.000000000,0 ", " 0.000000000,0",
		"0,000000000.0", "--1.000000000,0", "1.000000000.0,0",
	} {
		x := ts(5, 5)
		assert.ErrorIs(t, x.UnmarshalText([]byte(in)), ErrMalformed, "%q", in)
		assert.Equal(t, ts(5, 5), x, "%q: unchanged on error", in)
	}
}
