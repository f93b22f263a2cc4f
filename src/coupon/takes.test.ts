/**
 * The take's decisions, without Redis or Postgres: what a take sends to the gauge port and
 * what each answer becomes. The gauge is a fake that answers as told; what the gauges really do
 * is the contract suite's (test/contract), against real stores.
 */
import { describe, expect, it } from 'vitest';
import { fakeGauges, SHORTFALL_CASES, shortOf, tookWith } from '../../test/support/fake-gauges.js';
import type { TakeInput } from './take-types.js';
import { CouponTakes } from './takes.js';

const input = (over: Partial<TakeInput> = {}): TakeInput => ({ couponId: 'cpn_1', userId: 'u1', idempotencyKey: 'k1', caller: 'c1', fingerprint: 'fp', ...over });

describe('a take', () => {
  it('is one gauge call naming its items by limit, its idempotency key scoped by kind and caller, its ledger facts', async () => {
    const f = fakeGauges({ answer: tookWith({ issue: 4 }) });
    const result = await new CouponTakes(f.deps).issue(input({ orderId: 'o1' }));
    expect(result).toMatchObject({ ok: true, value: { couponId: 'cpn_1', userId: 'u1', remain: 4, budgetRemain: null, replayed: false } });
    expect(f.takes).toHaveLength(1);
    const [cmd] = f.takes;
    expect(cmd).toMatchObject({ prefix: 'cs:{c:cpn_1}:', window: 'issue', idempotencyKey: 'issue:c1:k1', fingerprint: 'fp' });
    expect(cmd?.ledger).toEqual({ scope: 'cpn_1', kind: 'issue', subject: 'u1', ref: 'o1', amount: 1, value: null });
    expect(cmd?.items.map((i) => i.limit).sort()).toEqual(['held', 'issue', 'issuePerDay', 'issuePerWeek', 'perUserIssue']);
    expect(cmd?.opId).toMatch(/^iss_/);
  });

  it('answers the remain of its own stock and, for a use, the budget, whatever the other items left', async () => {
    const f = fakeGauges({ answer: tookWith({ use: 9, held: 0, perUserUse: 2, budget: 1500 }) });
    const result = await new CouponTakes(f.deps).use(input({ discountAmount: 500 }));
    expect(result).toMatchObject({ ok: true, value: { remain: 9, budgetRemain: 1500 } });
    expect(f.takes[0]?.items.find((i) => i.limit === 'budget')).toMatchObject({ n: 500 });
  });

  it('answers null for an unlimited stock', async () => {
    const f = fakeGauges({ answer: tookWith({ perUserIssue: 0 }) });
    expect(await new CouponTakes(f.deps).issue(input())).toMatchObject({ ok: true, value: { remain: null } });
  });

  it('without an Idempotency-Key gets a key of its own, so a retry takes again', async () => {
    const f = fakeGauges({ answer: tookWith({}) });
    const takes = new CouponTakes(f.deps);
    await takes.issue(input({ idempotencyKey: null }));
    await takes.issue(input({ idempotencyKey: null }));
    const [a, b] = f.takes.map((t) => t.idempotencyKey);
    expect(a).toMatch(/^issue:c1:none:/);
    expect(a).not.toBe(b);
  });

  it('tells the runtime of a change only when the gauge changed (not on a replay)', async () => {
    const fresh = fakeGauges({ answer: tookWith({}) });
    await new CouponTakes(fresh.deps).issue(input());
    expect(fresh.changed).toEqual(['cpn_1']);
    const replay = fakeGauges({ answer: tookWith({}, { replayed: true }) });
    expect(await new CouponTakes(replay.deps).issue(input())).toMatchObject({ ok: true, value: { replayed: true } });
    expect(replay.changed).toEqual([]);
  });
});

describe('a refused take', () => {
  it.each(SHORTFALL_CASES)('$kind short on $limit answers $code', async ({ kind, limit, code }) => {
    const f = fakeGauges({ answer: shortOf(limit) });
    const result = await new CouponTakes(f.deps)[kind](input({ discountAmount: 100 }));
    expect(result).toMatchObject({ ok: false, code });
  });

  it('names the period of a period cap and when it starts again', async () => {
    const f = fakeGauges({ answer: shortOf('usePerWeek') });
    const result = await new CouponTakes(f.deps).use(input());
    expect(result).toMatchObject({ ok: false, code: 'PERIOD_SOLD_OUT', detail: 'the use stock of this week (2026-W49) is sold out; it starts again at 2026-12-07T00:00:00.000Z' });
  });

  it.each([
    ['closed', 'NOT_ACTIVE'],
    ['sealed', 'NOT_ACTIVE'],
    ['not_started', 'NOT_ACTIVE'],
    ['ended', 'NOT_ACTIVE'],
    ['conflict', 'IDEMPOTENCY_KEY_REUSED'],
    ['unsettled', 'STOCK_UNAVAILABLE'],
  ] as const)('%s answers %s', async (reason, code) => {
    const f = fakeGauges({ answer: () => ({ ok: false, reason }) });
    expect(await new CouponTakes(f.deps).issue(input())).toMatchObject({ ok: false, code });
  });

  it('asks Postgres why the gauges are missing, only then', async () => {
    const draft = fakeGauges({ coupon: { status: 'draft' } });
    expect(await new CouponTakes(draft.deps).issue(input())).toMatchObject({ ok: false, code: 'NOT_ACTIVE' });
    const gone = fakeGauges({ coupon: null });
    expect(await new CouponTakes(gone.deps).issue(input())).toMatchObject({ ok: false, code: 'NOT_FOUND' });
    const lost = fakeGauges({ coupon: { status: 'confirmed' } });
    expect(await new CouponTakes(lost.deps).issue(input())).toMatchObject({ ok: false, code: 'STOCK_UNAVAILABLE' });
  });

  it('that did not state a discount where there is a budget is a validation failure on discountAmount', async () => {
    const f = fakeGauges({ answer: (cmd) => ({ ok: false, reason: 'unstated', index: cmd.items.findIndex((i) => i.limit === 'budget') }) });
    const result = await new CouponTakes(f.deps).use(input());
    expect(result).toMatchObject({ ok: false, code: 'VALIDATION_FAILED', errors: [{ path: 'body.discountAmount' }] });
    expect(f.takes[0]?.items.find((i) => i.limit === 'budget')).toMatchObject({ unstated: true });
  });

  it('whose gauge call failed in transport is a 503 to retry with the same key, never a guess', async () => {
    const f = fakeGauges({
      answer: () => {
        throw new Error('socket closed');
      },
    });
    expect(await new CouponTakes(f.deps).issue(input())).toMatchObject({ ok: false, code: 'STOCK_UNAVAILABLE' });
    expect(f.changed).toEqual([]);
  });
});

describe('a bulk issue', () => {
  it('is refused as a whole when every item is refused for the coupon, and asks Postgres once', async () => {
    const f = fakeGauges({ coupon: { status: 'paused' } });
    let asked = 0;
    const get = f.deps.coupons.get.bind(f.deps.coupons);
    f.deps.coupons = Object.assign(Object.create(f.deps.coupons) as typeof f.deps.coupons, { get: (id: string) => (asked++, get(id)) });
    const result = await new CouponTakes(f.deps).issueBatch({ couponId: 'cpn_1', userIds: ['a', 'b', 'c'], idempotencyKey: 'k', caller: 'c1' });
    expect(result).toMatchObject({ ok: false, code: 'STOCK_UNAVAILABLE' });
    expect(asked).toBe(1);
  });

  it('answers each user in order, with a key per user and occurrence', async () => {
    const f = fakeGauges({ answer: (cmd) => (cmd.ledger.subject === 'b' ? shortOf('perUserIssue')(cmd) : tookWith({ issue: 1 })(cmd)) });
    const result = await new CouponTakes(f.deps).issueBatch({ couponId: 'cpn_1', userIds: ['a', 'b', 'a'], idempotencyKey: 'k', caller: 'c1' });
    expect(result).toMatchObject({ ok: true, value: [{ userId: 'a', ok: true }, { userId: 'b', ok: false, code: 'USER_LIMIT_REACHED' }, { userId: 'a', ok: true }] });
    expect(new Set(f.takes.map((t) => t.idempotencyKey)).size).toBe(3);
  });
});

describe('a cancel', () => {
  it('answers the remain of its own stock, read by name from the remains the gauge answers in take order', async () => {
    const f = fakeGauges({
      restored: () => ({ ok: true, restored: true, remains: [5, null, 1, null, null], op: { opId: 'iss_1', kind: 'issue', scope: 'cpn_1', subject: 'u1', ref: null, amount: 1, at: 0, restoredAt: 1 } }),
    });
    expect(await new CouponTakes(f.deps).cancelIssue('cpn_1', 'iss_1')).toEqual({
      ok: true,
      value: { id: 'iss_1', couponId: 'cpn_1', userId: 'u1', orderId: null, status: 'cancelled', remain: 5 },
    });
    expect(f.changed).toEqual(['cpn_1']);
  });

  it('of an issue whose coupon was used answers ALREADY_USED', async () => {
    const f = fakeGauges({ restored: () => ({ ok: false, reason: 'insufficient', index: 2 }) });
    expect(await new CouponTakes(f.deps).cancelIssue('cpn_1', 'iss_1')).toMatchObject({ ok: false, code: 'ALREADY_USED' });
  });
});
