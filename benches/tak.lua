-- Anchor for benches/tak.valk: tak(18, 12, 6) = 7.
local function tak(x, y, z)
  if y < x then
    return tak(tak(x - 1, y, z), tak(y - 1, z, x), tak(z - 1, x, y))
  end
  return z
end

local t0 = os.clock()
local result = tak(18, 12, 6)
local t1 = os.clock()
print("tak(18,12,6) = " .. result)
print(string.format("in-process-us: %d", math.floor((t1 - t0) * 1e6)))
