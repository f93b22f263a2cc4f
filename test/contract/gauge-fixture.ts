/**
 * Fixtures of the gauge contract: fresh scopes (a random prefix per test, so cases never see
 * each other's gauges) and a take with sensible defaults. Speaks only the port.
 */
import type { GaugeItem, GaugePort, Policy, TakeCommand, TakeResult } from '../../src/stock/gauge.js';

/** What an adapter's test hands the contract: a gauge and how to release it. */
export interface OpenGauge {
  gauge: GaugePort;
  /** Loses a gauge or a policy the way eviction or a failover would (the adapter's own store). */
  forget: { gauge(key: string): Promise<void>; policy(prefix: string): Promise<void> };
  close(): Promise<void>;
}

/** An open scope: a `sell` window without bounds, `stock` must exist, `perUser` starts at 2. */
export const OPEN: Policy = { open: true, version: 0, windows: { sell: { start: null, end: null } }, limits: { stock: 0, perUser: 2, held: 0 } };

let seq = 0;
/** A string no other call in this run returns. */
export const unique = () => `${Date.now().toString(36)}${(seq++).toString(36)}${Math.random().toString(36).slice(2, 6)}`;

/** A take command with every field but the items filled in. */
export type TakeOverrides = Partial<TakeCommand> & { user?: string; n?: number };

export interface Scope {
  prefix: string;
  /** The scope's stock gauge (limit `stock`, must exist). */
  stock: string;
  /** The per-user gauge of `user` (limit `perUser`, lazy). */
  userKey(user: string): string;
  /** `[stock, per-user]` items taking `n`. */
  items(user: string, n?: number): [GaugeItem, GaugeItem];
  /** Takes from the scope; every field may be overridden. */
  take(over?: TakeOverrides): Promise<TakeResult>;
  /** Restores an operation of kind `sell` in this scope. */
  restore(opId: string, kind?: string): ReturnType<GaugePort['restore']>;
  /** The live remain of a gauge (the stock by default), `null` when missing. */
  remainOf(key?: string): Promise<number | null>;
}

/** Creates a scope on the gauge under test (see `freshScope`). */
export type ScopeFactory = (remain: number, policy?: Policy, prefix?: string) => Promise<Scope>;

/** Creates a scope on `g` (a fresh prefix unless given) with a stock gauge holding `remain`, under `policy`. */
export async function freshScope(g: GaugePort, remain: number, policy: Policy = OPEN, prefix = `cs:{c:t${unique()}}:`): Promise<Scope> {
  const stock = `${prefix}stock`;
  await g.load([{ key: stock, total: remain, remain }]);
  await g.setPolicy(prefix, policy);
  const userKey = (user: string) => `${prefix}u:${user}`;
  const items = (user: string, n = 1): [GaugeItem, GaugeItem] => [
    { key: stock, n, limit: 'stock', lazy: false },
    { key: userKey(user), n, limit: 'perUser', lazy: true },
  ];
  return {
    prefix,
    stock,
    userKey,
    items,
    take: (over = {}) => {
      const { user = 'u1', n = 1, ...rest } = over;
      return g.take({
        prefix,
        window: 'sell',
        opId: `op_${unique()}`,
        idempotencyKey: `k-${unique()}`,
        fingerprint: 'fp',
        items: items(user, n),
        ledger: { scope: prefix, kind: 'sell', subject: user, ref: null, amount: n },
        now: Date.now(),
        ...rest,
      });
    },
    restore: (opId, kind = 'sell') => g.restore({ prefix, opId, kind, now: Date.now() }),
    remainOf: async (key = stock) => (await g.read([key]))[0]?.remain ?? null,
  };
}

/** The operation id of a take that must have succeeded. */
export function opIdOf(result: TakeResult): string {
  if (!result.ok) throw new Error(`take refused: ${result.reason}`);
  return result.opId;
}

/** Adjusts a gauge of the scope by `delta` as a new operation (its own id). */
export const adjustBy = (gauge: GaugePort, prefix: string, key: string, delta: number) =>
  gauge.adjust({ prefix, key, delta, opId: `adj-${unique()}`, fingerprint: `${key}:${delta}` });
