package breaker

import (
	"context"
	"errors"
	"testing"
	"time"
)

// Run with: go test -run '^$' -bench . -benchmem ./breaker
// (add -cpu 1,2 to vary the cores behind RunParallel).

func succeed(context.Context) (int, error) { return 1, nil }

// closedBreaker returns a Closed breaker whose window has filled with successes.
func closedBreaker(b *testing.B, opts Options) *Breaker {
	br := New(opts)
	for range 1000 {
		_, _ = Do(context.Background(), br, succeed)
	}
	if br.State() != Closed {
		b.Fatal("not closed")
	}
	return br
}

func openBreaker(b *testing.B) *Breaker {
	br := New(Options{ConsecutiveFailures: 1, OpenDuration: time.Hour})
	_, _ = Do(context.Background(), br, func(context.Context) (int, error) { return 0, errors.New("down") })
	if br.State() != Open {
		b.Fatal("not open")
	}
	return br
}

var benchCases = []struct {
	name string
	make func(*testing.B) *Breaker
	fail bool // the call is rejected
}{
	{"case=closed/window=count", func(b *testing.B) *Breaker { return closedBreaker(b, Options{}) }, false},
	{"case=closed/window=time", func(b *testing.B) *Breaker {
		return closedBreaker(b, Options{Window: TimeWindow, WindowDuration: 10 * time.Second})
	}, false},
	{"case=closed/window=count/slowcall=on", func(b *testing.B) *Breaker {
		return closedBreaker(b, Options{SlowCall: time.Second})
	}, false},
	{"case=open", openBreaker, true},
}

func BenchmarkDo(b *testing.B) {
	ctx := context.Background()
	for _, bc := range benchCases {
		b.Run(bc.name, func(b *testing.B) {
			br := bc.make(b)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Do(ctx, br, succeed); (err != nil) != bc.fail {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDoParallel(b *testing.B) {
	ctx := context.Background()
	for _, bc := range benchCases {
		b.Run(bc.name, func(b *testing.B) {
			br := bc.make(b)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := Do(ctx, br, succeed); (err != nil) != bc.fail {
						panic(err)
					}
				}
			})
		})
	}
}

func BenchmarkAllowDone(b *testing.B) {
	for _, bc := range benchCases {
		b.Run(bc.name, func(b *testing.B) {
			br := bc.make(b)
			b.ReportAllocs()
			for b.Loop() {
				p, err := br.Allow()
				if (err != nil) != bc.fail {
					b.Fatal(err)
				}
				p.Done(nil)
			}
		})
	}
}

// BenchmarkDoFailures measures a window that always holds failures (1 call in 50 fails, below
// the trip rate), where every call takes the mutex.
func BenchmarkDoFailures(b *testing.B) {
	ctx := context.Background()
	errDown := errors.New("down")
	br := New(Options{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			_, _ = Do(ctx, br, func(context.Context) (int, error) {
				if i%50 == 0 {
					return 0, errDown
				}
				return 1, nil
			})
		}
	})
	if s := br.State(); s != Closed {
		b.Fatal(s)
	}
}

func BenchmarkState(b *testing.B) {
	for _, bc := range benchCases {
		b.Run(bc.name, func(b *testing.B) {
			br := bc.make(b)
			b.ReportAllocs()
			for b.Loop() {
				_ = br.State()
			}
		})
	}
}

func BenchmarkGroupGet(b *testing.B) {
	g := NewGroup[string](GroupOptions[string]{})
	keys := []string{"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80"}
	for _, k := range keys {
		g.Get(k)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			_ = g.Get(keys[i&3])
		}
	})
}
