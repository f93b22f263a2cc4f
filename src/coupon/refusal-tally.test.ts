import { describe, expect, it } from 'vitest';
import type { RefusalCount } from './ports.js';
import { RefusalRecorder, RefusalTally } from './refusal-tally.js';

const MINUTE = 60_000;
const T = Date.parse('2026-06-01T10:00:00Z');

/** A repository that keeps what it was given, or fails while `down`. */
function memoryRepo() {
  const writes: RefusalCount[][] = [];
  const repo = {
    down: false,
    writes,
    async add(counts: RefusalCount[]) {
      if (repo.down) throw new Error('database down');
      writes.push(counts);
    },
  };
  return repo;
}

const sorted = (counts: RefusalCount[]) => [...counts].sort((a, b) => a.minute - b.minute || a.kind.localeCompare(b.kind) || a.couponId.localeCompare(b.couponId));

describe('RefusalTally', () => {
  it('counts per coupon, kind and minute, and hands each key over once per write', async () => {
    const tally = new RefusalTally();
    tally.add('c1', 'issue', T + 1_000);
    tally.add('c1', 'issue', T + 59_999);
    tally.add('c1', 'issue', T + MINUTE);
    tally.add('c1', 'use', T);
    tally.add('c2', 'issue', T);
    const repo = memoryRepo();
    await tally.flush(repo);
    expect(sorted(repo.writes[0] ?? [])).toEqual([
      { couponId: 'c1', kind: 'issue', minute: T, count: 2 },
      { couponId: 'c2', kind: 'issue', minute: T, count: 1 },
      { couponId: 'c1', kind: 'use', minute: T, count: 1 },
      { couponId: 'c1', kind: 'issue', minute: T + MINUTE, count: 1 },
    ]);
    expect(tally.size).toBe(0);
    await tally.flush(repo);
    expect(repo.writes).toHaveLength(1);
  });

  it('keeps the counts of a failed write for the next one, added to what came meanwhile', async () => {
    const tally = new RefusalTally();
    const repo = memoryRepo();
    tally.add('c1', 'issue', T);
    repo.down = true;
    await expect(tally.flush(repo)).rejects.toThrow('database down');
    tally.add('c1', 'issue', T);
    repo.down = false;
    await tally.flush(repo);
    expect(repo.writes).toEqual([[{ couponId: 'c1', kind: 'issue', minute: T, count: 2 }]]);
  });

  it('is due when it holds counts and the interval since its last write has passed', () => {
    const tally = new RefusalTally();
    expect(tally.due(T, 5_000)).toBe(false);
    tally.add('c1', 'issue', T);
    expect(tally.due(T, 5_000)).toBe(true);
    expect(tally.due(T + 4_999, 5_000)).toBe(false);
    expect(tally.due(T + 5_000, 5_000)).toBe(true);
  });

  it('stays bounded when writes keep failing: new keys past the bound are dropped and counted', () => {
    const tally = new RefusalTally();
    for (let i = 0; i < 10_005; i++) tally.add(`c${i}`, 'issue', T);
    tally.add('c0', 'issue', T);
    expect(tally.size).toBe(10_000);
    expect(tally.dropped).toBe(5);
  });
});

describe('RefusalRecorder', () => {
  it('writes the first refusal at once, then once per interval, and always the tail of a burst', async () => {
    let clock = 1_000;
    const queue: { run: () => void; ms: number }[] = [];
    const repo = memoryRepo();
    const recorder = new RefusalRecorder({ repo, intervalMs: 5_000, now: () => clock, defer: (run, ms) => void queue.push({ run, ms }) });
    recorder.refused('c1', 'issue', T);
    expect(queue.map((q) => q.ms)).toEqual([0]);
    queue.shift()?.run();
    await recorder.flush();
    expect(repo.writes).toEqual([[{ couponId: 'c1', kind: 'issue', minute: T, count: 1 }]]);
    clock += 1_000;
    for (let i = 0; i < 50; i++) recorder.refused('c1', 'issue', T + i);
    // One write waits for the end of the interval, however many refusals come.
    expect(queue.map((q) => q.ms)).toEqual([4_000]);
    clock += 4_000;
    queue.shift()?.run();
    await recorder.flush();
    expect(repo.writes[1]).toEqual([{ couponId: 'c1', kind: 'issue', minute: T, count: 50 }]);
  });

  it('reports a failed write and keeps its counts', async () => {
    const errors: unknown[] = [];
    const repo = memoryRepo();
    const recorder = new RefusalRecorder({ repo, onError: (e) => errors.push(e), defer: () => {} });
    repo.down = true;
    recorder.refused('c1', 'use', T);
    await recorder.flush();
    expect(errors).toHaveLength(1);
    repo.down = false;
    await recorder.flush();
    expect(repo.writes).toEqual([[{ couponId: 'c1', kind: 'use', minute: T, count: 1 }]]);
  });
});
