/**
 * The scripts that give back what takes took: a restore (cancel, release), a commit (a hold
 * made a use for good), the sweep of expired holds, and the seal of an archive.
 */
import { GIVE_BACK } from './give-back.js';
import { ELECT_DRAINER } from './drain.js';

export const RESTORE = `${GIVE_BACK}${ELECT_DRAINER}
--[[
KEYS[1]  policy hash of the scope (its presence says the scope is live)
KEYS[2]  operation record
KEYS[3]  ledger stream of the scope
ARGV[1]  kind the operation must have
ARGV[2]  now, ms since the epoch
ARGV[3]  operation id
ARGV[4]  'any': any take of that kind; 'hold': a release, only of a hold not yet committed
ARGV[5]  the scope's key prefix
ARGV[6]  drain lease, ms: a restore that gives back and finds no drainer in charge is elected
         to drain the scope, under the name '<operation id>:restore' ('' = no election)
The item gauges are named inside the operation record; they share the scope's hash tag, so
they live in the same cluster slot as the declared keys. A lazy item whose gauge is gone (a
period that ended) is skipped; a missing required gauge, or a lazy one that was lost, is
'unavailable'. A sealed scope gives nothing back ('sealed'); an operation given back already
answers as it is.
Returns {'ok', restored 0|1, kind, subject, ref, amount, at, restoredAt, scope, drain 0|1, remain…}
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
local drain = restored == 1 and elect_drainer(ARGV[5], ARGV[3] .. ':restore', ARGV[6] or '') or 0
local out = {'ok', restored, op.k, op.s, op.f, op.a, op.t, op.x, op.c, drain}
local remains = {}
for i = 1, #op.r do remains[i] = -1 end
for _, it in ipairs(op.i) do
  local r = redis.call('HGET', it[1], 'r')
  remains[it[3] + 1] = r and tonumber(r) or -1
end
for i = 1, #remains do out[#out + 1] = remains[i] end
return out
`;

export const COMMIT = `${GIVE_BACK}${ELECT_DRAINER}
--[[
KEYS[1]  policy hash of the scope
KEYS[2]  operation record of the hold
ARGV[1]  now, ms since the epoch
ARGV[2]  operation id
ARGV[3]  the scope's key prefix
ARGV[4]  drain lease, ms: a commit that gives an expired hold back (a ledger event) and finds no
         drainer in charge is elected, under the name '<operation id>:expired' ('' = no election)
Makes a hold a use for good: off the expiry list, never given back by time; a hold committed
once answers so ever after, even once its use was cancelled. A hold whose time is up is given
back now instead (it stays on the list when a gauge it touches is missing, for
the sweep after a rebuild).
Returns {'ok', committed now 0|1, subject, ref} | {'not_found'} | {'not_hold'} (a plain take) |
{'expired', drain 0|1} | {'unavailable'} | {'sealed'}
]]
local raw = redis.call('GET', KEYS[2])
if not raw then return {'not_found'} end
local op = cjson.decode(raw)
if not op.h then return {'not_hold'} end
-- Sealed first: an archived scope changes no more, whatever became of the hold.
local p = redis.call('HMGET', KEYS[1], 'open', 'sealed')
if p[2] == '1' then return {'sealed'} end
-- Committed before anything else: a commit retried after the use was cancelled replays its
-- answer (it did commit, once), as the release of it answers 'committed'.
if op.m then return {'ok', 0, op.s, op.f} end
if op.x then return {'expired'} end
if not p[1] then return {'unavailable'} end
local now = tonumber(ARGV[1])
if op.h <= now then
  local refusal = give_back(ARGV[3], ARGV[2], op, now)
  return {'expired', refusal and 0 or elect_drainer(ARGV[3], ARGV[2] .. ':expired', ARGV[4] or '')}
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
