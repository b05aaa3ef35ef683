// Package balancer picks a backend for each request: round-robin, nginx's smooth weighted
// round-robin, random and weighted random, least-connections, power-of-two-choices on load, P2C
// with peak-EWMA latency (Finagle's and Linkerd's default), and consistent hashing with bounded
// load. It is generic over the caller's backend type, skips backends that are marked down or
// whose circuit breaker is open, and stays usable when most are not (panic mode).
//
// Which policy to pick:
//
//   - PeakEWMA when backends can differ in speed (a slow host, a noisy neighbour, a GC pause, a
//     backend that fails fast): it is the only policy here that sees latency. In the simulation
//     (BenchmarkSim) with one of ten backends four times slower at 70% load its p99 is under a
//     quarter of LeastConnections' and bounded, where round-robin's and random's grow without
//     bound; and a backend that answers every request with a fast error gets almost no traffic.
//   - PowerOfTwo or LeastConnections when backends are alike and requests vary in cost: both
//     follow load; PowerOfTwo is O(1) per pick and does not herd, LeastConnections scans.
//   - WeightedRoundRobin (or RoundRobin) for the cheapest even spread across alike backends with
//     alike requests, or exact static shares (canaries, heterogeneous hardware).
//   - ConsistentHash when a key should keep going to the same backend (caches, sessions,
//     sharded state) yet no backend should be overloaded.
//
// # Usage
//
// Create a balancer, give it members, then pick and report:
//
//	b := balancer.New[string](balancer.PeakEWMA, balancer.Options[string]{})
//	err := b.Set([]balancer.Member[string]{{Backend: "10.0.0.1:80", Weight: 1}, {Backend: "10.0.0.2:80", Weight: 1}})
//	...
//	p, err := b.Pick()
//	if errors.Is(err, balancer.ErrNoBackend) {
//		// nothing to send to
//	}
//	start := time.Now()
//	resp, err := send(p.Backend, req)
//	p.Done(err, time.Since(start))
//
// Done must be called exactly once per pick: it releases the in-flight count, feeds the latency
// average and reports the outcome to the backend's breaker. Pass nil for answers that say nothing
// against the backend (a 404), the error for those that do (a 503, a timeout).
//
// Membership changes ([Balancer.Set], [Balancer.Add], [Balancer.Remove], [Balancer.SetWeight])
// are atomic and keep the state of backends that stay. Health: [Balancer.MarkDown] and
// [Balancer.MarkUp] from your health checks; [Options.Breaker] for a circuit breaker per backend
// that ejects it while open; [Options.PanicThreshold] to spread over all backends when too few
// are healthy; [Options.SlowStart] to ramp up traffic to a joining or recovering backend.
//
// With no backend to pick (no members, every weight 0, every backend down or ejected), the pick
// methods return ErrNoBackend: bad input never panics.
//
// # Concurrency
//
// A Balancer is safe for concurrent use. Picks take no lock: membership and health live in an
// immutable snapshot replaced by one atomic store on each change (changes are serialized by a
// mutex), and per-backend counters are atomics. A Balancer starts no goroutine. Breakers' state
// changes reach the balancer through their OnStateChange, on the goroutine the breaker delivers
// them on (a caller of Pick or Done, or the breaker's open-state timer).
//
// # Cost
//
// A pick with RoundRobin or WeightedRoundRobin is one atomic add and two table reads at any number
// of backends, and its Done does nothing; Random and WeightedRandom one random number (and a table
// read); PowerOfTwo one random number for both candidates and two atomic loads, plus an atomic add
// in Pick and in Done; LeastConnections scans all backends. PeakEWMA is PowerOfTwo plus one clock
// read in Pick and one in Done (none if the caller passes the time to [Balancer.PickAt] and
// [Pick.DoneAt]), and in Done a compare-and-swap and a store of the latency average. None
// allocates, breakers included. RoundRobin's and WeightedRoundRobin's position is one counter
// shared by all goroutines, as a strict rotation needs (go-kit's round-robin has the same):
// parallel picks contend for its cache line, which costs more per pick than the add alone; the
// counters of the load-aware policies are per backend. See bench_test.go, and bench/balancer for
// peers.
package balancer
