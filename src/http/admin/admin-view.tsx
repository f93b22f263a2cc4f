/**
 * The admin page itself: who is signed in, the last action's message, the create form, a
 * status filter (a GET form) and the coupons, newest first, a page at a time.
 */
import { COUPON_STATUSES, type CouponStatus } from '../../coupon/coupon.js';
import type { DeliveryRecord } from '../../events/ports.js';
import { CouponCard, type CouponView } from './coupon-card.js';
import type { Flash } from './flash.js';
import type { AdminSession, CsrfTokens } from './guard.js';
import { FlashBox, Layout } from './layout.js';

export interface AdminPageProps {
  coupons: CouponView[];
  flash: Flash | null;
  csrf: CsrfTokens;
  session: AdminSession;
  status: CouponStatus | undefined;
  nextCursor: string | null;
  /** The newest webhook deliveries; `null` where webhooks are not configured. */
  deliveries: DeliveryRecord[] | null;
  /** Seconds between reloads when the operator turned live view on; `null`: off. */
  refresh?: number | null;
  /** When the page was rendered (the service's clock). */
  now?: Date;
}

const at = (d: Date | null) => (d ? `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC` : '—');

/** Webhook deliveries: what was told, to whom, and how the last attempt went. */
function Deliveries(props: { items: DeliveryRecord[] | null }) {
  if (!props.items) return null;
  return (
    <section id="webhooks">
      <h2>Webhook deliveries</h2>
      {props.items.length === 0 ? (
        <p class="muted">No deliveries yet. Add an endpoint with POST /v1/webhooks; events are sent by the schedule.</p>
      ) : (
        <table class="stocks">
          <thead>
            <tr>
              <th>event</th>
              <th>coupon</th>
              <th>endpoint</th>
              <th>status</th>
              <th>attempts</th>
              <th>last answer</th>
              <th>next attempt</th>
            </tr>
          </thead>
          <tbody>
            {props.items.map((d) => (
              <tr data-delivery={d.eventId}>
                <td>{d.type}</td>
                <td>
                  <code>{d.couponId}</code>
                </td>
                <td>{d.url}</td>
                <td class={d.status === 'failed' ? 'drift-bad' : undefined}>{d.status}</td>
                <td>{d.attempts}</td>
                <td>{d.lastError ?? (d.lastStatus === null ? '—' : String(d.lastStatus))}</td>
                <td>{d.status === 'pending' ? at(d.nextAttemptAt) : at(d.deliveredAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function Field(props: { label: string; name: string; type: string; min?: number; required?: boolean; hint?: string }) {
  return (
    <label>
      {props.label}
      <input name={props.name} type={props.type} min={props.min} step={props.type === 'number' ? 1 : undefined} required={props.required} placeholder={props.hint} />
    </label>
  );
}

/** A period cap: how many per day or per week (empty = no cap). */
function PeriodField(props: { stock: 'issue' | 'use' }) {
  return (
    <label>
      {props.stock === 'issue' ? 'Issues' : 'Uses'} per period (empty = no cap)
      <span class="actions">
        <input class="small" name={`${props.stock}PeriodTotal`} type="number" min={0} step={1} placeholder="no cap" aria-label={`${props.stock} per period`} />
        <select name={`${props.stock}Period`} aria-label={`${props.stock} period`}>
          <option value="day">a day</option>
          <option value="week">a week</option>
        </select>
      </span>
    </label>
  );
}

function CreateForm(props: { csrf: string }) {
  return (
    <form method="post" action="/admin/coupons">
      <fieldset>
        <legend>New coupon (draft)</legend>
        <input type="hidden" name="csrf" value={props.csrf} />
        <div class="grid">
          <label>
            Name
            <input name="name" type="text" maxlength={200} required />
          </label>
          <Field label="Issue total (empty = unlimited)" name="issueTotal" type="number" min={0} />
          <Field label="Use total (empty = unlimited)" name="useTotal" type="number" min={0} />
          <label>
            Budget (minor units, empty = none)
            <span class="actions">
              <input class="small" name="budgetTotal" type="number" min={0} step={1} placeholder="none" aria-label="budget total" />
              <input class="small" name="budgetCurrency" type="text" maxlength={3} placeholder="EUR" aria-label="budget currency" />
            </span>
          </label>
          <PeriodField stock="issue" />
          <PeriodField stock="use" />
          <Field label="Per-user issue limit" name="perUserIssueLimit" type="number" min={1} hint="no limit" />
          <Field label="Per-user use limit" name="perUserUseLimit" type="number" min={1} hint="no limit" />
          <Field label="Issue window start (UTC)" name="issueStart" type="datetime-local" />
          <Field label="Issue window end (UTC)" name="issueEnd" type="datetime-local" />
          <Field label="Use window start (UTC)" name="useStart" type="datetime-local" />
          <Field label="Use window end (UTC)" name="useEnd" type="datetime-local" />
        </div>
        <p>
          <button class="primary" type="submit" data-action="create">
            Create draft
          </button>
        </p>
      </fieldset>
    </form>
  );
}

/** Seconds between reloads of the page with `?live=1` (a meta refresh: no script). */
export const LIVE_REFRESH_SECONDS = 5;

/**
 * The opt-in live view: a link that turns a meta refresh on (`?live=1`) or off, keeping the
 * status filter. No script: the CSP allows none.
 */
function LiveToggle(props: { status: CouponStatus | undefined; refresh: number | null; now: Date | undefined }) {
  const query = new URLSearchParams();
  if (props.status) query.set('status', props.status);
  const off = `/admin${query.size ? `?${query.toString()}` : ''}`;
  query.set('live', '1');
  const stamp = props.now ? `updated ${props.now.toISOString().slice(11, 19)} UTC` : '';
  return props.refresh ? (
    <p class="live on" data-live="on">
      <strong>Live</strong>: this page reloads every {props.refresh} s ({stamp}). <a href={off}>Stop</a>
    </p>
  ) : (
    <p class="live" data-live="off">
      <a href={`/admin?${query.toString()}`}>Live view (reload every {LIVE_REFRESH_SECONDS} s)</a> <span class="muted">during a sale; {stamp}</span>
    </p>
  );
}

function Filter(props: { status: CouponStatus | undefined; live: boolean }) {
  return (
    <form method="get" action="/admin" class="actions">
      {props.live ? <input type="hidden" name="live" value="1" /> : null}
      <label>
        Show{' '}
        <select name="status">
          <option value="">all</option>
          {COUPON_STATUSES.map((s) => (
            <option value={s} selected={props.status === s}>
              {s}
            </option>
          ))}
        </select>
      </label>
      <button type="submit">Filter</button>
    </form>
  );
}

export function AdminPage(props: AdminPageProps) {
  const older = new URLSearchParams();
  if (props.status) older.set('status', props.status);
  if (props.nextCursor) older.set('cursor', props.nextCursor);
  if (props.refresh) older.set('live', '1');
  return (
    <Layout title="coupon-stock admin" refresh={props.refresh ?? null}>
      <header class="top">
        <h1>coupon-stock admin</h1>
        {props.session.via === 'cookie' ? (
          <form method="post" action="/admin/logout">
            <input type="hidden" name="csrf" value={props.csrf.logout} />
            <button type="submit" data-action="logout">
              Log out
            </button>
          </form>
        ) : (
          <span>bearer token</span>
        )}
      </header>
      <main>
        <FlashBox flash={props.flash} />
        <CreateForm csrf={props.csrf.create} />
        <h2>Coupons</h2>
        <Filter status={props.status} live={Boolean(props.refresh)} />
        <LiveToggle status={props.status} refresh={props.refresh ?? null} now={props.now} />
        {props.coupons.length === 0 ? <p class="muted">No coupons here yet: create one above.</p> : null}
        {props.coupons.map((view) => (
          <CouponCard view={view} csrf={props.csrf} />
        ))}
        {props.nextCursor ? (
          <p>
            <a href={`/admin?${older.toString()}`}>Older coupons →</a>
          </p>
        ) : null}
        <Deliveries items={props.deliveries} />
      </main>
    </Layout>
  );
}
