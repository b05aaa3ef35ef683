package ratelimit_test

import "runtime"

// testingProcs is GOMAXPROCS as set by -cpu, read (not changed) to spread 64 goroutines.
func testingProcs() int { return runtime.GOMAXPROCS(0) }
