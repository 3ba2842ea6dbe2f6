-- One idempotency record: claim it (begin), keep its answer (finish) or
-- free it (release), atomically. Same semantics as
-- idempotency.MemoryStore: a key is free if it has no record, or its
-- record's claim lock or answer retention has ended; a claim is held by
-- its token until its lock ends, and only that token can finish it (once)
-- or release it.
--
-- KEYS[1]  the record, a hash:
--            until   when the claim's lock or the answer's retention
--                    ends, in microseconds since the Unix epoch (decimal)
--            token   the claiming request's token (decimal)
--            fp      the claiming request's fingerprint (32 bytes)
--            answer  the encoded idempotency.Answer, once finished
--          The key also expires (PEXPIRE) when until passes, so that
--          Redis drops ended records itself; until is what decides.
-- ARGV[1]  "begin", "finish" or "release".
-- ARGV[2]  "" to use the server clock (TIME); else, in tests, the time in
--          microseconds since the Unix epoch.
-- ARGV[3]  the token (decimal).
-- ARGV[4]  begin: the lock; finish: the retention; in microseconds.
-- ARGV[5]  begin: the fingerprint; finish: the encoded answer.
--
-- begin returns {1} if it claimed the key, else {0, fingerprint, answer}
-- with a nil answer for a request in flight. A begin with the token that
-- holds the claim is a retry of that begin (tokens are never reused), and
-- claims again. finish returns 1 if it kept the answer, else 0. release
-- returns 0.

local key, op, token = KEYS[1], ARGV[1], ARGV[3]

if op == 'release' then
  local r = redis.call('HMGET', key, 'token', 'answer')
  if r[1] == token and not r[2] then
    redis.call('DEL', key)
  end
  return 0
end

local now
if ARGV[2] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[2])
end
local d = tonumber(ARGV[4])
-- The expiry, in whole milliseconds, rounded up: Redis never drops a
-- record before its until.
local px = math.max(1, math.ceil(d / 1000))
local untilText = string.format('%d', now + d)

local function malformed()
  return redis.error_reply('redisstore: malformed record at ' .. key)
end

if op == 'begin' then
  local r = redis.call('HMGET', key, 'until', 'token', 'fp', 'answer')
  if r[1] then
    local u = tonumber(r[1])
    if u == nil then
      return malformed()
    end
    if now < u and not (r[2] == token and not r[4]) then
      return {0, r[3], r[4]} -- held: a false answer is a nil reply
    end
    redis.call('DEL', key) -- ended: claimed anew, answer and all
  end
  redis.call('HSET', key, 'until', untilText, 'token', token, 'fp', ARGV[5])
  redis.call('PEXPIRE', key, px)
  return {1}
end

if op == 'finish' then
  local r = redis.call('HMGET', key, 'until', 'token', 'answer')
  if not r[1] or r[2] ~= token or r[3] then
    return 0
  end
  local u = tonumber(r[1])
  if u == nil then
    return malformed()
  end
  if now >= u then
    return 0 -- the lock ended: another request may claim the key
  end
  redis.call('HSET', key, 'until', untilText, 'answer', ARGV[5])
  redis.call('PEXPIRE', key, px)
  return 1
end

return redis.error_reply('redisstore: unknown operation ' .. op)
