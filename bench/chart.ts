/**
 * bench/results/latest.svg: two bar charts a person can read at a glance — requests per second
 * and p99 latency of every throughput row, on log scales (the rows span three orders of
 * magnitude), each bar labelled with its value and its ratio to the raw limit. Plain SVG
 * written by hand: no chart library, opens in any browser and renders on GitHub.
 */
import type { Row, Section } from './model.js';
import { int } from './progress.js';

const COLORS: Record<Section, string> = {
  'raw limit': '#4b5563',
  'gauge layer': '#2563eb',
  'end to end': '#dc2626',
  'sold out': '#d97706',
  isolates: '#0891b2',
  scaling: '#059669',
  memory: '#9333ea',
};

const SHORT: Record<Section, string> = { 'raw limit': 'raw', 'gauge layer': 'gauge', 'end to end': 'e2e', 'sold out': 'sold out', isolates: 'isolates', scaling: 'scaling', memory: 'memory' };

const WIDTH = 1000;
const LABEL = 390;
const BARS = 440;
const ROW = 24;

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

interface Panel {
  title: string;
  rows: { label: string; value: number; text: string; color: string }[];
}

function panel(p: Panel, top: number): { svg: string; height: number } {
  const values = p.rows.map((r) => r.value).filter((v) => v > 0);
  const lo = Math.pow(10, Math.floor(Math.log10(Math.min(...values))));
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...values))));
  const x = (v: number) => LABEL + (BARS * Math.log10(Math.max(v, lo) / lo)) / Math.log10(hi / lo);
  const parts = [`<text x="10" y="${top + 18}" class="title">${esc(p.title)}</text>`];
  const chartTop = top + 30;
  for (let d = lo; d <= hi; d *= 10) {
    const gx = x(d).toFixed(1);
    parts.push(`<line x1="${gx}" y1="${chartTop}" x2="${gx}" y2="${chartTop + p.rows.length * ROW}" class="grid"/>`);
    parts.push(`<text x="${gx}" y="${chartTop + p.rows.length * ROW + 14}" class="tick">${esc(d >= 1 ? int(d) : String(d))}</text>`);
  }
  p.rows.forEach((r, i) => {
    const y = chartTop + i * ROW;
    const w = Math.max(1, x(r.value) - LABEL);
    parts.push(`<text x="${LABEL - 8}" y="${y + 16}" class="label">${esc(r.label)}</text>`);
    parts.push(`<rect x="${LABEL}" y="${y + 4}" width="${w.toFixed(1)}" height="${ROW - 8}" fill="${r.color}"/>`);
    parts.push(`<text x="${(LABEL + w + 6).toFixed(1)}" y="${y + 16}" class="value">${esc(r.text)}</text>`);
  });
  return { svg: parts.join('\n'), height: 30 + p.rows.length * ROW + 24 };
}

const ratio = (v: number, base: number | undefined) => (base ? ` · ${v / base >= 10 ? (v / base).toFixed(0) : (v / base).toFixed(2)}× raw` : '');

export function chart(rows: Row[], subtitle: string): string {
  const raw = rows.find((r) => r.id === 'raw');
  const measured = rows.filter((r) => r.perSecond !== null && r.latency !== null);
  const label = (r: Row) => `${SHORT[r.section]}: ${r.what.replace(/ \([^)]*\)/g, '')}`.slice(0, 60);
  const throughput = panel(
    {
      title: 'Requests per second (log scale) — higher is better',
      rows: measured.map((r) => ({
        label: label(r),
        value: r.perSecond ?? 0,
        text: `${int(r.perSecond ?? 0)}/s${ratio(r.perSecond ?? 0, raw?.perSecond ?? undefined)}`,
        color: COLORS[r.section],
      })),
    },
    40,
  );
  const latency = panel(
    {
      title: 'p99 latency, ms (log scale) — lower is better',
      rows: measured.map((r) => ({
        label: label(r),
        value: r.latency?.p99 ?? 0,
        text: `${(r.latency?.p99 ?? 0).toFixed(2)} ms${ratio(r.latency?.p99 ?? 0, raw?.latency?.p99)}`,
        color: COLORS[r.section],
      })),
    },
    40 + throughput.height + 10,
  );
  const height = 40 + throughput.height + 10 + latency.height + 10;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, sans-serif">
<style>
.title { font-size: 15px; font-weight: 600; fill: #111827; }
.label { font-size: 12px; fill: #374151; text-anchor: end; }
.value { font-size: 12px; fill: #111827; }
.tick { font-size: 11px; fill: #6b7280; text-anchor: middle; }
.grid { stroke: #e5e7eb; stroke-width: 1; }
</style>
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="10" y="24" class="title">coupon-stock benchmark</text>
<text x="${WIDTH - 10}" y="24" class="tick" style="text-anchor: end">${esc(subtitle)}</text>
${throughput.svg}
${latency.svg}
</svg>
`;
}
