/**
 * The take path with a sold-out memo, without Redis or Postgres (the gauge is a fake that
 * answers as told): which refusals are remembered, which takes are answered from memory, and
 * which always ask the gauge. Against a real Redis: test/http/sold-out.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { fakeGauges, SHORTFALL_CASES, shortOf, tookWith } from '../../test/support/fake-gauges.js';
import type { TakeCommand, TakeResult } from '../stock/gauge.js';
import { SoldOutMemo } from '../stock/sold-out-memo.js';
import { soldOutMemo, useSoldOutMemo } from './sold-out.js';
import { shortfall } from './refusals.js';
import { currentPeriods } from './deps.js';
import type { TakeInput } from './take-types.js';
import { CouponTakes } from './takes.js';

const input = (over: Partial<TakeInput> = {}): TakeInput => ({ couponId: 'cpn_1', userId: 'u1', idempotencyKey: null, caller: 'c1', fingerprint: 'fp', ...over });

/** A service whose fake gauge answers `answer`, with a memo of 1 s; `remembered` lists the kinds answered from memory. */
function service(answer: (cmd: TakeCommand) => TakeResult | Promise<TakeResult>, restored: 'found' | 'not_found' = 'found') {
  const f = fakeGauges({
    answer,
    restored: () =>
      restored === 'found'
        ? { ok: true, restored: true, remains: [1, null, null, null, null], op: { opId: 'iss_1', kind: 'issue', scope: 'cpn_1', subject: 'u1', ref: null, amount: 1, at: 0, restoredAt: 1 } }
        : { ok: false, reason: 'not_found' },
  });
  const remembered: string[] = [];
  useSoldOutMemo(f.deps, new SoldOutMemo({ windowMs: 1000 }));
  f.deps.onRemembered = (_, kind) => remembered.push(kind);
  return { ...f, remembered, takes: new CouponTakes(f.deps), sent: f.takes };
}

describe('a take with a sold-out memo', () => {
  it('after the gauge said the issue stock is out, is refused from memory with the very refusal the gauge gives', async () => {
    const s = service(shortOf('issue'));
    const first = await s.takes.issue(input());
    const second = await s.takes.issue(input({ userId: 'u2' }));
    expect(first).toEqual({ ok: false, code: 'SOLD_OUT', detail: 'the stock is sold out' });
    expect(second).toEqual(first);
    expect(s.sent).toHaveLength(1);
    expect(s.remembered).toEqual(['issue']);
  });

  it('learns "sold out" from the take that took the last unit', async () => {
    const s = service(tookWith({ issue: 0 }));
    expect(await s.takes.issue(input())).toMatchObject({ ok: true, value: { remain: 0 } });
    expect(await s.takes.issue(input({ userId: 'u2' }))).toMatchObject({ ok: false, code: 'SOLD_OUT' });
    expect(s.sent).toHaveLength(1);
  });

  it.each(SHORTFALL_CASES.filter((c) => !['issue', 'use', 'budget'].includes(c.limit)))(
    'never remembers a $kind short on $limit (a user’s own limit or a period cap): it asks again',
    async ({ kind, limit, code }) => {
      const s = service(shortOf(limit));
      for (let i = 0; i < 3; i++) expect(await s.takes[kind](input({ discountAmount: 100 }))).toMatchObject({ ok: false, code });
      expect(s.sent).toHaveLength(3);
      expect(s.remembered).toEqual([]);
    },
  );

  it('of another kind is not refused because the issue stock is out (a use needs the use stock)', async () => {
    const s = service((cmd) => (cmd.window === 'issue' ? shortOf('issue')(cmd) : tookWith({ use: 4 })(cmd)));
    await s.takes.issue(input());
    expect(await s.takes.use(input())).toMatchObject({ ok: true, value: { remain: 4 } });
    expect(s.sent).toHaveLength(2);
  });

  it('remembers how much budget was short: a smaller discount still asks the gauge', async () => {
    const s = service((cmd) => ((cmd.items.find((i) => i.limit === 'budget')?.n ?? 0) >= 500 ? shortOf('budget')(cmd) : tookWith({ use: 3, budget: 10 })(cmd)));
    expect(await s.takes.use(input({ discountAmount: 500 }))).toMatchObject({ ok: false, code: 'BUDGET_EXHAUSTED' });
    expect(await s.takes.use(input({ discountAmount: 700 }))).toMatchObject({ ok: false, code: 'BUDGET_EXHAUSTED' });
    expect(s.sent).toHaveLength(1);
    expect(await s.takes.use(input({ discountAmount: 100 }))).toMatchObject({ ok: true, value: { budgetRemain: 10 } });
    expect(s.sent).toHaveLength(2);
  });

  it('with an Idempotency-Key always asks the gauge, so a retry of a take that went through replays it', async () => {
    const s = service((cmd) => (cmd.idempotencyKey === 'issue:c1:lost' ? tookWith({ issue: 0 }, { replayed: true })(cmd) : shortOf('issue')(cmd)));
    await s.takes.issue(input());
    expect(await s.takes.issue(input({ idempotencyKey: 'lost' }))).toMatchObject({ ok: true, value: { replayed: true } });
    expect(await s.takes.issue(input({ idempotencyKey: 'fresh' }))).toMatchObject({ ok: false, code: 'SOLD_OUT' });
    expect(s.sent).toHaveLength(3);
  });

  it('never answers a hold from memory (a hold is keyed by its owner, who may hold already)', async () => {
    const s = service(shortOf('use'));
    await s.takes.use(input());
    expect(await s.takes.hold({ couponId: 'cpn_1', userId: 'u1', ownerId: 'o1', ttlSeconds: 60, caller: 'c1' })).toMatchObject({ ok: false, code: 'SOLD_OUT' });
    expect(s.sent).toHaveLength(2);
  });

  it('forgets at once when a cancel through this process gives back, and when it answers not found too', async () => {
    for (const restored of ['found', 'not_found'] as const) {
      const s = service(shortOf('issue'), restored);
      await s.takes.issue(input());
      await s.takes.cancelIssue('cpn_1', 'iss_1');
      await s.takes.issue(input());
      expect(s.sent).toHaveLength(2);
    }
  });

  it('does not learn a refusal sent before a cancel that answered before it', async () => {
    let release: (r: TakeResult) => void = () => {};
    const s = service(() => new Promise<TakeResult>((resolve) => (release = resolve)));
    const inFlight = s.takes.issue(input());
    await s.takes.cancelIssue('cpn_1', 'iss_1');
    release({ ok: false, reason: 'insufficient', index: 0 });
    expect(await inFlight).toMatchObject({ code: 'SOLD_OUT' });
    const next = s.takes.issue(input());
    release({ ok: true, opId: 'iss_2', remains: [0, null, null, null, null], replayed: false, holdExpiresAt: null });
    expect(await next).toMatchObject({ ok: true });
    expect(s.sent).toHaveLength(2);
  });

  it('lets takes that find the fact run out wait for the take that asks again, and answers them from what it learned (Node host)', async () => {
    let clock = Date.parse('2026-12-02T10:00:00Z');
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    let asked = 0;
    const f = fakeGauges({
      answer: async () => {
        asked += 1;
        // The second call (the probe) is slow: answered only when the test says.
        if (asked === 2) await gate;
        return { ok: false, reason: 'insufficient', index: 0 };
      },
    });
    f.deps.clock = () => clock;
    useSoldOutMemo(f.deps, soldOutMemo(1000, true));
    const remembered: string[] = [];
    f.deps.onRemembered = (_, kind) => remembered.push(kind);
    const takes = new CouponTakes(f.deps);
    await takes.issue(input());
    clock += 300;
    const probe = takes.issue(input({ userId: 'probe' }));
    clock += 800;
    // The fact ran out at +1000; the probe sent at +300 is still out: these takes wait for it.
    const waiting = Array.from({ length: 5 }, (_, i) => takes.issue(input({ userId: `waits-${i}` })));
    expect(asked).toBe(2);
    release();
    expect(await probe).toMatchObject({ code: 'SOLD_OUT' });
    for (const w of waiting) expect(await w).toMatchObject({ code: 'SOLD_OUT' });
    // One of them asks again (the renewed fact is past its quarter); the other four are answered from it.
    expect(asked).toBe(3);
    expect(remembered).toHaveLength(4);
  });

  it('builds no memo for a window of 0', () => {
    expect(soldOutMemo(0)).toBeNull();
    expect(soldOutMemo(250)?.windowMs).toBe(250);
  });

  it('answers a period-free shortfall with the same body the gauge path does', () => {
    const at = Date.parse('2026-12-02T10:00:00Z');
    expect(shortfall('use', 'use', currentPeriods({}, at))).toEqual({ ok: false, code: 'SOLD_OUT', detail: 'the stock is sold out' });
  });
});
