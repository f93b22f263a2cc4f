/**
 * The one table, as text for the terminal and as Markdown for bench/results/latest.md, every
 * figure beside its ratio to the raw limit measured in the same run, and the targets of the
 * issue read off the same rows.
 */
import type { Row } from './model.js';
import { int } from './progress.js';

export interface Report {
  rows: Row[];
  /** MEMORY USAGE of a bare counter: what memory rows are compared with. */
  bareCounter: number;
  failures: string[];
  /** Lines about the machine and versions. */
  context: string[];
  quick: boolean;
}

export interface Target {
  goal: string;
  measured: string;
  /** `null`: not measured in this run; `'reported'`: a figure with no threshold. */
  met: boolean | null | 'reported';
}

const byId = (rows: Row[], id: string) => rows.find((r) => r.id === id);
const ratio = (value: number, base: number) => (base > 0 ? `${value / base >= 10 ? (value / base).toFixed(0) : (value / base).toFixed(2)}×` : '—');
const ms = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

/** The table's cells, one array per row, header first. */
export function cells(report: Report): string[][] {
  const raw = byId(report.rows, 'raw');
  const header = ['section', 'measured', 'in flight', 'req/s', 'vs raw', 'p50 ms', 'p95 ms', 'p99 ms', 'p99 vs raw', 'counts and checks'];
  const body = report.rows.map((r) => {
    const memory = r.bytes !== undefined;
    return [
      r.section,
      r.what,
      r.concurrency === null ? '' : int(r.concurrency),
      r.perSecond === null ? '' : int(r.perSecond),
      memory ? `${ratio(r.bytes ?? 0, report.bareCounter)} counter` : r.perSecond !== null && raw?.perSecond ? ratio(r.perSecond, raw.perSecond) : '',
      r.latency ? ms(r.latency.p50) : '',
      r.latency ? ms(r.latency.p95) : '',
      r.latency ? ms(r.latency.p99) : '',
      r.latency && raw?.latency ? ratio(r.latency.p99, raw.latency.p99) : '',
      r.detail,
    ];
  });
  return [header, ...body];
}

/** The targets of the issue, judged on this run's rows (`null`: not measured in this run). */
export function targets(report: Report): Target[] {
  const get = (id: string) => byId(report.rows, id);
  const raw = get('raw');
  const gauge = get('gauge-redis-coalesced') ?? get('gauge-redis');
  const autoPipelined = get('gauge-redis');
  const e2e = get('e2e-redis');
  const pglite = get('e2e-pglite');
  const postgres = get('e2e-postgres');
  const base = get('scale-base');
  const resp = get('gauge-resp');
  const e2eResp = get('e2e-resp');
  const one = get('cluster-1m');
  const three = get('cluster-3m');
  const out: Target[] = [];
  if (raw?.perSecond && resp?.perSecond) {
    const r = resp.perSecond / raw.perSecond;
    out.push({ goal: 'Redis gauge layer over RESP ≥ 80% of the raw take throughput at the same concurrency', measured: `${(r * 100).toFixed(0)}% (${int(resp.perSecond)} vs ${int(raw.perSecond)} takes/s)`, met: r >= 0.8 });
  }
  const respOne = get('gauge-resp-1');
  const respWait = get('gauge-resp-wait');
  if (resp?.perSecond && respOne?.perSecond && respWait?.perSecond) {
    out.push({
      goal: 'RESP: 2 connections (default) vs 1; WAIT for a replica (the default on a replicated Redis) vs none',
      measured: `${int(resp.perSecond)} vs ${int(respOne.perSecond)} takes/s (${(resp.perSecond / respOne.perSecond).toFixed(2)}×); with WAIT 1 ${int(respWait.perSecond)} takes/s (${(respWait.perSecond / resp.perSecond).toFixed(2)}×)`,
      met: 'reported',
    });
  }
  if (e2e?.perSecond && e2eResp?.perSecond && e2e.latency && e2eResp.latency) {
    out.push({
      goal: 'flash sale end to end, RESP beside REST (req/s, p99)',
      measured: `RESP ${int(e2eResp.perSecond)} req/s, p99 ${ms(e2eResp.latency.p99)} ms; REST ${int(e2e.perSecond)} req/s, p99 ${ms(e2e.latency.p99)} ms (${(e2eResp.perSecond / e2e.perSecond).toFixed(2)}×)`,
      met: 'reported',
    });
  }
  const memoOff = get('sold-out-off');
  const memoOn = get('sold-out-memo');
  const memoKeyed = get('sold-out-memo-keyed');
  if (memoOff?.scriptsPerRequest !== undefined && memoOn?.scriptsPerRequest !== undefined && memoOff.perSecond && memoOn.perSecond) {
    const keyed = memoKeyed?.perSecond ? `, ${(memoOn.perSecond / memoKeyed.perSecond).toFixed(2)}× keyed refusals on the same service` : '';
    out.push({
      goal: 'a sold-out sale costs (almost) no Redis commands: ≤ 0.05 scripts per refused request without a key (sold-out memo)',
      measured: `${memoOn.scriptsPerRequest.toFixed(4)} vs ${memoOff.scriptsPerRequest.toFixed(4)} without the memo; refused req/s ${(memoOn.perSecond / memoOff.perSecond).toFixed(2)}× without it${keyed}`,
      met: memoOn.scriptsPerRequest <= 0.05,
    });
  }
  if (one?.perSecond && three?.perSecond) {
    out.push({ goal: 'Redis Cluster: takes/s on 1 master vs 3, load split evenly', measured: `${int(one.perSecond)} vs ${int(three.perSecond)} takes/s (${(three.perSecond / one.perSecond).toFixed(2)}×); 3 masters: ${three.detail.replace(/^.*by master: /, '')}`, met: 'reported' });
  }
  if (raw?.perSecond && gauge?.perSecond) {
    const r = gauge.perSecond / raw.perSecond;
    const other = autoPipelined && autoPipelined !== gauge && autoPipelined.perSecond ? `; auto-pipelined only (the Worker): ${((autoPipelined.perSecond / raw.perSecond) * 100).toFixed(0)}%` : '';
    out.push({
      goal: 'Redis gauge layer ≥ 50% of the raw take throughput at the same concurrency',
      measured: `${(r * 100).toFixed(0)}% coalesced (${int(gauge.perSecond)} vs ${int(raw.perSecond)} takes/s)${other}`,
      met: r >= 0.5,
    });
  }
  out.push(...groupCommitTargets(report, e2e, pglite, postgres, gauge));
  if (e2e?.latency) {
    out.push({ goal: `end to end, Redis p99 < 50 ms at ${e2e.concurrency ?? '?'} connections`, measured: `p99 ${ms(e2e.latency.p99)} ms`, met: e2e.latency.p99 < 50 });
  }
  for (const id of ['scale-coupons', 'scale-takes']) {
    const s = get(id);
    if (!base?.latency || !s?.latency) continue;
    const growth = s.latency.p50 / base.latency.p50 - 1;
    const redis = s.redisMicros !== undefined && base.redisMicros !== undefined ? s.redisMicros / base.redisMicros - 1 : 0;
    const signed = (g: number) => `${g >= 0 ? '+' : ''}${(g * 100).toFixed(1)}%`;
    out.push({
      goal: `O(1) within 10%: a take with ${s.what.replace(/^take, /, '')} vs 1 coupon`,
      measured: `p50 ${signed(growth)}, Redis time per take ${signed(redis)}`,
      met: growth <= 0.1 && redis <= 0.1,
    });
  }
  const isolates = report.rows.flatMap((r) => (r.isolates ? [r.isolates] : []));
  const single = isolates.find((i) => i.n === 1);
  if (isolates.length > 0 && single) {
    const base = single.connectionsPerSecond;
    const worst = Math.max(...isolates.map((i) => i.commandsPerTake));
    out.push({
      goal: 'many isolates: Redis commands per take ≤ 1.05 at every N, drains included',
      measured: isolates.map((i) => `N=${i.n}: ${i.commandsPerTake.toFixed(3)}`).join(', '),
      met: worst <= 1.05,
    });
    const off = (i: { connectionsPerSecond: number }) => i.connectionsPerSecond / base - 1;
    out.push({
      goal: 'many isolates: Neon connections opened per second independent of N (within ±25% of N=1)',
      measured: isolates.map((i) => `N=${i.n}: ${i.connectionsPerSecond.toFixed(2)}/s${i.n === 1 ? '' : ` (${off(i) >= 0 ? '+' : ''}${(off(i) * 100).toFixed(0)}%)`}`).join(', '),
      met: isolates.every((i) => Math.abs(off(i)) <= 0.25),
    });
  }
  const sales = report.rows.filter((r) => r.section === 'end to end');
  const books = report.failures.filter((f) => /oversell|undersell/.test(f));
  out.push({
    goal: 'oversell 0 and undersell 0 in every run',
    measured: books.length ? books.join('; ') : `0 and 0 in all ${sales.length} sales`,
    met: books.length === 0 && sales.length > 0,
  });
  return out;
}

/**
 * Issue 13's targets for the Postgres gauge's group commit: the flash sale on it at ≥ 50% of the
 * Redis path's req/s with a p99 at most 3× Redis's, its gauge layer at ≥ 25% of the Redis
 * gauge's takes/s, two processes on one PostgreSQL exact, and the figures before group commit.
 */
function groupCommitTargets(report: Report, e2e: Row | undefined, pglite: Row | undefined, postgres: Row | undefined, redisGauge: Row | undefined): Target[] {
  const get = (id: string) => byId(report.rows, id);
  const out: Target[] = [];
  for (const sale of [pglite, postgres]) {
    if (!e2e?.perSecond || !e2e.latency || !sale?.perSecond || !sale.latency) continue;
    const r = sale.perSecond / e2e.perSecond;
    const p = sale.latency.p99 / e2e.latency.p99;
    const where = sale === pglite ? 'the embedded default (PGlite)' : 'the Postgres gauge on PostgreSQL';
    out.push({
      goal: `end to end, ${where} ≥ 50% of the Redis path's req/s, p99 ≤ 3× Redis's`,
      measured: `${(r * 100).toFixed(0)}% (${int(sale.perSecond)} vs ${int(e2e.perSecond)} req/s), p99 ${p.toFixed(2)}× (${ms(sale.latency.p99)} vs ${ms(e2e.latency.p99)} ms)`,
      met: r >= 0.5 && p <= 3,
    });
  }
  for (const id of ['gauge-pglite', 'gauge-postgres']) {
    const row = get(id);
    const before = get(`${id}-single`);
    if (!row?.perSecond || !redisGauge?.perSecond) continue;
    const r = row.perSecond / redisGauge.perSecond;
    const was = before?.perSecond ? `; before group commit ${int(before.perSecond)} takes/s (${(row.perSecond / before.perSecond).toFixed(0)}× now)` : '';
    out.push({
      goal: `gauge layer, ${id === 'gauge-pglite' ? 'Postgres gauge on PGlite' : 'Postgres gauge on PostgreSQL'} ≥ 25% of the Redis gauge's takes/s`,
      measured: `${(r * 100).toFixed(0)}% (${int(row.perSecond)} vs ${int(redisGauge.perSecond)} takes/s)${was}`,
      met: r >= 0.25,
    });
  }
  const two = get('e2e-two-process');
  if (two) {
    const failed = report.failures.filter((f) => f.startsWith('end to end, two processes'));
    out.push({ goal: 'two service processes on one PostgreSQL, one hot coupon: oversell 0, undersell 0, per-user limits exact, total − remain = ledger', measured: failed.length ? failed.join('; ') : 'all 0 and exact', met: failed.length === 0 });
  }
  return out;
}

const mark = (met: Target['met']) => (met === 'reported' ? 'reported' : met === null ? 'not measured' : met ? 'met' : 'NOT met');

/** The table for the terminal: padded columns, the last one left free. */
export function textTable(report: Report): string {
  const rows = cells(report);
  const widths = rows[0]?.map((_, c) => (c === 9 ? 0 : Math.max(...rows.map((r) => (r[c] ?? '').length)))) ?? [];
  const numeric = new Set([2, 3, 4, 5, 6, 7, 8]);
  const line = (r: string[]) =>
    r.map((cell, c) => (c === 9 ? cell : numeric.has(c) ? cell.padStart(widths[c] ?? 0) : cell.padEnd(widths[c] ?? 0))).join('  ').trimEnd();
  const [header, ...body] = rows;
  const rule = widths.map((w, c) => '-'.repeat(c === 9 ? 17 : w)).join('  ');
  const lines = [line(header ?? []), rule, ...body.map(line), '', 'targets:'];
  for (const t of targets(report)) lines.push(`  [${mark(t.met)}] ${t.goal}: ${t.measured}`);
  lines.push('', report.failures.length ? `CHECKS FAILED (${report.failures.length}):` : 'correctness checks: all passed (counts exact, oversell 0, undersell 0)');
  for (const f of report.failures) lines.push(`  - ${f}`);
  return lines.join('\n');
}

const escape = (s: string) => s.replace(/\|/g, '\\|');

/** The Markdown table alone (also what the README quotes). */
export function markdownTable(report: Report): string {
  const [header, ...body] = cells(report);
  const align = (header ?? []).map((_, c) => (c >= 2 && c <= 8 ? '---:' : '---'));
  const row = (r: string[]) => `| ${r.map(escape).join(' | ')} |`;
  return [row(header ?? []), `| ${align.join(' | ')} |`, ...body.map(row)].join('\n');
}

/** bench/results/latest.md: context, table, targets, checks, and how to read them. */
export function markdown(report: Report, chartFile: string): string {
  const lines = [
    `# Benchmark${report.quick ? ' (quick mode: smaller runs, figures are indicative only)' : ''}`,
    '',
    ...report.context.map((c) => `- ${c}`),
    '',
    markdownTable(report),
    '',
    `![throughput and p99 latency](${chartFile})`,
    '',
    '## Targets',
    '',
    '| target | measured | |',
    '| --- | --- | --- |',
    ...targets(report).map((t) => `| ${escape(t.goal)} | ${escape(t.measured)} | ${mark(t.met)} |`),
    '',
    report.failures.length ? `**Correctness checks failed (${report.failures.length}):**` : 'Correctness checks: all passed (counts exact, oversell 0, undersell 0).',
    ...report.failures.map((f) => `- ${escape(f)}`),
    '',
    '## How to read it',
    '',
    '- *vs raw*: requests per second as a fraction of the raw limit (the first row: the same take script run by',
    '  `redis-benchmark` straight against redis-server, 50 connections, no pipelining), measured in the same run on the',
    '  same machine; memory rows compare with a bare integer counter key instead. *p99 vs raw*: the p99 latency as a',
    '  multiple of the raw p99.',
    '- *in flight*: connections (raw, end to end) or concurrent calls (gauge layer; 1 for the scaling samples, which',
    '  measure the latency of one take at a time). Pipelined raw: connections × pipeline depth.',
    '- Oversell: successes beyond the stock. Undersell: a sold-out answer while stock remained, or fewer successes than',
    '  the stock although demand exceeded it. Both must be 0; the bench exits non-zero otherwise, or when any count',
    '  (successes, remain, ledger, drift, answers) is off. Timings are never asserted.',
  ];
  return `${lines.join('\n')}\n`;
}
