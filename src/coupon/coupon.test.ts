import { describe, expect, it } from 'vitest';
import { canTransition, couponPolicy, hasEnded, isIssued, isLive, specProblems, unlimitedSpec, type CouponSpec } from './coupon.js';
import { ID_PATTERN, newId } from './ids.js';
import { currentPeriods } from './deps.js';
import { couponKeys } from './keys.js';

const spec = (over: Partial<CouponSpec> = {}): CouponSpec => unlimitedSpec('x', over);

describe('lifecycle', () => {
  it('allows draft → confirmed ⇄ paused → archived and staying put', () => {
    expect(canTransition('draft', 'confirmed')).toBe(true);
    expect(canTransition('confirmed', 'paused')).toBe(true);
    expect(canTransition('paused', 'confirmed')).toBe(true);
    expect(canTransition('paused', 'archived')).toBe(true);
    expect(canTransition('confirmed', 'archived')).toBe(true);
    expect(canTransition('confirmed', 'confirmed')).toBe(true);
    expect(canTransition('archived', 'archived')).toBe(true);
  });

  it('refuses every other move', () => {
    expect(canTransition('draft', 'paused')).toBe(false);
    expect(canTransition('draft', 'archived')).toBe(false);
    expect(canTransition('archived', 'confirmed')).toBe(false);
    expect(canTransition('archived', 'draft')).toBe(false);
    expect(canTransition('confirmed', 'draft')).toBe(false);
  });

  it('counts confirmed and paused as live', () => {
    expect(['draft', 'confirmed', 'paused', 'archived'].filter((s) => isLive(s as never))).toEqual(['confirmed', 'paused']);
  });
});

describe('issued vs public coupons', () => {
  it('is issued with an issue stock or a per-user issue limit', () => {
    expect(isIssued(spec({ issueStock: { total: 1 } }))).toBe(true);
    expect(isIssued(spec({ perUserIssueLimit: 1 }))).toBe(true);
    expect(isIssued(spec({ useStock: { total: 5 }, perUserUseLimit: 1 }))).toBe(false);
  });

  it('gives issued coupons a held limit of 0 and public ones none', () => {
    expect(couponPolicy({ ...spec({ issueStock: { total: 3 } }), status: 'confirmed', statusVersion: 0 }).limits).toEqual({ issue: 3, held: 0 });
    expect(couponPolicy({ ...spec({ useStock: { total: 3 }, perUserUseLimit: 2 }), status: 'confirmed', statusVersion: 0 }).limits).toEqual({ use: 3, perUserUse: 2 });
    expect(
      couponPolicy({ ...spec({ issueStock: { total: 10 }, issuePeriodStock: { total: 2, period: 'day' }, usePeriodStock: { total: 5, period: 'week' } }), status: 'confirmed', statusVersion: 0 }).limits,
    ).toEqual({ issue: 10, issuePerDay: 2, usePerWeek: 5, held: 0 });
  });
});

describe('policy', () => {
  it('carries the open flag and both windows in ms', () => {
    const start = new Date('2026-01-01T00:00:00Z');
    const policy = couponPolicy({ ...spec({ issueWindow: { start, end: null } }), status: 'paused', statusVersion: 0 });
    expect(policy.open).toBe(false);
    expect(policy.windows).toEqual({ issue: { start: start.getTime(), end: null }, use: { start: null, end: null } });
  });
});

describe('windows', () => {
  it('refuses a window whose end is not after its start', () => {
    const t = new Date('2026-01-01T00:00:00Z');
    expect(specProblems(spec({ issueWindow: { start: t, end: t } }))).toEqual([{ path: 'issueWindow.end', message: 'must be after start' }]);
    expect(specProblems(spec({ useWindow: { start: t, end: new Date(t.getTime() + 1) } }))).toEqual([]);
  });

  it('keeps per-user limits within the Postgres integer column (else a 500 on insert)', () => {
    expect(specProblems(spec({ perUserIssueLimit: 2 ** 31 - 1, perUserUseLimit: 1 }))).toEqual([]);
    expect(specProblems(spec({ perUserIssueLimit: 2 ** 31, perUserUseLimit: 0 })).map((p) => p.path)).toEqual(['perUserIssueLimit', 'perUserUseLimit']);
  });

  it('has ended only when every window has an end in the past', () => {
    const past = new Date(1_000);
    const future = new Date(10_000);
    expect(hasEnded(spec({ issueWindow: { start: null, end: past }, useWindow: { start: null, end: past } }), 5_000)).toBe(true);
    expect(hasEnded(spec({ issueWindow: { start: null, end: past }, useWindow: { start: null, end: future } }), 5_000)).toBe(false);
    expect(hasEnded(spec({ issueWindow: { start: null, end: past } }), 5_000)).toBe(false);
    expect(hasEnded(spec(), 5_000)).toBe(false);
  });
});

describe('keys', () => {
  it('puts every key of a coupon under one hash tag', () => {
    const keys = couponKeys('cpn_abc');
    for (const key of [keys.issue, keys.use, keys.userIssue('{u}'), keys.userUse('*'), keys.unusedIssues('a:b')]) {
      expect(key.startsWith('cs:{c:cpn_abc}:')).toBe(true);
    }
  });

  it('cannot confuse user counters of different kinds whatever the user id holds', () => {
    const keys = couponKeys('c');
    expect(keys.userIssue('x')).not.toBe(keys.userUse('x'));
    expect(keys.userIssue('uu:x')).not.toBe(keys.userUse('x'));
  });
});

describe('ids', () => {
  it('match the id pattern and sort by creation time', () => {
    const a = newId('cpn', 1_700_000_000_000);
    const b = newId('cpn', 1_700_000_000_001);
    expect(a).toMatch(ID_PATTERN);
    expect(a < b).toBe(true);
    expect(newId('iss')).toMatch(/^iss_/);
  });

  it('are unique', () => {
    const ids = new Set(Array.from({ length: 10_000 }, () => newId('use', 1)));
    expect(ids.size).toBe(10_000);
  });
});
