package password_test

import (
	"fmt"

	"github.com/sinew-dev/sinew/examples/authflow/password"
)

func ExampleVerify() {
	p := password.Params{MemoryKiB: 64, Iterations: 1} // tiny, for the example only
	enc := password.Hash("s3cret", p)
	_, err := password.Verify("s3cret", enc, p)
	fmt.Println("right password:", err)
	_, err = password.Verify("guess", enc, p)
	fmt.Println("wrong password:", err)
	// Output:
	// right password: <nil>
	// wrong password: password: mismatch
}
