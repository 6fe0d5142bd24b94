-- One operation's send budget for the whole fleet, on Redis's clock: GCRA
-- without burst (each reservation moves the theoretical arrival time on by
-- 1/rate, so sends are paced evenly), and the rate itself, adapted to
-- throttling by the rule of the sidecar's own limiter (limiter.rs): the first
-- throttle of an episode cuts the rate by BETA; after a cut the rate holds for
-- EVIDENCE attempts while the throttled share is counted, and a later throttle
-- cuts again only when that share moved by SIGNIFICANCE standard errors (down
-- after a cut, or up); otherwise the rate grows back along CUBIC's curve.
--
-- KEYS[1]  the operation's hash
-- ARGV[1]  "reserve" | "cancel" | "record"
-- ARGV[2]  the operation's ceiling, requests per second
-- ARGV[3]  for "reserve": microseconds from now before which the slot may
--          not fall (this sidecar holds slots of its own until then);
--          for "record": 1 if the attempt was throttled, 0 if not
-- ARGV[4]  the time in microseconds, for tests; empty: Redis's TIME
-- Returns  {microseconds until the send slot (0 but for "reserve"), rate}.

local BETA, SCALE, MIN_RATE = 0.7, 0.4, 0.5
local EVIDENCE, SIGNIFICANCE, QUIET = 100, 2.5, 0.05
local IDLE_MS = 3600000

local key, mode, ceiling = KEYS[1], ARGV[1], tonumber(ARGV[2])
local now = tonumber(ARGV[4])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end

local f = redis.call('HMGET', key, 'rate', 'tat', 'max', 'since', 'epoch', 'n', 'k', 'before', 'cut', 'frozen')
local s = {
  rate = math.min(tonumber(f[1]) or ceiling, ceiling),
  tat = tonumber(f[2]) or now,
  max = tonumber(f[3]) or ceiling,
  since = tonumber(f[4]),
  epoch = f[5] == '1',
  n = tonumber(f[6]) or 0,
  k = tonumber(f[7]) or 0,
  before = tonumber(f[8]),
  cut = f[9] == '1',
  frozen = f[10] == '1',
}

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

local wait = 0
if mode == 'reserve' then
  local slot = math.max(s.tat, now + tonumber(ARGV[3]))
  s.tat = slot + 1000000 / s.rate
  wait = slot - now
elseif mode == 'cancel' then
  s.tat = math.max(now, s.tat - 1000000 / s.rate)
else
  if s.epoch then
    s.n = s.n + 1
    if ARGV[3] == '1' then s.k = s.k + 1 end
  end
  if ARGV[3] == '1' then on_throttle() else on_success() end
end

-- %.17g keeps every digit (tostring's %.14g would round microsecond times).
local function num(x) if x then return string.format('%.17g', x) end return '' end
local function flag(b) if b then return '1' end return '0' end
redis.call('HSET', key, 'rate', num(s.rate), 'tat', num(s.tat), 'max', num(s.max), 'since', num(s.since),
  'epoch', flag(s.epoch), 'n', s.n, 'k', s.k, 'before', num(s.before), 'cut', flag(s.cut), 'frozen', flag(s.frozen))
redis.call('PEXPIRE', key, IDLE_MS)
return {math.floor(wait), num(s.rate)}
