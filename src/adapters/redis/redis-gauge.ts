/**
 * The gauge on Upstash Redis (REST): every operation is one Lua script run by EVALSHA (EVAL
 * when Redis does not know it yet), so a take is exactly one round trip and one command.
 */
import { Redis } from '@upstash/redis/cloudflare';
import type {
  DrainDuty,
  DrainRound,
  AdjustCommand,
  AdjustResult,
  CommitCommand,
  CommitResult,
  GaugeLoad,
  GaugePort,
  LedgerEvent,
  LiveGauge,
  Policy,
  RestoreCommand,
  RestoreResult,
  SealResult,
  SetOpenResult,
  TakeCommand,
  TakeResult,
} from '../../stock/gauge.js';
import { DEFAULT_DRAIN_LEASE_MS, drainAsElected, drainStream, type DrainAccess } from './ledger-drain.js';
import { globEscape, names, policyOf, prefixOf, restoreResult, takeResult, type Reply } from './replies.js';
import { ADJUST, COMMIT, DROP_POLICY, EXPIRE_HOLDS, GET_POLICY, LEDGER_CLAIM, LEDGER_READ, LOAD, READ, RELIST_HOLDS, RESTORE, SEAL, SET_OPEN, SET_POLICY, TAKE } from './scripts.js';

/**
 * The part of the Upstash client the gauge uses. It must be made by `redisClient()`: with the
 * client's automatic deserialization on, a user id such as "1.50" would come back as 1.5.
 */
export type RedisClient = Pick<Redis, 'createScript' | 'scan' | 'unlink' | 'xdel' | 'ping' | 'zcount' | 'hget'>;

/**
 * Where the gauge's scripts run: the Upstash client itself (EVALSHA, EVAL on NOSCRIPT), or a
 * runner that shares one request between the scripts of many callers (`coalesce.ts`). `order`:
 * calls given the same value run in the order they were made (`TakeCommand.order`).
 */
export interface ScriptRunner {
  createScript(source: string): { exec(keys: string[], args: string[], order?: string): Promise<unknown> };
}

export interface RedisClientOptions {
  url: string;
  token: string;
  /**
   * Retries of a request that failed in the network (default 1, 0 = none), 20 ms apart. Safe
   * because every script is idempotent; kept few so they fit in a take's deadline (the client's
   * own default, 5 with exponential backoff, waits 4.3 s before it gives up).
   */
  retries?: number;
  /**
   * Each HTTP request, its retries included, is aborted after this long (default 5000 ms), so a
   * hung endpoint does not hold a socket beyond the longest deadline of a gauge call.
   */
  timeoutMs?: number;
}

/** Pause between a failed attempt and its retry: a reset keep-alive socket is retried at once. */
const RETRY_BACKOFF_MS = 20;

/** An Upstash client as the gauge needs it: raw replies, no telemetry. */
export function redisClient(options: RedisClientOptions): Redis {
  return new Redis({
    url: options.url,
    token: options.token,
    automaticDeserialization: false,
    enableTelemetry: false,
    retry: options.retries === 0 ? false : { retries: options.retries ?? 1, backoff: () => RETRY_BACKOFF_MS },
    // A function, not a signal: on abort the client then throws. Given a plain signal it answers
    // the abort reason as if it were Redis' reply.
    signal: () => AbortSignal.timeout(options.timeoutMs ?? 5_000),
  });
}

/** Idempotency records live a week: Stripe's rule asks for at least 24 hours. */
export const IDEMPOTENCY_TTL_SECONDS = 7 * 24 * 3600;
/** How long an archived scope's sealed policy stays after `drop`: far longer than any rebuild that could race it. */
export const TOMBSTONE_TTL_SECONDS = 7 * 24 * 3600;
/** What SEAL answers when the hold list is lost, and how often a seal lists the holds again before it gives up. */
const SEAL_HOLDS_LOST = 2;
const SEAL_RELISTS = 3;

/** Holds given back per script call by the sweep and by an archive's seal. */
const HOLD_BATCH = 500;

export class RedisGauge implements GaugePort {
  readonly name = 'redis' as const;
  private readonly redis: RedisClient;
  private readonly scripts;
  private readonly drainLease: string;

  /**
   * `redis` does the scans, deletes and pings; `scripts` (default: `redis`) runs the Lua (on
   * Node a coalescing runner, never on a Worker: `coalesce.ts`). `drainLeaseMs`: takes and restores
   * elect the scope's drainer under a lease this long (`lua/drain.ts`); unset, nobody is elected.
   */
  constructor({ redis, scripts, drainLeaseMs }: { redis: RedisClient; scripts?: ScriptRunner; drainLeaseMs?: number }) {
    this.redis = redis;
    this.drainLease = drainLeaseMs === undefined ? '' : String(drainLeaseMs);
    const runner: ScriptRunner = scripts ?? redis;
    const script = (src: string) => {
      const s = runner.createScript(src);
      return { exec: async (keys: string[], args: string[], order?: string) => (await s.exec(keys, args, order)) as Reply | number };
    };
    this.scripts = {
      take: script(TAKE),
      restore: script(RESTORE),
      adjust: script(ADJUST),
      load: script(LOAD),
      read: script(READ),
      setPolicy: script(SET_POLICY),
      setOpen: script(SET_OPEN),
      getPolicy: script(GET_POLICY),
      ledgerRead: script(LEDGER_READ),
      ledgerClaim: script(LEDGER_CLAIM),
      commit: script(COMMIT),
      expireHolds: script(EXPIRE_HOLDS),
      seal: script(SEAL),
      dropPolicy: script(DROP_POLICY),
      relistHolds: script(RELIST_HOLDS),
    };
  }

  async take(cmd: TakeCommand): Promise<TakeResult> {
    const k = names(cmd.prefix);
    const keys = [k.policy, k.idempotency(cmd.idempotencyKey), k.op(cmd.opId), k.ledger, ...cmd.items.map((i) => i.key)];
    const { ledger } = cmd;
    const args = [
      cmd.window,
      String(cmd.now),
      cmd.opId,
      cmd.fingerprint,
      String(IDEMPOTENCY_TTL_SECONDS),
      ledger.kind,
      ledger.subject,
      ledger.ref ?? '',
      String(ledger.amount),
      ledger.scope,
      ledger.value === undefined || ledger.value === null ? '' : String(ledger.value),
      cmd.prefix,
      cmd.hold ? String(cmd.hold.expiresAt) : '',
      this.drainLease,
      ...cmd.items.flatMap((i) => [i.unstated ? '' : String(i.n), i.limit, i.lazy ? '1' : '0', i.expiresAt === undefined ? '' : String(i.expiresAt)]),
    ];
    const reply = (await this.scripts.take.exec(keys, args, cmd.order)) as Reply;
    return takeResult(reply, cmd.items.length);
  }

  async restore(cmd: RestoreCommand): Promise<RestoreResult> {
    const k = names(cmd.prefix);
    const reply = (await this.scripts.restore.exec(
      [k.policy, k.op(cmd.opId), k.ledger],
      [cmd.kind, String(cmd.now), cmd.opId, cmd.mode ?? 'any', cmd.prefix, this.drainLease],
    )) as Reply;
    return restoreResult(reply, cmd.opId, `${cmd.opId}:restore`);
  }

  async commit(cmd: CommitCommand): Promise<CommitResult> {
    const k = names(cmd.prefix);
    const reply = (await this.scripts.commit.exec([k.policy, k.op(cmd.opId)], [String(cmd.now), cmd.opId, cmd.prefix, this.drainLease])) as Reply;
    const [status, committed, subject, ref] = reply;
    if (status === 'ok') return { ok: true, committed: committed === 1, subject: String(subject), ref: ref === '' || ref === undefined ? null : String(ref) };
    if (status === 'expired') return { ok: false, reason: 'expired', ...(committed === 1 ? { drain: { holder: `${cmd.opId}:expired` } } : {}) };
    return { ok: false, reason: status === 'unavailable' || status === 'sealed' || status === 'not_hold' ? status : 'not_found' };
  }

  async expireHolds(prefix: string, now: number): Promise<number> {
    let total = 0;
    // Batches of holds a call, until a call gives fewer back: each call is one atomic script.
    for (;;) {
      const [given] = (await this.scripts.expireHolds.exec([names(prefix).policy], [prefix, String(now), String(HOLD_BATCH)])) as number[];
      total += Number(given);
      if (Number(given) < HOLD_BATCH) return total;
    }
  }

  async seal(prefix: string, now: number, limit = HOLD_BATCH): Promise<SealResult> {
    const out: SealResult = { found: true, given: 0, stuck: 0 };
    for (let relisted = 0; ; ) {
      const [found, given, stuck] = ((await this.scripts.seal.exec([names(prefix).policy], [prefix, String(now), String(limit)])) as number[]).map(Number);
      if (found === SEAL_HOLDS_LOST) {
        // The hold list is gone: its holds are listed again from their records, then sealed.
        if (relisted++ >= SEAL_RELISTS) throw new Error(`the hold list of ${prefix} keeps getting lost; not sealed`);
        await this.relistHolds(prefix);
        continue;
      }
      if (found !== 1) return { found: false, given: out.given, stuck: 0 };
      out.given += given ?? 0;
      out.stuck = stuck ?? 0;
      if ((given ?? 0) === 0) return out;
    }
  }

  async relistHolds(prefix: string): Promise<number> {
    const k = names(prefix);
    // Every operation record of the scope (recovery only: O(operations)), 500 per script call.
    const ids: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, { match: `${globEscape(prefix)}o:*`, count: 1000 });
      for (const key of keys) ids.push(key.slice(prefix.length + 2));
      cursor = String(next);
    } while (cursor !== '0');
    let listed = 0;
    for (let i = 0; i === 0 || i < ids.length; i += HOLD_BATCH) {
      listed = Number(await this.scripts.relistHolds.exec([k.policy, `${prefix}holds`], [prefix, ...ids.slice(i, i + HOLD_BATCH)]));
    }
    return listed;
  }

  async activeHolds(prefix: string, now: number): Promise<number> {
    return Number(await this.redis.zcount(`${prefix}holds`, `(${now}`, '+inf'));
  }

  async adjust(cmd: AdjustCommand): Promise<AdjustResult> {
    const k = names(cmd.prefix);
    const reply = (await this.scripts.adjust.exec([cmd.key, k.policy, k.adjust(cmd.opId)], [String(cmd.delta), cmd.fingerprint, String(IDEMPOTENCY_TTL_SECONDS)])) as Reply;
    const [status] = reply;
    if (status === 'ok') return { ok: true, total: Number(reply[1]), remain: Number(reply[2]), version: Number(reply[3]), replayed: reply[4] === 1 };
    return { ok: false, reason: status === 'below_zero' || status === 'sealed' || status === 'conflict' ? status : 'unavailable' };
  }

  async load(gauges: GaugeLoad[]): Promise<void> {
    // One script per scope: it marks each gauge in the scope's markers and refuses a sealed scope.
    const byScope = new Map<string, GaugeLoad[]>();
    for (const g of gauges) byScope.set(prefixOf(g.key), [...(byScope.get(prefixOf(g.key)) ?? []), g]);
    for (const [prefix, group] of byScope) {
      const k = names(prefix);
      await this.scripts.load.exec(
        [k.policy, k.markers, ...group.map((g) => g.key)],
        group.flatMap((g) => [String(g.total), String(g.remain), g.expiresAt === undefined ? '' : String(g.expiresAt), String(g.version ?? 0)]),
      );
    }
  }

  async read(keys: string[]): Promise<(LiveGauge | null)[]> {
    if (keys.length === 0) return [];
    const reply = (await this.scripts.read.exec(keys, [])) as Reply;
    return keys.map((_, i) => {
      const total = Number(reply[3 * i]);
      const remain = Number(reply[3 * i + 1]);
      return remain < 0 ? null : { total, remain, version: Number(reply[3 * i + 2]) };
    });
  }

  async setPolicy(prefix: string, policy: Policy): Promise<boolean> {
    const fields: string[] = [String(policy.version), policy.open ? '1' : '0'];
    for (const [name, w] of Object.entries(policy.windows)) {
      fields.push(`w:${name}:s`, w.start === null ? '' : String(w.start), `w:${name}:e`, w.end === null ? '' : String(w.end));
    }
    for (const [name, limit] of Object.entries(policy.limits)) fields.push(`l:${name}`, String(limit));
    return Number(await this.scripts.setPolicy.exec([names(prefix).policy, names(prefix).markers], fields)) === 1;
  }

  async setOpen(prefix: string, open: boolean, version: number): Promise<SetOpenResult> {
    const reply = String(await this.scripts.setOpen.exec([names(prefix).policy], [open ? '1' : '0', String(version)]));
    return reply === 'ok' || reply === 'stale' || reply === 'sealed' ? reply : 'missing';
  }

  async getPolicy(prefix: string): Promise<Policy | null> {
    const flat = (await this.scripts.getPolicy.exec([names(prefix).policy], [])) as Reply;
    return policyOf(flat);
  }

  async drain(prefix: string, write: (events: LedgerEvent[]) => Promise<void>): Promise<number> {
    return drainStream(this.drainAccess, prefix, write);
  }

  async drainElected(prefix: string, write: (events: LedgerEvent[]) => Promise<void>, duty: DrainDuty & { last?: boolean }): Promise<DrainRound> {
    return drainAsElected(this.drainAccess, prefix, write, duty, this.drainLease === '' ? String(DEFAULT_DRAIN_LEASE_MS) : this.drainLease);
  }

  private readonly drainAccess: DrainAccess = {
    read: async (stream, count) => (await this.scripts.ledgerRead.exec([stream], [String(count)])) as Reply,
    claim: async (stream, lease, args) => (await this.scripts.ledgerClaim.exec([stream, lease], args)) as Reply,
    xdel: (stream, ids) => this.redis.xdel(stream, ids),
  };

  async drop(prefix: string, { archived = false } = {}): Promise<void> {
    const policy = names(prefix).policy;
    // An archived (sealed) scope keeps its idempotency records until their own time is up: a take
    // whose answer was lost before the archive still replays its 201 when retried after it.
    const replays = archived || String(await this.redis.hget(policy, 'sealed')) === '1' ? `${prefix}i:` : null;
    let cursor = '0';
    do {
      const [next, found] = await this.redis.scan(cursor, { match: `${globEscape(prefix)}*`, count: 1000 });
      const keys = found.filter((key) => key !== policy && !(replays && key.startsWith(replays)));
      if (keys.length > 0) await this.redis.unlink(...keys);
      cursor = String(next);
    } while (cursor !== '0');
    await this.scripts.dropPolicy.exec([policy], [String(TOMBSTONE_TTL_SECONDS)]);
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }
}
