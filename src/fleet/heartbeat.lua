-- The fleet's members: each sidecar's id scored by when its membership
-- expires (its last heartbeat plus its own ttl), on Redis's clock, so
-- sidecars with different heartbeat settings never expire each other. The
-- sharers are the members that pace from the fleet's budget now (not from
-- their own share, as a sidecar does while it drains what it reserved
-- alone): the budget is sized for them. A key of the wrong type, or a score
-- that is not a time (years away), is repaired: the set is made anew, and
-- each sidecar adds itself again at its next heartbeat.
--
-- KEYS[1]  the members' sorted set; KEYS[2] the sharers' sorted set
-- ARGV[1]  this sidecar's id
-- ARGV[2]  ttl ms; ARGV[3] "leave" to leave the fleet, "beat" otherwise
-- ARGV[4]  "1" if this sidecar paces from the fleet's budget now
-- ARGV[5]  how long its place among the sharers lasts, ms (shorter than its
--          membership: the others must learn soon that it stopped sharing)
-- Returns  {the number of live members, of sharers, 1 if something was repaired}.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
-- No sidecar's membership lasts longer than this: a later score was not
-- written by a sidecar (a restored dump from the future, or someone else).
local LONGEST_TTL = 3600000
local function beat(key, present, ttl)
  expect(key, 'zset')
  if present then
    redis.call('ZADD', key, now + ttl, ARGV[1])
  else
    redis.call('ZREM', key, ARGV[1])
  end
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. now)
  if redis.call('ZREMRANGEBYSCORE', key, '(' .. (now + LONGEST_TTL), '+inf') > 0 then repaired = 1 end
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if last[2] then redis.call('PEXPIREAT', key, math.floor(tonumber(last[2]))) end
  return redis.call('ZCARD', key)
end

local here = ARGV[3] ~= 'leave'
local members = beat(KEYS[1], here, ttl)
local sharers = beat(KEYS[2], here and ARGV[4] == '1', tonumber(ARGV[5]) or ttl)
return {members, sharers, repaired}
