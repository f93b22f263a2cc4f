/**
 * The take: the hot path's one round trip. Every argument is read into a named local at the top,
 * and every item's by named offsets, so the body reads by name, never by a counted position.
 */
import { GIVE_BACK } from './give-back.js';
import { ELECT_DRAINER } from './drain.js';

export const TAKE = `${GIVE_BACK}${ELECT_DRAINER}
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
ARGV[14]  drain lease, ms: a take that goes through and finds no drainer in charge is elected
          to drain the scope, under the name of its operation id ('' = no election)
ARGV[15..] four per item: n (> 0 taken, < 0 given, '' = not stated: refused if limited),
          policy limit name, lazy (1 | 0), expiry of a lazy gauge created here (ms since the
          epoch, '' = none)
Reply, a Redis array:
  taken     {'ok', opId, replayed 0|1, remain of item 1, …, remain of item n, hold expiry, drain 0|1}
            a remain is -1 for an item the policy does not limit; hold expiry -1 = not a hold;
            drain 1 = this request was elected to drain the scope's ledger (lost on a replay);
            a replay answers the first take's opId, remains and hold expiry
  refused   {reason}: 'unavailable' (no policy, a required gauge missing, a lazy one lost) |
            'sealed' | 'closed' | 'not_started' | 'ended' | 'conflict' (same key, other
            fingerprint) | 'unsettled' (expired holds wait to be given back)
  short     {'insufficient' | 'unstated', index, limit}: the item that fell short (or did not
            state its n), by its 0-based place in KEYS[5..] and by the policy limit it enforces
]]
-- KEYS and ARGV are globals: read once into locals. What a refusal needs is named here; what
-- only a take that goes through needs (the ledger facts) is named where it is written, so the
-- refusals (most takes of a flash sale) read no more arguments than they use.
local KEYS, ARGV = KEYS, ARGV
local policyKey, idempotencyKey = KEYS[1], KEYS[2]
local window, now, fingerprint, prefix, holdUntil = ARGV[1], tonumber(ARGV[2]), ARGV[4], ARGV[12], ARGV[13]

-- The items: KEYS[ITEM_KEYS + i] is item i's gauge; its four arguments start after ARGV[at],
-- at = ITEM_ARGS + (i - 1) * ARGS_PER_ITEM, and are read by these offsets: n (nil when not
-- stated), the policy limit it enforces, whether a missing gauge starts at that limit (lazy), and
-- when a gauge created here expires ('' = never). Plain locals, no closure or table per item: a
-- refused take (most takes of a flash sale) allocates nothing for its items.
local ITEM_KEYS, ITEM_ARGS, ARGS_PER_ITEM = 4, 14, 4
local N_ARG, LIMIT_ARG, LAZY_ARG, EXPIRY_ARG = 1, 2, 3, 4
local itemCount = #KEYS - ITEM_KEYS

-- One read of the policy: its flags, the window's bounds, then each item's limit.
local POLICY_FIELDS = 5
local fields = {'open', 'sealed', 'e', 'w:' .. window .. ':s', 'w:' .. window .. ':e'}
for i = 1, itemCount do fields[POLICY_FIELDS + i] = 'l:' .. ARGV[ITEM_ARGS + (i - 1) * ARGS_PER_ITEM + LIMIT_ARG] end
local policy = redis.call('HMGET', policyKey, unpack(fields))
local open, sealed, marked = policy[1], policy[2] == '1', policy[3] == '1'
local windowStart, windowEnd = policy[4], policy[5]

-- Holds whose time is up give their stock back first, so this take can have it. A sealed scope
-- changes no more (its archive gave every hold back).
if open and not sealed then give_back_holds(prefix, now, now, 1000) end

-- A retry: the first answer, as it was (a hold's expiry read from its record).
local record = redis.call('GET', idempotencyKey)
if record then
  local firstFingerprint, firstOpId, firstRemains, firstExpiry = string.match(record, '^([^\\n]*)\\n([^\\n]*)\\n([^\\n]*)\\n?(.*)$')
  if firstFingerprint ~= fingerprint then return {'conflict'} end
  local holdExpiry = -1
  if holdUntil ~= '' then
    local raw = redis.call('GET', prefix .. 'o:' .. firstOpId)
    local first = raw and cjson.decode(raw)
    -- The hold's record is gone while its scope lives: lost (it is not rebuilt), so whether the
    -- hold stands and until when is unknown. Fail closed. (An archive drops the records it sealed.)
    if not first and not sealed then return {'unavailable'} end
    -- A hold whose time is up but which could not be given back yet is no hold to hand out again.
    if first and first.h and not first.m and not first.x and first.h <= now then return {'unsettled'} end
    holdExpiry = (first and first.h) or tonumber(firstExpiry) or -1
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
-- whose limit the policy lacks is unlimited and skipped (no plan).
local plans = {}
for i = 1, itemCount do
  local limit = policy[POLICY_FIELDS + i]
  if limit then
    local at = ITEM_ARGS + (i - 1) * ARGS_PER_ITEM
    local key, n, limitName, lazy, expiry = KEYS[ITEM_KEYS + i], tonumber(ARGV[at + N_ARG]), ARGV[at + LIMIT_ARG], ARGV[at + LAZY_ARG] == '1', ARGV[at + EXPIRY_ARG]
    if not n then return {'unstated', i - 1, limitName} end
    local remain = redis.call('HGET', key, 'r')
    local fresh = false
    if not remain then
      if not lazy then return {'unavailable'} end
      -- A lazy gauge that existed and is gone must not read as "nothing taken yet".
      if lost(prefix, key, now, marked) then
        report_lost(prefix)
        return {'unavailable'}
      end
      remain = limit
      fresh = true
    end
    remain = tonumber(remain)
    if n > 0 and remain < n then
      -- Refusing while expired holds still wait to be given back could be a false sell-out.
      if unsettled(prefix, now) then return {'unsettled'} end
      return {'insufficient', i - 1, limitName}
    end
    plans[i] = {key = key, n = n, lazy = lazy, expiry = expiry, fresh = fresh, remain = remain - n, total = tonumber(limit)}
  end
end

-- Write every planned item; the operation record keeps each as the tuple {key, n, index, lazy}
-- that the give-back scripts read (a stored format).
local opKey, ledgerKey = KEYS[3], KEYS[4]
local opId, idempotencyTtl = ARGV[3], ARGV[5]
local kind, subject, ref, amount, scope, value = ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11]
local reply = {'ok', opId, 0}
local remains = {}
local applied = {}
for i = 1, itemCount do
  local plan = plans[i]
  if plan then
    if plan.fresh then
      redis.call('HSET', plan.key, 'r', plan.remain, 't', plan.total)
      if plan.expiry ~= '' then redis.call('PEXPIREAT', plan.key, plan.expiry) end
      redis.call('HSET', prefix .. 'markers', plan.key, plan.expiry ~= '' and plan.expiry or '0')
      if not marked then
        redis.call('HSET', policyKey, 'e', '1')
        marked = true
      end
    else
      redis.call('HSET', plan.key, 'r', plan.remain)
    end
    remains[i] = plan.remain
    applied[#applied + 1] = {plan.key, plan.n, i - 1, plan.lazy and 1 or 0}
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
redis.call('SET', idempotencyKey, fingerprint .. '\\n' .. opId .. '\\n' .. table.concat(remains, ',') .. (op.h and ('\\n' .. op.h) or ''), 'EX', idempotencyTtl)
redis.call('XADD', ledgerKey, '*', 'o', opId, 'a', 'take', 'c', scope, 'k', kind, 's', subject, 'f', ref, 'n', amount, 'v', value, 't', ARGV[2])
reply[#reply + 1] = elect_drainer(prefix, opId, ARGV[14])
return reply
`;
