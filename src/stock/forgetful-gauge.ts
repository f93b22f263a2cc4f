/**
 * The gauge port, with every call that can give a scope stock back forgetting what the sold-out
 * memo (`sold-out-memo.ts`) learned about that scope, once the store answered.
 */
import type { GaugePort } from './gauge.js';
import type { SoldOutMemo } from './sold-out-memo.js';

/**
 * Gauge calls that can add to a scope's remains (or change what it answers), each with the
 * answers that prove it changed nothing: any other outcome (an error included: it may still have
 * run) forgets the scope.
 */
const FORGETTING: Partial<Record<keyof GaugePort, (answer: unknown) => boolean>> = {
  restore: () => false,
  adjust: () => false,
  // A commit that committed gives nothing back; one that found its hold expired did.
  commit: (answer) => isObject(answer) && answer.ok === true,
  expireHolds: (answer) => answer === 0,
  setPolicy: () => false,
  setOpen: () => false,
  seal: () => false,
  drop: () => false,
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** The scope a forgetting call names: its `prefix` argument, or its command's. */
function prefixOf(args: readonly unknown[]): string | null {
  const [first] = args;
  if (typeof first === 'string') return first;
  if (isObject(first) && typeof first.prefix === 'string') return first.prefix;
  return null;
}

/** Forgets each read gauge that shows some left. */
function forgetRead(memo: SoldOutMemo, keys: unknown, answer: unknown): void {
  if (!Array.isArray(keys) || !Array.isArray(answer)) return;
  answer.forEach((live: unknown, i) => {
    const key: unknown = keys[i];
    if (isObject(live) && typeof live.remain === 'number' && live.remain > 0 && typeof key === 'string') memo.forgetKey(key);
  });
}

/**
 * The gauge, with every call that can give stock back (restore, adjust, a commit that finds its
 * hold expired, the hold sweep, a policy or open-flag change, a seal, a drop, a load) forgetting
 * what `memo` learned about its scope once it answered, and a live read that shows a gauge has
 * some left forgetting that gauge. A proxy like `observedGauge`, so a method the port gains later
 * passes through untouched.
 */
export function forgetfulGauge(gauge: GaugePort, memo: SoldOutMemo): GaugePort {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(gauge, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      let fn = wrapped.get(property);
      if (fn !== undefined) return fn;
      const method = value as (...args: unknown[]) => Promise<unknown>;
      const unchanged = FORGETTING[property as keyof GaugePort];
      if (property === 'load') {
        fn = (...args: unknown[]) => {
          const keys = Array.isArray(args[0]) ? args[0].map((g: unknown) => (isObject(g) && typeof g.key === 'string' ? g.key : '')) : [];
          return method.apply(target, args).finally(() => memo.forgetKeys(keys));
        };
      } else if (property === 'read') {
        fn = async (...args: unknown[]) => {
          const answer = await method.apply(target, args);
          forgetRead(memo, args[0], answer);
          return answer;
        };
      } else if (unchanged) {
        fn = async (...args: unknown[]) => {
          const prefix = prefixOf(args);
          let answer: unknown = null;
          try {
            answer = await method.apply(target, args);
            return answer;
          } finally {
            if (prefix !== null && !unchanged(answer)) memo.forget(prefix);
          }
        };
      } else {
        fn = method.bind(target);
      }
      wrapped.set(property, fn);
      return fn;
    },
  });
}
