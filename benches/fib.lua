-- Anchor for benches/fib.valk: naive fib 30, in-process time in microseconds.
local function fib(n)
  if n < 2 then return n end
  return fib(n - 1) + fib(n - 2)
end

local t0 = os.clock()
local result = fib(30)
local t1 = os.clock()
print("fib(30) = " .. result)
print(string.format("in-process-us: %d", math.floor((t1 - t0) * 1e6)))
