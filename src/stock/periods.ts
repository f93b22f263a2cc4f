/**
 * Periods of a stock that resets (a day, an ISO week) in a time zone: the window a moment falls
 * in, named by a label that a consumer puts in the gauge's key (`2026-12-02`, `2026-W49`), so
 * each period has its own gauge and a new period starts a fresh one. Pure: `Intl` only, which
 * Node and workerd both have.
 */
export const PERIODS = ['day', 'week'] as const;
export type Period = (typeof PERIODS)[number];

export interface PeriodWindow {
  period: Period;
  /** `YYYY-MM-DD` for a day, `YYYY-Www` (ISO week) for a week. */
  label: string;
  /** First instant of the period, ms since the epoch. */
  start: number;
  /** First instant after it. */
  end: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Whether `timeZone` is an IANA zone this runtime knows (`UTC`, `Europe/Berlin`, …). */
export function isTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The wall clock of `at` in the zone, as fields. */
function wall(at: number, timeZone: string) {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(at)) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return { y: parts.year ?? 1970, m: parts.month ?? 1, d: parts.day ?? 1, h: parts.hour ?? 0, min: parts.minute ?? 0, s: parts.second ?? 0 };
}

/** How far the zone's wall clock is ahead of UTC at `at`, in ms. */
function offset(at: number, timeZone: string): number {
  const w = wall(at, timeZone);
  return Date.UTC(w.y, w.m - 1, w.d, w.h, w.min, w.s) - Math.floor(at / 1000) * 1000;
}

const DAY_MS = 86_400_000;

/** The local calendar date of `at` in the zone, as whole days since the epoch (so dates compare). */
function localDay(at: number, timeZone: string): number {
  const w = wall(at, timeZone);
  return Date.UTC(w.y, w.m - 1, w.d) / DAY_MS;
}

/**
 * The first instant whose local date is y-m-d (m 1-based; overflow rolls over). Usually local
 * midnight, but not where the clocks skip it (America/Santiago 2026-09-06 goes from 23:59:59 to
 * 01:00: the day starts at 01:00) or repeat it (Atlantic/Azores: the first of the two midnights).
 */
function dayStart(y: number, m: number, d: number, timeZone: string): number {
  const utc = Date.UTC(y, m - 1, d);
  const day = utc / DAY_MS;
  // The start is the one instant whose date is the day or later while the moment before is not.
  const isStart = (t: number) => localDay(t, timeZone) >= day && localDay(t - 1, timeZone) < day;
  // Midnight read with the offset near it: right unless the offset changes within hours of it.
  const guess = utc - offset(utc, timeZone);
  if (isStart(guess)) return guess;
  const second = utc - offset(guess, timeZone);
  if (second !== guess && isStart(second)) return second;
  // Midnight was skipped or the offset moved in between: search the seconds around it (no zone
  // is 36 hours from UTC) for the first whose date is the day. Offset changes fall on whole seconds.
  let before = Math.floor(utc / 1000) - 36 * 3600;
  let from = Math.floor(utc / 1000) + 36 * 3600;
  while (from - before > 1) {
    const mid = Math.floor((before + from) / 2);
    if (localDay(mid * 1000, timeZone) >= day) from = mid;
    else before = mid;
  }
  return from * 1000;
}

/** ISO week-numbering year and week of a calendar date. */
function isoWeek(y: number, m: number, d: number): { year: number; week: number } {
  const date = new Date(Date.UTC(y, m - 1, d));
  const dow = (date.getUTCDay() + 6) % 7; // Monday 0
  date.setUTCDate(date.getUTCDate() - dow + 3); // the Thursday of this week decides the year
  const year = date.getUTCFullYear();
  const week1 = new Date(Date.UTC(year, 0, 4)); // 4 January is always in week 1
  const week = 1 + Math.round(((date.getTime() - week1.getTime()) / 86_400_000 - 3 + ((week1.getUTCDay() + 6) % 7)) / 7);
  return { year, week };
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** The period `at` falls in, in `timeZone`. */
export function periodOf(period: Period, at: number, timeZone: string): PeriodWindow {
  const { y, m, d } = wall(at, timeZone);
  if (period === 'day') {
    return { period, label: `${y}-${pad(m)}-${pad(d)}`, start: dayStart(y, m, d, timeZone), end: dayStart(y, m, d + 1, timeZone) };
  }
  const dow = (new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7;
  const { year, week } = isoWeek(y, m, d);
  return {
    period,
    label: `${year}-W${pad(week)}`,
    start: dayStart(y, m, d - dow, timeZone),
    end: dayStart(y, m, d - dow + 7, timeZone),
  };
}

/**
 * Windows of one period kind in one zone, remembered until they end: a take asks for the
 * current one, and an `Intl` call per take would cost more than the take's own work.
 */
export class PeriodClock {
  private readonly current = new Map<Period, PeriodWindow>();

  constructor(readonly timeZone: string) {}

  at(period: Period, now: number): PeriodWindow {
    const known = this.current.get(period);
    if (known && now >= known.start && now < known.end) return known;
    const window = periodOf(period, now, this.timeZone);
    this.current.set(period, window);
    return window;
  }
}
