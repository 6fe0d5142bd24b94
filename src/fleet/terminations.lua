-- The fleet's pending terminations (sessions to terminate once they leave
-- ACTIVATING): one hash, a field per session ARN whose value is
-- "EXPIRY OWNER GROUP": the sidecar working on it holds it until EXPIRY (ms,
-- on Redis's clock) and renews it while it works; one whose holder stopped
-- renewing (it died) is an orphan, and any sidecar may claim it. A value that
-- is not of that form, or a key of another type, is repaired (dropped).
--
-- KEYS[1]  the pending terminations' hash
-- ARGV[1]  "add" | "orphans" | "refresh" | "done" | "release"
-- ARGV[2]  this sidecar's id; ARGV[3] lease ms
-- add:     ARGV[4] arn, ARGV[5] group -> {"claimed" | "pending" (held by a live sidecar), repaired}
-- orphans: ARGV[4] the most to claim -> {repaired, arn, group, arn, group, ...}
-- refresh: ARGV[4] arn -> 1 if it is still this sidecar's (its lease renewed)
-- done:    ARGV[4] arn -> 1 if it was this sidecar's (it is forgotten)
-- release: ARGV[4] arn -> 1 if it was this sidecar's (it is an orphan now)

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local key, mode, me, lease = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
expect(key, 'hash')

-- expiry, owner, group of a value; nil if it is not one this script wrote.
local function parse(value)
  if not value then return nil end
  local expiry, owner, group = string.match(value, '^(%d+) (%S+) (%S+)$')
  if not expiry then return nil end
  return tonumber(expiry), owner, group
end

local function hold(arn, group)
  redis.call('HSET', key, arn, string.format('%d %s %s', now + lease, me, group))
end

if mode == 'orphans' then
  local claimed, limit = {repaired}, tonumber(ARGV[4])
  local all = redis.call('HGETALL', key)
  for i = 1, #all, 2 do
    local arn, value = all[i], all[i + 1]
    local expiry, owner, group = parse(value)
    if not expiry then
      redis.call('HDEL', key, arn)
      claimed[1] = 1
    elseif expiry <= now and #claimed < 2 * limit + 1 then
      hold(arn, group)
      table.insert(claimed, arn)
      table.insert(claimed, group)
    end
  end
  return claimed
end

local arn = ARGV[4]
local value = redis.call('HGET', key, arn)
local expiry, owner, group = parse(value)
if value and not expiry then
  redis.call('HDEL', key, arn)
  repaired = 1
end

if mode == 'add' then
  if expiry and expiry > now then return {'pending', repaired} end
  hold(arn, ARGV[5])
  redis.call('PERSIST', key)
  return {'claimed', repaired}
end

if owner ~= me then return 0 end
if mode == 'refresh' then
  hold(arn, group)
elseif mode == 'done' then
  redis.call('HDEL', key, arn)
else
  redis.call('HSET', key, arn, string.format('0 %s %s', me, group))
end
return 1
