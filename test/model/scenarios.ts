/**
 * Known breaks (issue 10), written as command lists of the model: fast-check runs them first
 * (`examples`), before its random search, so every run of the test goes through each of them
 * at least once. They use the same commands and checks as the search; nothing here asserts
 * more than the model does.
 */
import type { Plan } from './books.js';
import type { Op } from './ops.js';
import type { GaugeKind } from './world.js';

const plan = (over: Partial<Plan>): Plan => ({
  issueTotal: null,
  useTotal: null,
  budget: null,
  perUserIssue: null,
  perUserUse: null,
  issueDayCap: null,
  endsAfter: null,
  ...over,
});

export interface Scenario {
  name: string;
  only?: GaugeKind;
  plans: Plan[];
  ops: Op[];
}

/** `n` cancels spread over the first ~300 ms of an admin action (see `waitOffset`). */
const cancelsWith = (admin: Op, n: number): Op => ({
  t: 'together',
  ops: [admin, ...Array.from({ length: n }, (_, k): Op => ({ t: 'cancelIssue', c: 0, k }))],
  offsets: [0, ...Array.from({ length: n }, (_, k) => 2 + Math.round((k * 38) / Math.max(1, n - 1)))],
});

export const SCENARIOS: Scenario[] = [
  {
    // 1. An archive racing cancels: each cancel answered 200 must be in the archived books.
    name: 'archive among cancels',
    plans: [plan({ issueTotal: 10 })],
    ops: [{ t: 'batch', c: 0, us: [0, 1, 2, 0, 1, 2, 0, 1, 2, 0] }, { t: 'sync', c: 0 }, cancelsWith({ t: 'archive', c: 0 }, 10)],
  },
  {
    // 2. An adjust whose answer from Redis is lost (the client resends): applied once.
    name: 'adjust with lost answers',
    only: 'redis',
    plans: [plan({ issueTotal: 5 })],
    // (The first adjust loads the script: a lost NOSCRIPT answer would run nothing twice.)
    ops: [{ t: 'adjust', c: 0, stock: 'issue', delta: 1 }, { t: 'lose', n: 2, mode: 'drop' }, { t: 'adjust', c: 0, stock: 'issue', delta: 2 }, { t: 'live', c: 0 }],
  },
  {
    // 3. A hold runs out while its use gauge is missing: the sweep must not drop it unreturned.
    name: 'hold expiry with a gauge missing',
    only: 'redis',
    plans: [plan({ useTotal: 3, budget: 100 })],
    ops: [{ t: 'hold', c: 0, u: 0, holder: false, again: null, ttl: 1, d: 20 }, { t: 'delete', c: 0, cat: 'stock', k: 1 }, { t: 'clock', ms: 2_000 }, { t: 'maintenance' }],
  },
  {
    // 4a. A per-user counter lost: the user's second issue must not pass the limit.
    name: 'per-user counter lost',
    only: 'redis',
    plans: [plan({ issueTotal: 8, perUserIssue: 1 })],
    ops: [{ t: 'issue', c: 0, u: 0 }, { t: 'delete', c: 0, cat: 'user', k: 1 }, { t: 'issue', c: 0, u: 0 }],
  },
  {
    // 4b. A period gauge lost: the day's cap must hold.
    name: 'period gauge lost',
    only: 'redis',
    plans: [plan({ issueTotal: 8, issueDayCap: 2 })],
    ops: [{ t: 'issue', c: 0, u: 0 }, { t: 'issue', c: 0, u: 1 }, { t: 'delete', c: 0, cat: 'period', k: 0 }, { t: 'issue', c: 0, u: 2 }, { t: 'issue', c: 0, u: 0 }],
  },
  {
    // 6. More than ten holds run out: a use that fits once they are back must not be refused.
    name: 'twenty dead holds',
    plans: [plan({ budget: 100 })],
    ops: [
      { t: 'holds', c: 0, n: 20, ttl: 1, d: 5 },
      { t: 'clock', ms: 2_000 },
      { t: 'use', c: 0, u: 0, holder: false, d: 60 },
      { t: 'hold', c: 0, u: 0, holder: false, again: 10, ttl: 60, d: 5 },
    ],
  },
  {
    // A rebuild racing a pause must not reopen the paused coupon.
    name: 'rebuild racing a pause',
    plans: [plan({ useTotal: 4 })],
    ops: [{ t: 'together', ops: [{ t: 'rebuild', c: 0 }, { t: 'pause', c: 0 }], offsets: [0, 0] }, { t: 'use', c: 0, u: 0, holder: false, d: 5 }],
  },
  {
    // A resume racing an archive must not bring the archived coupon back to life.
    name: 'resume racing an archive',
    plans: [plan({ issueTotal: 4 })],
    ops: [
      { t: 'issue', c: 0, u: 0 },
      { t: 'pause', c: 0 },
      { t: 'together', ops: [{ t: 'archive', c: 0 }, { t: 'resume', c: 0 }, { t: 'resume', c: 0 }, { t: 'resume', c: 0 }, { t: 'resume', c: 0 }], offsets: [0, 8, 16, 28, 40] },
      { t: 'issue', c: 0, u: 1 },
    ],
  },
];
