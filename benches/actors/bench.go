// Anchor programs for the actor workloads of BENCHMARKS.md (Go goroutines and
// channels). Run: go run bench.go WORKLOAD
package main

import (
	"fmt"
	"os"
	"runtime"
	"time"
)

func skynet(c chan int, num, size, div int) {
	if size == 1 {
		c <- num
		return
	}
	rc := make(chan int)
	sub := size / div
	for i := 0; i < div; i++ {
		go skynet(rc, num+i*sub, sub, div)
	}
	sum := 0
	for i := 0; i < div; i++ {
		sum += <-rc
	}
	c <- sum
}

func main() {
	w := os.Args[1]
	start := time.Now()
	switch w {
	case "spawn":
		n := 1000000
		c := make(chan struct{})
		for i := 0; i < n; i++ {
			go func() { c <- struct{}{} }()
		}
		for i := 0; i < n; i++ {
			<-c
		}
		fmt.Printf("spawn: %.3f us/actor\n", float64(time.Since(start).Microseconds())/float64(n))
	case "skynet":
		c := make(chan int)
		go skynet(c, 0, 1000000, 10)
		r := <-c
		fmt.Printf("skynet: sum %d in %d ms\n", r, time.Since(start).Milliseconds())
	case "ring":
		n, rounds := 10000, 100
		first := make(chan int)
		in := first
		for i := 0; i < n-1; i++ {
			out := make(chan int)
			// Each hop passes the count on, less one (as bench.erl's
			// relay does); a relay that passed 0 on is done.
			go func(in, out chan int) {
				for {
					k := <-in
					if k <= 0 {
						out <- 0
						return
					}
					out <- k - 1
				}
			}(in, out)
			in = out
		}
		last := in
		first <- n*rounds - 1
		for {
			k := <-last
			if k <= 0 {
				break
			}
			first <- k - 1
		}
		fmt.Printf("ring: %.1f ns/hop\n", float64(time.Since(start).Nanoseconds())/float64(n*rounds))
	case "pingpong":
		n := 1000000
		ping, pong := make(chan int), make(chan int)
		go func() {
			for k := range ping {
				pong <- k
			}
		}()
		for i := 0; i < n; i++ {
			ping <- i
			<-pong
		}
		fmt.Printf("pingpong: %.1f ns/round trip\n", float64(time.Since(start).Nanoseconds())/float64(n))
	case "fanin":
		s, m := 1000, 1000
		c := make(chan int, 1024)
		for i := 0; i < s; i++ {
			go func() {
				for j := 0; j < m; j++ {
					c <- j
				}
			}()
		}
		for i := 0; i < s*m; i++ {
			<-c
		}
		fmt.Printf("fanin: %.1f ns/message\n", float64(time.Since(start).Nanoseconds())/float64(s*m))
	case "idle":
		n := 100000
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		stop := make(chan struct{})
		for i := 0; i < n; i++ {
			go func() { <-stop }()
		}
		runtime.ReadMemStats(&after)
		fmt.Printf("idle: %d bytes/actor\n", (after.Sys-before.Sys)/uint64(n))
		close(stop)
	default:
		fmt.Fprintln(os.Stderr, "unknown workload", w)
		os.Exit(2)
	}
}
