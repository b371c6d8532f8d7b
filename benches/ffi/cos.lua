-- N calls of libm's cos through LuaJIT's FFI (default N = 1,000,000), timed
-- in-process with clock_gettime(CLOCK_MONOTONIC); then the same loop without
-- the call (the "empty" loop). The sums are printed so no work is skipped.
--   luajit benches/ffi/cos.lua [N]
local ffi = require("ffi")
ffi.cdef[[
double cos(double);
typedef struct { long tv_sec; long tv_nsec; } valk_timespec;
int clock_gettime(int clk, valk_timespec *ts);
]]
local libm = ffi.load("libm.so.6")
local cos = libm.cos
local n = tonumber(arg[1]) or 1000000
local ts = ffi.new("valk_timespec")
local function now_ns()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1e9 + tonumber(ts.tv_nsec)
end

local function cos_loop()
  local acc = 0.0
  for i = 0, n - 1 do acc = acc + cos(i * 0.000001) end
  return acc
end
local function empty_loop()
  local acc = 0.0
  for i = 0, n - 1 do acc = acc + i * 0.000001 end
  return acc
end

cos_loop() -- warm-up (and JIT compilation)
local t0 = now_ns()
local s1 = cos_loop()
local t1 = now_ns()
local s2 = empty_loop()
local t2 = now_ns()
print(string.format("cos-ns-per-call: %.1f (sum %.6f)", (t1 - t0) / n, s1))
print(string.format("empty-ns-per-iter: %.1f (sum %.6f)", (t2 - t1) / n, s2))
