// Command testall runs every check of the sinew repository: the README's
// test command.
//
//	go run ./internal/cmd/testall
//
// It makes sure redis-server is on PATH (installing it with apt-get when
// running as root on a machine that has apt-get, and otherwise stopping at
// once with a one-line message), then runs, in the root module and in every
// nested module: gofmt, go vet, staticcheck (a pinned version, through go
// run), go test -race with Redis required, and each benchmark once as a
// smoke test. It exits non-zero if any check fails.
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// staticcheck is pinned so that every machine runs the same checks.
const staticcheck = "honnef.co/go/tools/cmd/staticcheck@v0.8.2"

func main() {
	start := time.Now()
	root, err := moduleRoot()
	if err != nil {
		fail("testall: %v", err)
	}
	if err := os.Chdir(root); err != nil {
		fail("testall: %v", err)
	}
	ensureRedis()

	mods, err := modules(".")
	if err != nil {
		fail("testall: %v", err)
	}
	env := append(os.Environ(), "SINEW_REQUIRE_REDIS=1")
	var failed []string
	step := func(name, dir string, args ...string) {
		fmt.Printf("\n==> %s (%s)\n", name, dir)
		t := time.Now()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir, cmd.Env = dir, env
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Printf("==> FAILED: %s (%s): %v\n", name, dir, err)
			failed = append(failed, name+" in "+dir)
			return
		}
		fmt.Printf("==> ok: %s (%s) in %s\n", name, dir, time.Since(t).Round(time.Second))
	}

	gofmtCheck(&failed)
	for _, dir := range mods {
		step("go vet", dir, "go", "vet", "./...")
		step("staticcheck", dir, "go", "run", staticcheck, "./...")
		step("go test -race", dir, "go", "test", "-race", "-count=1", "./...")
		step("benchmarks, once each", dir, "go", "test", "-run", "^$", "-bench", ".", "-benchtime", "1x", "./...")
	}

	fmt.Printf("\n")
	if len(failed) > 0 {
		fmt.Printf("testall: %d check(s) failed after %s:\n", len(failed), time.Since(start).Round(time.Second))
		for _, f := range failed {
			fmt.Printf("  - %s\n", f)
		}
		os.Exit(1)
	}
	fmt.Printf("testall: all checks passed in %s (modules: %s)\n", time.Since(start).Round(time.Second), strings.Join(mods, ", "))
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("run me inside the sinew repository")
	}
	return filepath.Dir(mod), nil
}

// ensureRedis makes sure redis-server and redis-cli are on PATH.
func ensureRedis() {
	if have("redis-server") && have("redis-cli") {
		return
	}
	if os.Geteuid() != 0 || !have("apt-get") {
		fail("testall: redis-server not found on PATH; install Redis (Debian/Ubuntu: sudo apt-get install redis-server, macOS: brew install redis) and run again")
	}
	fmt.Println("==> installing redis-server with apt-get")
	for _, args := range [][]string{{"update", "-qq"}, {"install", "-y", "-qq", "redis-server", "redis-tools"}} {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			fail("testall: apt-get %s failed (%v); install Redis by hand and run again", args[0], err)
		}
	}
	// The package starts a system server; the tests start their own.
	_ = exec.Command("sh", "-c", "service redis-server stop >/dev/null 2>&1 || true").Run()
	if !have("redis-server") {
		fail("testall: redis-server still not on PATH after apt-get install")
	}
}

func have(bin string) bool {
	_, err := exec.LookPath(bin)
	return err == nil
}

// modules returns "." and every directory below it holding a nested go.mod.
func modules(root string) ([]string, error) {
	mods := []string{"."}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "vendor") {
			return filepath.SkipDir
		}
		if !d.IsDir() && d.Name() == "go.mod" && filepath.Dir(path) != root {
			mods = append(mods, filepath.Dir(path))
		}
		return nil
	})
	return mods, err
}

// gofmtCheck fails if any Go file in the repository is not gofmt'ed.
func gofmtCheck(failed *[]string) {
	fmt.Printf("==> gofmt -l .\n")
	out, err := exec.Command("gofmt", "-l", ".").CombinedOutput()
	if err != nil {
		fmt.Printf("%s==> FAILED: gofmt: %v\n", out, err)
		*failed = append(*failed, "gofmt")
		return
	}
	var bad []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			bad = append(bad, line)
		}
	}
	if len(bad) > 0 {
		fmt.Printf("==> FAILED: gofmt: unformatted files (run gofmt -w):\n  %s\n", strings.Join(bad, "\n  "))
		*failed = append(*failed, "gofmt")
		return
	}
	fmt.Printf("==> ok: gofmt\n")
}
