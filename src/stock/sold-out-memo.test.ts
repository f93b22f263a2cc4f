/**
 * The sold-out memo on its own: what it answers for, for how long, what makes it forget, that an
 * answer sent before a forget is never learned after it, that its memory stays bounded; and the
 * forgetful gauge (`forgetful-gauge.ts`) that forgets it on every call that can give stock back.
 */
import { describe, expect, it } from 'vitest';
import { partial } from '../../test/support/fake-gauges.js';
import type { GaugePort } from './gauge.js';
import { forgetfulGauge } from './forgetful-gauge.js';
import { SoldOutMemo } from './sold-out-memo.js';

const P = 'cs:{c:a}:';
const ISSUE = `${P}issue`;
const BUDGET = `${P}budget`;
const memo = (windowMs = 1000, more: { maxScopes?: number; maxKeys?: number } = {}) => new SoldOutMemo({ windowMs, ...more });

describe('the sold-out memo', () => {
  it('answers short only for the key it learned, for a take of at least what fell short', () => {
    const m = memo();
    m.learnShort(P, BUDGET, 500, m.ticket(0));
    expect(m.short(P, [{ key: BUDGET, n: 499 }], 1)).toBe(-1);
    expect(m.short(P, [{ key: BUDGET, n: 500 }], 1)).toBe(0);
    expect(m.short(P, [{ key: ISSUE, n: 1 }, { key: BUDGET, n: 900 }], 1)).toBe(1);
    // Another stock, another scope: unknown.
    expect(m.short(P, [{ key: ISSUE, n: 1 }], 1)).toBe(-1);
    expect(m.short('cs:{c:b}:', [{ key: BUDGET, n: 900 }], 1)).toBe(-1);
    // A give (n ≤ 0) is never short.
    expect(m.short(P, [{ key: BUDGET, n: 0 }], 1)).toBe(-1);
  });

  it('learns "none left" from a take that left 0, and forgets a key a take showed has enough left', () => {
    const m = memo();
    m.learnRemain(P, ISSUE, 0, m.ticket(0));
    expect(m.short(P, [{ key: ISSUE, n: 1 }], 1)).toBe(0);
    m.learnRemain(P, ISSUE, 3, m.ticket(2));
    expect(m.short(P, [{ key: ISSUE, n: 1 }], 3)).toBe(-1);
    // A budget short of 500 that a take shows has 300 left is still short of 500; 600 left is not.
    m.learnShort(P, BUDGET, 500, m.ticket(0));
    m.learnRemain(P, BUDGET, 300, m.ticket(1));
    expect(m.short(P, [{ key: BUDGET, n: 500 }], 2)).toBe(0);
    m.learnRemain(P, BUDGET, 600, m.ticket(2));
    expect(m.short(P, [{ key: BUDGET, n: 500 }], 3)).toBe(-1);
  });

  it('holds a fact for its window from when its take was sent, then asks again', () => {
    const m = memo(1000);
    m.learnShort(P, ISSUE, 1, m.ticket(5_000));
    expect(m.short(P, [{ key: ISSUE, n: 1 }], 5_249)).toBe(0);
    // From a quarter of the window on, one take per quarter window asks the store again; the others are answered.
    expect(m.short(P, [{ key: ISSUE, n: 1 }], 5_250)).toBe(-1);
    expect(m.short(P, [{ key: ISSUE, n: 1 }], 5_251)).toBe(0);
    expect(m.short(P, [{ key: ISSUE, n: 1 }], 5_499)).toBe(0);
    expect(m.short(P, [{ key: ISSUE, n: 1 }], 5_500)).toBe(-1);
    expect(m.short(P, [{ key: ISSUE, n: 1 }], 5_749)).toBe(0);
    expect(m.short(P, [{ key: ISSUE, n: 1 }], 5_750)).toBe(-1);
    expect(m.short(P, [{ key: ISSUE, n: 1 }], 5_999)).toBe(0);
    // Never past the window.
    expect(m.short(P, [{ key: ISSUE, n: 1 }], 6_000)).toBe(-1);
    expect(m.short(P, [{ key: ISSUE, n: 1 }], 6_001)).toBe(-1);
  });

  it('renews a fact when the take that asked again is refused too', () => {
    const m = memo(1000);
    m.learnShort(P, ISSUE, 1, m.ticket(0));
    expect(m.short(P, [{ key: ISSUE, n: 1 }], 300)).toBe(-1);
    m.learnShort(P, ISSUE, 1, m.ticket(300));
    // Renewed: answered until the new fact's quarter mark, asked again there, answered until it ends.
    expect(m.short(P, [{ key: ISSUE, n: 1 }], 549)).toBe(0);
    expect(m.short(P, [{ key: ISSUE, n: 1 }], 550)).toBe(-1);
    expect(m.short(P, [{ key: ISSUE, n: 1 }], 551)).toBe(0);
    expect(m.short(P, [{ key: ISSUE, n: 1 }], 1_300)).toBe(-1);
  });

  it('keeps the later of two facts, never stretching an earlier one to a later window', () => {
    const m = memo(1000);
    m.learnShort(P, BUDGET, 100, m.ticket(0));
    m.learnShort(P, BUDGET, 900, m.ticket(500));
    // The later fact says "less than 900" until 1500; "less than 100" is not carried along.
    expect(m.short(P, [{ key: BUDGET, n: 800 }], 600)).toBe(-1);
    expect(m.short(P, [{ key: BUDGET, n: 900 }], 700)).toBe(0);
    // An older answer arriving late does not replace a newer fact.
    m.learnShort(P, BUDGET, 1, m.ticket(100));
    expect(m.short(P, [{ key: BUDGET, n: 5 }], 600)).toBe(-1);
  });

  it('forgets a scope at once, and never learns an answer sent before the forget', () => {
    const m = memo();
    const early = m.ticket(0);
    m.learnShort(P, ISSUE, 1, m.ticket(0));
    m.forget(P);
    expect(m.short(P, [{ key: ISSUE, n: 1 }], 1)).toBe(-1);
    // A refusal the store gave before the restore, arriving after it: not learned.
    m.learnShort(P, ISSUE, 1, early);
    expect(m.short(P, [{ key: ISSUE, n: 1 }], 1)).toBe(-1);
    // Taken after the forget: learned.
    m.learnShort(P, ISSUE, 1, m.ticket(2));
    expect(m.short(P, [{ key: ISSUE, n: 1 }], 3)).toBe(0);
  });

  it('remembers a forget of a scope it held nothing about, against answers in flight', () => {
    const m = memo();
    const early = m.ticket(0);
    m.forget(P);
    m.learnShort(P, ISSUE, 1, early);
    expect(m.short(P, [{ key: ISSUE, n: 1 }], 1)).toBe(-1);
  });

  it('is bounded: the oldest scope goes first, and an answer in flight for it is not learned after', () => {
    const m = memo(1000, { maxScopes: 2, maxKeys: 1 });
    const early = m.ticket(0);
    m.forget('s1:');
    m.learnShort('s2:', 's2:x', 1, m.ticket(0));
    m.learnShort('s3:', 's3:x', 1, m.ticket(0));
    expect(m.size).toBe(2);
    // s1's record (its forget) was dropped for room: an answer sent before that forget is refused.
    m.learnShort('s1:', 's1:x', 1, early);
    expect(m.short('s1:', [{ key: 's1:x', n: 1 }], 1)).toBe(-1);
    // At most maxKeys keys per scope.
    m.learnShort('s3:', 's3:y', 1, m.ticket(0));
    expect(m.short('s3:', [{ key: 's3:y', n: 1 }], 1)).toBe(-1);
    expect(m.short('s3:', [{ key: 's3:x', n: 1 }], 1)).toBe(0);
    for (let i = 0; i < 1000; i++) m.learnShort(`c${i}:`, `c${i}:x`, 1, m.ticket(0));
    expect(m.size).toBe(2);
  });

  it('with shared probes, lets a take that finds a fact run out wait for the probe still out, then answers from the renewed fact', async () => {
    const m = new SoldOutMemo({ windowMs: 1000, shareProbes: true });
    const need = [{ key: ISSUE, n: 1 }];
    m.learnShort(P, ISSUE, 1, m.ticket(0));
    // The probe goes out at 250; nothing to wait for while the fact holds.
    expect(m.short(P, need, 250)).toBe(-1);
    expect(m.pending(P, need, 900)).toBeNull();
    // The fact runs out at 1000 with the probe still out: the take waits for it.
    expect(m.short(P, need, 1_000)).toBe(-1);
    const wait = m.pending(P, need, 1_000);
    expect(wait).not.toBeNull();
    let over = false;
    void wait?.then(() => (over = true));
    // The probe (sent at 250) is refused too: the fact is renewed until 1250, the wait is over.
    m.learnShort(P, ISSUE, 1, m.ticket(250));
    m.settle(P, [ISSUE], 1_010);
    await wait;
    expect(over).toBe(true);
    // Every take that waited looks again: the first asks again (the renewed fact is past its quarter), the others are answered.
    expect(m.short(P, need, 1_010)).toBe(-1);
    expect(m.short(P, need, 1_010)).toBe(0);
    expect(m.short(P, need, 1_011)).toBe(0);
  });

  it('with shared probes, ends the wait when the probe failed, and the fact is gone: the take asks the store', async () => {
    const m = new SoldOutMemo({ windowMs: 1000, shareProbes: true });
    const need = [{ key: ISSUE, n: 1 }];
    m.learnShort(P, ISSUE, 1, m.ticket(0));
    expect(m.short(P, need, 250)).toBe(-1);
    const wait = m.pending(P, need, 1_000);
    m.settle(P, [ISSUE], 1_001);
    await wait;
    expect(m.short(P, need, 1_001)).toBe(-1);
    expect(m.pending(P, need, 1_001)).toBeNull();
    // A forget ends a wait too.
    m.learnShort(P, ISSUE, 1, m.ticket(2_000));
    expect(m.short(P, need, 2_250)).toBe(-1);
    const other = m.pending(P, need, 3_000);
    m.forget(P);
    await other;
    expect(m.short(P, need, 3_000)).toBe(-1);
  });

  it('without shared probes (a Worker) never waits', () => {
    const m = memo(1000);
    m.learnShort(P, ISSUE, 1, m.ticket(0));
    expect(m.short(P, [{ key: ISSUE, n: 1 }], 250)).toBe(-1);
    expect(m.pending(P, [{ key: ISSUE, n: 1 }], 1_000)).toBeNull();
  });

  it('refuses a window of 0 (the memo is off: no memo is built)', () => {
    expect(() => memo(0)).toThrow(/window/);
  });
});

describe('a forgetful gauge', () => {
  const calls: string[] = [];
  const gauge = partial<GaugePort>(
    {
      name: 'redis',
      restore: async () => ({ ok: false, reason: 'not_found' }),
      adjust: async () => {
        throw new Error('store down');
      },
      commit: async () => ({ ok: true, committed: true, subject: 'u', ref: null }),
      expireHolds: async (prefix) => (prefix === P ? 0 : 2),
      read: async (keys) => keys.map((k) => ({ total: 5, remain: k === ISSUE ? 2 : 0, version: 0 })),
      load: async () => {},
      ping: async () => {
        calls.push('ping');
      },
    },
    'gauge',
  );
  const learned = () => {
    const m = memo();
    m.learnShort(P, ISSUE, 1, m.ticket(0));
    m.learnShort(P, BUDGET, 1, m.ticket(0));
    return m;
  };
  const knows = (m: SoldOutMemo, key = ISSUE) => m.short(P, [{ key, n: 1 }], 1) === 0;

  it('forgets the scope after a restore, whatever it answered, and after an adjust that failed', async () => {
    const m = learned();
    await forgetfulGauge(gauge, m).restore({ prefix: P, opId: 'o', kind: 'issue', now: 0 });
    expect(knows(m)).toBe(false);
    const n = learned();
    await expect(forgetfulGauge(gauge, n).adjust({ prefix: P, key: ISSUE, delta: 1, opId: 'a', fingerprint: 'f' })).rejects.toThrow('store down');
    expect(knows(n)).toBe(false);
  });

  it('keeps what it knows after a commit that committed and a sweep that gave nothing back', async () => {
    const m = learned();
    const g = forgetfulGauge(gauge, m);
    await g.commit({ prefix: P, opId: 'h', now: 0 });
    await g.expireHolds(P, 0);
    expect(knows(m)).toBe(true);
    await g.expireHolds('cs:{c:other}:', 0);
    expect(knows(m)).toBe(true);
  });

  it('forgets a gauge a live read shows has some left, and a loaded scope', async () => {
    const m = learned();
    await forgetfulGauge(gauge, m).read([ISSUE, BUDGET]);
    expect([knows(m, ISSUE), knows(m, BUDGET)]).toEqual([false, true]);
    await forgetfulGauge(gauge, m).load([{ key: BUDGET, total: 3, remain: 3 }]);
    expect(knows(m, BUDGET)).toBe(false);
  });

  it('passes other calls through', async () => {
    await forgetfulGauge(gauge, memo()).ping();
    expect(calls).toEqual(['ping']);
    expect(forgetfulGauge(gauge, memo()).name).toBe('redis');
  });
});
