/**
 * Lua shared by the scripts that give back (a restore, a release, an expired hold). Keys are
 * named from the scope prefix; they all carry the scope's hash tag, so they share its slot.
 */
export const GIVE_BACK = `
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
    -- The record's tuple of an applied item (see the take): gauge key, n taken, index, lazy.
    local key, n, index, lazy = it[1], it[2], it[3], it[4] == 1
    local r = redis.call('HGET', key, 'r')
    if r then
      if n < 0 and tonumber(r) < -n then return {'insufficient', index} end
      present[j] = true
    elseif not lazy then
      return {'unavailable'}
    elseif not sealing and lost(prefix, key, now, marked) then
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
