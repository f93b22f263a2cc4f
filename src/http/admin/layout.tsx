/**
 * The admin page's frame, its sign-in and refusal pages, and the flash box. Server-rendered
 * with hono/jsx, which escapes every string it renders; no script is shipped.
 */
import type { Child } from 'hono/jsx';
import { problemBody } from '../problem.js';
import type { ErrorCode } from '../../coupon/errors.js';
import type { Flash } from './flash.js';

// Kept free of quotes, ampersands and angle brackets: the style element's text is escaped too.
const CSS = `
body { font: 15px/1.4 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f4f5f8; }
header.top { display: flex; align-items: center; justify-content: space-between; padding: 10px 24px; background: #1d2330; color: #fff; }
header.top h1 { font-size: 18px; margin: 0; }
main { max-width: 1100px; margin: 0 auto; padding: 16px 24px 48px; }
.flash { padding: 10px 14px; border-radius: 6px; margin: 12px 0; border: 1px solid; }
.flash.ok { background: #e8f6ec; border-color: #8cc89c; }
.flash.error { background: #fdecec; border-color: #e39a9a; }
.flash ul { margin: 6px 0 0; }
.card { background: #fff; border: 1px solid #d8dbe3; border-radius: 8px; padding: 14px 18px; margin: 14px 0; }
.card h2 { font-size: 17px; margin: 0 8px 0 0; display: inline; overflow-wrap: anywhere; }
.card .id { color: #667; font-size: 12px; }
.status { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; text-transform: uppercase; }
.status.draft { background: #eceef3; } .status.confirmed { background: #d7f2df; color: #135c2a; }
.status.paused { background: #fff1c9; color: #7a5600; } .status.archived { background: #e2e2e2; color: #555; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 10px 0; font-size: 14px; }
dl.meta dt { color: #667; } dl.meta dd { margin: 0; }
table.stocks { border-collapse: collapse; width: 100%; font-size: 14px; margin: 6px 0 10px; }
table.stocks th, table.stocks td { text-align: left; padding: 5px 8px; border-bottom: 1px solid #eceef3; }
.bar { width: 160px; height: 12px; background: #eceef3; border-radius: 6px; overflow: hidden; }
.bar div { height: 100%; background: #3a8f57; } .bar.low div { background: #c24b4b; }
.drift-bad { color: #b02a2a; font-weight: 600; } .muted { color: #889; }
.actions { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; }
.actions form { display: inline-flex; gap: 4px; align-items: center; margin: 0; }
button { font: inherit; padding: 4px 12px; border-radius: 5px; border: 1px solid #8a93a8; background: #fff; cursor: pointer; }
button.primary { background: #2d5fd3; border-color: #2d5fd3; color: #fff; } button.danger { border-color: #c24b4b; color: #a12d2d; }
input, select, textarea { font: inherit; padding: 3px 6px; }
.actions form.bulk { flex-basis: 100%; } .bulk textarea { flex: 1; max-width: 520px; }
input.small { width: 90px; }
fieldset { border: 1px solid #d8dbe3; border-radius: 8px; background: #fff; padding: 12px 18px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: 8px 16px; }
.grid label { display: flex; flex-direction: column; font-size: 13px; color: #445; }
.login { max-width: 380px; margin: 80px auto; }
.charts { margin: 4px 0 10px; } .charts .note { font-size: 12px; margin: 2px 0 0; }
figure.chart { margin: 6px 0 8px; max-width: 760px; }
figure.chart svg { display: block; width: 100%; height: auto; }
figure.chart figcaption { font-size: 13px; color: #445; margin-top: 2px; }
.live { font-size: 14px; margin: 6px 0; } .live.on { color: #135c2a; }
`;

/** The frame of every admin page; `refresh` reloads it every so many seconds (the live view). */
export function Layout(props: { title: string; refresh?: number | null; children?: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="robots" content="noindex" />
        {props.refresh ? <meta http-equiv="refresh" content={String(props.refresh)} /> : null}
        <title>{props.title}</title>
        <style>{CSS}</style>
      </head>
      <body>{props.children}</body>
    </html>
  );
}

/** What an admin can do about each refusal, beside the problem's own detail. */
const ADVICE: Partial<Record<ErrorCode, string>> = {
  SOLD_OUT: 'Nothing is left in that stock.',
  BELOW_ZERO: 'Lowering the limit that much would take the remain below zero: lower it by at most what is left.',
  NOT_EDITABLE: 'Only drafts can be changed or deleted.',
  INVALID_STATE: 'The coupon’s status does not allow that action.',
  NOT_ACTIVE: 'Confirm the coupon first.',
  VALIDATION_FAILED: 'Please correct the form:',
  NOT_FOUND: 'That coupon does not exist (any more).',
  STOCK_UNAVAILABLE: 'The live counter is missing: press Rebuild to restore it from the ledger.',
};

export function FlashBox(props: { flash: Flash | null }) {
  const f = props.flash;
  if (!f) return null;
  if (f.kind === 'ok' || !f.code) {
    return (
      <div class={`flash ${f.kind}`} role={f.kind === 'ok' ? 'status' : 'alert'} data-flash={f.kind}>
        {f.text}
      </div>
    );
  }
  return (
    <div class="flash error" role="alert" data-flash="error" data-code={f.code}>
      <strong>{f.code}</strong> — {problemBody(f.code, '', '').title}. {ADVICE[f.code] ?? ''}
      {f.problems && f.problems.length > 0 ? (
        <ul>
          {f.problems.map((p) => (
            <li>
              <code>{p.path}</code> {p.message}
            </li>
          ))}
        </ul>
      ) : (
        <div>{f.text}</div>
      )}
    </div>
  );
}

/** A page that says why the request was refused, with the way back. */
export function MessagePage(props: { title: string; message: string }) {
  return (
    <Layout title={`${props.title} · coupon-stock admin`}>
      <main class="login">
        <h1>{props.title}</h1>
        <p>{props.message}</p>
        <p>
          <a href="/admin/login">Log in</a> · <a href="/admin">Admin page</a>
        </p>
      </main>
    </Layout>
  );
}

export function LoginPage(props: { error?: string; notice?: string }) {
  return (
    <Layout title="Log in · coupon-stock admin">
      <main class="login">
        <h1>coupon-stock admin</h1>
        {props.error ? <div class="flash error" role="alert">{props.error}</div> : null}
        {props.notice ? <div class="flash ok" role="status">{props.notice}</div> : null}
        <form method="post" action="/admin/login">
          <fieldset>
            <label for="token">Admin token</label>
            <p>
              <input id="token" name="token" type="password" autocomplete="current-password" required size={34} />
            </p>
            <button class="primary" type="submit">
              Log in
            </button>
          </fieldset>
        </form>
      </main>
    </Layout>
  );
}
