/**
 * The gauge's Lua scripts: one per operation, each one round trip, each atomic (Redis runs a
 * script alone). Layout under a scope prefix P (e.g. `cs:{c:<id>}:`), one hash tag per scope:
 *
 *   <gauge key>   hash  r = remain, t = total, v = adjusts so far
 *   P policy      hash  open = 1|0, v = version of the open flag, sealed = 1 (archived),
 *                       w:<window>:s / w:<window>:e = bounds (ms, '' = open), l:<limit> = limit,
 *                       e = 1 once P markers exists, lost = 1 when a take found a lost gauge,
 *                       nh = how many holds P holds lists (a list that is gone is found lost)
 *   P markers     hash  <gauge key> = its expiry (ms, '0' = none) for every lazily created or
 *                       loaded gauge: a lazy gauge that is missing but marked was lost (evicted,
 *                       a failover), never "nothing taken yet"
 *   P a:<opId>    string "<fingerprint>\n<total>,<remain>,<version>"  an adjust, replayed (TTL)
 *   P i:<key>     string "<fingerprint>\n<opId>\n<remain,…>[\n<hold expiry>]"   idempotency record (TTL)
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
-- Was this missing lazy gauge lost (it existed, and its time is not up), rather than never made?
local function lost(prefix, key, now, marked)
  local markers = prefix .. 'markers'
  local m = redis.call('HGET', markers, key)
  if m then return m == '0' or now < tonumber(m) end
  -- The markers themselves are gone while the policy says they were made: everything may be lost.
  return marked and redis.call('EXISTS', markers) == 0
end

-- Records that a lost gauge was found: the schedule rebuilds the scope from the ledger.
local function report_lost(prefix)
  redis.call('HSET', prefix .. 'policy', 'lost', '1')
end

-- Takes a hold off the scope's list, keeping the policy's count of listed holds.
local function unlist(prefix, opId)
  if redis.call('ZREM', prefix .. 'holds', opId) == 1 then redis.call('HINCRBY', prefix .. 'policy', 'nh', -1) end
end

-- Is the hold list gone (or short) while the policy counts holds on it? Then holds whose time
-- is up cannot be found: nothing may be refused until a rebuild lists them again.
local function holds_lost(prefix)
  local nh = tonumber(redis.call('HGET', prefix .. 'policy', 'nh') or '0')
  if nh > 0 and redis.call('ZCARD', prefix .. 'holds') < nh then
    report_lost(prefix)
    return true
  end
  return false
end

-- Gives back what the operation took; nil when done, else a refusal. Marks it restored, takes
-- a hold off the scope's hold list (and frees its owner's key), and appends the ledger event.
-- \`sealing\`: the scope is being archived, so a lazy gauge that is gone (a per-user count, a
-- period's cap) is skipped even if it was lost: it dies with the scope, and only the stock and
-- budget gauges, which must be there, carry into the archived books.
local function give_back(prefix, opId, op, now, sealing)
  local present = {}
  local marked = redis.call('HGET', prefix .. 'policy', 'e') == '1'
  for j, it in ipairs(op.i) do
    local r = redis.call('HGET', it[1], 'r')
    if r then
      if it[2] < 0 and tonumber(r) < -it[2] then return {'insufficient', it[3]} end
      present[j] = true
    elseif it[4] ~= 1 then
      return {'unavailable'}
    elseif not sealing and lost(prefix, it[1], now, marked) then
      report_lost(prefix)
      return {'unavailable'}
    end
  end
  for j, it in ipairs(op.i) do
    if present[j] then redis.call('HINCRBY', it[1], 'r', it[2]) end
  end
  op.x = now
  if op.h then
    unlist(prefix, opId)
    -- Frees the owner's key so it may hold again. Not when sealing a hold that still stood: no
    -- one holds again there, and a hold whose answer was lost before the archive replays its 201
    -- when retried after it. (One whose time was up is answered as if a sweep had given it back.)
    if op.q and not (sealing and op.h > now) then redis.call('DEL', op.q) end
  end
  redis.call('SET', prefix .. 'o:' .. opId, cjson.encode(op))
  redis.call('XADD', prefix .. 'ledger', '*', 'o', opId, 'a', 'restore', 'c', op.c, 'k', op.k, 's', op.s, 'f', op.f, 'n', op.a, 'v', op.v or '', 't', now)
  return nil
end

-- Gives back holds of the scope: the first \`limit\` on the list whose expiry is at or before
-- \`upto\`. A hold whose record is gone or settled leaves the list; one that cannot be given back
-- (a gauge it touches is missing) stays on it until a rebuild brings the gauge back.
-- Returns how many were given back and how many could not be.
local function give_back_holds(prefix, now, upto, limit, sealing)
  local due = redis.call('ZRANGEBYSCORE', prefix .. 'holds', '-inf', upto, 'LIMIT', 0, limit)
  local given, stuck = 0, 0
  for _, opId in ipairs(due) do
    local raw = redis.call('GET', prefix .. 'o:' .. opId)
    local op = raw and cjson.decode(raw)
    if not op or op.x or op.m then
      unlist(prefix, opId)
    elseif give_back(prefix, opId, op, now, sealing) then
      stuck = stuck + 1
    else
      given = given + 1
    end
  end
  return given, stuck
end

-- Are there holds whose time is up still on the list (not yet given back), or is the list lost?
local function unsettled(prefix, now)
  return redis.call('ZCOUNT', prefix .. 'holds', '-inf', now) > 0 or holds_lost(prefix)
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
ARGV[12]  the scope's key prefix (its holds list, markers, expired holds' records)
ARGV[13]  a hold: when it expires (ms since the epoch); '' for a plain take
ARGV[14..] four per item: n (> 0 taken, < 0 given, '' = not stated: refused if limited),
          policy limit name, lazy (1 | 0), expiry of a lazy gauge created here (ms since the
          epoch, '' = none)
Returns {'ok', opId, replayed 0|1, remain…, hold expiry (-1 = not a hold)} or {reason} or
{'insufficient' | 'unstated', index}
]]
local now = tonumber(ARGV[2])
local prefix = ARGV[12]
local count = #KEYS - 4
local fields = {'open', 'sealed', 'e', 'w:' .. ARGV[1] .. ':s', 'w:' .. ARGV[1] .. ':e'}
for i = 1, count do fields[#fields + 1] = 'l:' .. ARGV[13 + (i - 1) * 4 + 2] end
local p = redis.call('HMGET', KEYS[1], unpack(fields))
local sealed = p[2] == '1'
-- Holds whose time is up give their stock back first, so this take can have it. A sealed scope
-- changes no more (its archive gave every hold back).
if p[1] and not sealed then give_back_holds(prefix, now, now, 1000) end
local rec = redis.call('GET', KEYS[2])
if rec then
  local fp, op, remains, expiry = string.match(rec, '^([^\\n]*)\\n([^\\n]*)\\n([^\\n]*)\\n?(.*)$')
  if fp ~= ARGV[4] then return {'conflict'} end
  local hold = -1
  if ARGV[13] ~= '' then
    local first = redis.call('GET', prefix .. 'o:' .. op)
    local o = first and cjson.decode(first)
    -- The hold's record is gone while its scope lives: lost (it is not rebuilt), so whether the
    -- hold stands and until when is unknown. Fail closed. (An archive drops the records it sealed.)
    if not o and not sealed then return {'unavailable'} end
    -- A hold whose time is up but which could not be given back yet is no hold to hand out again.
    if o and o.h and not o.m and not o.x and o.h <= now then return {'unsettled'} end
    hold = (o and o.h) or tonumber(expiry) or -1
  end
  local out = {'ok', op, 1}
  for v in string.gmatch(remains, '[^,]+') do out[#out + 1] = tonumber(v) end
  out[#out + 1] = hold
  return out
end
if not p[1] then return {'unavailable'} end
if sealed then return {'sealed'} end
if p[1] ~= '1' then return {'closed'} end
if p[4] and p[4] ~= '' and now < tonumber(p[4]) then return {'not_started'} end
if p[5] and p[5] ~= '' and now >= tonumber(p[5]) then return {'ended'} end
local marked = p[3] == '1'
local plan = {}
for i = 1, count do
  local base = 13 + (i - 1) * 4
  local n = tonumber(ARGV[base + 1])
  local limit = p[5 + i]
  if limit and not n then return {'unstated', i - 1} end
  if limit then
    local r = redis.call('HGET', KEYS[4 + i], 'r')
    local fresh = false
    if not r then
      if ARGV[base + 3] ~= '1' then return {'unavailable'} end
      -- A lazy gauge that existed and is gone must not read as "nothing taken yet".
      if lost(prefix, KEYS[4 + i], now, marked) then
        report_lost(prefix)
        return {'unavailable'}
      end
      r = limit
      fresh = true
    end
    r = tonumber(r)
    if n > 0 and r < n then
      -- Refusing while expired holds still wait to be given back could be a false sell-out.
      if unsettled(prefix, now) then return {'unsettled'} end
      return {'insufficient', i - 1}
    end
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
      redis.call('HSET', prefix .. 'markers', KEYS[4 + i], step[6] ~= '' and step[6] or '0')
      if not marked then
        redis.call('HSET', KEYS[1], 'e', '1')
        marked = true
      end
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
  if redis.call('ZADD', prefix .. 'holds', record.h, ARGV[3]) == 1 then redis.call('HINCRBY', KEYS[1], 'nh', 1) end
end
out[#out + 1] = record.h or -1
redis.call('SET', KEYS[3], cjson.encode(record))
redis.call('SET', KEYS[2], ARGV[4] .. '\\n' .. ARGV[3] .. '\\n' .. table.concat(remains, ',') .. (record.h and ('\\n' .. record.h) or ''), 'EX', ARGV[5])
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
period that ended) is skipped; a missing required gauge, or a lazy one that was lost, is
'unavailable'. A sealed scope gives nothing back ('sealed'); an operation given back already
answers as it is.
Returns {'ok', restored 0|1, kind, subject, ref, amount, at, restoredAt, scope, remain…}
or {'not_found'} | {'not_hold'} (a release of a plain take) | {'unavailable'} | {'sealed'} |
{'committed'} | {'insufficient', index}
]]
local raw = redis.call('GET', KEYS[2])
if not raw then return {'not_found'} end
local op = cjson.decode(raw)
if op.k ~= ARGV[1] then return {'not_found'} end
if ARGV[4] == 'hold' and not op.h then return {'not_hold'} end
if ARGV[4] == 'hold' and op.m then return {'committed'} end
local restored = 0
if not op.x then
  local p = redis.call('HMGET', KEYS[1], 'open', 'sealed')
  if not p[1] then return {'unavailable'} end
  if p[2] == '1' then return {'sealed'} end
  local now = tonumber(ARGV[2])
  -- Holds whose time is up give back first (this one too, if it is one): a cancel refused
  -- because a dead hold still holds the user's coupon would be a false refusal.
  give_back_holds(ARGV[5], now, now, 1000)
  op = cjson.decode(redis.call('GET', KEYS[2]))
end
if not op.x then
  local refusal = give_back(ARGV[5], ARGV[3], op, tonumber(ARGV[2]))
  if refusal and refusal[1] == 'insufficient' and unsettled(ARGV[5], tonumber(ARGV[2])) then return {'unavailable'} end
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
is up is given back now instead (it stays on the list when a gauge it touches is missing, for
the sweep after a rebuild).
Returns {'ok', committed now 0|1, subject, ref} | {'not_found'} | {'not_hold'} (a plain take) |
{'expired'} | {'unavailable'} | {'sealed'}
]]
local raw = redis.call('GET', KEYS[2])
if not raw then return {'not_found'} end
local op = cjson.decode(raw)
if not op.h then return {'not_hold'} end
-- Sealed first: an archived scope changes no more, whatever became of the hold.
local p = redis.call('HMGET', KEYS[1], 'open', 'sealed')
if p[2] == '1' then return {'sealed'} end
if op.x then return {'expired'} end
if op.m then return {'ok', 0, op.s, op.f} end
if not p[1] then return {'unavailable'} end
local now = tonumber(ARGV[1])
if op.h <= now then
  give_back(ARGV[3], ARGV[2], op, now)
  return {'expired'}
end
op.m = now
unlist(ARGV[3], ARGV[2])
redis.call('SET', KEYS[2], cjson.encode(op))
return {'ok', 1, op.s, op.f}
`;

export const EXPIRE_HOLDS = `${GIVE_BACK}
--[[
KEYS[1]  the scope's policy hash
ARGV[1]  the scope's key prefix
ARGV[2]  now, ms since the epoch
ARGV[3]  most holds to look at in this call
Returns {given back, could not be given back}; nothing in a sealed scope (its archive did it).
]]
if redis.call('HGET', KEYS[1], 'sealed') == '1' then return {0, 0} end
local now = tonumber(ARGV[2])
-- A hold list that is gone is reported, so the schedule lists its holds again.
holds_lost(ARGV[1])
local given, stuck = give_back_holds(ARGV[1], now, now, tonumber(ARGV[3]))
return {given, stuck}
`;

export const SEAL = `${GIVE_BACK}
--[[
KEYS[1]  the scope's policy hash
ARGV[1]  the scope's key prefix
ARGV[2]  now, ms since the epoch
ARGV[3]  most holds to give back in this call
Closes the scope for good: every later take, restore, commit, adjust and sweep is refused, so a
drain after this sees every change. Holds still standing can never be committed now: they are
given back (the first ARGV[3] on the list; call again while some were given). A hold list that
is gone (the policy counts more holds than it lists) is reported and nothing is sealed: the
caller lists the holds again from their records first, else they could never be given back.
Returns {found 1|0, given back, could not be given back} | {2, 0, 0} when the hold list is lost
]]
if not redis.call('HGET', KEYS[1], 'open') then return {0, 0, 0} end
if holds_lost(ARGV[1]) then return {2, 0, 0} end
redis.call('HSET', KEYS[1], 'open', '0', 'sealed', '1')
local given, stuck = give_back_holds(ARGV[1], tonumber(ARGV[2]), '+inf', tonumber(ARGV[3]), true)
return {1, given, stuck}
`;

export const ADJUST = `
--[[
KEYS[1]  gauge
KEYS[2]  the scope's policy hash
KEYS[3]  this adjust's record (replayed while it lives)
ARGV[1]  delta added to total and remain
ARGV[2]  fingerprint of the request (stock and delta)
ARGV[3]  record time to live, seconds
Returns {'ok', total, remain, version, replayed 0|1} | {'unavailable'} | {'sealed'} |
{'below_zero'} | {'conflict'}
]]
local rec = redis.call('GET', KEYS[3])
if rec then
  local fp, t, r, v = string.match(rec, '^([^\\n]*)\\n([^,]*),([^,]*),(.*)$')
  if fp ~= ARGV[2] then return {'conflict'} end
  return {'ok', tonumber(t), tonumber(r), tonumber(v), 1}
end
local p = redis.call('HMGET', KEYS[2], 'open', 'sealed')
if not p[1] then return {'unavailable'} end
if p[2] == '1' then return {'sealed'} end
local g = redis.call('HMGET', KEYS[1], 'r', 't', 'v')
if not g[1] then return {'unavailable'} end
local d = tonumber(ARGV[1])
local r = tonumber(g[1]) + d
if r < 0 then return {'below_zero'} end
local t = tonumber(g[2] or g[1]) + d
local v = tonumber(g[3] or '0') + 1
redis.call('HSET', KEYS[1], 'r', r, 't', t, 'v', v)
redis.call('SET', KEYS[3], ARGV[2] .. '\\n' .. t .. ',' .. r .. ',' .. v, 'EX', ARGV[3])
return {'ok', t, r, v, 0}
`;

export const LOAD = `
--[[
KEYS[1]      the scope's policy hash
KEYS[2]      the scope's markers hash
KEYS[i+2]    gauges to create when absent
ARGV[4i-3]   total of KEYS[i+2]
ARGV[4i-2]   remain of KEYS[i+2]
ARGV[4i-1]   expiry of KEYS[i+2], ms since the epoch ('' = none)
ARGV[4i]     adjust version of KEYS[i+2]
Every gauge is marked (a lazy one missing later was lost); a sealed scope loads nothing.
Returns how many gauges were created (-1 when sealed); existing ones are left untouched.
]]
if redis.call('HGET', KEYS[1], 'sealed') == '1' then return -1 end
local created = 0
for i = 3, #KEYS do
  local a = 4 * (i - 2)
  if redis.call('EXISTS', KEYS[i]) == 0 then
    redis.call('HSET', KEYS[i], 'r', ARGV[a - 2], 't', ARGV[a - 3], 'v', ARGV[a])
    if ARGV[a - 1] ~= '' then redis.call('PEXPIREAT', KEYS[i], ARGV[a - 1]) end
    created = created + 1
  end
  redis.call('HSETNX', KEYS[2], KEYS[i], ARGV[a - 1] ~= '' and ARGV[a - 1] or '0')
end
if #KEYS > 2 and redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'e', '1') end
return created
`;

export const READ = `
--[[
KEYS[i]  gauges to read
Returns {total1, remain1, version1, total2, …}, -1 -1 -1 for a missing gauge.
]]
local out = {}
for i = 1, #KEYS do
  local g = redis.call('HMGET', KEYS[i], 't', 'r', 'v')
  out[#out + 1] = g[2] and tonumber(g[1] or g[2]) or -1
  out[#out + 1] = g[2] and tonumber(g[2]) or -1
  out[#out + 1] = g[2] and tonumber(g[3] or '0') or -1
end
return out
`;

export const SET_POLICY = `
--[[
KEYS[1]  policy hash
KEYS[2]  the scope's markers hash
ARGV[1]  version of the open flag below
ARGV[2]  open: 1 | 0
ARGV[3..] field, value, … (windows and limits; they replace the stored ones)
The open flag is written only when ARGV[1] is not older than the stored version; a sealed
policy is left as it is. 'lost' is cleared (this is what a rebuild writes last).
Returns 1, or 0 when sealed.
]]
local cur = redis.call('HMGET', KEYS[1], 'sealed', 'v', 'open', 'nh')
if cur[1] == '1' then return 0 end
local version, open = tonumber(ARGV[1]), ARGV[2]
if cur[2] and tonumber(cur[2]) > version then
  version, open = tonumber(cur[2]), cur[3]
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'open', open, 'v', version, unpack(ARGV, 3))
if cur[4] then redis.call('HSET', KEYS[1], 'nh', cur[4]) end
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('HSET', KEYS[1], 'e', '1') end
return 1
`;

export const SET_OPEN = `
--[[
KEYS[1]  policy hash
ARGV[1]  1 = open, 0 = closed
ARGV[2]  version of this flag (the owner's status version)
Returns 'ok', 'stale' (a newer version is stored), 'missing' (nothing is created) or 'sealed'.
]]
local p = redis.call('HMGET', KEYS[1], 'open', 'sealed', 'v')
if not p[1] then return 'missing' end
if p[2] == '1' then return 'sealed' end
if p[3] and tonumber(p[3]) > tonumber(ARGV[2]) then return 'stale' end
redis.call('HSET', KEYS[1], 'open', ARGV[1], 'v', ARGV[2])
return 'ok'
`;

export const DROP_POLICY = `
--[[
KEYS[1]  policy hash
ARGV[1]  how long a sealed policy stays as a tombstone, seconds
A sealed policy stays (so a rebuild racing the archive cannot bring the scope back), else it goes.
]]
if redis.call('HGET', KEYS[1], 'sealed') == '1' then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  return 1
end
redis.call('DEL', KEYS[1])
return 0
`;

export const RELIST_HOLDS = `
--[[
KEYS[1]   the scope's policy hash
KEYS[2]   the scope's hold list
ARGV[1]   the scope's key prefix (its operation records)
ARGV[2..] ids of operations that may be holds
Recovery, after the hold list was lost: lists again every one of them that is a hold still
standing (not given back, not committed), and sets the policy's count to what the list holds.
Returns the count.
]]
for i = 2, #ARGV do
  local raw = redis.call('GET', ARGV[1] .. 'o:' .. ARGV[i])
  local op = raw and cjson.decode(raw)
  if op and op.h and not op.x and not op.m then redis.call('ZADD', KEYS[2], op.h, ARGV[i]) end
end
local n = redis.call('ZCARD', KEYS[2])
redis.call('HSET', KEYS[1], 'nh', n)
return n
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
