/**
 * The Lua scripts of the Redis counter store (text only; src/limits/redis-store.ts runs them).
 *
 * Key layout, all keys of one script share the hash tag {T} (one Redis Cluster slot):
 *   P:{T}:c:<windowEndMs>:<key>  hash   u = settled amount, r = sum of live reservations, a:<id> = live amount of <id>
 *   P:{T}:e:<windowEndMs>:<key>  zset   live reservation ids scored by their expiry (ms since epoch)
 *   P:{T}:x:<id>                 string reservation state: R = reserved (for the reservation TTL), S = settled (for
 *                                       the settled-marker TTL, so a retried settle counts once); absent = unknown
 * Counter keys get PEXPIREAT (window end + slack) on every write; x keys a short PX. Amounts are doubles kept as %.17g strings
 * (exact round trip); `r` is reset to exactly 0 when no reservation is live, so add/remove cannot drift.
 * Expired reservations (score <= now) are released at the start of every script that touches their counter.
 * Times come from the caller (`now`), never from the Redis clock, except for key expiry.
 */

const COMMON = `
local function num(v) if v then return tonumber(v) end return 0 end
local function fmt(x) return string.format('%.17g', x) end
local function fits(used, amount, limit)
  return used + amount <= limit + 1e-9 * math.max(1, math.abs(limit))
end
local function release(c, e, now, expireAt)
  local ids = redis.call('ZRANGEBYSCORE', e, '-inf', now)
  if #ids == 0 then return end
  local r = num(redis.call('HGET', c, 'r'))
  for _, id in ipairs(ids) do
    r = r - num(redis.call('HGET', c, 'a:' .. id))
    redis.call('HDEL', c, 'a:' .. id)
  end
  redis.call('ZREMRANGEBYSCORE', e, '-inf', now)
  if redis.call('ZCARD', e) == 0 then r = 0 end
  redis.call('HSET', c, 'r', fmt(r))
  redis.call('PEXPIREAT', c, expireAt)
end
local function unreserve(c, e, id, expireAt)
  local a = redis.call('HGET', c, 'a:' .. id)
  if not a then return false end
  redis.call('HDEL', c, 'a:' .. id)
  redis.call('ZREM', e, id)
  local r = num(redis.call('HGET', c, 'r')) - tonumber(a)
  if redis.call('ZCARD', e) == 0 then r = 0 end
  redis.call('HSET', c, 'r', fmt(r))
  redis.call('PEXPIREAT', c, expireAt)
  return true
end
local function usage(c)
  local v = redis.call('HMGET', c, 'u', 'r')
  return num(v[1]) + num(v[2])
end
`;

/**
 * reserve. KEYS: c1, e1, …, cn, en, x. ARGV: id, now, expiresAt, force (0|1), slackMs, then per counter amount,
 * limit, windowEndMs. Returns { ok (1|0), index (1-based: blocked, or exceeded when forced; 0 = none), used…, settled… }
 * (settled: the counter's settled amount, without live reservations).
 */
export const RESERVE_LUA = `${COMMON}
local id, now, expiresAt, force, slack = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4] == '1', tonumber(ARGV[5])
local n = (#KEYS - 1) / 2
local x = KEYS[#KEYS]
local used, settled, out = {}, {}, {}
local first = 0
for i = 1, n do
  local c, e = KEYS[2 * i - 1], KEYS[2 * i]
  local amount, limit, wend = tonumber(ARGV[3 + 3 * i]), tonumber(ARGV[4 + 3 * i]), tonumber(ARGV[5 + 3 * i])
  used[i], settled[i] = 0, 0
  if now < wend then
    release(c, e, ARGV[2], fmt(wend + slack))
    used[i] = usage(c)
    settled[i] = num(redis.call('HGET', c, 'u'))
    if first == 0 and not fits(used[i], amount, limit) then first = i end
  end
end
local function reply(ok, index)
  out[1], out[2] = ok, tostring(index)
  for i = 1, n do out[i + 2] = fmt(used[i]) end
  for i = 1, n do out[n + i + 2] = fmt(settled[i]) end
  return out
end
if redis.call('EXISTS', x) == 1 then return reply('1', 0) end
if first > 0 and not force then return reply('0', first) end
local maxEnd = nil
for i = 1, n do
  local wend = tonumber(ARGV[5 + 3 * i])
  if now < wend then
    local c, e, amount = KEYS[2 * i - 1], KEYS[2 * i], ARGV[3 + 3 * i]
    local expireAt = fmt(wend + slack)
    redis.call('HSET', c, 'r', fmt(num(redis.call('HGET', c, 'r')) + tonumber(amount)), 'a:' .. id, amount)
    redis.call('ZADD', e, expiresAt, id)
    redis.call('PEXPIREAT', c, expireAt)
    redis.call('PEXPIREAT', e, expireAt)
    used[i] = used[i] + tonumber(amount)
    if not maxEnd or wend > maxEnd then maxEnd = wend end
  end
end
if maxEnd then redis.call('SET', x, 'R', 'PX', fmt(math.max(1, math.ceil(tonumber(expiresAt) - now)))) end
return reply('1', first)
`;

/**
 * settle. KEYS: c1, e1, …, cn, en, x. ARGV: id, now, slackMs, markerTtlMs, then per counter actual, windowEndMs.
 * Replaces the live reservation by the actual amount; a reservation already released is charged once; a settled
 * one (x = S) is left alone. Returns 1 when applied, 0 when already settled.
 */
export const SETTLE_LUA = `${COMMON}
local id, now, slack, markerTtl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local n = (#KEYS - 1) / 2
local x = KEYS[#KEYS]
if redis.call('GET', x) == 'S' then return 0 end
local any = false
for i = 1, n do
  local actual, wend = tonumber(ARGV[3 + 2 * i]), tonumber(ARGV[4 + 2 * i])
  if now < wend then
    local c, e = KEYS[2 * i - 1], KEYS[2 * i]
    local expireAt = fmt(wend + slack)
    release(c, e, ARGV[2], expireAt)
    unreserve(c, e, id, expireAt)
    redis.call('HSET', c, 'u', fmt(num(redis.call('HGET', c, 'u')) + actual))
    redis.call('PEXPIREAT', c, expireAt)
    any = true
  end
end
if any then redis.call('SET', x, 'S', 'PX', markerTtl) else redis.call('DEL', x) end
return 1
`;

/**
 * cancel (compensation of a multi-slot reserve). KEYS: c1, e1, …, cn, en, x. ARGV: id, slackMs, then per counter
 * windowEndMs. Removes the reservation without charging anything.
 */
export const CANCEL_LUA = `${COMMON}
local id, slack = ARGV[1], tonumber(ARGV[2])
local n = (#KEYS - 1) / 2
for i = 1, n do
  unreserve(KEYS[2 * i - 1], KEYS[2 * i], id, fmt(tonumber(ARGV[2 + i]) + slack))
end
redis.call('DEL', KEYS[#KEYS])
return 1
`;

/** peek. KEYS: c1, e1, …, cn, en. ARGV: now, slackMs, then per counter windowEndMs. Returns usage… (strings). */
export const PEEK_LUA = `${COMMON}
local now, slack = tonumber(ARGV[1]), tonumber(ARGV[2])
local out = {}
for i = 1, #KEYS / 2 do
  local c, e, wend = KEYS[2 * i - 1], KEYS[2 * i], tonumber(ARGV[2 + i])
  out[i] = '0'
  if now < wend then
    release(c, e, ARGV[1], fmt(wend + slack))
    out[i] = fmt(usage(c))
  end
end
return out
`;
