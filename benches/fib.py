"""Anchor for benches/fib.valk: naive fib 30, in-process time in microseconds."""
import time


def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


t0 = time.perf_counter()
result = fib(30)
t1 = time.perf_counter()
print("fib(30) =", result)
print("in-process-us:", int((t1 - t0) * 1e6))
