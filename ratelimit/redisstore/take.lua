-- Token buckets for every limit of a policy, checked and taken atomically.
-- Same semantics as ratelimit.MemoryStore: a bucket of cap tokens, full when
-- absent, refilled continuously at requests per window; a request of cost n
-- passes only if every bucket holds n tokens, and then takes n from each.
--
-- KEYS[i]          the bucket of limit i, stored as "<tokens> <time>": its
--                  tokens (written with %.17g, so that the float survives
--                  the round trip exactly) at that time (microseconds).
-- ARGV[1]          the cost n.
-- ARGV[2]          "" to use the server clock (TIME); a time in microseconds
--                  only in tests.
-- ARGV[3i..3i+2]   limit i: capacity, requests, window (nanoseconds).
--
-- Returns {allowed, then per limit: remaining, retry, reset}: whole tokens
-- and whole microseconds (rounded up); retry -1 means never.

local n = tonumber(ARGV[1])
local now
if ARGV[2] ~= '' then
  now = tonumber(ARGV[2])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end

-- wait returns the smallest whole w >= 0 such that a bucket holding tok
-- tokens at time base holds target tokens at time at + w, computed with the
-- same expression as the refill below, so the answer is exact for it. The
-- estimate is usually right; rounding can make the expression a step
-- function (with many tokens and a slow rate, one ulp of tokens spans many
-- microseconds), so the answer is found by galloping from the estimate and
-- bisecting: O(log) evaluations, never a walk.
local MAXW = 2251799813685248 -- 2^51 us, 71 years: whole numbers stay exact
local function wait(tok, base, at, target, rate)
  if tok + (at - base) * rate >= target then
    return 0
  end
  local hi = math.ceil((target - tok) / rate - (at - base))
  if hi < 1 then
    hi = 1
  end
  if hi > MAXW then
    return math.min(hi, 4611686018427387904) -- 2^62: still an integer reply
  end
  local lo, step = 0, 1
  while tok + (at + hi - base) * rate < target do -- gallop up
    lo, hi, step = hi, hi + step, step * 2
    if hi > MAXW then
      return hi
    end
  end
  step = 1
  while hi - lo > 1 do -- gallop down
    local probe = hi - step
    if probe <= lo then
      break
    end
    if tok + (at + probe - base) * rate < target then
      lo = probe
      break
    end
    hi, step = probe, step * 2
  end
  while hi - lo > 1 do -- bisect
    local mid = math.floor((lo + hi) / 2)
    if tok + (at + mid - base) * rate >= target then
      hi = mid
    else
      lo = mid
    end
  end
  return hi
end

local count = #KEYS
local caps, rates, toks, bases, ats, curs = {}, {}, {}, {}, {}, {}
local allowed = 1
for i = 1, count do
  local j = 3 * i
  local cap = tonumber(ARGV[j])
  local rate = tonumber(ARGV[j + 1]) * 1000 / tonumber(ARGV[j + 2]) -- tokens per us
  local tok, base = cap, now
  local v = redis.call('GET', KEYS[i])
  if v then
    local a, b = string.match(v, '^(%S+) (%S+)$')
    tok, base = tonumber(a), tonumber(b)
    if tok == nil or base == nil then
      return redis.error_reply('redisstore: malformed bucket ' .. KEYS[i])
    end
  end
  local at = now
  if base > at then
    at = base -- the clock went back: no refill, never a second one
  end
  local cur = tok + (at - base) * rate
  if cur > cap then
    cur = cap
  end
  if cur < n then
    allowed = 0
  end
  caps[i], rates[i], toks[i], bases[i], ats[i], curs[i] = cap, rate, tok, base, at, cur
end

local out = {allowed}
for i = 1, count do
  local cap, rate, at = caps[i], rates[i], ats[i]
  if allowed == 1 then
    local left = curs[i] - n
    local reset = wait(left, at, at, cap, rate)
    -- The key expires when the bucket would be full: absent means full.
    -- (At most 1e13 ms, 317 years, which Redis still reads as an integer.)
    local px = math.min(math.max(1, math.ceil(reset / 1000)), 1e13)
    redis.call('SET', KEYS[i], string.format('%.17g %d', left, at), 'PX', px)
    out[#out + 1] = math.floor(left)
    out[#out + 1] = 0
    out[#out + 1] = reset
  else
    local retry = -1
    if n <= cap then
      retry = wait(toks[i], bases[i], at, n, rate)
    end
    out[#out + 1] = math.floor(curs[i])
    out[#out + 1] = retry
    out[#out + 1] = wait(toks[i], bases[i], at, cap, rate)
  end
end
return out
