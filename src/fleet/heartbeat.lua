-- The fleet's members: each sidecar's id scored by when its membership
-- expires (its last heartbeat plus its own ttl), on Redis's clock, so
-- sidecars with different heartbeat settings never expire each other.
-- A key of the wrong type, or a score that is not a time (NaN, years
-- away), is repaired: the set is made anew, and each sidecar adds itself
-- again at its next heartbeat.
--
-- KEYS[1]  the members' sorted set
-- ARGV[1]  this sidecar's id
-- ARGV[2]  ttl ms; ARGV[3] "leave" to leave the fleet
-- Returns  {the number of live members, 1 if something was repaired}.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
-- No sidecar's membership lasts longer than this: a later score was not
-- written by a sidecar (a restored dump from the future, or someone else).
local LONGEST_TTL = 3600000
local repaired = 0

local kind = redis.call('TYPE', KEYS[1]).ok
if kind ~= 'zset' and kind ~= 'none' then
  redis.call('DEL', KEYS[1])
  repaired = 1
end

if ARGV[3] == 'leave' then
  redis.call('ZREM', KEYS[1], ARGV[1])
else
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
local bad = redis.call('ZREMRANGEBYSCORE', KEYS[1], '(' .. (now + LONGEST_TTL), '+inf')
if bad > 0 then repaired = 1 end

local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then
  redis.call('PEXPIREAT', KEYS[1], math.floor(tonumber(last[2])))
end
return {redis.call('ZCARD', KEYS[1]), repaired}
