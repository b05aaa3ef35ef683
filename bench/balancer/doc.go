// Package balancer holds side-by-side pick benchmarks of github.com/sinew-dev/sinew/balancer and
// its peers:
//
//   - go-kit's round-robin (github.com/go-kit/kit/sd/lb.NewRoundRobin over a fixed endpointer);
//   - nginx's smooth weighted round-robin as smallnest/weighted implements it (an O(n) scan per
//     pick under a mutex). smallnest/weighted itself cannot be fetched here (the module proxy
//     answers 403), so impl=nginxswrr is a straightforward reimplementation of the same algorithm,
//     written for this comparison and labelled as such in nginxswrr_test.go.
//
// Run: cd bench && go test -run '^$' -bench . -benchmem ./balancer
//
// Names are BenchmarkPick/impl=x/policy=y/backends=n, serial and /parallel, so
// benchstat -col /impl puts implementations side by side.
package balancer
