import { describe, expect, it } from 'vitest';
import { currentPeriods } from './deps.js';
import { issueItems, itemLimits, periodOfLimit, remainsByLimit, useItems } from './items.js';
import { couponKeys } from './keys.js';

describe('take items', () => {
  const keys = couponKeys('cpn_x');

  const periods = currentPeriods({}, Date.parse('2026-12-02T10:00:00Z'));
  const DAY_END = Date.parse('2026-12-03T00:00:00Z');
  const WEEK_END = Date.parse('2026-12-07T00:00:00Z');

  it('issues take the issue stock and the user limit, give the user one held coupon, then count the day and the week', () => {
    expect(issueItems(keys, 'u1', periods).map((i) => [i.key, i.n, i.limit, i.lazy])).toEqual([
      ['cs:{c:cpn_x}:issue', 1, 'issue', false],
      ['cs:{c:cpn_x}:ui:u1', 1, 'perUserIssue', true],
      ['cs:{c:cpn_x}:uh:u1', -1, 'held', true],
      ['cs:{c:cpn_x}:p:issue:d:2026-12-02', 1, 'issuePerDay', true],
      ['cs:{c:cpn_x}:p:issue:w:2026-W49', 1, 'issuePerWeek', true],
    ]);
    expect(remainsByLimit(issueItems(keys, 'u1', periods), [7, 1, 0, 3, 4])).toMatchObject({ issue: 7, issuePerDay: 3, issuePerWeek: 4 });
    // A period's gauge outlives its period by one more, for late cancels.
    expect(issueItems(keys, 'u1', periods).map((i) => i.expiresAt)).toEqual([undefined, undefined, undefined, DAY_END + 86_400_000, WEEK_END + 7 * 86_400_000]);
  });

  it('uses take a held coupon first, then the use stock, the user limit, the day and the week', () => {
    expect(useItems(keys, 'u1', periods).map((i) => [i.key, i.n, i.limit])).toEqual([
      ['cs:{c:cpn_x}:uh:u1', 1, 'held'],
      ['cs:{c:cpn_x}:use', 1, 'use'],
      ['cs:{c:cpn_x}:uu:u1', 1, 'perUserUse'],
      ['cs:{c:cpn_x}:p:use:d:2026-12-02', 1, 'usePerDay'],
      ['cs:{c:cpn_x}:p:use:w:2026-W49', 1, 'usePerWeek'],
      ['cs:{c:cpn_x}:budget', 0, 'budget'],
    ]);
    // Without a stated discount the budget item is marked so: refused where there is a budget.
    expect(useItems(keys, 'u1', periods).find((i) => i.limit === 'budget')).toMatchObject({ n: 0, unstated: true });
    expect(useItems(keys, 'u1', periods, 1500).find((i) => i.limit === 'budget')).toEqual({ key: 'cs:{c:cpn_x}:budget', n: 1500, limit: 'budget', lazy: false });
    expect(remainsByLimit(useItems(keys, 'u1', periods), [0, 9, 1, null, null, 500])).toMatchObject({ use: 9, budget: 500 });
  });
});

describe('item names', () => {
  it('lists the limits of each kind as the builders send them (a restore answers remains in that order)', () => {
    const periods = currentPeriods({}, Date.parse('2026-12-02T10:00:00Z'));
    expect(itemLimits('issue')).toEqual(issueItems(couponKeys('c'), 'u', periods).map((i) => i.limit));
    expect(itemLimits('use')).toEqual(useItems(couponKeys('c'), 'u', periods).map((i) => i.limit));
  });

  it('names every limit of a take once (remains are read by name)', () => {
    for (const kind of ['issue', 'use'] as const) expect(new Set(itemLimits(kind)).size).toBe(itemLimits(kind).length);
  });

  it('knows the period of a period cap, and that other limits have none', () => {
    expect(periodOfLimit('usePerWeek')).toBe('week');
    expect(periodOfLimit('issuePerDay')).toBe('day');
    expect(periodOfLimit('perUserUse')).toBeNull();
  });
});
