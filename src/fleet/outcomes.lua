-- A fleet-wide idempotency record: one hash per key, holding the parameters'
-- fingerprint, the state ("running", "done": kept for replay, "gone": published
-- to the waiters of this run but not kept), the outcome and the run's id.
--
-- KEYS[1]  the key's hash
-- ARGV[1]  "begin" | "finish" | "refresh" | "forget"
-- begin:   ARGV[2] fingerprint, ARGV[3] the new run's id, ARGV[4] lease ms
--          -> {"lead", ""} | {"join", run id} | {"replay", outcome} | {"reused", ""}
-- finish:  ARGV[2] run id, ARGV[3] "done" | "gone", ARGV[4] time to keep ms, ARGV[5] outcome
--          (absent: the outcome cannot be shared; waiters see none) -> 1 if the run still held the key
-- refresh: ARGV[2] run id, ARGV[3] lease ms -> 1 if the run still holds the key
-- forget:  ARGV[2] run id -> 1 if the run still held the key

local key, mode = KEYS[1], ARGV[1]
local fp, state, out, run = unpack(redis.call('HMGET', key, 'fp', 'state', 'out', 'run'))

if mode == 'begin' then
  if state == 'running' or state == 'done' then
    if fp ~= ARGV[2] then return {'reused', ''} end
    if state == 'done' then return {'replay', out} end
    return {'join', run}
  end
  redis.call('DEL', key)
  redis.call('HSET', key, 'fp', ARGV[2], 'state', 'running', 'run', ARGV[3])
  redis.call('PEXPIRE', key, ARGV[4])
  return {'lead', ''}
end

if run ~= ARGV[2] or state ~= 'running' then return 0 end
if mode == 'finish' then
  redis.call('HSET', key, 'state', ARGV[3])
  if ARGV[5] then redis.call('HSET', key, 'out', ARGV[5]) end
  redis.call('PEXPIRE', key, ARGV[4])
elseif mode == 'refresh' then
  redis.call('PEXPIRE', key, ARGV[3])
else
  redis.call('DEL', key)
end
return 1
