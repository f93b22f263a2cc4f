/**
 * The Redis gauge's key names under a scope prefix and the decoding of its scripts' replies
 * (each reply's layout is documented above its script, in ./lua/).
 */
import type { LedgerEvent, Policy, RestoreResult, TakeResult } from '../../stock/gauge.js';

/** A script's reply as the client hands it over. */
export type Reply = (string | number | Reply)[];

/** The adapter's own keys under a scope prefix (see the layout in ./scripts.ts). */
export const names = (prefix: string) => ({
  policy: `${prefix}policy`,
  ledger: `${prefix}ledger`,
  markers: `${prefix}markers`,
  idempotency: (key: string) => `${prefix}i:${key}`,
  op: (opId: string) => `${prefix}o:${opId}`,
  adjust: (opId: string) => `${prefix}a:${opId}`,
  /** The drain lease: the elected drainer's name, with a time to live (`lua/drain.ts`). */
  drain: `${prefix}drain`,
});

/**
 * The scope prefix of a key named `…{tag}:…`: everything up to and including the first `}:`
 * (`load` is given keys only; each key's scope holds its policy and markers).
 */
export const prefixOf = (key: string) => {
  const end = key.indexOf('}:');
  return end < 0 ? '' : key.slice(0, end + 2);
};

export const remainOf = (v: Reply[number] | undefined): number | null => {
  const n = Number(v);
  return n < 0 || Number.isNaN(n) ? null : n;
};

/** Escapes glob metacharacters so SCAN MATCH sees the prefix literally. */
export const globEscape = (s: string) => s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);

/** TAKE's reply for a command of `itemCount` items: remains in item order, a shortfall by the item's index. */
export function takeResult(reply: Reply, itemCount: number): TakeResult {
  const [status] = reply;
  if (status === 'ok') {
    const end = 3 + itemCount;
    const hold = Number(reply[end]);
    const opId = String(reply[1]);
    return {
      ok: true,
      opId,
      replayed: reply[2] === 1,
      remains: reply.slice(3, end).map(remainOf),
      holdExpiresAt: hold >= 0 ? hold : null,
      ...(reply[end + 1] === 1 ? { drain: { holder: opId } } : {}),
    };
  }
  if (status === 'insufficient' || status === 'unstated') return { ok: false, reason: status, index: Number(reply[1]) };
  if (status === 'closed' || status === 'not_started' || status === 'ended' || status === 'conflict' || status === 'sealed' || status === 'unsettled') {
    return { ok: false, reason: status };
  }
  return { ok: false, reason: 'unavailable' };
}

/** RESTORE's reply for operation `opId`; `holder` is the name an elected drainer got. */
export function restoreResult(reply: Reply, opId: string, holder: string): RestoreResult {
  const [status] = reply;
  if (status === 'not_found') return { ok: false, reason: 'not_found' };
  if (status === 'not_hold') return { ok: false, reason: 'not_hold' };
  if (status === 'committed') return { ok: false, reason: 'committed' };
  if (status === 'sealed') return { ok: false, reason: 'sealed' };
  if (status === 'insufficient') return { ok: false, reason: 'insufficient', index: Number(reply[1]) };
  if (status !== 'ok') return { ok: false, reason: 'unavailable' };
  const [, restored, kind, subject, ref, amount, at, restoredAt, scope, drain] = reply;
  return {
    ok: true,
    restored: restored === 1,
    remains: reply.slice(10).map(remainOf),
    ...(drain === 1 ? { drain: { holder } } : {}),
    op: {
      opId: opId,
      kind: String(kind),
      scope: String(scope),
      subject: String(subject),
      ref: ref === '' || ref === undefined ? null : String(ref),
      amount: Number(amount),
      at: Number(at),
      restoredAt: Number(restoredAt),
    },
  };
}

/** GET_POLICY's flat field/value list as a policy, `null` when there is none. */
export function policyOf(flat: Reply): Policy | null {
  // A hash without `open` is no policy (a tombstone's remains, or markers written ahead of it).
  if (flat.length === 0 || !flat.some((f, i) => i % 2 === 0 && f === 'open')) return null;
  const policy: Policy = { open: false, version: 0, windows: {}, limits: {} };
  for (let i = 0; i < flat.length; i += 2) {
    const field = String(flat[i]);
    const value = String(flat[i + 1]);
    const window = /^w:(.+):([se])$/.exec(field);
    if (field === 'open') {
      policy.open = value === '1';
    } else if (field === 'v') {
      policy.version = Number(value);
    } else if (field === 'sealed') {
      policy.sealed = value === '1';
    } else if (field === 'lost') {
      policy.lost = value === '1';
    } else if (window?.[1]) {
      const w = (policy.windows[window[1]] ??= { start: null, end: null });
      w[window[2] === 's' ? 'start' : 'end'] = value === '' ? null : Number(value);
    } else if (field.startsWith('l:')) {
      policy.limits[field.slice(2)] = Number(value);
    }
  }
  return policy;
}

/** A ledger stream entry (flat field/value list) as an event. */
export function toEvent(flat: Reply): LedgerEvent {
  const fields: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) fields[String(flat[i])] = String(flat[i + 1]);
  const ref = fields.f ?? '';
  return {
    opId: String(fields.o),
    action: fields.a === 'restore' ? 'restore' : 'take',
    scope: String(fields.c),
    kind: String(fields.k),
    subject: String(fields.s),
    ref: ref === '' ? null : ref,
    amount: Number(fields.n),
    value: fields.v === undefined || fields.v === '' ? null : Number(fields.v),
    at: Number(fields.t),
  };
}
