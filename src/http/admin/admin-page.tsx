/**
 * The admin page at `/admin`: server-rendered HTML over the same services as the JSON API, no
 * script. Actions are plain POST forms answered post/redirect/get (303 back to `/admin` with a
 * signed flash message). Registered with plain `get`/`post`, so it stays out of the OpenAPI
 * document.
 */
import type { Context } from 'hono';
import { Hono } from 'hono';
import { html } from 'hono/html';
import type { Child } from 'hono/jsx';
import { saleActivity } from '../../coupon/activity.js';
import { configuredTotal, COUPON_STATUSES, isLive, type CouponRecord, type CouponStatus, type StockName } from '../../coupon/coupon.js';
import { now } from '../../coupon/deps.js';
import { fail, type Result } from '../../coupon/errors.js';
import { ID_PATTERN } from '../../coupon/ids.js';
import type { BatchItem } from '../../coupon/batch.js';
import type { Tokens } from '../auth.js';
import type { Services } from '../context.js';
import { AdminPage, LIVE_REFRESH_SECONDS } from './admin-view.js';
import type { LiveState } from './coupon-card.js';
import type { ChartState } from './sale-chart.js';
import { flashQuery, readFlash, syncFlash, type Flash } from './flash.js';
import { adjustFrom, bulkIssueFrom, couponSpecFrom, field, type FormBody } from './forms.js';
import {
  authenticate,
  CROSS_ORIGIN,
  csrfTokens,
  endSession,
  NOT_ADMIN,
  postRefusal,
  sameOrigin,
  securityHeaders,
  startSession,
  tokenRole,
  type Action,
  type AdminEnv,
  type Refusal,
} from './guard.js';
import { LoginPage, MessagePage } from './layout.js';
import { AdminSecrets } from './secrets.js';

/** Coupons per page: each costs one live read. */
const PAGE_SIZE = 50;

type Log = (event: string, fields: Record<string, unknown>) => void;

const render = (c: Context, page: Child, status: 200 | 401 | 403 = 200) => c.html(html`<!doctype html>${page}`, status);

const refuse = (c: Context, r: Refusal) => render(c, <MessagePage title={r.title} message={r.message} />, r.status);

const isStatus = (s: string | undefined): s is CouponStatus => (COUPON_STATUSES as readonly string[]).includes(s ?? '');

/** A service result as the flash its redirect carries. */
function outcome<T>(result: Result<T>, couponId: string | undefined, text: (value: T) => string): Flash {
  if (result.ok) return { kind: 'ok', text: text(result.value), couponId };
  const flash: Flash = { kind: 'error', code: result.code, text: result.detail, couponId };
  if (result.errors) flash.problems = result.errors;
  return flash;
}

type CouponAction = Exclude<Action, 'create' | 'logout'>;

/** What each coupon form does, and what it says when it worked. */
const COUPON_ACTIONS: Record<CouponAction, (s: Services, id: string, form: FormBody) => Promise<Flash>> = {
  confirm: async (s, id) => outcome(await s.admin.confirm(id), id, (c) => `Confirmed “${c.name}”: its stocks are live.`),
  pause: async (s, id) => outcome(await s.admin.pause(id), id, (c) => `Paused “${c.name}”: issues and uses are refused until it is resumed.`),
  resume: async (s, id) => outcome(await s.admin.resume(id), id, (c) => `Resumed “${c.name}”.`),
  archive: async (s, id) => outcome(await s.maintenance.archive(id), id, (c) => `Archived “${c.name}”: synced a last time, live counters removed.`),
  delete: async (s, id) => outcome(await s.admin.remove(id), id, () => `Deleted the draft ${id}.`),
  rebuild: async (s, id) =>
    outcome(await s.recovery.rebuildById(id), id, (r) => `Rebuilt ${id}: ${r.gauges} gauges loaded from total and the ledger (gauges that survived were kept).`),
  sync: async (s, id) => {
    const result = await s.maintenance.sync(id);
    return result.ok ? syncFlash(result.value) : outcome(result, id, () => '');
  },
  issue: async (s, id, form) => {
    const input = bulkIssueFrom(form);
    if (!input.ok) return outcome(input, id, () => '');
    const { userIds, key } = input.value;
    return outcome(await s.takes.issueBatch({ couponId: id, userIds, idempotencyKey: key, caller: 'admin-page' }), id, (items) => bulkFlash(id, items));
  },
  adjust: async (s, id, form) => {
    const input = adjustFrom(form);
    if (!input.ok) return outcome(input, id, () => '');
    const { stock, delta } = input.value;
    return outcome(await s.admin.adjust(id, stock, delta, { idempotencyKey: null, caller: 'admin-page' }), id, (l) => `Adjusted the ${stock} limit of ${id} by ${delta > 0 ? '+' : ''}${delta}: total ${l.total}, ${l.remain} left.`);
  },
};

/** What a bulk issue did: how many were issued, and how many were refused for which reason. */
function bulkFlash(id: string, items: BatchItem[]): string {
  const issued = items.filter((it) => it.ok).length;
  const refusals = new Map<string, number>();
  for (const it of items) if (!it.ok) refusals.set(it.code, (refusals.get(it.code) ?? 0) + 1);
  const refused = [...refusals].map(([code, n]) => `${n} ${code}`).join(', ');
  return `Issued ${id} to ${issued} of ${items.length} users${refused ? `; refused: ${refused}` : ''}.`;
}

/** Live remains for the page: a failure shows as "unavailable", never breaks the page. */
async function liveState(services: Services, coupon: CouponRecord, log: Log, requestId: string): Promise<LiveState> {
  if (!isLive(coupon.status)) return { state: 'not-live' };
  try {
    const result = await services.live.read(coupon.id);
    return result.ok ? { state: 'live', ...result.value } : { state: 'unavailable', reason: result.code };
  } catch (error) {
    log('admin_live_read_failed', { requestId, couponId: coupon.id, error: error instanceof Error ? error.message : String(error) });
    return { state: 'unavailable', reason: 'SERVICE_UNAVAILABLE' };
  }
}

/**
 * A coupon's sale chart: one query over its ledger and refusal counts (none for a draft). Remains
 * are counted from the live total where the gauges answered, else the synced one. A failure shows
 * as "unavailable", never breaks the page.
 */
async function chartState(services: Services, coupon: CouponRecord, live: LiveState, log: Log, requestId: string): Promise<ChartState> {
  if (coupon.status === 'draft') return { state: 'none' };
  const total = (kind: StockName) => (live.state === 'live' ? live[kind]?.total : undefined) ?? coupon.stocks[kind]?.total ?? configuredTotal(coupon, kind);
  try {
    const activity = await saleActivity(services.deps.ledger, coupon, { issue: total('issue'), use: total('use') }, now(services.deps));
    // A live coupon says it is quiet; an archived one without activity in its last hour shows nothing.
    return coupon.status === 'archived' && activity.series.length === 0 ? { state: 'none' } : { state: 'shown', activity };
  } catch (error) {
    log('admin_chart_read_failed', { requestId, couponId: coupon.id, error: error instanceof Error ? error.message : String(error) });
    return { state: 'unavailable' };
  }
}

/** The admin page's routes; `log` receives failures the page degrades around. */
export function adminPage(tokens: Tokens, log: Log = () => {}): Hono<AdminEnv> {
  const secrets = new AdminSecrets(tokens.admin);
  const roleOf = tokenRole(tokens);
  const app = new Hono<AdminEnv>();

  // Also matches `/admin` itself.
  app.use('/admin/*', securityHeaders);

  app.get('/admin/login', (c) => render(c, <LoginPage notice={c.req.query('out') ? 'You are logged out.' : undefined} />));

  app.post('/admin/login', async (c) => {
    if (!sameOrigin(c)) return refuse(c, CROSS_ORIGIN);
    const token = field(await c.req.parseBody(), 'token');
    const role = token ? await roleOf(token) : null;
    if (role === 'client') return render(c, <LoginPage error={NOT_ADMIN.message} />, 403);
    if (role === null) return render(c, <LoginPage error="That token is not valid." />, 401);
    await startSession(c, secrets);
    return c.redirect('/admin', 303);
  });

  const auth = authenticate(tokens, secrets, refuse);
  app.use('/admin', auth);
  app.use('/admin/logout', auth);
  app.use('/admin/coupons/*', auth);

  app.get('/admin', async (c) => {
    const session = c.get('adminSession');
    const { services } = c.var;
    const query = c.req.query();
    const status = isStatus(query.status) ? query.status : undefined;
    const cursor = query.cursor && ID_PATTERN.test(query.cursor) ? query.cursor : undefined;
    const [flash, page, csrf, deliveries] = await Promise.all([
      readFlash(secrets, query.flash, query.sig),
      services.admin.list({ status, cursor, limit: PAGE_SIZE }),
      csrfTokens(secrets, session),
      services.deps.webhooks ? services.deps.webhooks.recent(20) : Promise.resolve(null),
    ]);
    const requestId = c.get('requestId') ?? 'unknown';
    const coupons = await Promise.all(
      page.items.map(async (coupon) => {
        const live = await liveState(services, coupon, log, requestId);
        return {
          coupon,
          live,
          sync: flash?.couponId === coupon.id ? (flash.sync ?? null) : null,
          chart: await chartState(services, coupon, live, log, requestId),
        };
      }),
    );
    const refresh = query.live === '1' ? LIVE_REFRESH_SECONDS : null;
    return render(
      c,
      <AdminPage coupons={coupons} flash={flash} csrf={csrf} session={session} status={status} nextCursor={page.nextCursor} deliveries={deliveries} refresh={refresh} now={new Date(now(services.deps))} />,
    );
  });

  /** The form of a POST whose origin and CSRF token check out, else the refusal page. */
  const verified = async (c: Context<AdminEnv>, action: Action): Promise<FormBody | Response> => {
    const form = await c.req.parseBody();
    const refusal = await postRefusal(c, secrets, action, field(form, 'csrf'));
    return refusal ? refuse(c, refusal) : form;
  };

  /** A form action, answered post/redirect/get with its flash. */
  const post = (action: Action, run: (c: Context<AdminEnv>, form: FormBody) => Promise<Flash>) => async (c: Context<AdminEnv>) => {
    const form = await verified(c, action);
    if (form instanceof Response) return form;
    const flash = await run(c, form);
    const anchor = flash.couponId ? `#${encodeURIComponent(flash.couponId)}` : '';
    return c.redirect(`/admin?${await flashQuery(secrets, flash)}${anchor}`, 303);
  };

  app.post('/admin/logout', async (c) => {
    const form = await verified(c, 'logout');
    if (form instanceof Response) return form;
    endSession(c);
    return c.redirect('/admin/login?out=1', 303);
  });

  app.post(
    '/admin/coupons',
    post('create', async (c, form) => {
      const spec = couponSpecFrom(form);
      if (!spec.ok) return outcome(spec, undefined, () => '');
      const created = await c.var.services.admin.create(spec.value);
      return outcome(created, created.ok ? created.value.id : undefined, (d) => `Created the draft “${d.name}” (${d.id}). Confirm it to go live.`);
    }),
  );

  for (const action of Object.keys(COUPON_ACTIONS) as CouponAction[]) {
    app.post(
      `/admin/coupons/:id/${action}`,
      post(action, async (c, form) => {
        const id = c.req.param('id') ?? '';
        if (!ID_PATTERN.test(id)) return outcome(fail('NOT_FOUND', `coupon ${id} does not exist`), undefined, () => '');
        return COUPON_ACTIONS[action](c.var.services, id, form);
      }),
    );
  }
  return app;
}
