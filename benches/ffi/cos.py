"""N calls of libm's cos through ctypes (default N = 1,000,000), timed
in-process with perf_counter_ns; then the same loop without the call (the
"empty" loop). The sums are printed so no work is skipped.
    python3 benches/ffi/cos.py [N]
"""
import ctypes
import sys
import time

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
cos = ctypes.CDLL("libm.so.6").cos
cos.restype = ctypes.c_double
cos.argtypes = [ctypes.c_double]


def cos_loop():
    acc = 0.0
    for i in range(n):
        acc += cos(i * 0.000001)
    return acc


def empty_loop():
    acc = 0.0
    for i in range(n):
        acc += i * 0.000001
    return acc


for i in range(1000):  # warm-up
    cos(0.5)
t0 = time.perf_counter_ns()
s1 = cos_loop()
t1 = time.perf_counter_ns()
s2 = empty_loop()
t2 = time.perf_counter_ns()
print("cos-ns-per-call: %.1f (sum %.6f)" % ((t1 - t0) / n, s1))
print("empty-ns-per-iter: %.1f (sum %.6f)" % ((t2 - t1) / n, s2))
