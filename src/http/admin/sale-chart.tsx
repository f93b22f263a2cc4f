/**
 * A coupon's sale at a glance, server-rendered SVG (no script, within the page's CSP): for each
 * stock with activity in the last hour, bars of takes, refusals and cancels per minute on the
 * left scale and a line of what was left on the right scale. Every minute is a group carrying
 * its numbers as data attributes (`data-minute`, `data-takes`, `data-refusals`,
 * `data-restores`, `data-remain`) and a tooltip.
 */
import type { StockName } from '../../coupon/coupon.js';
import { MINUTE, type SaleActivity, type SalePoint, type SaleSeries } from '../../coupon/activity.js';

/** What the page could read: the activity, or why not. */
export type ChartState = { state: 'shown'; activity: SaleActivity } | { state: 'unavailable' } | { state: 'none' };

const W = 720;
const H = 230;
const PAD = { left: 48, right: 48, top: 40, bottom: 26 };
const PLOT = { x0: PAD.left, x1: W - PAD.right, y0: PAD.top, y1: H - PAD.bottom };
/** The narrowest time axis: a one-minute sale still reads as a moment within a stretch of time. */
const MIN_SPAN_MINUTES = 6;

const COLOR = { takes: '#3a8f57', refusals: '#d0623f', restores: '#9aa3b5', remain: '#2d5fd3', grid: '#eceef3', text: '#556' };

const WORDS: Record<StockName, { stock: string; taken: string }> = {
  issue: { stock: 'Issue stock', taken: 'issued' },
  use: { stock: 'Use stock', taken: 'used' },
};

const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
const round = (n: number) => Math.round(n * 10) / 10;

/** A round upper bound for the count scale whose half is a whole number where it can be. */
function niceMax(n: number): number {
  if (n <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 2, 4, 5, 10]) if (m * p >= n) return m * p;
  return 10 * p;
}

/** Minutes between time labels: at most about seven labels. */
function labelStep(minutes: number): number {
  for (const step of [1, 2, 5, 10, 15, 30]) if (minutes / step <= 7) return step;
  return 60;
}

interface Axis {
  start: number;
  end: number;
  slot: number;
  x: (ms: number) => number;
}

function timeAxis(activity: SaleActivity): Axis {
  const end = activity.to.getTime();
  const firsts = activity.series.map((s) => s.points[0]?.minute.getTime() ?? end);
  // One quiet minute before the first activity shows what was left before it began.
  const start = Math.max(activity.from.getTime(), Math.min(Math.min(...firsts) - MINUTE, end - MIN_SPAN_MINUTES * MINUTE));
  const slot = (PLOT.x1 - PLOT.x0) / ((end - start) / MINUTE);
  return { start, end, slot, x: (ms) => PLOT.x0 + ((ms - start) / MINUTE) * slot };
}

function TimeLabels(props: { axis: Axis }) {
  const { axis } = props;
  const step = labelStep((axis.end - axis.start) / MINUTE) * MINUTE;
  const ticks: number[] = [];
  for (let t = Math.ceil(axis.start / step) * step; t <= axis.end; t += step) ticks.push(t);
  return (
    <g font-size="11" fill={COLOR.text} text-anchor="middle">
      {ticks.map((t, i) => (
        <>
          <line x1={round(axis.x(t))} x2={round(axis.x(t))} y1={PLOT.y1} y2={PLOT.y1 + 4} stroke={COLOR.text} />
          <text x={round(axis.x(t))} y={PLOT.y1 + 16}>
            {i === ticks.length - 1 ? `${hhmm(t)} UTC` : hhmm(t)}
          </text>
        </>
      ))}
    </g>
  );
}

/** Roughly how wide a label is at 12px, to lay the legend out without a script to measure it. */
const textWidth = (label: string) => label.length * 7;

function Legend(props: { kind: StockName; limited: boolean }) {
  const items: { color: string; label: string; line?: boolean }[] = [
    { color: COLOR.takes, label: WORDS[props.kind].taken },
    { color: COLOR.refusals, label: 'refused' },
    { color: COLOR.restores, label: 'cancelled' },
  ];
  if (props.limited) items.push({ color: COLOR.remain, label: 'left', line: true });
  let x = PLOT.x0 + textWidth(WORDS[props.kind].stock) + 18;
  return (
    <g font-size="12" fill="#1d2330">
      <text x={PLOT.x0} y={14} font-weight="600">
        {WORDS[props.kind].stock}
      </text>
      {items.map((item) => {
        const at = x;
        const mark = item.line ? 18 : 11;
        x += mark + 6 + textWidth(item.label) + 14;
        return (
          <>
            {item.line ? (
              <line x1={at} x2={at + mark} y1={10} y2={10} stroke={item.color} stroke-width={2.5} />
            ) : (
              <rect x={at} y={4.5} width={11} height={11} rx={2} fill={item.color} />
            )}
            <text x={at + mark + 6} y={14}>
              {item.label}
            </text>
          </>
        );
      })}
      <g font-size="10" fill={COLOR.text}>
        <text x={PLOT.x0 - 6} y={PLOT.y0 - 10} text-anchor="end">
          per min
        </text>
        {props.limited ? (
          <text x={PLOT.x1 + 6} y={PLOT.y0 - 10} fill={COLOR.remain}>
            left
          </text>
        ) : null}
      </g>
    </g>
  );
}

/** Horizontal grid and the count scale (left) and remain scale (right). */
function Scales(props: { countMax: number; total: number | null }) {
  const y = (f: number) => round(PLOT.y1 - f * (PLOT.y1 - PLOT.y0));
  const fractions = props.countMax % 2 === 0 ? [0, 0.5, 1] : [0, 1];
  return (
    <g font-size="11" fill={COLOR.text}>
      {[0, 0.25, 0.5, 0.75, 1].map((f) => (
        <line x1={PLOT.x0} x2={PLOT.x1} y1={y(f)} y2={y(f)} stroke={f === 0 ? '#b9bfcc' : COLOR.grid} />
      ))}
      {fractions.map((f) => (
        <text x={PLOT.x0 - 6} y={y(f) + 4} text-anchor="end">
          {f * props.countMax}
        </text>
      ))}
      {props.total === null
        ? null
        : [0, 0.5, 1].map((f) => (
            <text x={PLOT.x1 + 6} y={y(f) + 4} fill={COLOR.remain}>
              {Math.round(f * (props.total ?? 0))}
            </text>
          ))}
    </g>
  );
}

function pointTitle(kind: StockName, p: SalePoint): string {
  const parts = [`${p.takes} ${WORDS[kind].taken}`, `${p.refusals} refused`, `${p.restores} cancelled`];
  if (p.remain !== null) parts.push(`${p.remain} left`);
  return `${hhmm(p.minute.getTime())} UTC: ${parts.join(', ')}`;
}

function Chart(props: { couponId: string; series: SaleSeries; axis: Axis }) {
  const { series, axis } = props;
  const { kind, total, points } = series;
  const countMax = niceMax(Math.max(...points.map((p) => Math.max(p.takes, p.refusals, p.restores))));
  const yCount = (n: number) => PLOT.y1 - (n / countMax) * (PLOT.y1 - PLOT.y0);
  const yRemain = (n: number) => PLOT.y1 - (total ? Math.max(0, Math.min(n, total)) / total : 0) * (PLOT.y1 - PLOT.y0);
  const bar = Math.max(1, (axis.slot * 0.84) / 3);
  const id = `chart-${props.couponId}-${kind}`;
  const sum = (f: (p: SalePoint) => number) => points.reduce((n, p) => n + f(p), 0);
  const last = points[points.length - 1];
  const summary =
    `From ${hhmm(axis.start)} to ${hhmm(axis.end)} UTC: ${sum((p) => p.takes)} ${WORDS[kind].taken}, ${sum((p) => p.refusals)} refused, ` +
    `${sum((p) => p.restores)} cancelled` +
    (total !== null && last?.remain !== null && last?.remain !== undefined ? `; ${last.remain} of ${total} left.` : '; unlimited.');

  // What was left, minute by minute: flat while nothing happens, moving across each minute with activity.
  let remainPath = '';
  if (total !== null && series.remainBefore !== null) {
    remainPath = `M${PLOT.x0} ${round(yRemain(series.remainBefore))}`;
    for (const p of points) {
      const x = axis.x(p.minute.getTime());
      remainPath += ` H${round(x)} L${round(x + axis.slot)} ${round(yRemain(p.remain ?? 0))}`;
    }
    remainPath += ` H${PLOT.x1}`;
  }

  return (
    <figure class="chart" data-chart={kind} data-total={total ?? undefined}>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby={`${id}-title ${id}-desc`} font-family="system-ui, sans-serif">
        <title id={`${id}-title`}>{`${WORDS[kind].stock}: ${WORDS[kind].taken}, refused and cancelled per minute${total === null ? '' : ', and left'}`}</title>
        <desc id={`${id}-desc`}>{summary}</desc>
        <Legend kind={kind} limited={total !== null} />
        <Scales countMax={countMax} total={total} />
        <TimeLabels axis={axis} />
        {points.map((p) => {
          const x = axis.x(p.minute.getTime()) + axis.slot * 0.08;
          const bars: [number, string][] = [
            [p.takes, COLOR.takes],
            [p.refusals, COLOR.refusals],
            [p.restores, COLOR.restores],
          ];
          return (
            <g
              class="point"
              data-minute={p.minute.toISOString()}
              data-takes={p.takes}
              data-refusals={p.refusals}
              data-restores={p.restores}
              data-remain={p.remain ?? undefined}
            >
              <title>{pointTitle(kind, p)}</title>
              {bars.map(([n, color], i) =>
                n > 0 ? <rect x={round(x + i * bar)} y={round(yCount(n))} width={round(bar)} height={round(PLOT.y1 - yCount(n))} fill={color} /> : null,
              )}
            </g>
          );
        })}
        {remainPath ? <path d={remainPath} fill="none" stroke={COLOR.remain} stroke-width={2.5} stroke-linejoin="round" /> : null}
        {total === null
          ? null
          : points.map((p) => <circle cx={round(axis.x(p.minute.getTime()) + axis.slot)} cy={round(yRemain(p.remain ?? 0))} r={3} fill={COLOR.remain} />)}
      </svg>
      <figcaption>{summary}</figcaption>
    </figure>
  );
}

/** The sale charts of a coupon card: one per stock with activity in the window. */
export function SaleCharts(props: { couponId: string; chart: ChartState }) {
  const { chart } = props;
  if (chart.state === 'none') return null;
  if (chart.state === 'unavailable') {
    return (
      <p class="muted" data-chart="unavailable">
        Sale chart unavailable: the database did not answer. It comes back with the next refresh.
      </p>
    );
  }
  const { activity } = chart;
  if (activity.series.length === 0) {
    return (
      <p class="muted" data-chart="quiet">
        No takes or refusals since {hhmm(activity.from.getTime())} UTC.
      </p>
    );
  }
  const axis = timeAxis(activity);
  return (
    <div class="charts">
      {activity.series.map((series) => (
        <Chart couponId={props.couponId} series={series} axis={axis} />
      ))}
      <p class="muted note">Per minute, last hour. Takes, cancels and what is left come from the ledger; refusals are counted on a best-effort basis.</p>
    </div>
  );
}
