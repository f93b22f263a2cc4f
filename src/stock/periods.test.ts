import { describe, expect, it } from 'vitest';
import { isTimeZone, PeriodClock, periodOf } from './periods.js';

const iso = (ms: number) => new Date(ms).toISOString();

describe('periodOf', () => {
  it('names a UTC day and bounds it at midnight', () => {
    const w = periodOf('day', Date.parse('2026-12-02T13:45:00Z'), 'UTC');
    expect(w).toMatchObject({ period: 'day', label: '2026-12-02' });
    expect([iso(w.start), iso(w.end)]).toEqual(['2026-12-02T00:00:00.000Z', '2026-12-03T00:00:00.000Z']);
  });

  it('uses the local date of the zone, not UTC', () => {
    // 23:30 UTC is already the next day in Berlin (UTC+1 in December) and still the same in New York.
    const at = Date.parse('2026-12-02T23:30:00Z');
    const berlin = periodOf('day', at, 'Europe/Berlin');
    expect(berlin.label).toBe('2026-12-03');
    expect([iso(berlin.start), iso(berlin.end)]).toEqual(['2026-12-02T23:00:00.000Z', '2026-12-03T23:00:00.000Z']);
    const ny = periodOf('day', at, 'America/New_York');
    expect(ny.label).toBe('2026-12-02');
    expect(iso(ny.start)).toBe('2026-12-02T05:00:00.000Z');
  });

  it('has 23 and 25 hour days across daylight saving changes', () => {
    const spring = periodOf('day', Date.parse('2026-03-29T12:00:00Z'), 'Europe/Berlin');
    expect(spring.end - spring.start).toBe(23 * 3_600_000);
    expect(iso(spring.start)).toBe('2026-03-28T23:00:00.000Z');
    const autumn = periodOf('day', Date.parse('2026-10-25T12:00:00Z'), 'Europe/Berlin');
    expect(autumn.end - autumn.start).toBe(25 * 3_600_000);
  });

  it('names ISO weeks (Monday first), across year ends', () => {
    const wed = periodOf('week', Date.parse('2026-12-02T10:00:00Z'), 'UTC');
    expect(wed.label).toBe('2026-W49');
    expect([iso(wed.start), iso(wed.end)]).toEqual(['2026-11-30T00:00:00.000Z', '2026-12-07T00:00:00.000Z']);
    expect(periodOf('week', Date.parse('2021-01-03T10:00:00Z'), 'UTC').label).toBe('2020-W53');
    expect(periodOf('week', Date.parse('2024-12-30T10:00:00Z'), 'UTC').label).toBe('2025-W01');
    expect(periodOf('week', Date.parse('2026-01-01T10:00:00Z'), 'UTC').label).toBe('2026-W01');
    // Sunday 23:30 UTC is Monday in Tokyo: the next week there.
    expect(periodOf('week', Date.parse('2026-12-06T23:30:00Z'), 'Asia/Tokyo').label).toBe('2026-W50');
  });

  it('covers every instant once: consecutive windows touch', () => {
    let at = Date.parse('2026-03-20T00:00:00Z');
    for (let i = 0; i < 40; i++) {
      const w = periodOf('day', at, 'Europe/Berlin');
      expect(at).toBeGreaterThanOrEqual(w.start);
      expect(at).toBeLessThan(w.end);
      expect(periodOf('day', w.end, 'Europe/Berlin').start).toBe(w.end);
      at = w.end + 3_600_000 * 5;
    }
  });
});

describe('PeriodClock and zones', () => {
  it('reuses the current window until it ends', () => {
    const clock = new PeriodClock('UTC');
    const a = clock.at('day', Date.parse('2026-12-02T01:00:00Z'));
    expect(clock.at('day', Date.parse('2026-12-02T23:59:59Z'))).toBe(a);
    expect(clock.at('day', Date.parse('2026-12-03T00:00:00Z')).label).toBe('2026-12-03');
    expect(clock.at('day', Date.parse('2026-12-01T12:00:00Z')).label).toBe('2026-12-01');
  });

  it('knows IANA zones and refuses made-up ones', () => {
    expect(isTimeZone('UTC')).toBe(true);
    expect(isTimeZone('Europe/Berlin')).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
    expect(isTimeZone('')).toBe(false);
  });
});
