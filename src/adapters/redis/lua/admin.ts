/**
 * The scripts of the admin and the schedule: adjusts, loads and rebuilds, policy writes, reads
 * and the ledger drain. None is on the hot path.
 */

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
