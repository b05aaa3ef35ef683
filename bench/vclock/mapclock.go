// Package vclockbench compares sinew's vclock with the Go vector clock most
// people reach for, DistributedClocks/GoVector.
//
// GoVector cannot be fetched in this build environment (the module proxy
// answers 403), so this package benchmarks a stand-in, mapclock: a
// straightforward map[string]uint64 vector clock written here that follows
// GoVector's vclock algorithm (map per clock; merge ranges over the other
// map and raises entries; compare does a lookup per key in each direction;
// encoding is encoding/gob of the map, as GoVector's Bytes). Its results
// are labelled impl=mapclock and stand for GoVector's cost model, not for
// measurements of GoVector itself. Unlike GoVector, mapclock treats zero
// counters as absent and reports equal clocks as equal, so that both
// implementations can be checked against each other.
package vclockbench

import (
	"bytes"
	"encoding/gob"
)

// mapClock is the stand-in for GoVector's VClock (impl=mapclock).
type mapClock map[string]uint64

// Tick increments id's counter.
func (m mapClock) Tick(id string) { m[id]++ }

// Merge raises every entry of m to at least other's, by ranging over other
// and looking each key up in m.
func (m mapClock) Merge(other mapClock) {
	for id, n := range other {
		if m[id] < n {
			m[id] = n
		}
	}
}

// Order classifies m against other: -1 before, 0 equal, 1 after,
// 2 concurrent. Like GoVector's Compare it looks every key of each map up
// in the other.
func (m mapClock) Order(other mapClock) int {
	less, more := false, false
	for id, n := range other {
		if n > m[id] {
			less = true
		}
	}
	for id, n := range m {
		if n > other[id] {
			more = true
		}
	}
	switch {
	case less && more:
		return 2
	case less:
		return -1
	case more:
		return 1
	}
	return 0
}

// Bytes encodes m with encoding/gob, as GoVector's VClock.Bytes does.
func (m mapClock) Bytes() ([]byte, error) {
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(map[string]uint64(m)); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// fromBytes decodes a gob-encoded mapClock, as GoVector's FromBytes does.
func fromBytes(data []byte) (mapClock, error) {
	m := map[string]uint64{}
	err := gob.NewDecoder(bytes.NewReader(data)).Decode(&m)
	return m, err
}
