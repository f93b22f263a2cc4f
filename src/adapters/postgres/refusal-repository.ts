/**
 * Refused takes per coupon, minute and kind, added to in batches: each flush of a process's
 * tally is one statement, however many coupons and minutes it carries.
 */
import { sql } from 'drizzle-orm';
import type { RefusalCount, RefusalRepository } from '../../coupon/ports.js';
import type { Db } from './db.js';
import { refusalCounts } from './schema.js';

/** Rows per insert statement: well under Postgres' 65,535 bind parameters (4 per row). */
const CHUNK = 1000;

export class PostgresRefusalRepository implements RefusalRepository {
  private readonly db: Db;

  constructor({ db }: { db: Db }) {
    this.db = db;
  }

  async add(counts: RefusalCount[]): Promise<void> {
    for (let i = 0; i < counts.length; i += CHUNK) {
      await this.db
        .insert(refusalCounts)
        .values(counts.slice(i, i + CHUNK).map((c) => ({ couponId: c.couponId, minute: new Date(c.minute), kind: c.kind, count: c.count })))
        .onConflictDoUpdate({
          target: [refusalCounts.couponId, refusalCounts.minute, refusalCounts.kind],
          set: { count: sql`${refusalCounts.count} + excluded.count` },
        });
    }
  }
}
