/**
 * A correct client: every take carries an Idempotency-Key; an answer that says nothing about
 * the outcome (503, any other 5xx, a transport error) is retried with the same key and body a
 * few times at once, then left to the run's pending list, which sends it again later (after
 * the fault is over) until a definite answer comes or the run ends ("unknown").
 */
import type { Run } from './state.js';
import { ADMIN, CLIENT } from './world.js';

export type Json = Record<string, unknown>;

export interface Answer {
  /** 0: the request threw (no answer at all). */
  status: number;
  body: Json;
  code: string | null;
  replayed: boolean;
}

export interface Request {
  method: 'GET' | 'POST';
  path: string;
  admin?: boolean;
  body?: unknown;
  key?: string;
}

/** `MODEL_MAX_MS`: an answer slower than this breaks "bounded failure" (off by default: the box is shared). */
const MAX_MS = process.env.MODEL_MAX_MS ? Number(process.env.MODEL_MAX_MS) : null;

/** A route without its ids, for the latency table. */
const routeOf = (req: Request) => `${req.method} ${req.path.replace(/[a-z]{3}_[0-9a-z]{26}/g, '{id}')}`;

/** Retries sent at once after an answer that is not definite. */
export const QUICK_RETRIES = 2;

export const definite = (a: Answer) => a.status >= 200 && a.status < 500;

/** `201`, `409 SOLD_OUT`, …: what the model and the tallies compare. */
export const named = (a: Answer) => (a.status === 0 ? 'transport-error' : a.code ? `${a.status} ${a.code}` : String(a.status));

export async function send(run: Run, req: Request): Promise<Answer> {
  const headers: Record<string, string> = { authorization: `Bearer ${req.admin ? ADMIN : CLIENT}` };
  if (req.body !== undefined) headers['content-type'] = 'application/json';
  if (req.key) headers['idempotency-key'] = req.key;
  run.stats.requests += 1;
  const started = Date.now();
  let answer: Answer;
  try {
    const res = await run.world.app.request(req.path, { method: req.method, headers, body: req.body === undefined ? undefined : JSON.stringify(req.body) });
    const text = await res.text();
    let body: Json = {};
    try {
      body = text ? (JSON.parse(text) as Json) : {};
    } catch {
      body = { text };
    }
    answer = { status: res.status, body, code: typeof body.code === 'string' ? body.code : null, replayed: res.headers.get('idempotent-replayed') === 'true' };
  } catch (error) {
    answer = { status: 0, body: { error: String(error) }, code: null, replayed: false };
  }
  run.stats.bump(run.stats.answers, named(answer));
  const ms = Date.now() - started;
  const route = routeOf(req);
  if (ms > (run.stats.slowest.get(route) ?? 0)) run.stats.slowest.set(route, ms);
  if (MAX_MS !== null && ms > MAX_MS) run.violate('slow-answer', `${req.method} ${req.path} took ${ms} ms to answer ${named(answer)}`);
  if (answer.status >= 500 && answer.status !== 503) {
    const cause = run.world.errorOf(String(answer.body.requestId)) ?? JSON.stringify(answer.body).slice(0, 200);
    run.violate('server-error', `${req.method} ${req.path} answered ${answer.status} ${String(answer.code ?? '')} (a store fault must be a 503 to retry); logged: ${cause.slice(0, 300)}`);
  }
  return answer;
}

/**
 * Sends a request until its answer is definite, at most `1 + QUICK_RETRIES` times. Returns
 * every answer; the last is definite unless all failed.
 */
export async function sendRetrying(run: Run, req: Request, attempts = 1 + QUICK_RETRIES): Promise<Answer[]> {
  const answers: Answer[] = [];
  for (let i = 0; i < attempts; i++) {
    const answer = await send(run, req);
    answers.push(answer);
    if (definite(answer)) break;
    await new Promise((resolve) => setImmediate(resolve));
  }
  return answers;
}

/**
 * Runs a request the way the client does, calling `settle(answer, doubted, late)` once with its
 * definite answer — now, or from the pending list later (`late`: other commands ran since, so
 * what the model expected when it was sent no longer holds; `doubted`: an earlier attempt had no
 * definite answer, so it may have run). `doubt()` is called once when an attempt fails.
 */
export async function perform(
  run: Run,
  coupon: number | null,
  req: Request,
  handlers: { settle(answer: Answer, doubted: boolean, late: boolean): void; doubt?(): void },
): Promise<void> {
  const answers = await sendRetrying(run, req);
  const last = answers[answers.length - 1] as Answer;
  const doubted = answers.some((a) => !definite(a));
  if (doubted) handlers.doubt?.();
  if (definite(last)) return handlers.settle(last, doubted, false);
  const book = coupon === null ? undefined : run.books[coupon];
  if (book) book.pending += 1;
  run.pending.push({
    coupon,
    what: `${req.method} ${req.path}${req.body === undefined ? '' : ` ${JSON.stringify(req.body)}`}`,
    retry: async () => {
      const again = await sendRetrying(run, req, 1);
      const answer = again[0] as Answer;
      if (!definite(answer)) return false;
      if (book) book.pending -= 1;
      handlers.settle(answer, true, true);
      return true;
    },
  });
}

/** Sends every pending request once more; keeps those still without a definite answer. */
export async function retryPending(run: Run): Promise<void> {
  const waiting = run.pending.splice(0, run.pending.length);
  for (const p of waiting) if (!(await p.retry())) run.pending.push(p);
}
