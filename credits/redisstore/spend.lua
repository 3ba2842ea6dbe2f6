-- One account's balance for one kind of period: spend from it or grant to
-- it, atomically. Same semantics as credits.MemoryStore: a balance not seen
-- yet in the current period holds the allowance; at the start of a period
-- it is replaced by the allowance; a spend takes cost credits only if the
-- balance holds them all; a grant adds to the balance until the period
-- ends. A stored period newer than the caller's is spent from, never
-- replaced (periods do not go backwards).
--
-- KEYS[1]  the balance: the string "<period index> <remaining>", where the
--          index is credits.Period.Index of its period.
-- ARGV[1]  "spend" or "grant".
-- ARGV[2]  the cost (0 or more; 0 reads the balance) or the credits
--          granted (1 or more).
-- ARGV[3]  the allowance: the credits of a new period.
-- ARGV[4]  the period: "day" or "month".
-- ARGV[5]  "" to use the server clock (TIME); else, in tests, the time as
-- ARGV[6]  TIME gives it: Unix seconds and microseconds.
-- ARGV[7]  how long the key outlives the end of its period, in ms.
-- ARGV[8]  the largest balance a grant can make.
--
-- Returns {ok (1 or 0), remaining, period index}.

local op, n, allowance, period = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local secs, micros
if ARGV[5] == '' then
  local t = redis.call('TIME')
  secs, micros = tonumber(t[1]), tonumber(t[2])
else
  secs, micros = tonumber(ARGV[5]), tonumber(ARGV[6])
end
local margin, cap = tonumber(ARGV[7]), tonumber(ARGV[8])
local floor = math.floor

-- Lua in Redis has no os.date: months are found from days since the epoch
-- with Howard Hinnant's civil-from-days and days-from-civil algorithms
-- (proleptic Gregorian calendar, exact in whole numbers for any date of
-- the next million years).

-- monthOf returns the month index (months since January 1970) of a day
-- (days since 1970-01-01).
local function monthOf(days)
  local z = days + 719468 -- days since 0000-03-01
  local era = floor(z / 146097)
  local doe = z - era * 146097 -- day of the 400-year era, [0, 146096]
  local yoe = floor((doe - floor(doe / 1460) + floor(doe / 36524) - floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + floor(yoe / 4) - floor(yoe / 100)) -- from March 1st
  local mp = floor((5 * doy + 2) / 153) -- month from March, [0, 11]
  local y, m = yoe + era * 400, mp + 3
  if mp >= 10 then
    y, m = y + 1, mp - 9
  end
  return (y - 1970) * 12 + m - 1
end

-- monthStart returns the first day (days since 1970-01-01) of the month
-- with the given index.
local function monthStart(index)
  local y = 1970 + floor(index / 12)
  local m = index - floor(index / 12) * 12 + 1
  if m <= 2 then
    y = y - 1
  end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local mp = m - 3
  if m <= 2 then
    mp = m + 9
  end
  local doy = floor((153 * mp + 2) / 5)
  return era * 146097 + yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy - 719468
end

local day = floor(secs / 86400)
local index = day
if period == 'month' then
  index = monthOf(day)
end

local remaining = allowance
local v = redis.call('GET', KEYS[1])
if v then
  local a, b = string.match(v, '^(-?%d+) (%d+)$')
  local si, sr = tonumber(a), tonumber(b)
  if si == nil or sr == nil then
    return redis.error_reply('redisstore: malformed balance at ' .. KEYS[1])
  end
  if si >= index then -- this period, or a newer one: keep it
    index, remaining = si, sr
  end
end

if op == 'grant' then
  remaining = math.min(remaining + n, cap)
elseif n > remaining then
  return {0, remaining, index} -- refused: nothing taken, nothing written
else
  remaining = remaining - n
end
if op == 'grant' or n > 0 then
  local ends = (index + 1) * 86400
  if period == 'month' then
    ends = monthStart(index + 1) * 86400
  end
  -- The key expires margin ms after its period ends, by the clock used.
  local px = (ends - secs) * 1000 - floor(micros / 1000) + margin
  redis.call('SET', KEYS[1], string.format('%d %d', index, remaining), 'PX', string.format('%d', px))
end
return {1, remaining, index}
