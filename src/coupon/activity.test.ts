import { describe, expect, it } from 'vitest';
import { CHART_MINUTES, chartWindow, MINUTE, saleSeries } from './activity.js';
import type { ActivityRow } from './ports.js';

const T = Date.parse('2026-06-01T10:00:00Z');
const row = (minutes: number, kind: string, takes: number, restores: number, refusals: number, netAfter: number): ActivityRow => ({
  minute: new Date(T + minutes * MINUTE),
  kind,
  takes,
  restores,
  refusals,
  netAfter,
});

describe('chartWindow', () => {
  it('covers the last hour with the current minute for a live coupon', () => {
    const w = chartWindow({ status: 'confirmed', updatedAt: new Date(0) }, T + 90 * 1000);
    expect(w.to.toISOString()).toBe('2026-06-01T10:02:00.000Z');
    expect(w.to.getTime() - w.from.getTime()).toBe(CHART_MINUTES * MINUTE);
  });

  it('ends at the archival of an archived coupon', () => {
    const w = chartWindow({ status: 'archived', updatedAt: new Date(T + 30 * 1000) }, T + 5 * 3_600_000);
    expect(w.to.toISOString()).toBe('2026-06-01T10:01:00.000Z');
  });
});

describe('saleSeries', () => {
  it('counts what was left from the total and the net after each minute, and before the first', () => {
    const series = saleSeries([row(0, 'issue', 3, 1, 5, 5), row(1, 'use', 1, 0, 0, 1), row(2, 'issue', 0, 0, 4, 5), row(1, 'issue', 2, 0, 0, 7)], { issue: 10, use: null });
    expect(series).toEqual([
      {
        kind: 'issue',
        total: 10,
        remainBefore: 7,
        points: [
          { minute: new Date(T), takes: 3, restores: 1, refusals: 5, remain: 5 },
          { minute: new Date(T + MINUTE), takes: 2, restores: 0, refusals: 0, remain: 3 },
          { minute: new Date(T + 2 * MINUTE), takes: 0, restores: 0, refusals: 4, remain: 5 },
        ],
      },
      { kind: 'use', total: null, remainBefore: null, points: [{ minute: new Date(T + MINUTE), takes: 1, restores: 0, refusals: 0, remain: null }] },
    ]);
  });

  it('leaves out stocks without activity', () => {
    expect(saleSeries([], { issue: 10, use: 5 })).toEqual([]);
  });
});
