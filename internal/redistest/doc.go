// Package redistest runs real redis-server processes for tests: a
// standalone server and a 3-master Redis Cluster with one replica per
// master, on free loopback ports and without persistence. It never mocks
// Redis.
//
// # Usage
//
//	func TestMain(m *testing.M) { redistest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		rdb := redistest.Standalone(t)   // *redis.Client, shared per test binary
//		rc := redistest.Cluster(t)       // *redis.ClusterClient, shared per test binary
//		prefix := redistest.Prefix(t)    // unique key prefix for this test
//		...
//	}
//
// Fault tests start private servers they may break:
//
//	s := redistest.StartServer(t, redistest.ServerOptions{})
//	s.Kill(t); s.Restart(t) // SIGKILL, then the same port again with no data
//	s.Pause(t)              // SIGSTOP: accepts connections, never answers
//	c := redistest.StartCluster(t)
//	c.Failover(t, key, client) // promote the replica serving key, wait for client
//
// # Missing Redis
//
// When redis-server is not on PATH, tests that ask for Redis are skipped
// with a message naming the missing server; when SINEW_REQUIRE_REDIS is set
// (the README test command and CI set it) they fail instead. Setting
// SINEW_REDIS_ADDR makes [Standalone] use that server.
//
// # Processes
//
// Every server is started with Pdeathsig=SIGKILL, so the kernel kills it
// when the test binary exits for any reason; [Main] also stops them and
// removes their directories. Each server has one reaper goroutine that
// ends when its process exits.
package redistest
