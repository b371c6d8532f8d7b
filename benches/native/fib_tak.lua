-- Anchor for the native tier: fib(30) and tak(18, 12, 6), timed in-process
-- (run by both Lua 5.4 and LuaJIT 2.1).
local function fib(n)
  if n < 2 then return n end
  return fib(n - 1) + fib(n - 2)
end

local function tak(x, y, z)
  if y < x then
    return tak(tak(x - 1, y, z), tak(y - 1, z, x), tak(z - 1, x, y))
  end
  return z
end

local t0 = os.clock()
local r = fib(30)
print("fib(30) = " .. r)
print(string.format("fib-us: %d", math.floor((os.clock() - t0) * 1e6)))
t0 = os.clock()
r = tak(18, 12, 6)
print("tak(18,12,6) = " .. r)
print(string.format("tak-us: %d", math.floor((os.clock() - t0) * 1e6)))
