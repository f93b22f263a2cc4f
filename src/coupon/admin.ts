/**
 * Coupon administration: drafts, the lifecycle, live limits (live reads: `live.ts`; rebuilding
 * lost
 * gauges: `recovery.ts`). Durable state first where a failure halfway must leave the coupon
 * closed rather than open.
 */
import { fail, ok, type Result } from './errors.js';
import { canTransition, isLive, specProblems, type CouponRecord, type CouponSpec, type StockRowName } from './coupon.js';
import { now, notFound, type CouponDeps } from './deps.js';
import { newId } from './ids.js';
import { couponKeys } from './keys.js';
import type { LiveStock } from './live.js';
import type { ListQuery, Page, StockRow } from './ports.js';
import { CouponRecovery } from './recovery.js';

export interface AdjustInput {
  /** The client's `Idempotency-Key`, or `null` (then the id is new, and only the store client's own retries are covered). */
  idempotencyKey: string | null;
  /** Who the key belongs to: keys are scoped per caller. */
  caller: string;
}

export interface Adjusted extends LiveStock {
  /** `true` when this answer is the replay of an earlier adjust with the same key. */
  replayed: boolean;
}

export class CouponAdmin {
  private readonly recovery: CouponRecovery;

  constructor(private readonly deps: CouponDeps) {
    this.recovery = new CouponRecovery(deps);
  }

  /** Creates a draft. */
  async create(spec: CouponSpec): Promise<Result<CouponRecord>> {
    const invalid = this.invalid(spec);
    if (invalid) return invalid;
    const at = now(this.deps);
    return ok(await this.deps.coupons.create({ id: newId('cpn', at), spec, now: new Date(at) }));
  }

  async get(id: string): Promise<Result<CouponRecord>> {
    const coupon = await this.deps.coupons.get(id);
    return coupon ? ok(coupon) : notFound(id);
  }

  list(query: ListQuery): Promise<Page<CouponRecord>> {
    return this.deps.coupons.list(query);
  }

  /** Replaces a draft's spec (the HTTP layer merges a PATCH onto the current spec). */
  async update(id: string, spec: CouponSpec): Promise<Result<CouponRecord>> {
    const invalid = this.invalid(spec);
    if (invalid) return invalid;
    const updated = await this.deps.coupons.updateDraft(id, spec, new Date(now(this.deps)));
    if (updated) return ok(updated);
    return this.refuseEdit(id);
  }

  async remove(id: string): Promise<Result<null>> {
    if (await this.deps.coupons.deleteDraft(id)) return ok(null);
    return this.refuseEdit(id);
  }

  /**
   * Confirms a draft: stock rows in Postgres first, then gauges and policy. Idempotent: on a
   * live coupon it reloads whatever gauges are missing from `total − ledger`, never from
   * `total` alone, so a retried confirm after a partial failure cannot hand out stock twice.
   */
  async confirm(id: string): Promise<Result<CouponRecord>> {
    // The stock rows come from the draft as read: a PATCH landing in between makes the confirm
    // read again (the row is confirmed only if unchanged since), never confirm a stale spec.
    for (let attempt = 0; ; attempt++) {
      const coupon = await this.deps.coupons.get(id);
      if (!coupon) return notFound(id);
      if (coupon.status === 'archived') return fail('INVALID_STATE', `coupon ${id} is archived`);
      if (coupon.status !== 'draft') break;
      const keys = couponKeys(id);
      const rows: StockRow[] = [];
      if (coupon.issueStock) rows.push({ key: keys.issue, name: 'issue', ...both(coupon.issueStock.total) });
      if (coupon.useStock) rows.push({ key: keys.use, name: 'use', ...both(coupon.useStock.total) });
      if (coupon.budget) rows.push({ key: keys.budget, name: 'budget', ...both(coupon.budget.total) });
      if (await this.deps.coupons.confirm(id, rows, new Date(now(this.deps)), coupon.updatedAt)) break;
      if (attempt >= 5) return fail('INVALID_STATE', `coupon ${id} kept changing while it was confirmed; try again`);
    }
    const current = await this.deps.coupons.get(id);
    if (!current) return notFound(id);
    if (!isLive(current.status)) return fail('INVALID_STATE', `coupon ${id} is ${current.status}`);
    await this.recovery.ensureLive(current);
    return ok(current);
  }

  /** Records the pause (a new status version), then closes the policy unless a newer change got there first. */
  async pause(id: string): Promise<Result<CouponRecord>> {
    return this.move(id, 'paused');
  }

  /** Records the resume (a new status version), then opens the policy unless a newer change got there first. */
  async resume(id: string): Promise<Result<CouponRecord>> {
    return this.move(id, 'confirmed');
  }

  /**
   * Changes a live limit by `delta`, once per adjust id: the gauge refuses a remain below zero
   * and replays a retried adjust, then the durable total follows by version (a retry, or the
   * next sync, copies it; an older copy never overwrites a newer one).
   */
  async adjust(id: string, stock: StockRowName, delta: number, input: AdjustInput): Promise<Result<Adjusted>> {
    const coupon = await this.deps.coupons.get(id);
    if (!coupon) return notFound(id);
    if (!isLive(coupon.status)) {
      return fail('INVALID_STATE', `coupon ${id} is ${coupon.status}; only live stocks can be adjusted`);
    }
    if (!coupon.stocks[stock]) return fail('INVALID_STATE', `coupon ${id} has no ${stock} stock (unlimited)`);
    const keys = couponKeys(id);
    const opId = input.idempotencyKey === null ? newId('adj', now(this.deps)) : `${input.caller}:${input.idempotencyKey}`;
    const adjusted = await this.deps.gauges.adjust({ prefix: keys.prefix, key: keys[stock], delta, opId, fingerprint: `${stock}:${delta}` });
    if (!adjusted.ok) {
      switch (adjusted.reason) {
        case 'below_zero':
          return fail('BELOW_ZERO', `the ${stock} stock's remain would go below zero`);
        case 'conflict':
          return fail('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used with a different adjust');
        case 'sealed':
          return fail('NOT_ACTIVE', `coupon ${id} is archived`);
        case 'unavailable':
          return fail('STOCK_UNAVAILABLE', `the live ${stock} stock of coupon ${id} is unavailable`);
      }
    }
    await this.deps.coupons.setTotal(keys[stock], adjusted.total, adjusted.version);
    return ok({ total: adjusted.total, remain: adjusted.remain, replayed: adjusted.replayed });
  }

  /**
   * Moves a live coupon between confirmed and paused: the status first (conditional, a new
   * version), then the gauge's open flag at that version, which a newer change has overridden
   * already when it lost the race (`stale`). A policy that is missing is rebuilt; a sealed one
   * means an archive is under way.
   */
  private async move(id: string, to: 'confirmed' | 'paused'): Promise<Result<CouponRecord>> {
    const coupon = await this.deps.coupons.get(id);
    if (!coupon) return notFound(id);
    if (!isLive(coupon.status) || !canTransition(coupon.status, to)) {
      return fail('INVALID_STATE', `coupon ${id} is ${coupon.status} and cannot become ${to}`);
    }
    const version = await this.deps.coupons.transition(id, ['confirmed', 'paused'], to, new Date(now(this.deps)));
    const current = await this.deps.coupons.get(id);
    if (!current) return notFound(id);
    if (version === null) return fail('INVALID_STATE', `coupon ${id} is ${current.status} and cannot become ${to}`);
    const applied = await this.deps.gauges.setOpen(couponKeys(id).prefix, to === 'confirmed', version);
    if (applied === 'sealed') return fail('NOT_ACTIVE', `coupon ${id} is being archived`);
    if (applied === 'missing') await this.recovery.ensureLive(current);
    // The answer says what this change did: a newer pause or resume that landed since is its own
    // answer's to tell (the coupon read now shows it).
    return ok(current.statusVersion === version ? current : { ...current, status: to, statusVersion: version });
  }

  private invalid(spec: CouponSpec) {
    const problems = specProblems(spec);
    if (problems.length === 0) return null;
    return fail('VALIDATION_FAILED', problems.map((p) => `${p.path} ${p.message}`).join('; '), problems);
  }

  private async refuseEdit(id: string) {
    const coupon = await this.deps.coupons.get(id);
    if (!coupon) return notFound(id);
    return fail('NOT_EDITABLE', `coupon ${id} is ${coupon.status}; only drafts can be changed`);
  }
}

const both = (total: number) => ({ total, remain: total });
