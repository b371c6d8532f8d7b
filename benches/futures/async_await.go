// Go anchor of benches/futures/async_await.valk: N sequential pairs of
// "start a goroutine that sends 1 + 2 on a fresh channel" + receive.
// Prints the in-process time per pair (warm-up excluded).
// Run: go run async_await.go [N]
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

func pairs(n int) int {
	bad := 0
	for i := 0; i < n; i++ {
		c := make(chan int, 1)
		go func() { c <- 1 + 2 }()
		if <-c != 3 {
			bad++
		}
	}
	return bad
}

func main() {
	n := 100000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	pairs(1000)
	start := time.Now()
	if pairs(n) != 0 {
		fmt.Fprintln(os.Stderr, "async_await: wrong values")
		os.Exit(1)
	}
	us := float64(time.Since(start).Nanoseconds()) / 1000
	fmt.Printf("async_await: %.3f us per goroutine+channel pair; %d pairs\n", us/float64(n), n)
}
