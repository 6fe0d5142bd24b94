-- What every fleet script starts with (prepended when it is loaded): the
-- checks of values read from Redis, which is input, not truth. `repaired`
-- becomes 1 when a script finds and repairs a bad value; the script says so
-- in its reply, and the sidecar counts it.

local repaired = 0

-- Whether `x` is a number (not nil, NaN or infinite).
local function finite(x)
  return x ~= nil and x == x and x ~= math.huge and x ~= -math.huge
end

-- The type of `key`: `kind`, or 'none' (a key of another type is deleted).
local function expect(key, kind)
  local found = redis.call('TYPE', key).ok
  if found ~= kind and found ~= 'none' then
    redis.call('DEL', key)
    repaired = 1
    return 'none'
  end
  return found
end

