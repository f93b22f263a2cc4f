import { GIVE_BACK } from './give-back.js';

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
  local fp, op, remains = string.match(rec, '^([^\\n]*)\\n([^\\n]*)\\n(.*)$')
  if fp ~= ARGV[4] then return {'conflict'} end
  local hold = -1
  if ARGV[13] ~= '' then
    local first = redis.call('GET', prefix .. 'o:' .. op)
    local o = first and cjson.decode(first)
    -- A hold whose time is up but which could not be given back yet is no hold to hand out again.
    if o and o.h and not o.m and not o.x and o.h <= now then return {'unsettled'} end
    hold = o and o.h or -1
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
redis.call('SET', KEYS[2], ARGV[4] .. '\\n' .. ARGV[3] .. '\\n' .. table.concat(remains, ','), 'EX', ARGV[5])
redis.call('XADD', KEYS[4], '*', 'o', ARGV[3], 'a', 'take', 'c', ARGV[10], 'k', ARGV[6], 's', ARGV[7], 'f', ARGV[8], 'n', ARGV[9], 'v', ARGV[11], 't', ARGV[2])
return out
`;
