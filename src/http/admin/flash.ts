/**
 * The message an action leaves for the page it redirects to (post/redirect/get), carried in
 * the query string. It is signed: an unsigned `?error=…` would let any link put words of an
 * attacker's choosing on the admin page.
 */
import { STOCK_ROWS, type StockRowName } from '../../coupon/coupon.js';
import type { ErrorCode, FieldProblem } from '../../coupon/errors.js';
import type { SyncReport } from '../../coupon/sync-report.js';
import { base64url, fromBase64url, type AdminSecrets } from './secrets.js';

/** One stock's line of a sync report, as the page shows it. */
export interface SyncedStock {
  name: StockRowName;
  remain: number;
  ledger: number;
  drift: number;
  live: boolean;
}

export interface Flash {
  kind: 'ok' | 'error';
  text: string;
  /** The problem code of a refusal. */
  code?: ErrorCode;
  /** Every field problem of a `VALIDATION_FAILED`. */
  problems?: FieldProblem[];
  /** The coupon the action was about (the page scrolls to it). */
  couponId?: string;
  /** The drift report of a Refresh. */
  sync?: { stocks: SyncedStock[]; missing: StockRowName[] };
}

/** A flash message from a sync report. */
export function syncFlash(report: SyncReport): Flash {
  const stocks: SyncedStock[] = [];
  for (const name of STOCK_ROWS) {
    const s = report[name];
    if (s) stocks.push({ name, remain: s.remain, ledger: s.ledger, drift: s.drift, live: s.live });
  }
  const parts = stocks.map((s) => `${s.name}: ${s.remain} left, ledger ${s.ledger}, drift ${s.drift}`);
  const missing = report.missing.length > 0 ? ` Missing gauges: ${report.missing.join(', ')} (press Rebuild).` : '';
  return {
    kind: report.drifted.length > 0 || report.missing.length > 0 ? 'error' : 'ok',
    text: `Refreshed ${report.couponId}: ${parts.join('; ') || 'no stocks (unlimited)'}; ${report.drained} ledger events drained.${missing}`,
    couponId: report.couponId,
    sync: { stocks, missing: report.missing },
  };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The query string (`flash=…&sig=…`) that carries a flash. */
export async function flashQuery(secrets: AdminSecrets, flash: Flash): Promise<string> {
  const payload = base64url(encoder.encode(JSON.stringify(flash)));
  return new URLSearchParams({ flash: payload, sig: await secrets.mac('flash', payload) }).toString();
}

/** The flash of a page's query, or `null` when absent or not signed by this server. */
export async function readFlash(secrets: AdminSecrets, payload: string | undefined, sig: string | undefined): Promise<Flash | null> {
  if (!payload || !sig || payload.length > 8192) return null;
  if (!(await secrets.verify(sig, 'flash', payload))) return null;
  const bytes = fromBase64url(payload);
  if (!bytes) return null;
  // Signed by this server from a `Flash` it built: the shape is ours, not a client's.
  return JSON.parse(decoder.decode(bytes)) as Flash;
}
