-- A fleet-wide idempotency record: one hash per key, holding the parameters'
-- fingerprint, the state ("running", "done": kept for replay, "gone": published
-- to the waiters of this run but not kept), the outcome and the run's id.
-- A record that is not one this script wrote (another type, a state it does
-- not know, a fingerprint or run missing, a "done" without its outcome) is
-- repaired: deleted, and the caller leads a new run (the ClientToken makes
-- GameLift Streams answer it as it answered the first).
--
-- KEYS[1]  the key's hash
-- ARGV[1]  "begin" | "finish" | "refresh" | "forget"
-- begin:   ARGV[2] fingerprint, ARGV[3] the new run's id, ARGV[4] lease ms,
--          ARGV[5] "retake": the caller could not read the kept outcome (repair it)
--          -> {"lead", "", repaired} | {"join", run id, 0} | {"replay", outcome, 0} | {"reused", "", 0}
-- finish:  ARGV[2] run id, ARGV[3] "done" | "gone", ARGV[4] time to keep ms, ARGV[5] outcome
--          -> 1 if the run still held the key
-- refresh: ARGV[2] run id, ARGV[3] lease ms -> 1 if the run still holds the key
-- forget:  ARGV[2] run id -> 1 if the run still held the key

local key, mode = KEYS[1], ARGV[1]
local kind = expect(key, 'hash')
local fp, state, out, run = unpack(redis.call('HMGET', key, 'fp', 'state', 'out', 'run'))
local known = (state == 'running' and fp and run) or (state == 'done' and fp and out) or (state == 'gone' and run)
if kind == 'hash' and not known then
  redis.call('DEL', key)
  fp, state, out, run = nil, nil, nil, nil
  repaired = 1
end

if mode == 'begin' then
  if state == 'done' and ARGV[5] == 'retake' then
    state = nil
    repaired = 1
  end
  if state == 'running' or state == 'done' then
    if fp ~= ARGV[2] then return {'reused', '', 0} end
    if state == 'done' then return {'replay', out, 0} end
    return {'join', run, 0}
  end
  redis.call('DEL', key)
  redis.call('HSET', key, 'fp', ARGV[2], 'state', 'running', 'run', ARGV[3])
  redis.call('PEXPIRE', key, ARGV[4])
  return {'lead', '', repaired}
end

if run ~= ARGV[2] or state ~= 'running' then return 0 end
if mode == 'finish' then
  redis.call('HSET', key, 'state', ARGV[3], 'out', ARGV[5])
  redis.call('PEXPIRE', key, ARGV[4])
elseif mode == 'refresh' then
  redis.call('PEXPIRE', key, ARGV[3])
else
  redis.call('DEL', key)
end
return 1
