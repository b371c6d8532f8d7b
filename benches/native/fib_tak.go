// Anchor for the native tier: fib(30) and tak(18, 12, 6) in Go, timed
// in-process.
package main

import (
	"fmt"
	"time"
)

func fib(n int64) int64 {
	if n < 2 {
		return n
	}
	return fib(n-1) + fib(n-2)
}

func tak(x, y, z int64) int64 {
	if y < x {
		return tak(tak(x-1, y, z), tak(y-1, z, x), tak(z-1, x, y))
	}
	return z
}

func main() {
	t := time.Now()
	r := fib(30)
	fmt.Printf("fib(30) = %d\nfib-us: %d\n", r, time.Since(t).Microseconds())
	t = time.Now()
	r = tak(18, 12, 6)
	fmt.Printf("tak(18,12,6) = %d\ntak-us: %d\n", r, time.Since(t).Microseconds())
}
