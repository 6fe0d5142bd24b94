-- The fleet's members: each sidecar's id scored by its last heartbeat, on
-- Redis's clock; members silent for longer than the ttl are dropped.
--
-- KEYS[1]  the members' sorted set
-- ARGV[1]  this sidecar's id
-- ARGV[2]  ttl ms; ARGV[3] "leave" to leave the fleet
-- Returns  the number of live members.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[3] == 'leave' then
  redis.call('ZREM', KEYS[1], ARGV[1])
else
  redis.call('ZADD', KEYS[1], now, ARGV[1])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return redis.call('ZCARD', KEYS[1])
