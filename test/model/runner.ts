/**
 * The property: for random coupons and a random list of commands (operations alone, faults,
 * and moments where 2–8 operations are fired at once), run them through the HTTP app on the
 * real stores, then check the books at rest. fast-check shrinks a failure to a short list and
 * prints its seed and path; `FC_SEED` + `FC_PATH` (+ `MODEL_REPLAY_PATH`, the commands'
 * replayPath) replay it.
 *
 * Why `fc.commands` + `asyncModelRun` with `Promise.all` moments, not `scheduledModelRun`: the
 * interleavings that matter happen inside the stores (a Lua script against a drain, a
 * transaction against an archive), which a fast-check scheduler cannot order; real concurrent
 * requests on real servers reach them, and each operation's start is offset by a generated
 * number of event-loop turns so different orders are tried. A replay repeats the commands and
 * their offsets, not the servers' timing: a race may need a few replays to show again.
 */
import fc from 'fast-check';
import { newBook, type Plan } from './books.js';
import { send } from './client.js';
import { ModelCommand } from './execute.js';
import { restorePostgres } from './fault-ops.js';
import { finalCheck } from './final.js';
import { opArbitrary, planArbitrary } from './ops.js';
import { SCENARIOS } from './scenarios.js';
import { Run, type Stats } from './state.js';
import { ADMIN, type World } from './world.js';

export const USERS = ['ann', 'bob', 'c:d'] as const;

export interface ModelOptions {
  runs: number;
  maxCommands: number;
  /** After the first failure, how long shrinking may go on before the best counterexample so far is reported. */
  shrinkSeconds: number;
}

/** Options from the environment: `MODEL_RUNS`, `MODEL_COMMANDS`, `MODEL_SHRINK_SECONDS`. */
export function optionsFromEnv(defaults: ModelOptions): ModelOptions {
  const num = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
  return { runs: num('MODEL_RUNS', defaults.runs), maxCommands: num('MODEL_COMMANDS', defaults.maxCommands), shrinkSeconds: num('MODEL_SHRINK_SECONDS', defaults.shrinkSeconds) };
}

const iso = (ms: number) => new Date(ms).toISOString();

function specOf(plan: Plan, name: string, endsAt: number | null) {
  const window = endsAt === null ? null : { start: null, end: iso(endsAt) };
  return {
    name,
    issueStock: plan.issueTotal === null ? null : { total: plan.issueTotal },
    useStock: plan.useTotal === null ? null : { total: plan.useTotal },
    budget: plan.budget === null ? null : { total: plan.budget, currency: 'EUR' },
    perUserIssueLimit: plan.perUserIssue,
    perUserUseLimit: plan.perUserUse,
    issuePeriodStock: plan.issueDayCap === null ? null : { total: plan.issueDayCap, period: 'day' },
    issueWindow: window,
    useWindow: window,
  };
}

/**
 * The setup is no fault search: a 503 there (a store slow to answer on a busy machine) is
 * retried as a client would, after its Retry-After, a few times. A create retried may leave a
 * draft behind; nothing reads it.
 */
async function untilDefinite<T extends { status: number }>(request: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const res = await request();
    if (res.status !== 503 || attempt >= 10) return res;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

async function startRun(world: World, stats: Stats, plans: Plan[]): Promise<Run> {
  world.proxy?.clear();
  // Each run talks to a fresh service (a new process on the same stores): nothing one run
  // broke in the service's memory (a pool that lost connections) carries into the next.
  await world.renew();
  // The clock only moves forward, from the real time (period gauges expire by it in Redis).
  world.clock.now = Math.ceil((Math.max(world.clock.now, Date.now()) + 1_000) / 1_000) * 1_000;
  const run = new Run(world, stats, USERS, `${stats.runs.toString(36)}${Math.random().toString(36).slice(2, 6)}`);
  await restorePostgres(run);
  for (const [i, plan] of plans.entries()) {
    const book = newBook(i, '', plan, world.clock.now);
    const created = await untilDefinite(() => send(run, { method: 'POST', path: '/v1/coupons', admin: true, body: specOf(plan, `model ${run.tag} ${i}`, book.endsAt) }));
    if (created.status !== 201) throw new Error(`setup: create answered ${created.status} ${JSON.stringify(created.body)}`);
    book.id = String(created.body.id);
    const confirmed = await untilDefinite(() => send(run, { method: 'POST', path: `/v1/coupons/${book.id}/confirm`, admin: true }));
    if (confirmed.status !== 200) throw new Error(`setup: confirm answered ${confirmed.status} ${JSON.stringify(confirmed.body)}`);
    run.books.push(book);
  }
  stats.runs += 1;
  return run;
}

/** Leaves nothing behind: faults off, drains done, the run's coupons archived (so later schedules skip them). */
async function endRun(run: Run, lostBefore: Record<string, number>): Promise<void> {
  const { world } = run;
  world.proxy?.clear();
  run.outageLeft = 0;
  await restorePostgres(run);
  for (const [mode, n] of Object.entries(world.proxy?.applied ?? {})) {
    if (n > (lostBefore[mode] ?? 0)) run.stats.bump(run.stats.faults, `answer-lost:${mode}`, n - (lostBefore[mode] ?? 0));
  }
  await world.settle();
  for (const book of run.books) {
    if (book.id) await Promise.resolve(world.app.request(`/v1/coupons/${book.id}/archive`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` } })).catch(() => {});
  }
  await world.settle();
}

export function modelProperty(world: World, stats: Stats, options: ModelOptions) {
  let failedAt: number | null = null;
  const replayPath = process.env.MODEL_REPLAY_PATH;
  const commands = fc.commands([opArbitrary(world.kind).map((op) => new ModelCommand(op))], { maxCommands: options.maxCommands, size: 'max', ...(replayPath ? { replayPath } : {}) });
  return fc.asyncProperty(fc.array(planArbitrary, { minLength: 1, maxLength: 2 }), commands, async (plans, cmds) => {
    // Shrinking budget spent: every further candidate passes, so the best counterexample so far is reported.
    if (failedAt !== null && Date.now() > failedAt + options.shrinkSeconds * 1000) return;
    const setup = Date.now();
    const run = await startRun(world, stats, plans);
    stats.bump(stats.millis, 'setup', Date.now() - setup);
    const lostBefore = { ...world.proxy?.applied };
    try {
      await fc.asyncModelRun(() => ({ model: {}, real: run }), cmds);
      const final = Date.now();
      await finalCheck(run);
      stats.bump(stats.millis, 'final', Date.now() - final);
    } catch (error) {
      failedAt ??= Date.now();
      throw error;
    } finally {
      if (process.env.MODEL_TRACE === '1') console.log(`run ${run.tag}:\n${run.trace.join('\n')}`);
      await endRun(run, lostBefore);
    }
  });
}

/** Runs the property with the seed and path from the environment, if any. */
export async function checkModel(world: World, stats: Stats, options: ModelOptions): Promise<void> {
  const seed = process.env.FC_SEED ? Number(process.env.FC_SEED) : Date.now() % 2_147_483_647;
  const path = process.env.FC_PATH;
  console.log(`model[${world.kind}]: seed ${seed}${path ? `, path ${path}` : ''}, ${options.runs} runs of up to ${options.maxCommands} commands (replay: FC_SEED=${seed} FC_PATH=<path printed on failure>)`);
  stats.started = Date.now();
  // The known breaks run first (MODEL_SCENARIOS=0: only the random search).
  // MODEL_SCENARIO=<part of a name>: only those scenarios, no search. A replay (FC_PATH) must
  // keep the same examples: the path counts them.
  const only = process.env.MODEL_SCENARIO;
  const examples =
    process.env.MODEL_SCENARIOS === '0'
      ? []
      : SCENARIOS.filter((s) => (!s.only || s.only === world.kind || (s.only === 'redis' && world.kind === 'resp')) && (!only || s.name.includes(only))).map((s): [Plan[], ModelCommand[]] => [s.plans, s.ops.map((op) => new ModelCommand(op))]);
  const numRuns = only ? examples.length : options.runs + examples.length;
  if (numRuns === 0) return;
  await fc.assert(modelProperty(world, stats, options), { numRuns, seed, examples, ...(path ? { path, endOnFailure: true } : {}) });
}
