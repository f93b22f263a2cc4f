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
 *   P drain       string  the elected drainer's name; its TTL is the lease (`lua/drain.ts`)
 *   (a hold's operation record also has h = expiry, q = its idempotency record, m = committedAt)
 *
 * A take checks every item before it writes anything: no transient negative, no compensation.
 * Remains are returned as integers, -1 for an unlimited (skipped) item.
 */

export { ADJUST, DROP_POLICY, GET_POLICY, LEDGER_READ, LOAD, READ, RELIST_HOLDS, SET_OPEN, SET_POLICY } from './lua/admin.js';
export { COMMIT, EXPIRE_HOLDS, RESTORE, SEAL } from './lua/give-backs.js';
export { TAKE } from './lua/take.js';
export { LEDGER_CLAIM } from './lua/drain.js';
