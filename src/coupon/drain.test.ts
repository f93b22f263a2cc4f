import { describe, expect, it } from 'vitest';
import { DrainScheduler } from './drain.js';

describe('DrainScheduler', () => {
  /** A scheduler on a clock the test moves; deferred runs wait in `queue` with their delay. */
  function setup(intervalMs = 250) {
    let clock = 1_000;
    const queue: { run: () => void; ms: number }[] = [];
    const drained: string[] = [];
    const scheduler = new DrainScheduler(async (id) => void drained.push(id), {
      intervalMs,
      now: () => clock,
      defer: (run, ms) => void queue.push({ run, ms }),
    });
    const runNext = () => queue.shift()?.run();
    return { scheduler, queue, drained, runNext, advance: (ms: number) => (clock += ms) };
  }

  it('drains at once, then at most once per interval, and always once after the last take', () => {
    const s = setup();
    s.scheduler.taken('a');
    expect(s.queue).toEqual([{ run: expect.any(Function), ms: 0 }]);
    s.runNext();
    expect(s.drained).toEqual(['a']);
    // Inside the interval: one drain at its end, however many takes come meanwhile.
    s.advance(100);
    s.scheduler.taken('a');
    s.scheduler.taken('a');
    expect(s.queue).toEqual([{ run: expect.any(Function), ms: 150 }]);
    expect(s.scheduler.waiting).toBe(1);
    s.advance(150);
    s.runNext();
    expect(s.drained).toEqual(['a', 'a']);
    expect(s.scheduler.waiting).toBe(0);
    // After the interval: at once again; other coupons have their own.
    s.advance(300);
    s.scheduler.taken('a');
    s.scheduler.taken('b');
    expect(s.queue.map((q) => q.ms)).toEqual([0, 0]);
  });
});
