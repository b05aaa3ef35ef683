package balancer_test

import (
	"container/heap"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/sinew-dev/sinew/balancer"
)

// The simulation: a fleet of simClients client processes, each with its own balancer that sees
// only its own requests, sends Poisson traffic to simBackends single-server FIFO backends. Time
// is virtual (an event queue; one unit is one millisecond), every random draw comes from a seeded
// generator, so a run is exactly repeatable and takes no wall-clock sleep.

const (
	simClients  = 20
	simBackends = 10
	simRequests = 200_000
	simSeed     = 1
)

// simBackend is one backend: exponential service times of mean Mean, or immediate failures.
type simBackend struct {
	Mean     float64 // mean service time, ms
	FailFast bool    // every request fails after Mean
}

// simScenario is a fleet and its load: arrivals at Load times the nominal capacity of
// simBackends backends of mean service time 1 ms.
type simScenario struct {
	Name     string
	Load     float64
	Backends []simBackend
}

func simScenarios() []simScenario {
	equal := func() []simBackend {
		bs := make([]simBackend, simBackends)
		for i := range bs {
			bs[i] = simBackend{Mean: 1}
		}
		return bs
	}
	slow, failing := equal(), equal()
	slow[0].Mean = 4
	failing[0] = simBackend{Mean: 0.01, FailFast: true}
	return []simScenario{
		{Name: "slow4x", Load: 0.7, Backends: slow},
		{Name: "equal", Load: 0.9, Backends: equal()},
		{Name: "failfast", Load: 0.7, Backends: failing},
	}
}

// simPolicies are the policies compared (the weighted ones behave as their unweighted forms here,
// where every weight is 1, and ConsistentHash with random keys as LeastConnections).
var simPolicies = []balancer.Policy{
	balancer.RoundRobin, balancer.Random, balancer.LeastConnections, balancer.PowerOfTwo, balancer.PeakEWMA,
}

// simResult is the outcome of one run.
type simResult struct {
	P50, P99   float64 // latency percentiles over all requests, ms
	WorstShare float64 // largest fraction of requests sent to one backend
	FailRate   float64 // fraction of requests that failed
}

var errSimFail = errors.New("backend failed")

type simEvent struct {
	at     float64
	seq    uint64
	client int // arrival at client, or -1
	server int // completion at server
}

type simQueue []simEvent

func (q simQueue) Len() int { return len(q) }
func (q simQueue) Less(i, j int) bool {
	return q[i].at < q[j].at || q[i].at == q[j].at && q[i].seq < q[j].seq
}
func (q simQueue) Swap(i, j int)    { q[i], q[j] = q[j], q[i] }
func (q *simQueue) Push(x any)      { *q = append(*q, x.(simEvent)) }
func (q *simQueue) Pop() (x any)    { x, *q = (*q)[len(*q)-1], (*q)[:len(*q)-1]; return x }
func (q *simQueue) push(e simEvent) { heap.Push(q, e) }

type simRequest struct {
	pick  balancer.Pick[int]
	start float64
}

// runSim runs scenario sc with every client balancing by policy, and returns its result.
func runSim(sc simScenario, policy balancer.Policy, seed uint64, requests int) simResult {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	base := time.Now()
	at := func(t float64) time.Time { return base.Add(time.Duration(t * float64(time.Millisecond))) }

	clients := make([]*balancer.Balancer[int], simClients)
	members := make([]balancer.Member[int], len(sc.Backends))
	for i := range members {
		members[i] = balancer.Member[int]{Backend: i, Weight: 1}
	}
	for c := range clients {
		clients[c] = balancer.New[int](policy, balancer.Options[int]{Seed: seed*1000 + uint64(c) + 1})
		if err := clients[c].Set(members); err != nil {
			panic(err)
		}
	}
	queues := make([][]simRequest, len(sc.Backends)) // queues[s][0] is in service
	sent := make([]int, len(sc.Backends))
	lat := make([]float64, 0, requests)
	failed := 0
	rate := sc.Load * float64(len(sc.Backends)) // arrivals per ms; nominal capacity 1 per backend
	var q simQueue
	var seq uint64
	next := func() uint64 { seq++; return seq }
	service := func(s int) float64 {
		if sc.Backends[s].FailFast {
			return sc.Backends[s].Mean
		}
		return rng.ExpFloat64() * sc.Backends[s].Mean
	}
	arrivals := 0
	q.push(simEvent{at: rng.ExpFloat64() / rate, seq: next(), client: rng.IntN(simClients)})
	for q.Len() > 0 {
		e := heap.Pop(&q).(simEvent)
		now := e.at
		if e.client >= 0 {
			arrivals++
			if arrivals < requests {
				q.push(simEvent{at: now + rng.ExpFloat64()/rate, seq: next(), client: rng.IntN(simClients)})
			}
			p, err := clients[e.client].PickAt(at(now))
			if err != nil {
				panic(err)
			}
			s := p.Backend
			sent[s]++
			queues[s] = append(queues[s], simRequest{pick: p, start: now})
			if len(queues[s]) == 1 {
				q.push(simEvent{at: now + service(s), seq: next(), client: -1, server: s})
			}
			continue
		}
		s := e.server
		r := queues[s][0]
		queues[s] = queues[s][1:]
		l := now - r.start
		var err error
		if sc.Backends[s].FailFast {
			err = errSimFail
			failed++
		}
		r.pick.DoneAt(at(now), err, time.Duration(l*float64(time.Millisecond)))
		lat = append(lat, l)
		if len(queues[s]) > 0 {
			q.push(simEvent{at: now + service(s), seq: next(), client: -1, server: s})
		}
	}
	slices.Sort(lat)
	res := simResult{
		P50:      lat[len(lat)/2],
		P99:      lat[len(lat)*99/100],
		FailRate: float64(failed) / float64(len(lat)),
	}
	for _, n := range sent {
		res.WorstShare = max(res.WorstShare, float64(n)/float64(len(lat)))
	}
	return res
}

// BenchmarkSim runs the simulation for every scenario and policy and reports latency percentiles
// in ms, the largest share of requests one backend received and the failure rate, in place of
// ns/op. One iteration is one run of simRequests requests; every iteration repeats the same run.
//
//	go test -run '^$' -bench Sim -benchtime=1x ./balancer
func BenchmarkSim(b *testing.B) {
	for _, sc := range simScenarios() {
		for _, p := range simPolicies {
			b.Run(fmt.Sprintf("scenario=%s/policy=%s", sc.Name, p), func(b *testing.B) {
				var r simResult
				for b.Loop() {
					r = runSim(sc, p, simSeed, simRequests)
				}
				b.ReportMetric(0, "ns/op")
				b.ReportMetric(r.P50, "p50-ms")
				b.ReportMetric(r.P99, "p99-ms")
				b.ReportMetric(100*r.WorstShare, "worst-%")
				b.ReportMetric(100*r.FailRate, "fail-%")
			})
		}
	}
}

// TestSim checks, on a shorter run, what BenchmarkSim shows: with one backend 4x slower, P2C with
// peak EWMA keeps p99 under a third of least-connections' while round-robin's runs away; with a
// backend failing fast, only peak EWMA keeps traffic off it; and a run is repeatable.
func TestSim(t *testing.T) {
	const requests = 40_000
	sc := simScenarios()
	slow, failing := sc[0], sc[2]
	ewma := runSim(slow, balancer.PeakEWMA, simSeed, requests)
	lc := runSim(slow, balancer.LeastConnections, simSeed, requests)
	rr := runSim(slow, balancer.RoundRobin, simSeed, requests)
	assert.LessOrEqual(t, 3*ewma.P99, lc.P99, "peak EWMA p99 %.1f ms vs least-connections %.1f ms (seed %d)", ewma.P99, lc.P99, simSeed)
	assert.Greater(t, rr.P99, 10*lc.P99, "round-robin overloads the slow backend: p99 %.1f ms", rr.P99)
	assert.Equal(t, ewma, runSim(slow, balancer.PeakEWMA, simSeed, requests), "same seed, same run")

	fail := runSim(failing, balancer.PeakEWMA, simSeed, requests)
	assert.Less(t, fail.FailRate, 0.01, "peak EWMA sends little to the failing backend (seed %d)", simSeed)
	fail = runSim(failing, balancer.LeastConnections, simSeed, requests)
	assert.GreaterOrEqual(t, fail.FailRate, 0.1, "least-connections is attracted by fast failures (seed %d)", simSeed)
}
