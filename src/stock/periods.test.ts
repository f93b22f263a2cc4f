import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isTimeZone, type Period, PeriodClock, periodOf } from './periods.js';

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

/*
 * The laws of periods, checked against `Intl` directly in every zone the runtime knows, with the
 * instants drawn near the zone's offset changes (where days get 23 or 25 hours, or lose or repeat
 * their midnight) as well as anywhere in 2020–2035.
 */
const HOUR = 3_600_000;
const WEEK = 7 * 24 * HOUR;
const FROM = Date.UTC(2020, 0, 1);
const TO = Date.UTC(2036, 0, 1);
const ZONES = Intl.supportedValuesOf('timeZone');
/** Zones whose clocks skip midnight (Santiago, Havana, Asunción, Beirut, Cairo, …) or repeat it (Azores, Gaza 2020–21). */
const MIDNIGHT_ZONES = ['America/Santiago', 'America/Havana', 'America/Asuncion', 'Asia/Beirut', 'Africa/Cairo', 'Atlantic/Azores', 'America/Scoresbysund', 'Asia/Gaza', 'Asia/Tehran', 'America/Nuuk', 'Asia/Damascus', 'Asia/Amman'];

const oracles = new Map<string, { date: Intl.DateTimeFormat; offset: Intl.DateTimeFormat }>();
function oracle(zone: string) {
  let o = oracles.get(zone);
  if (!o) {
    o = {
      date: new Intl.DateTimeFormat('en-US', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' }),
      offset: new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' }),
    };
    oracles.set(zone, o);
  }
  return o;
}
const part = (parts: Intl.DateTimeFormatPart[], type: string) => parts.find((p) => p.type === type)?.value ?? '';

/** The local date of `at` as `Intl` shows it: `YYYY-MM-DD`. */
function localDate(at: number, zone: string): string {
  const parts = oracle(zone).date.formatToParts(at);
  return `${part(parts, 'year')}-${part(parts, 'month')}-${part(parts, 'day')}`;
}

/** The ISO week of a `YYYY-MM-DD` date: the week of its Thursday, counted in that Thursday's year. */
function isoWeekOf(date: string): string {
  const day = Date.parse(`${date}T00:00:00Z`);
  const thursday = day + (3 - ((new Date(day).getUTCDay() + 6) % 7)) * 24 * HOUR;
  const year = new Date(thursday).getUTCFullYear();
  const week = Math.floor((thursday - Date.UTC(year, 0, 1)) / WEEK) + 1;
  return `${year}-W${String(week).padStart(2, '0')}`;
}

const labelAt = (period: Period, at: number, zone: string) => (period === 'day' ? localDate(at, zone) : isoWeekOf(localDate(at, zone)));
const utcOffset = (at: number, zone: string) => part(oracle(zone).offset.formatToParts(at), 'timeZoneName');

/** The first change of the zone's UTC offset after `at` within about a year, to the second; `null` if none. */
function nextTransition(at: number, zone: string): number | null {
  const before = utcOffset(at, zone);
  for (let t = at + WEEK; t < at + 60 * WEEK; t += WEEK) {
    if (utcOffset(t, zone) === before) continue;
    let [lo, hi] = [Math.floor((t - WEEK) / 1000), Math.floor(t / 1000)];
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (utcOffset(mid * 1000, zone) === before) lo = mid;
      else hi = mid;
    }
    return hi * 1000;
  }
  return null;
}

/** Every law a window must keep, for the instant `at` in `zone`; throws naming the one broken. */
function assertLaws(period: Period, at: number, zone: string): void {
  const w = periodOf(period, at, zone);
  const say = (law: string) => `${zone} ${period} of ${new Date(at).toISOString()} (${JSON.stringify({ ...w, start: new Date(w.start), end: new Date(w.end) })}): ${law}`;
  expect(w.label, say('is named by the local date of the instant')).toBe(labelAt(period, at, zone));
  expect(w.start <= at && at < w.end, say('holds the instant')).toBe(true);
  expect(labelAt(period, w.start, zone), say('starts at an instant of its own')).toBe(w.label);
  expect(labelAt(period, w.start - 1, zone), say('starts at the first instant of its own')).not.toBe(w.label);
  expect(labelAt(period, w.end - 1, zone), say('ends after the last instant of its own')).toBe(w.label);
  expect(labelAt(period, w.end, zone), say('ends before the next period')).not.toBe(w.label);
  expect(periodOf(period, w.end, zone).start, say('touches the next window')).toBe(w.end);
  expect(periodOf(period, w.start - 1, zone).end, say('touches the previous window')).toBe(w.start);
  expect(new PeriodClock(zone).at(period, at), say('is what the clock answers')).toEqual(w);
}

describe('period laws in every zone', () => {
  const zone = fc.oneof(fc.constantFrom(...ZONES), fc.constantFrom(...MIDNIGHT_ZONES));
  const instant = fc.integer({ min: FROM, max: TO - 1 });
  const period = fc.constantFrom<Period>('day', 'week');

  it('hold anywhere in 2020–2035', () => {
    fc.assert(
      fc.property(zone, instant, period, (z, at, p) => assertLaws(p, at, z)),
      { numRuns: 500 },
    );
  });

  it('hold around every kind of offset change: skipped and repeated midnights, 23 and 25 hour days', () => {
    // Near the zone's next offset change after a random instant: exactly at it, a moment either
    // side, the hour it skips or repeats, and anywhere in the days around it.
    const delta = fc.oneof(fc.constantFrom(0, -1, 1, -1000, -HOUR, HOUR, -HOUR / 2, HOUR / 2, -2 * HOUR, 2 * HOUR), fc.integer({ min: -36 * HOUR, max: 36 * HOUR }));
    fc.assert(
      fc.property(zone, instant, delta, period, (z, from, d, p) => {
        const change = nextTransition(from, z);
        assertLaws(p, (change ?? from) + d, z);
      }),
      { numRuns: 1_500 },
    );
  });

  it('walks day after day and week after week through 2026 without a gap or an overlap', () => {
    for (const z of MIDNIGHT_ZONES) {
      for (const p of ['day', 'week'] as const) {
        const clock = new PeriodClock(z);
        let w = clock.at(p, Date.UTC(2026, 0, 1));
        while (w.start < Date.UTC(2027, 0, 1)) {
          const next = clock.at(p, w.end);
          expect(next.start, `${z} ${p} after ${w.label}`).toBe(w.end);
          expect(next.label, `${z} ${p} after ${w.label}`).not.toBe(w.label);
          expect(labelAt(p, w.start, z)).toBe(w.label);
          expect(labelAt(p, w.end - 1, z)).toBe(w.label);
          w = next;
        }
      }
    }
  });
});

describe('days that skip or repeat midnight', () => {
  const window = (period: Period, at: string, zone: string) => {
    const w = periodOf(period, Date.parse(at), zone);
    return { label: w.label, start: iso(w.start), end: iso(w.end) };
  };

  it('America/Santiago 2026-09-06: 00:00 is 01:00, so the day starts at 01:00 and has 23 hours', () => {
    // 04:00Z is 00:00 -04, shown as 01:00 -03: the eve keeps its 24 hours up to then.
    expect(window('day', '2026-09-06T03:30:00Z', 'America/Santiago')).toEqual({ label: '2026-09-05', start: '2026-09-05T04:00:00.000Z', end: '2026-09-06T04:00:00.000Z' });
    expect(window('day', '2026-09-06T03:59:59.999Z', 'America/Santiago').end).toBe('2026-09-06T04:00:00.000Z');
    expect(window('day', '2026-09-06T04:00:00Z', 'America/Santiago')).toEqual({ label: '2026-09-06', start: '2026-09-06T04:00:00.000Z', end: '2026-09-07T03:00:00.000Z' });
    expect(window('day', '2026-09-06T04:30:00Z', 'America/Santiago')).toEqual({ label: '2026-09-06', start: '2026-09-06T04:00:00.000Z', end: '2026-09-07T03:00:00.000Z' });
    // The ISO week around it (Monday 31 August – Sunday 6 September) is an hour short.
    expect(window('week', '2026-09-06T03:30:00Z', 'America/Santiago')).toEqual({ label: '2026-W36', start: '2026-08-31T04:00:00.000Z', end: '2026-09-07T03:00:00.000Z' });
  });

  it('America/Havana 2026-03-08: the day starts at 01:00 (05:00Z)', () => {
    expect(window('day', '2026-03-08T04:30:00Z', 'America/Havana')).toEqual({ label: '2026-03-07', start: '2026-03-07T05:00:00.000Z', end: '2026-03-08T05:00:00.000Z' });
    expect(window('day', '2026-03-08T05:30:00Z', 'America/Havana')).toEqual({ label: '2026-03-08', start: '2026-03-08T05:00:00.000Z', end: '2026-03-09T04:00:00.000Z' });
    expect(window('week', '2026-03-08T05:30:00Z', 'America/Havana')).toEqual({ label: '2026-W10', start: '2026-03-02T05:00:00.000Z', end: '2026-03-09T04:00:00.000Z' });
  });

  it('Asia/Beirut 2026-03-29 skips midnight on a Sunday; 2026-10-24 repeats 23:00 and the next day starts once', () => {
    expect(window('day', '2026-03-28T22:00:00Z', 'Asia/Beirut')).toEqual({ label: '2026-03-29', start: '2026-03-28T22:00:00.000Z', end: '2026-03-29T21:00:00.000Z' });
    expect(window('day', '2026-10-24T21:30:00Z', 'Asia/Beirut')).toEqual({ label: '2026-10-24', start: '2026-10-23T21:00:00.000Z', end: '2026-10-24T22:00:00.000Z' });
  });

  it('America/Santiago 2026-04-05: the clocks go back from 24:00 to 23:00, so the eve has 25 hours', () => {
    expect(window('day', '2026-04-05T03:30:00Z', 'America/Santiago')).toEqual({ label: '2026-04-04', start: '2026-04-04T03:00:00.000Z', end: '2026-04-05T04:00:00.000Z' });
    expect(window('day', '2026-04-05T04:00:00Z', 'America/Santiago')).toEqual({ label: '2026-04-05', start: '2026-04-05T04:00:00.000Z', end: '2026-04-06T04:00:00.000Z' });
  });

  it('Atlantic/Azores 2026-10-25 repeats 00:00–01:00: the day starts at the first midnight and has 25 hours', () => {
    expect(window('day', '2026-10-25T01:30:00Z', 'Atlantic/Azores')).toEqual({ label: '2026-10-25', start: '2026-10-25T00:00:00.000Z', end: '2026-10-26T01:00:00.000Z' });
  });

  it('America/Asuncion 2024-03-24 repeats 23:00 of the eve; 2024-10-06 skips midnight', () => {
    expect(window('day', '2024-03-24T03:30:00Z', 'America/Asuncion')).toEqual({ label: '2024-03-23', start: '2024-03-23T03:00:00.000Z', end: '2024-03-24T04:00:00.000Z' });
    expect(window('day', '2024-10-06T04:00:00Z', 'America/Asuncion')).toEqual({ label: '2024-10-06', start: '2024-10-06T04:00:00.000Z', end: '2024-10-07T03:00:00.000Z' });
  });

  it('the clock does not keep an eve that ended early: 23:30 on the eve of a skipped midnight is still the eve', () => {
    const clock = new PeriodClock('America/Santiago');
    const eve = clock.at('day', Date.parse('2026-09-06T02:30:00Z'));
    expect(clock.at('day', Date.parse('2026-09-06T03:30:00Z'))).toBe(eve);
    expect(clock.at('day', Date.parse('2026-09-06T04:00:00Z')).label).toBe('2026-09-06');
  });
});
