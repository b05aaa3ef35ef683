package ratelimit

// Div exposes Memory.div to the tests.
func (m *Memory) Div(x int64, i int) int64 { return m.div(x, i) }
