/**
 * Reordering a take's items cannot mislabel a refusal or a remain: here every builder sends its
 * items reversed, and every refusal and remain still reads as it does in `takes.test.ts`.
 */
import { describe, expect, it, vi } from 'vitest';
import { fakeGauges, SHORTFALL_CASES, shortOf, tookWith } from '../../test/support/fake-gauges.js';
import type { TakeInput } from './take-types.js';
import { CouponTakes } from './takes.js';

vi.mock('./items.js', async (importOriginal) => {
  const items = await importOriginal<typeof import('./items.js')>();
  return {
    ...items,
    takeItems: (...args: Parameters<typeof items.takeItems>) => items.takeItems(...args).reverse(),
    itemLimits: (...args: Parameters<typeof items.itemLimits>) => items.itemLimits(...args).reverse(),
  };
});

const input = (over: Partial<TakeInput> = {}): TakeInput => ({ couponId: 'cpn_1', userId: 'u1', idempotencyKey: 'k1', caller: 'c1', fingerprint: 'fp', ...over });

describe('items in another order', () => {
  it('are sent in that order (the mock is in effect)', async () => {
    const f = fakeGauges({ answer: tookWith({}) });
    await new CouponTakes(f.deps).issue(input());
    expect(f.takes[0]?.items.map((i) => i.limit)).toEqual(['issuePerWeek', 'issuePerDay', 'held', 'perUserIssue', 'issue']);
  });

  it.each(SHORTFALL_CASES)('$kind short on $limit still answers $code', async ({ kind, limit, code }) => {
    const f = fakeGauges({ answer: shortOf(limit) });
    expect(await new CouponTakes(f.deps)[kind](input({ discountAmount: 100 }))).toMatchObject({ ok: false, code });
  });

  it('still answer the stock and budget remains', async () => {
    const f = fakeGauges({ answer: tookWith({ use: 9, held: 0, perUserUse: 2, budget: 1500 }) });
    expect(await new CouponTakes(f.deps).use(input({ discountAmount: 500 }))).toMatchObject({ ok: true, value: { remain: 9, budgetRemain: 1500 } });
  });

  it('still answer a cancel with its own stock', async () => {
    const f = fakeGauges({
      restored: () => ({ ok: true, restored: true, remains: [null, null, 1, null, 5], op: { opId: 'iss_1', kind: 'issue', scope: 'cpn_1', subject: 'u1', ref: null, amount: 1, at: 0, restoredAt: 1 } }),
    });
    expect(await new CouponTakes(f.deps).cancelIssue('cpn_1', 'iss_1')).toMatchObject({ ok: true, value: { remain: 5 } });
  });
});
