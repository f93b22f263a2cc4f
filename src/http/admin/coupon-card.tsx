/**
 * One coupon on the admin page: status, windows, limits, each stock's numbers with a bar of
 * what is left, and the actions its status allows (plain POST forms, each with its CSRF token).
 */
import { configuredTotal as totalOf, STOCK_ROWS, type CouponRecord, type StockName, type StockRowName, type Window } from '../../coupon/coupon.js';
import type { LiveStocks } from '../../coupon/live.js';
import type { ErrorCode } from '../../coupon/errors.js';
import type { Flash } from './flash.js';
import type { Action, CsrfTokens } from './guard.js';
import { SaleCharts, type ChartState } from './sale-chart.js';

/** The live remains of a coupon as the page could read them. */
export type LiveState =
  | ({ state: 'live' } & LiveStocks)
  | { state: 'unavailable'; reason: ErrorCode }
  | { state: 'not-live' };

export interface CouponView {
  coupon: CouponRecord;
  live: LiveState;
  /** The drift report of a Refresh of this coupon, when the page follows one. */
  sync: NonNullable<Flash['sync']> | null;
  /** The sale chart's data (absent or `none`: no chart, as for a draft). */
  chart?: ChartState;
}

const when = (d: Date) => `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

export function windowText(w: Window | null): string {
  if (!w || (!w.start && !w.end)) return 'always open';
  if (w.start && w.end) return `${when(w.start)} → ${when(w.end)}`;
  return w.start ? `from ${when(w.start)}` : `until ${when(w.end as Date)}`;
}

const limitText = (n: number | null) => (n === null ? 'no limit' : `${n} per user`);
const periodText = (p: CouponRecord['issuePeriodStock']) => (p ? `${p.total} a ${p.period}` : 'no cap');

function Bar(props: { left: number; total: number }) {
  const pct = props.total > 0 ? Math.max(0, Math.min(100, Math.round((props.left / props.total) * 100))) : 0;
  return (
    <div class="actions">
      <div class={pct < 10 ? 'bar low' : 'bar'} role="img" aria-label={`${pct}% left`}>
        <div style={`width: ${pct}%`} />
      </div>
      <span data-field="pct">{pct}%</span>
    </div>
  );
}

function Drift(props: { name: StockRowName; sync: CouponView['sync'] }) {
  if (!props.sync) return <span class="muted" title="press Refresh to check the ledger">—</span>;
  if (props.sync.missing.includes(props.name)) return <span class="drift-bad">gauge missing</span>;
  const line = props.sync.stocks.find((s) => s.name === props.name);
  if (!line) return <span class="muted">—</span>;
  if (line.drift === 0) return <span title={`ledger ${line.ledger}`}>0</span>;
  return <span class="drift-bad" title={`ledger ${line.ledger}`}>{line.drift > 0 ? `+${line.drift}` : line.drift}</span>;
}

/** The current period of a period stock: what is left of today (or this week), and when it resets. */
function PeriodRow(props: { name: StockName; view: CouponView }) {
  const { coupon, live } = props.view;
  const cap = props.name === 'issue' ? coupon.issuePeriodStock : coupon.usePeriodStock;
  if (!cap) return null;
  const current = live.state === 'live' ? live[props.name === 'issue' ? 'issuePeriod' : 'usePeriod'] : undefined;
  const label = current ? `${props.name} this ${cap.period} (${current.label})` : `${props.name} per ${cap.period}`;
  return (
    <tr data-stock={`${props.name}-period`}>
      <td>{label}</td>
      <td data-field="total">{cap.total}</td>
      <td class="muted">—</td>
      <td data-field="live" title={current ? `starts again ${when(current.resetsAt)}` : undefined}>
        {current ? String(current.remain) : live.state === 'unavailable' ? 'unavailable' : '—'}
      </td>
      <td>{current ? <Bar left={current.remain} total={cap.total} /> : null}</td>
      <td class="muted">{current ? `resets ${when(current.resetsAt)}` : '—'}</td>
    </tr>
  );
}

function StockRow(props: { name: StockRowName; view: CouponView }) {
  const { coupon, live, sync } = props.view;
  const configuredTotal = totalOf(coupon, props.name);
  const configured = configuredTotal === null ? null : { total: configuredTotal };
  const label = props.name === 'budget' && coupon.budget ? `budget (${coupon.budget.currency}, minor units)` : props.name;
  if (props.name === 'budget' && !configured) return null;
  if (!configured) {
    return (
      <tr data-stock={props.name}>
        <td>{props.name}</td>
        <td colspan={5} class="muted">
          unlimited
        </td>
      </tr>
    );
  }
  // A draft has no stock rows yet: nothing was synced, whatever the repository fills in.
  const snapshot = coupon.status === 'draft' ? null : coupon.stocks[props.name];
  const gauge = live.state === 'live' ? (live[props.name] ?? null) : null;
  const total = gauge?.total ?? snapshot?.total ?? configured.total;
  const liveText = live.state === 'live' ? (gauge ? String(gauge.remain) : 'unavailable') : live.state === 'unavailable' ? 'unavailable' : '—';
  return (
    <tr data-stock={props.name}>
      <td>{label}</td>
      <td data-field="total">{total}</td>
      <td data-field="synced" title={snapshot?.syncedAt ? `synced ${when(snapshot.syncedAt)}` : 'not synced yet'}>
        {snapshot ? snapshot.remain : '—'}
      </td>
      <td data-field="live" title={live.state === 'unavailable' ? live.reason : undefined}>
        {liveText}
      </td>
      <td>
        <Bar left={gauge?.remain ?? snapshot?.remain ?? total} total={total} />
      </td>
      <td data-field="drift">
        <Drift name={props.name} sync={sync} />
      </td>
    </tr>
  );
}

function ActionButton(props: { id: string; action: Action; label: string; csrf: CsrfTokens; kind?: string }) {
  return (
    <form method="post" action={`/admin/coupons/${encodeURIComponent(props.id)}/${props.action}`}>
      <input type="hidden" name="csrf" value={props.csrf[props.action]} />
      <button type="submit" class={props.kind} data-action={props.action}>
        {props.label}
      </button>
    </form>
  );
}

function AdjustForm(props: { coupon: CouponRecord; csrf: CsrfTokens }) {
  const stocks = STOCK_ROWS.filter((name) => props.coupon.stocks[name]);
  if (stocks.length === 0) return null;
  return (
    <form method="post" action={`/admin/coupons/${encodeURIComponent(props.coupon.id)}/adjust`}>
      <input type="hidden" name="csrf" value={props.csrf.adjust} />
      <select name="stock" aria-label="stock">
        {stocks.map((name) => (
          <option value={name}>{name}</option>
        ))}
      </select>
      <input class="small" name="delta" type="number" step={1} required placeholder="±n" aria-label="delta" />
      <button type="submit" data-action="adjust">
        Adjust limit
      </button>
    </form>
  );
}

/**
 * Issue to a list of users (the bulk-issue API). The form carries a fresh idempotency key, so
 * sending the same form twice issues once.
 */
function BulkIssueForm(props: { coupon: CouponRecord; csrf: CsrfTokens }) {
  return (
    <form method="post" class="bulk" action={`/admin/coupons/${encodeURIComponent(props.coupon.id)}/issue`}>
      <input type="hidden" name="csrf" value={props.csrf.issue} />
      <input type="hidden" name="key" value={`admin-${crypto.randomUUID()}`} />
      <textarea name="userIds" rows={2} required placeholder="user ids, one per line (up to 1,000)" aria-label="user ids" />
      <button type="submit" data-action="issue">
        Issue to users
      </button>
    </form>
  );
}

function Actions(props: { coupon: CouponRecord; csrf: CsrfTokens }) {
  const { id, status } = props.coupon;
  const button = (action: Action, label: string, kind?: string) => (
    <ActionButton id={id} action={action} label={label} csrf={props.csrf} kind={kind} />
  );
  if (status === 'draft') {
    return (
      <div class="actions">
        {button('confirm', 'Confirm', 'primary')}
        {button('delete', 'Delete draft', 'danger')}
      </div>
    );
  }
  if (status === 'archived') return <p class="muted">Archived: final numbers, read-only.</p>;
  return (
    <div class="actions">
      {button('sync', 'Refresh', 'primary')}
      {status === 'confirmed' ? button('pause', 'Pause') : button('resume', 'Resume')}
      <AdjustForm coupon={props.coupon} csrf={props.csrf} />
      {button('rebuild', 'Rebuild gauges')}
      {button('archive', 'Archive', 'danger')}
      {status === 'confirmed' ? <BulkIssueForm coupon={props.coupon} csrf={props.csrf} /> : null}
    </div>
  );
}

export function CouponCard(props: { view: CouponView; csrf: CsrfTokens }) {
  const c = props.view.coupon;
  return (
    <section class="card" id={c.id} data-coupon={c.id} data-status={c.status}>
      <h2>{c.name}</h2>
      <span class={`status ${c.status}`} data-field="status">
        {c.status}
      </span>{' '}
      <code class="id">{c.id}</code>
      <dl class="meta">
        <dt>issue window</dt>
        <dd>{windowText(c.issueWindow)}</dd>
        <dt>use window</dt>
        <dd>{windowText(c.useWindow)}</dd>
        <dt>per user</dt>
        <dd>
          issue: {limitText(c.perUserIssueLimit)}, use: {limitText(c.perUserUseLimit)}
        </dd>
        {props.view.live.state === 'live' && props.view.live.holds ? (
          <>
            <dt>holds</dt>
            <dd data-field="holds">{props.view.live.holds} standing (uses taken until committed, released or expired)</dd>
          </>
        ) : null}
        <dt>per period</dt>
        <dd data-field="periods">
          issue: {periodText(c.issuePeriodStock)}, use: {periodText(c.usePeriodStock)}
        </dd>
      </dl>
      <table class="stocks">
        <thead>
          <tr>
            <th>stock</th>
            <th>total</th>
            <th>synced remain</th>
            <th>live remain</th>
            <th>left</th>
            <th>drift (last Refresh)</th>
          </tr>
        </thead>
        <tbody>
          <StockRow name="issue" view={props.view} />
          <PeriodRow name="issue" view={props.view} />
          <StockRow name="use" view={props.view} />
          <PeriodRow name="use" view={props.view} />
          <StockRow name="budget" view={props.view} />
        </tbody>
      </table>
      {props.view.chart ? <SaleCharts couponId={c.id} chart={props.view.chart} /> : null}
      <Actions coupon={c} csrf={props.csrf} />
    </section>
  );
}
