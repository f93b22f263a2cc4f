/**
 * The drain election: one drainer per scope at a time, whatever the number of Worker isolates
 * or hosts. The scripts that write ledger events (a take, a restore) hand the duty to drain to
 * the request whose event finds no drainer in charge — a lease, `P drain`, holding the
 * drainer's name with a time to live, so a drainer that dies is replaced when its lease runs
 * out. The election is a `SET … NX` inside the take's own script: no command of its own.
 *
 * The drainer reads with LEDGER_CLAIM, which renews its lease with every read and gives it up
 * when the stream is empty: an event appended before that read is read by it, an event
 * appended after it finds the lease free and elects its own request. So every event has a
 * drainer, and no two live leases read the same stream at once.
 */

/** Lua shared by TAKE and RESTORE: elects this request to drain the scope when nobody does. */
export const ELECT_DRAINER = `
-- Hands this request the duty to drain the scope's ledger when no drainer holds the lease
-- ('' = the caller drains on its own schedule: no election). Returns 1 when elected.
local function elect_drainer(prefix, holder, leaseMs)
  if leaseMs == '' then return 0 end
  if redis.call('SET', prefix .. 'drain', holder, 'PX', leaseMs, 'NX') then return 1 end
  return 0
end
`;

export const LEDGER_CLAIM = `
--[[
KEYS[1]  ledger stream of the scope
KEYS[2]  drain lease of the scope (a string: the drainer's name; its TTL is the lease)
ARGV[1]  most entries to return
ARGV[2]  the drainer's name (what its election stored)
ARGV[3]  lease, ms: renewed by every read that returns entries
ARGV[4]  '1': the drainer's last read: give the lease up with it (the next event elects anew)
Returns {'busy'} (another drainer holds the lease: stop) | {'empty'} (nothing to drain: the
lease is given up, so the next event elects a drainer) | {'ok', {{id, {field, value, …}}, …}}
]]
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[2] then return {'busy'} end
local entries = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', ARGV[1])
if #entries == 0 or ARGV[4] == '1' then
  if holder then redis.call('DEL', KEYS[2]) end
  if #entries == 0 then return {'empty'} end
else
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
end
return {'ok', entries}
`;
