/**
 * Moving a scope's ledger stream into the durable ledger, for the Redis gauge: by hand (the
 * schedule, a sync, an archive: `drainStream`) and by the elected drainer (`drainAsElected`,
 * fenced by the scope's drain lease, see `lua/drain.ts`). Both forget a batch (XDEL) only
 * after `write` resolved, so a crash or a failed write only drains the batch again, and the
 * ledger's key (operation id, action) records an event read twice once.
 */
import type { DrainDuty, DrainRound, LedgerEvent } from '../../stock/gauge.js';
import { names, toEvent, type Reply } from './replies.js';

/** Ledger events moved per drain batch (one script call, one Postgres insert, one XDEL). */
export const DRAIN_BATCH = 500;
/** An elected drainer's lease when the gauge was built without one (a drainer called by hand). */
export const DEFAULT_DRAIN_LEASE_MS = 10_000;

type Write = (events: LedgerEvent[]) => Promise<void>;

/** What a drain needs of the gauge: its two read scripts and XDEL. */
export interface DrainAccess {
  read(stream: string, count: number): Promise<Reply>;
  claim(stream: string, lease: string, args: string[]): Promise<Reply>;
  xdel(stream: string, ids: string[]): Promise<unknown>;
}

/** Hands `entries` to `write`, then forgets them; returns how many. */
async function move(access: DrainAccess, stream: string, entries: Reply, write: Write): Promise<number> {
  const ids = entries.map((e) => String((e as Reply)[0]));
  await write(entries.map((e) => toEvent((e as Reply)[1] as Reply)));
  // Forget only what Postgres has committed; a crash before this line only re-drains.
  await access.xdel(stream, ids);
  return ids.length;
}

/** Drains the whole stream, batch by batch, whoever else drains it (the ledger's key keeps each event once). */
export async function drainStream(access: DrainAccess, prefix: string, write: Write): Promise<number> {
  const stream = names(prefix).ledger;
  let moved = 0;
  for (;;) {
    const entries = await access.read(stream, DRAIN_BATCH);
    if (entries.length === 0) return moved;
    const n = await move(access, stream, entries, write);
    moved += n;
    if (n < DRAIN_BATCH) return moved;
  }
}

/**
 * One round of the elected drainer: reads while its lease holds (renewing it by `leaseMs`),
 * stops when another drainer holds it or the stream is empty (which gives the lease up).
 */
export async function drainAsElected(access: DrainAccess, prefix: string, write: Write, duty: DrainDuty & { last?: boolean }, leaseMs: string): Promise<DrainRound> {
  const k = names(prefix);
  let moved = 0;
  for (;;) {
    const [status, entries] = await access.claim(k.ledger, k.drain, [String(DRAIN_BATCH), duty.holder, leaseMs, duty.last ? '1' : '0']);
    // 'busy': another drainer holds the lease; 'empty': the lease is given up, the next event elects.
    if (status !== 'ok') return { moved, more: false };
    const n = await move(access, k.ledger, entries as Reply, write);
    moved += n;
    // A full batch: more wait now. Else the lease is kept for the next round (given up on the last).
    if (n < DRAIN_BATCH) return { moved, more: !duty.last };
  }
}
