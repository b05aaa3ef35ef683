// Package depguard holds the dependency guard: a test that fails when one
// of sinew's pure packages (breaker, retry, hashring, balancer, crdt,
// vclock) depends, directly or through anything it imports, on a module
// outside the standard library. The only exceptions are xxhash for
// hashring and balancer, and sinew's own pure packages.
package depguard
