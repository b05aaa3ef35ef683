//go:build race

package hashring

const raceEnabled = true
