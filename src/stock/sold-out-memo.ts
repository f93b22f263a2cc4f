/**
 * The sold-out memo: what this process (a Node host, a Worker isolate) learned about shared
 * gauges that ran short, so that the takes of a sold-out sale that follow are refused from memory
 * for a short window instead of each costing the store a command.
 *
 * What it remembers, per gauge key of a scope: "less than `below` left", learned at the time
 * the take that learned it was *sent* (so the window bounds how stale an answer can be, from any
 * change the store saw after that: a cancel in another process is takeable at most `windowMs`
 * after it). Only the caller decides which gauges are shared (a coupon's stocks and budget, never
 * a per-user counter or a period cap); the memo only ever answers "short" for a take of `n` when
 * it learned "less than `below`" with `n >= below`.
 *
 * Forgetting: `forget(prefix)` drops a scope at once (a restore, adjust or hold give-back made
 * through this process: `forgetfulGauge` in `forgetful-gauge.ts` does it for every such call).
 * An answer that was sent before a forget and arrives after it is not learned (the scope's clear
 * sequence), so a refusal the store gave before the restore cannot come back after it.
 *
 * Asking again: from a quarter of a fact's window on, one take per quarter window asks the store
 * (a probe) and renews the fact while it holds. With `shareProbes`, a take that finds a fact
 * expired while its probe is still out waits for the probe (`pending`) and then looks again, so a
 * slow store does not turn the end of a window into a call per take in flight; the caller says
 * when a take's answer came (`settle`), whatever it was. Off on Workers, whose requests must not
 * await what another request resolves.
 *
 * Memory is bounded: at most `maxScopes` scopes (oldest dropped first) and `maxKeys` keys each.
 */
export interface SoldOutMemoOptions {
  /** How long a learned shortfall answers takes, in ms (> 0; a window of 0 means no memo at all). */
  windowMs: number;
  /** Most scopes remembered at once (default 4096); the oldest is dropped first. */
  maxScopes?: number;
  /** Most gauge keys remembered per scope (default 8: a coupon has three shared gauges). */
  maxKeys?: number;
  /** Takes that find a fact expired wait for its probe still out (default false; never on Workers). */
  shareProbes?: boolean;
}

/** When a take was sent and what the memo had forgotten by then: what its answer is learned with. */
export interface Ticket {
  /** The memo's clear sequence when the take was sent. */
  seq: number;
  /** When the take was sent, ms since the epoch. */
  at: number;
}

/** Less than `below` left, until `until` (ms since the epoch); `probed`: when a take last went to ask the store again. */
interface Fact {
  below: number;
  until: number;
  probed: number;
  /** The probe still out, with `shareProbes`: resolved when it (or any take of the key) was answered, or the fact went. */
  probe: { done: Promise<void>; resolve: () => void } | null;
}

const settled = (fact: Fact | undefined): void => {
  fact?.probe?.resolve();
  if (fact) fact.probe = null;
};

interface Scope {
  /** The clear sequence of this scope's last `forget`. */
  cleared: number;
  /** Per gauge key: what is known of it. */
  keys: Map<string, Fact>;
}

export class SoldOutMemo {
  readonly windowMs: number;
  private readonly maxScopes: number;
  private readonly maxKeys: number;
  private readonly shareProbes: boolean;
  private readonly scopes = new Map<string, Scope>();
  private seq = 0;
  /** The highest clear sequence of a scope dropped for room: a scope not held is treated as cleared then. */
  private floor = 0;

  constructor(options: SoldOutMemoOptions) {
    if (!(options.windowMs > 0)) throw new Error('a sold-out memo needs a window > 0 ms');
    this.windowMs = options.windowMs;
    this.maxScopes = options.maxScopes ?? 4096;
    this.maxKeys = options.maxKeys ?? 8;
    this.shareProbes = options.shareProbes ?? false;
  }

  /** Scopes held now (for tests and metrics). */
  get size(): number {
    return this.scopes.size;
  }

  /** Takes a ticket for a take sent at `at`: its answer is learned with it. */
  ticket(at: number): Ticket {
    return { seq: this.seq, at };
  }

  /**
   * The first of `needs` (in order) that is known to have less than its `n` left at `at`, or -1:
   * the take must ask the store (nothing known short, or it is the one take that asks again in
   * the later part of a fact's window). Needs of `n <= 0` never match (a give is never short).
   */
  short(prefix: string, needs: readonly { key: string; n: number }[], at: number): number {
    const scope = this.scopes.get(prefix);
    if (!scope || scope.keys.size === 0) return -1;
    for (let i = 0; i < needs.length; i++) {
      const need = needs[i];
      if (!need || need.n <= 0) continue;
      const known = scope.keys.get(need.key);
      if (!known) continue;
      if (known.until <= at) {
        // Kept while its probe is out: `pending` lets the takes that come now wait for it.
        if (!known.probe) scope.keys.delete(need.key);
        continue;
      }
      if (need.n < known.below) continue;
      // Once a quarter of its window has passed, one take per quarter window asks the store again
      // (and renews the fact when it is still true) while the others are still answered: under
      // load a sold-out stock costs about four calls per window, and a fact is renewed well before
      // it ends even when the store answers slowly, never a burst of every take in flight then.
      if (at >= known.until - (this.windowMs * 3) / 4 && at >= known.probed + this.windowMs / 4) {
        known.probed = at;
        if (this.shareProbes && !known.probe) {
          let resolve = () => {};
          const done = new Promise<void>((r) => (resolve = r));
          known.probe = { done, resolve };
        }
        return -1;
      }
      return i;
    }
    return -1;
  }

  /**
   * With `shareProbes`: what to wait for before asking the store, when a fact a take would need
   * has run out while the probe sent before that is still out (then look again with `short`);
   * `null`: ask the store now.
   */
  pending(prefix: string, needs: readonly { key: string; n: number }[], at: number): Promise<void> | null {
    const scope = this.scopes.get(prefix);
    if (!scope) return null;
    for (const need of needs) {
      const known = need.n > 0 ? scope.keys.get(need.key) : undefined;
      if (known?.probe && known.until <= at && need.n >= known.below) return known.probe.done;
    }
    return null;
  }

  /** A take of these keys was answered (or failed): a probe of them still out is over; an expired fact goes. */
  settle(prefix: string, keys: readonly string[], at: number): void {
    const scope = this.scopes.get(prefix);
    if (!scope) return;
    for (const key of keys) {
      const known = scope.keys.get(key);
      if (!known?.probe) continue;
      settled(known);
      if (known.until <= at) scope.keys.delete(key);
    }
  }

  /** The store refused a take of `n` from `key`: less than `n` is left. */
  learnShort(prefix: string, key: string, n: number, ticket: Ticket): void {
    if (!(n > 0)) return;
    const scope = this.scopeFor(prefix, ticket);
    if (!scope) return;
    const known = scope.keys.get(key);
    const until = ticket.at + this.windowMs;
    // Each fact holds for a window from when its take was sent: the later one replaces the
    // earlier (an earlier, tighter bound is not stretched to the later one's window).
    if (known && known.until > until) return;
    if (!known && scope.keys.size >= this.maxKeys) return;
    settled(known);
    scope.keys.set(key, { below: n, until, probed: -Infinity, probe: null });
  }

  /**
   * The store answered `remain` left in `key` (a take that went through): 0 is "less than 1";
   * more forgets what was learned about the key when it contradicts it (a budget known to have
   * less than 500 that answers 300 left is still short of 500).
   */
  learnRemain(prefix: string, key: string, remain: number, ticket: Ticket): void {
    if (remain > 0) {
      const scope = this.scopes.get(prefix);
      const known = scope?.keys.get(key);
      if (known && remain >= known.below) {
        settled(known);
        scope?.keys.delete(key);
      }
      return;
    }
    this.learnShort(prefix, key, 1, ticket);
  }

  /** Forgets what was learned about `key` (a read showed it has some left), in whichever scope holds it. */
  forgetKey(key: string): void {
    for (const [prefix, scope] of this.scopes) {
      if (!key.startsWith(prefix)) continue;
      settled(scope.keys.get(key));
      scope.keys.delete(key);
    }
  }

  /** Forgets everything about a scope, at once: its gauges may have more now. */
  forget(prefix: string): void {
    this.seq += 1;
    const scope = this.scopes.get(prefix);
    if (scope) {
      scope.cleared = this.seq;
      for (const fact of scope.keys.values()) settled(fact);
      scope.keys.clear();
      return;
    }
    // Remembered as cleared, so an answer in flight since before this call is not learned.
    this.insert(prefix, { cleared: this.seq, keys: new Map() });
  }

  /** Forgets every scope a key of `keys` may belong to (a load names keys, not scopes). */
  forgetKeys(keys: readonly string[]): void {
    for (const prefix of [...this.scopes.keys()]) {
      if (keys.some((key) => key.startsWith(prefix))) this.forget(prefix);
    }
    // A scope not held yet may still have an answer in flight: nothing held, nothing to learn
    // wrongly except from a take sent before now, which the floor now refuses.
    this.seq += 1;
    this.floor = this.seq;
  }

  /** The scope an answer with `ticket` may be learned into, `null` when a forget came after it was sent. */
  private scopeFor(prefix: string, ticket: Ticket): Scope | null {
    const scope = this.scopes.get(prefix);
    if (scope) return ticket.seq >= scope.cleared ? scope : null;
    if (ticket.seq < this.floor) return null;
    const fresh: Scope = { cleared: 0, keys: new Map() };
    this.insert(prefix, fresh);
    return fresh;
  }

  private insert(prefix: string, scope: Scope): void {
    this.scopes.set(prefix, scope);
    while (this.scopes.size > this.maxScopes) {
      const oldest = this.scopes.entries().next().value;
      if (!oldest) break;
      this.scopes.delete(oldest[0]);
      for (const fact of oldest[1].keys.values()) settled(fact);
      // What that scope's clear sequence said is now said for every scope not held.
      this.floor = Math.max(this.floor, oldest[1].cleared);
    }
  }
}
