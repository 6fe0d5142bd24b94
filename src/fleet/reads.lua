-- Poll results shared by the fleet's pollers: one hash per read (its result,
-- when it was stored on Redis's clock, and for how long it is fresh), and a
-- fetch lease per read, so one poller reads upstream while the others take
-- the last result. A result is stored only by the holder of the lease it was
-- fetched under: a poller that lost its lease (paused past it) cannot
-- overwrite a newer result.
--
-- KEYS[1]  the read's result hash; KEYS[2] its fetch lease
-- ARGV[1]  "look" | "store" | "release"; ARGV[2] the poller's ticket
-- look:    ARGV[3] lease ms, ARGV[4] "1" to force a fetch (a call just changed
--          what it reads: the lease is taken whatever is fresh or held)
--          -> {"fresh", result} | {"fetch"} | {"busy", result} | {"busy"} (none yet)
-- store:   ARGV[3] result, ARGV[4] fresh for ms -> 1 if stored
-- release: -> 1 if the lease was the ticket's
-- recent:  ARGV[3] max age ms -> {result} if one was stored at most that long ago, else {}

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local mode, ticket = ARGV[1], ARGV[2]

if mode == 'look' then
  if ARGV[4] == '1' then
    redis.call('SET', KEYS[2], ticket, 'PX', ARGV[3])
    return {'fetch'}
  end
  local at, fresh, result = unpack(redis.call('HMGET', KEYS[1], 'at', 'fresh', 'result'))
  if at and now - tonumber(at) < tonumber(fresh) then return {'fresh', result} end
  if redis.call('SET', KEYS[2], ticket, 'NX', 'PX', ARGV[3]) then return {'fetch'} end
  if result then return {'busy', result} end
  return {'busy'}
end

if mode == 'recent' then
  local at, result = unpack(redis.call('HMGET', KEYS[1], 'at', 'result'))
  if at and now - tonumber(at) <= tonumber(ARGV[3]) then return {result} end
  return {}
end

if redis.call('GET', KEYS[2]) ~= ticket then return 0 end
redis.call('DEL', KEYS[2])
if mode == 'store' then
  local fresh = tonumber(ARGV[4])
  redis.call('HSET', KEYS[1], 'at', now, 'fresh', fresh, 'result', ARGV[3])
  -- Kept well past its freshness: a stale result beats none while a fetch runs.
  redis.call('PEXPIRE', KEYS[1], math.max(10 * fresh, 60000))
end
return 1
