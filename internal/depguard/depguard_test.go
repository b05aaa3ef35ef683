package depguard

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "github.com/sinew-dev/sinew"

// pure lists the packages that must stay standard-library only, with the
// extra import paths each may use.
var pure = map[string][]string{
	"breaker":  nil,
	"retry":    nil,
	"vclock":   nil,
	"crdt":     nil,
	"hashring": {"github.com/cespare/xxhash/v2"},
	"balancer": {"github.com/cespare/xxhash/v2"},
}

// dep is one line of `go list -deps`: a package and whether it is standard.
type dep struct {
	path     string
	standard bool
}

// violations returns the dependencies of pkg that break the rule.
func violations(pkg string, deps []dep) []string {
	var bad []string
	for _, d := range deps {
		switch {
		case d.standard:
		case slices.Contains(pure[pkg], d.path):
		case strings.HasPrefix(d.path, module+"/"):
			// sinew's own code: a pure package, or anything under
			// internal/ whose own dependencies are listed (and checked)
			// here too, since go list -deps is transitive.
			rel := strings.TrimPrefix(d.path, module+"/")
			top, _, _ := strings.Cut(rel, "/")
			if _, ok := pure[top]; !ok && top != "internal" {
				bad = append(bad, d.path+" (a sinew package that is not pure)")
			}
		default:
			bad = append(bad, d.path)
		}
	}
	return bad
}

func goListDeps(t *testing.T, pkg string) []dep {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}}", "./"+pkg)
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "go list %s: %s", pkg, stderr.String())
	var deps []dep
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		path, std, ok := strings.Cut(sc.Text(), " ")
		require.True(t, ok, "unexpected go list line %q", sc.Text())
		deps = append(deps, dep{path: path, standard: std == "true"})
	}
	return deps
}

// TestPurePackagesUseOnlyTheStandardLibrary is the guard itself.
func TestPurePackagesUseOnlyTheStandardLibrary(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatalf("the go command is needed on PATH: %v", err)
	}
	for pkg := range pure {
		t.Run(pkg, func(t *testing.T) {
			deps := goListDeps(t, pkg) // fails if the package is missing

			require.NotEmpty(t, deps)
			assert.Empty(t, violations(pkg, deps), "%s must depend only on the standard library", pkg)
		})
	}
}

// TestViolations checks the rule on hand-made dependency lists, so the
// guard is known to fail when it should.
func TestViolations(t *testing.T) {
	std := dep{"context", true}
	tests := []struct {
		name string
		pkg  string
		deps []dep
		want []string
	}{
		{"stdlib only", "breaker", []dep{std}, nil},
		{"go-redis in breaker", "breaker", []dep{std, {"github.com/redis/go-redis/v9", false}}, []string{"github.com/redis/go-redis/v9"}},
		{"xxhash in hashring", "hashring", []dep{{"github.com/cespare/xxhash/v2", false}}, nil},
		{"xxhash in retry", "retry", []dep{{"github.com/cespare/xxhash/v2", false}}, []string{"github.com/cespare/xxhash/v2"}},
		{"pure sinew packages in balancer", "balancer", []dep{{module + "/hashring", false}, {module + "/breaker", false}}, nil},
		{"redis-backed sinew package in crdt", "crdt", []dep{{module + "/lock", false}}, []string{module + "/lock (a sinew package that is not pure)"}},
		{"vclock in crdt", "crdt", []dep{{module + "/vclock", false}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, violations(tt.pkg, tt.deps), fmt.Sprint(tt.deps))
		})
	}
}
