/**
 * The gauge's Lua scripts: one per operation, each one round trip, each atomic (Redis runs a
 * script alone). Layout under a scope prefix P (e.g. `cs:{c:<id>}:`), one hash tag per scope:
 *
 *   <gauge key>   hash  r = remain, t = total
 *   P policy      hash  open = 1|0, w:<window>:s / w:<window>:e = bounds (ms, '' = open),
 *                       l:<limit> = limit
 *   P i:<key>     string "<fingerprint>\n<opId>\n<remain,…>"   idempotency record (TTL)
 *   P o:<opId>    string JSON {k kind, s subject, f ref, a amount, c scope, v value, t at,
 *                               i = {{key, n, index, lazy}…} applied items, r = {remain…}, x = restoredAt}
 *   P ledger      stream  one entry per take / restore, drained into Postgres
 *   P holds       zset    holds not yet committed or given back, scored by expiry
 *   (a hold's operation record also has h = expiry, q = its idempotency record, m = committedAt)
 *
 * A take checks every item before it writes anything: no transient negative, no compensation.
 * Remains are returned as integers, -1 for an unlimited (skipped) item.
 */


/**
 * Lua shared by the scripts that give back (a restore, a release, an expired hold). Keys are
 * named from the scope prefix; they all carry the scope's hash tag, so they share its slot.
 */
const GIVE_BACK = `
-- Gives back what the operation took; nil when done, else a refusal. Marks it restored, takes
-- a hold off the scope's hold list (and frees its owner's key), and appends the ledger event.
local function give_back(prefix, opId, op, now)
  local present = {}
  for j, it in ipairs(op.i) do
    local r = redis.call('HGET', it[1], 'r')
    if r then
      if it[2] < 0 and tonumber(r) < -it[2] then return {'insufficient', it[3]} end
      present[j] = true
    elseif it[4] ~= 1 then
      return {'unavailable'}
    end
  end
  for j, it in ipairs(op.i) do
    if present[j] then redis.call('HINCRBY', it[1], 'r', it[2]) end
  end
  op.x = now
  if op.h then
    redis.call('ZREM', prefix .. 'holds', opId)
    if op.q then redis.call('DEL', op.q) end
  end
  redis.call('SET', prefix .. 'o:' .. opId, cjson.encode(op))
  redis.call('XADD', prefix .. 'ledger', '*', 'o', opId, 'a', 'restore', 'c', op.c, 'k', op.k, 's', op.s, 'f', op.f, 'n', op.a, 'v', op.v or '', 't', now)
  return nil
end

-- Gives back up to \`limit\` holds of the scope whose time is up (not committed); returns how many.
local function expire_holds(prefix, now, limit)
  local due = redis.call('ZRANGEBYSCORE', prefix .. 'holds', '-inf', now, 'LIMIT', 0, limit)
  for _, opId in ipairs(due) do
    local raw = redis.call('GET', prefix .. 'o:' .. opId)
    local op = raw and cjson.decode(raw)
    -- A hold that is gone, settled, or whose gauges are gone leaves the list either way.
    if not op or op.x or op.m or give_back(prefix, opId, op, now) then redis.call('ZREM', prefix .. 'holds', opId) end
  end
  return #due
end
`;

export const TAKE = `${GIVE_BACK}
--[[
KEYS[1]   policy hash of the scope
KEYS[2]   idempotency record of this request
KEYS[3]   operation record to create
KEYS[4]   ledger stream of the scope
KEYS[5..] item gauges, in item order (distinct keys)
ARGV[1]   window the policy must have open (issue | use)
ARGV[2]   now, ms since the epoch
ARGV[3]   id of the new operation
ARGV[4]   request fingerprint
ARGV[5]   idempotency record time to live, seconds
ARGV[6]   ledger kind
ARGV[7]   ledger subject (user id)
ARGV[8]   ledger ref (order id), '' for none
ARGV[9]   ledger amount
ARGV[10]  ledger scope (coupon id)
ARGV[11]  ledger value (what a value gauge gives up, e.g. money in minor units), '' for none
ARGV[12]  the scope's key prefix (its holds list, expired holds' records)
ARGV[13]  a hold: when it expires (ms since the epoch); '' for a plain take
ARGV[14..] four per item: n (> 0 taken, < 0 given, '' = not stated: refused if limited),
          policy limit name, lazy (1 | 0), expiry of a lazy gauge created here (ms since the
          epoch, '' = none)
Returns {'ok', opId, replayed 0|1, remain…, hold expiry (-1 = not a hold)} or {reason} or
{'insufficient' | 'unstated', index}
]]
-- Holds whose time is up give their stock back first, so this take can have it.
expire_holds(ARGV[12], tonumber(ARGV[2]), 10)
local rec = redis.call('GET', KEYS[2])
if rec then
  local fp, op, remains = string.match(rec, '^([^\\n]*)\\n([^\\n]*)\\n(.*)$')
  if fp ~= ARGV[4] then return {'conflict'} end
  local out = {'ok', op, 1}
  for v in string.gmatch(remains, '[^,]+') do out[#out + 1] = tonumber(v) end
  local first = ARGV[13] ~= '' and redis.call('GET', ARGV[12] .. 'o:' .. op)
  out[#out + 1] = first and (cjson.decode(first).h or -1) or -1
  return out
end
local count = #KEYS - 4
local fields = {'open', 'w:' .. ARGV[1] .. ':s', 'w:' .. ARGV[1] .. ':e'}
for i = 1, count do fields[#fields + 1] = 'l:' .. ARGV[13 + (i - 1) * 4 + 2] end
local p = redis.call('HMGET', KEYS[1], unpack(fields))
if not p[1] then return {'unavailable'} end
if p[1] ~= '1' then return {'closed'} end
local now = tonumber(ARGV[2])
if p[2] and p[2] ~= '' and now < tonumber(p[2]) then return {'not_started'} end
if p[3] and p[3] ~= '' and now >= tonumber(p[3]) then return {'ended'} end
local plan = {}
for i = 1, count do
  local base = 13 + (i - 1) * 4
  local n = tonumber(ARGV[base + 1])
  local limit = p[3 + i]
  if limit and not n then return {'unstated', i - 1} end
  if limit then
    local r = redis.call('HGET', KEYS[4 + i], 'r')
    local fresh = false
    if not r then
      if ARGV[base + 3] ~= '1' then return {'unavailable'} end
      r = limit
      fresh = true
    end
    r = tonumber(r)
    if n > 0 and r < n then return {'insufficient', i - 1} end
    plan[i] = {r - n, fresh, tonumber(limit), n, ARGV[base + 3] == '1', ARGV[base + 4]}
  else
    plan[i] = false
  end
end
local out = {'ok', ARGV[3], 0}
local remains = {}
local items = {}
for i = 1, count do
  local step = plan[i]
  if step then
    if step[2] then
      redis.call('HSET', KEYS[4 + i], 'r', step[1], 't', step[3])
      if step[6] ~= '' then redis.call('PEXPIREAT', KEYS[4 + i], step[6]) end
    else
      redis.call('HSET', KEYS[4 + i], 'r', step[1])
    end
    remains[i] = step[1]
    items[#items + 1] = {KEYS[4 + i], step[4], i - 1, step[5] and 1 or 0}
  else
    remains[i] = -1
  end
  out[#out + 1] = remains[i]
end
local record = {k = ARGV[6], s = ARGV[7], f = ARGV[8], a = tonumber(ARGV[9]), c = ARGV[10], v = ARGV[11], t = now, i = items, r = remains}
if ARGV[13] ~= '' then
  -- A hold: on the scope's list by expiry, and its idempotency record goes with it.
  record.h = tonumber(ARGV[13])
  record.q = KEYS[2]
  redis.call('ZADD', ARGV[12] .. 'holds', record.h, ARGV[3])
end
out[#out + 1] = record.h or -1
redis.call('SET', KEYS[3], cjson.encode(record))
redis.call('SET', KEYS[2], ARGV[4] .. '\\n' .. ARGV[3] .. '\\n' .. table.concat(remains, ','), 'EX', ARGV[5])
redis.call('XADD', KEYS[4], '*', 'o', ARGV[3], 'a', 'take', 'c', ARGV[10], 'k', ARGV[6], 's', ARGV[7], 'f', ARGV[8], 'n', ARGV[9], 'v', ARGV[11], 't', ARGV[2])
return out
`;

export const RESTORE = `${GIVE_BACK}
--[[
KEYS[1]  policy hash of the scope (its presence says the scope is live)
KEYS[2]  operation record
KEYS[3]  ledger stream of the scope
ARGV[1]  kind the operation must have
ARGV[2]  now, ms since the epoch
ARGV[3]  operation id
ARGV[4]  'any': any take of that kind; 'hold': a release, only of a hold not yet committed
ARGV[5]  the scope's key prefix
The item gauges are named inside the operation record; they share the scope's hash tag, so
they live in the same cluster slot as the declared keys. A lazy item whose gauge is gone (a
period that ended) is skipped; a missing required gauge is 'unavailable'.
Returns {'ok', restored 0|1, kind, subject, ref, amount, at, restoredAt, scope, remain…}
or {'not_found'} | {'unavailable'} | {'committed'} | {'insufficient', index}
]]
local raw = redis.call('GET', KEYS[2])
if not raw then return {'not_found'} end
local op = cjson.decode(raw)
if op.k ~= ARGV[1] then return {'not_found'} end
if ARGV[4] == 'hold' and not op.h then return {'not_found'} end
if ARGV[4] == 'hold' and op.m then return {'committed'} end
if redis.call('EXISTS', KEYS[1]) == 0 then return {'unavailable'} end
local restored = 0
if not op.x then
  local refusal = give_back(ARGV[5], ARGV[3], op, tonumber(ARGV[2]))
  if refusal then return refusal end
  restored = 1
end
local out = {'ok', restored, op.k, op.s, op.f, op.a, op.t, op.x, op.c}
local remains = {}
for i = 1, #op.r do remains[i] = -1 end
for _, it in ipairs(op.i) do
  local r = redis.call('HGET', it[1], 'r')
  remains[it[3] + 1] = r and tonumber(r) or -1
end
for i = 1, #remains do out[#out + 1] = remains[i] end
return out
`;

export const COMMIT = `${GIVE_BACK}
--[[
KEYS[1]  policy hash of the scope
KEYS[2]  operation record of the hold
ARGV[1]  now, ms since the epoch
ARGV[2]  operation id
ARGV[3]  the scope's key prefix
Makes a hold a use for good: off the expiry list, never given back by time. A hold whose time
is up is given back now instead.
Returns {'ok', committed now 0|1, subject, ref} | {'not_found'} | {'expired'} | {'unavailable'}
]]
local raw = redis.call('GET', KEYS[2])
if not raw then return {'not_found'} end
local op = cjson.decode(raw)
if not op.h then return {'not_found'} end
if op.x then return {'expired'} end
if op.m then return {'ok', 0, op.s, op.f} end
if redis.call('EXISTS', KEYS[1]) == 0 then return {'unavailable'} end
local now = tonumber(ARGV[1])
if op.h <= now then
  if give_back(ARGV[3], ARGV[2], op, now) then redis.call('ZREM', ARGV[3] .. 'holds', ARGV[2]) end
  return {'expired'}
end
op.m = now
redis.call('ZREM', ARGV[3] .. 'holds', ARGV[2])
redis.call('SET', KEYS[2], cjson.encode(op))
return {'ok', 1, op.s, op.f}
`;

export const EXPIRE_HOLDS = `${GIVE_BACK}
--[[
KEYS[1]  the scope's holds list (sorted by expiry)
ARGV[1]  the scope's key prefix
ARGV[2]  now, ms since the epoch
ARGV[3]  most holds to give back in this call
Returns how many holds whose time was up were taken off the list.
]]
return expire_holds(ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]))
`;

export const ADJUST = `
--[[
KEYS[1]  gauge
ARGV[1]  delta added to total and remain
Returns {'ok', total, remain} | {'unavailable'} | {'below_zero'}
]]
local g = redis.call('HMGET', KEYS[1], 'r', 't')
if not g[1] then return {'unavailable'} end
local d = tonumber(ARGV[1])
local r = tonumber(g[1]) + d
if r < 0 then return {'below_zero'} end
local t = tonumber(g[2] or g[1]) + d
redis.call('HSET', KEYS[1], 'r', r, 't', t)
return {'ok', t, r}
`;

export const LOAD = `
--[[
KEYS[i]      gauges to create when absent
ARGV[3i-2]   total of KEYS[i]
ARGV[3i-1]   remain of KEYS[i]
ARGV[3i]     expiry of KEYS[i], ms since the epoch ('' = none)
Returns how many gauges were created; existing ones are left untouched.
]]
local created = 0
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then
    redis.call('HSET', KEYS[i], 'r', ARGV[3 * i - 1], 't', ARGV[3 * i - 2])
    if ARGV[3 * i] ~= '' then redis.call('PEXPIREAT', KEYS[i], ARGV[3 * i]) end
    created = created + 1
  end
end
return created
`;

export const READ = `
--[[
KEYS[i]  gauges to read
Returns {total1, remain1, total2, remain2, …}, -1 -1 for a missing gauge.
]]
local out = {}
for i = 1, #KEYS do
  local g = redis.call('HMGET', KEYS[i], 't', 'r')
  out[#out + 1] = g[2] and tonumber(g[1] or g[2]) or -1
  out[#out + 1] = g[2] and tonumber(g[2]) or -1
end
return out
`;

export const SET_POLICY = `
--[[
KEYS[1]  policy hash, replaced as a whole
ARGV     field, value, field, value, …
]]
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
`;

export const SET_OPEN = `
--[[
KEYS[1]  policy hash
ARGV[1]  1 = open, 0 = closed
Returns 1, or 0 when the policy is missing (nothing is created).
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'open', ARGV[1])
return 1
`;

export const GET_POLICY = `
--[[
KEYS[1]  policy hash
Returns its fields and values, flat (empty when missing).
]]
return redis.call('HGETALL', KEYS[1])
`;

export const LEDGER_READ = `
--[[
KEYS[1]  ledger stream
ARGV[1]  most entries to return
Returns the oldest entries: {{id, {field, value, …}}, …}
]]
return redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', ARGV[1])
`;
