"""Anchor for benches/tak.valk: tak(18, 12, 6) = 7."""
import time


def tak(x, y, z):
    if y < x:
        return tak(tak(x - 1, y, z), tak(y - 1, z, x), tak(z - 1, x, y))
    return z


t0 = time.perf_counter()
result = tak(18, 12, 6)
t1 = time.perf_counter()
print("tak(18,12,6) =", result)
print("in-process-us:", int((t1 - t0) * 1e6))
