-- Poll results shared by the fleet's pollers: one hash per read (its result,
-- when its reader read it, when it was stored on Redis's clock, and for how
-- long it is fresh), and a fetch lease per read, so one poller reads upstream
-- while the others take the last result. The lease's ticket is its fence: a
-- result is stored only by the holder of the lease it was fetched under, so a
-- poller that lost its lease (paused past it) stores nothing, and never over
-- a result read later than its own.
--
-- Redis is input, not truth: a key of another type, or a result whose times
-- are not times (not numbers, or later than now by more than a minute, or a
-- freshness over an hour), is repaired: deleted, so the next look fetches it
-- anew. The reply says when something was.
--
-- KEYS[1]  the read's result hash; KEYS[2] its fetch lease
-- ARGV[1]  "look" | "store" | "release" | "recent"; ARGV[2] the poller's ticket
-- look:    ARGV[3] lease ms, ARGV[4] "1" to force a fetch (a call just changed
--          what it reads: the lease is taken whatever is fresh or held)
--          -> {"fresh" | "fetch" | "busy", repaired, result or "", read time µs or ""}
-- store:   ARGV[3] result, ARGV[4] fresh for ms, ARGV[5] read time µs, ARGV[6] the
--          fleet's change channel, ARGV[7] the notice published there when the
--          result stored differs from the one before -> 1 if stored
-- offer:   the same without a lease (the state a call was answered with): stored
--          unless a result read later is
-- renew:   ARGV[3] lease ms -> 1 if the lease is still the ticket's (its holder waits
--          for a poll slot: a live holder keeps its lease until it reads)
-- release: -> 1 if the lease was the ticket's
-- recent:  ARGV[3] max age ms -> {result} if one was stored at most that long ago, else {}

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local mode, ticket = ARGV[1], ARGV[2]
local SLACK, LONGEST_FRESH = 60000, 3600000

local result_kind = expect(KEYS[1], 'hash')
expect(KEYS[2], 'string')
local at, fresh, result, read = unpack(redis.call('HMGET', KEYS[1], 'at', 'fresh', 'result', 'read'))
if result_kind == 'hash' then
  local a, f, r = tonumber(at), tonumber(fresh), tonumber(read)
  local valid = finite(a) and a <= now + SLACK and finite(f) and f > 0 and f <= LONGEST_FRESH
    and finite(r) and r <= (now + SLACK) * 1000 and result
  if not valid then
    redis.call('DEL', KEYS[1])
    at, fresh, result, read = nil, nil, nil, nil
    repaired = 1
  end
end

if mode == 'look' then
  if ARGV[4] == '1' then
    redis.call('SET', KEYS[2], ticket, 'PX', ARGV[3])
    return {'fetch', tostring(repaired), '', ''}
  end
  if at and now - tonumber(at) < tonumber(fresh) then return {'fresh', tostring(repaired), result, read} end
  if redis.call('SET', KEYS[2], ticket, 'NX', 'PX', ARGV[3]) then return {'fetch', tostring(repaired), '', ''} end
  return {'busy', tostring(repaired), result or '', read or ''}
end

if mode == 'recent' then
  if at and now - tonumber(at) <= tonumber(ARGV[3]) then return {result} end
  return {}
end

-- Stores a result unless one read later is stored.
local function keep()
  local fresh_for, read_at = tonumber(ARGV[4]), tonumber(ARGV[5])
  if not (finite(fresh_for) and fresh_for > 0 and fresh_for <= LONGEST_FRESH and finite(read_at)) then return 0 end
  if read and read_at < tonumber(read) then return 0 end
  redis.call('HSET', KEYS[1], 'at', now, 'fresh', fresh_for, 'result', ARGV[3], 'read', ARGV[5])
  -- Kept well past its freshness: a stale result beats none while a fetch runs.
  redis.call('PEXPIRE', KEYS[1], math.max(10 * fresh_for, 60000))
  if result ~= ARGV[3] and ARGV[6] then redis.call('PUBLISH', ARGV[6], ARGV[7]) end
  return 1
end

if mode == 'offer' then return keep() end

if redis.call('GET', KEYS[2]) ~= ticket then return 0 end
if mode == 'renew' then
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
  return 1
end
redis.call('DEL', KEYS[2])
if mode == 'store' then return keep() end
return 1
