/**
 * The take: the hot path's one round trip. Every argument is read once into a named local and
 * every item into a named table at the top, so the body reads by name, never by an offset.
 */
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
Reply, a Redis array:
  taken     {'ok', opId, replayed 0|1, remain of item 1, …, remain of item n, hold expiry}
            a remain is -1 for an item the policy does not limit; hold expiry -1 = not a hold;
            a replay answers the first take's opId, remains and hold expiry
  refused   {reason}: 'unavailable' (no policy, a required gauge missing, a lazy one lost) |
            'sealed' | 'closed' | 'not_started' | 'ended' | 'conflict' (same key, other
            fingerprint) | 'unsettled' (expired holds wait to be given back)
  short     {'insufficient' | 'unstated', index, limit}: the item that fell short (or did not
            state its n), by its 0-based place in KEYS[5..] and by the policy limit it enforces
]]
local policyKey, idempotencyKey, opKey, ledgerKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local window, now, opId, fingerprint, idempotencyTtl = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]
local kind, subject, ref, amount, scope, value = ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11]
local prefix, holdUntil = ARGV[12], ARGV[13]

-- The items: gauge key, n (nil when not stated), the policy limit it enforces, whether a
-- missing gauge starts at that limit (lazy), and when a gauge created here expires ('' = never).
local ITEM_KEYS, ITEM_ARGS, ARGS_PER_ITEM = 4, 13, 4
local items = {}
for i = 1, #KEYS - ITEM_KEYS do
  local a = ITEM_ARGS + (i - 1) * ARGS_PER_ITEM
  items[i] = {key = KEYS[ITEM_KEYS + i], n = tonumber(ARGV[a + 1]), limit = ARGV[a + 2], lazy = ARGV[a + 3] == '1', expiry = ARGV[a + 4]}
end

-- One read of the policy: its flags, the window's bounds, then each item's limit.
local POLICY_FIELDS = 5
local fields = {'open', 'sealed', 'e', 'w:' .. window .. ':s', 'w:' .. window .. ':e'}
for i, item in ipairs(items) do fields[POLICY_FIELDS + i] = 'l:' .. item.limit end
local policy = redis.call('HMGET', policyKey, unpack(fields))
local open, sealed, marked = policy[1], policy[2] == '1', policy[3] == '1'
local windowStart, windowEnd = policy[4], policy[5]

-- Holds whose time is up give their stock back first, so this take can have it. A sealed scope
-- changes no more (its archive gave every hold back).
if open and not sealed then give_back_holds(prefix, now, now, 1000) end

-- A retry: the first answer, as it was (a hold's expiry read from its record).
local record = redis.call('GET', idempotencyKey)
if record then
  local firstFingerprint, firstOpId, firstRemains = string.match(record, '^([^\\n]*)\\n([^\\n]*)\\n(.*)$')
  if firstFingerprint ~= fingerprint then return {'conflict'} end
  local holdExpiry = -1
  if holdUntil ~= '' then
    local raw = redis.call('GET', prefix .. 'o:' .. firstOpId)
    local first = raw and cjson.decode(raw)
    -- A hold whose time is up but which could not be given back yet is no hold to hand out again.
    if first and first.h and not first.m and not first.x and first.h <= now then return {'unsettled'} end
    holdExpiry = first and first.h or -1
  end
  local reply = {'ok', firstOpId, 1}
  for remain in string.gmatch(firstRemains, '[^,]+') do reply[#reply + 1] = tonumber(remain) end
  reply[#reply + 1] = holdExpiry
  return reply
end

if not open then return {'unavailable'} end
if sealed then return {'sealed'} end
if open ~= '1' then return {'closed'} end
if windowStart and windowStart ~= '' and now < tonumber(windowStart) then return {'not_started'} end
if windowEnd and windowEnd ~= '' and now >= tonumber(windowEnd) then return {'ended'} end

-- Check every item before writing anything: no transient negative, no compensation. An item
-- whose limit the policy lacks is unlimited and skipped (item.remain stays nil).
for i, item in ipairs(items) do
  local limit = policy[POLICY_FIELDS + i]
  if limit then
    if not item.n then return {'unstated', i - 1, item.limit} end
    local remain = redis.call('HGET', item.key, 'r')
    if not remain then
      if not item.lazy then return {'unavailable'} end
      -- A lazy gauge that existed and is gone must not read as "nothing taken yet".
      if lost(prefix, item.key, now, marked) then
        report_lost(prefix)
        return {'unavailable'}
      end
      remain = limit
      item.fresh = true
    end
    remain = tonumber(remain)
    if item.n > 0 and remain < item.n then
      -- Refusing while expired holds still wait to be given back could be a false sell-out.
      if unsettled(prefix, now) then return {'unsettled'} end
      return {'insufficient', i - 1, item.limit}
    end
    item.remain = remain - item.n
    item.total = tonumber(limit)
  end
end

-- Write every item; the operation record keeps each applied item as the tuple
-- {key, n, index, lazy} that the give-back scripts read (a stored format).
local reply = {'ok', opId, 0}
local remains = {}
local applied = {}
for i, item in ipairs(items) do
  if item.remain then
    if item.fresh then
      redis.call('HSET', item.key, 'r', item.remain, 't', item.total)
      if item.expiry ~= '' then redis.call('PEXPIREAT', item.key, item.expiry) end
      redis.call('HSET', prefix .. 'markers', item.key, item.expiry ~= '' and item.expiry or '0')
      if not marked then
        redis.call('HSET', policyKey, 'e', '1')
        marked = true
      end
    else
      redis.call('HSET', item.key, 'r', item.remain)
    end
    remains[i] = item.remain
    applied[#applied + 1] = {item.key, item.n, i - 1, item.lazy and 1 or 0}
  else
    remains[i] = -1
  end
  reply[#reply + 1] = remains[i]
end
local op = {k = kind, s = subject, f = ref, a = tonumber(amount), c = scope, v = value, t = now, i = applied, r = remains}
if holdUntil ~= '' then
  -- A hold: on the scope's list by expiry, and its idempotency record goes with it.
  op.h = tonumber(holdUntil)
  op.q = idempotencyKey
  if redis.call('ZADD', prefix .. 'holds', op.h, opId) == 1 then redis.call('HINCRBY', policyKey, 'nh', 1) end
end
reply[#reply + 1] = op.h or -1
redis.call('SET', opKey, cjson.encode(op))
redis.call('SET', idempotencyKey, fingerprint .. '\\n' .. opId .. '\\n' .. table.concat(remains, ','), 'EX', idempotencyTtl)
redis.call('XADD', ledgerKey, '*', 'o', opId, 'a', 'take', 'c', scope, 'k', kind, 's', subject, 'f', ref, 'n', amount, 'v', value, 't', ARGV[2])
return reply
`;
