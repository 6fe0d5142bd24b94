-- One operation's send budget for the whole fleet, on Redis's clock: the rule
-- of the sidecar's own limiter (limiter.rs; both follow rate_vectors.json).
-- GCRA without burst: each reservation moves the theoretical arrival time
-- (tat) on by 1/rate, so sends are paced evenly; a slot given back moves it
-- back only if it is still the last one handed out. The rate adapts to
-- throttling: the first throttle of an episode cuts it by BETA; after a cut
-- the rate holds for EVIDENCE attempts while the throttled share is counted,
-- and a later throttle cuts again only when that share moved by SIGNIFICANCE
-- standard errors (down after a cut, or up); otherwise the rate grows back
-- along CUBIC's curve.
--
-- Redis is input, not truth: a hash of another type, or any field that is not
-- what this script writes (a rate that is not a finite number within
-- [MIN_RATE, ceiling], a tat or a time years away, counts out of range), is
-- repaired: the rate's state starts afresh, as after a flush, a bad tat
-- starts at now, and the reply says so.
-- After a flush or a restart the callers' not_before (the last slot end they
-- know of) keeps new slots from landing on slots already handed out.
--
-- KEYS[1]  the operation's hash
-- ARGV[1]  "reserve" | "give_back" | "record"
-- ARGV[2]  the operation's ceiling, requests per second
-- ARGV[3]  the time in microseconds, for tests; empty: Redis's TIME
-- reserve:   ARGV[4] microseconds from now before which the slot may not fall
--            (the last slot end the caller knows of); ARGV[5] "fixed": pace at
--            the ceiling, no adaptation (a poll schedule); ARGV[6] the share of
--            the rate the sidecars sharing this budget may use, 0 < share <= 1
--            (the members not back yet pace alone at theirs; empty: 1);
--            ARGV[7] "idle": reserve only a slot due now (background work, which
--            must not queue ahead of callers); otherwise nothing is reserved, the
--            start and end answered are empty, and the wait is until the next slot
-- give_back: ARGV[4], ARGV[5] the slot's start and end, as reserve answered them
-- record:    ARGV[4] "1" if the attempt was throttled, "0" if not
-- Returns  {microseconds until the slot (0 but for reserve), rate, the slot's
--          start, its end (the tat after it), microseconds from now to the tat,
--          1 if a bad value was repaired}; rate, start and end as strings.

local BETA, SCALE, MIN_RATE = 0.7, 0.4, 0.5
local EVIDENCE, SIGNIFICANCE, QUIET = 100, 2.5, 0.05
local IDLE_MS = 3600000
-- No slot is handed out further ahead than this, and no time stored is later.
local MAX_LEAD = 3600 * 1000000

local key, mode, ceiling = KEYS[1], ARGV[1], tonumber(ARGV[2])
local now = tonumber(ARGV[3])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local fixed = mode == 'reserve' and ARGV[5] == 'fixed'

expect(key, 'hash')

local f = redis.call('HMGET', key, 'rate', 'tat', 'max', 'since', 'epoch', 'n', 'k', 'before', 'cut', 'frozen')
local function flag(x) return x == nil or x == false or x == '0' or x == '1' end
local function absent_or(x, ok) return x == false or x == nil or x == '' or ok(tonumber(x)) end
local function a_rate(x) return finite(x) and x >= MIN_RATE end
local function a_time(x) return finite(x) and x <= now + MAX_LEAD and x >= now - 100 * MAX_LEAD end
local function a_count(x) return finite(x) and x >= 0 and x == math.floor(x) end
local function a_share(x) return finite(x) and x >= 0 and x <= 1 end
-- The schedule (tat) and the rate's state are repaired apart: a bad rate
-- must not drop the slots already handed out.
if not absent_or(f[2], a_time) then
  f[2] = nil
  repaired = 1
end
local valid = absent_or(f[1], a_rate) and absent_or(f[3], a_rate)
  and absent_or(f[4], a_time) and absent_or(f[6], a_count) and absent_or(f[7], a_count)
  and absent_or(f[8], a_share) and flag(f[5]) and flag(f[9]) and flag(f[10])
  and (tonumber(f[7]) or 0) <= (tonumber(f[6]) or 0)
if not valid then
  f = {nil, f[2]}
  repaired = 1
end

local s = {
  rate = math.min(tonumber(f[1]) or ceiling, ceiling),
  tat = tonumber(f[2]) or now,
  max = math.min(tonumber(f[3]) or ceiling, ceiling),
  since = tonumber(f[4]),
  epoch = f[5] == '1',
  n = tonumber(f[6]) or 0,
  k = tonumber(f[7]) or 0,
  before = tonumber(f[8]),
  cut = f[9] == '1',
  frozen = f[10] == '1',
}
if fixed then s.rate = ceiling end

local function clamp(rate)
  return math.max(MIN_RATE, math.min(rate, ceiling))
end

local function share()
  return s.k / math.max(s.n, 1)
end

-- 'rose', 'fell' or 'same' against the share before; nil when none is known.
local function shift()
  if not s.before then return nil end
  local err = SIGNIFICANCE * math.sqrt(s.before * (1 - s.before) / math.max(s.n, 1))
  if share() > s.before + err then return 'rose' end
  if share() < s.before - err then return 'fell' end
  return 'same'
end

local function new_epoch(before, cut)
  s.epoch, s.n, s.k, s.before, s.cut, s.frozen = true, 0, 0, before, cut, cut
end

local function on_throttle()
  local before = nil
  if s.epoch then
    if s.n < EVIDENCE then return end
    if share() >= QUIET then
      local moved = shift()
      local calls_for_a_cut = moved == nil or moved == 'rose' or (moved == 'fell' and s.cut)
      if not calls_for_a_cut then
        if s.frozen then s.since = now end
        if s.cut or moved == 'fell' then new_epoch(share(), false) else new_epoch(s.before, false) end
        return
      end
      before = share()
    end
  end
  s.max, s.since = s.rate, now
  s.rate = clamp(s.rate * BETA)
  new_epoch(before, true)
end

local function on_success()
  if s.epoch and s.frozen then
    if s.n < EVIDENCE then return end
    s.frozen, s.since = false, now
  end
  if not s.since then return end
  local k = ((s.max * (1 - BETA)) / SCALE) ^ (1 / 3)
  local t = (now - s.since) / 1000000
  s.rate = clamp(SCALE * (t - k) ^ 3 + s.max)
  if s.rate >= ceiling then s.since = nil end
end

local wait, start, stop = 0, s.tat, s.tat
if mode == 'reserve' then
  local not_before = math.min(tonumber(ARGV[4]) or 0, MAX_LEAD)
  local share = tonumber(ARGV[6])
  if not finite(share) or share <= 0 or share > 1 then share = 1 end
  start = math.max(s.tat, now + not_before)
  wait = start - now
  if ARGV[7] == 'idle' and wait > 0 then
    start, stop = nil, nil
  else
    stop = start + 1000000 / (s.rate * share)
    s.tat = stop
  end
elseif mode == 'give_back' then
  if tonumber(ARGV[5]) == s.tat then s.tat = tonumber(ARGV[4]) end
else
  if s.epoch then
    s.n = s.n + 1
    if ARGV[4] == '1' then s.k = s.k + 1 end
  end
  if ARGV[4] == '1' then on_throttle() else on_success() end
end

-- %.17g keeps every digit (tostring's %.14g would round microsecond times).
local function num(x) if x then return string.format('%.17g', x) end return '' end
local function bit(b) if b then return '1' end return '0' end
redis.call('HSET', key, 'rate', num(s.rate), 'tat', num(s.tat), 'max', num(s.max), 'since', num(s.since),
  'epoch', bit(s.epoch), 'n', s.n, 'k', s.k, 'before', num(s.before), 'cut', bit(s.cut), 'frozen', bit(s.frozen))
redis.call('PEXPIRE', key, IDLE_MS)
return {math.floor(wait), num(s.rate), num(start), num(stop), math.floor(s.tat - now), repaired}
