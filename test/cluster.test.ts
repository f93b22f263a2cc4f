/**
 * The gauges on a real Redis Cluster (3 masters from `redis-server`, joined by `redis-cli
 * --cluster create`, started here and stopped after): the gauge contract, many coupons whose
 * keys spread over every master (each coupon whole on the master of its slot), the cluster's
 * own refusal of a script that strays out of its slot, and a flash sale over several coupons
 * through the HTTP app.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisGauge } from '../src/adapters/redis/redis-gauge.js';
import { parseClusterNodes, respRedis, type RespRedis } from '../src/adapters/redis/resp.js';
import { slotOf } from '../src/adapters/redis/slot.js';
import { couponKeys } from '../src/coupon/keys.js';
import { startCluster, type LocalCluster } from '../scripts/local/cluster.js';
import { gaugeContract } from './contract/gauge-contract.js';
import { testApp, type TestApp } from './support/app.js';
import { createLive, issue, sync } from './support/fixtures.js';

let cluster: LocalCluster;
let resp: RespRedis;
beforeAll(async () => {
  cluster = await startCluster({ masters: 3 });
  resp = respRedis({ cluster: parseClusterNodes(cluster.seeds) });
}, 60_000);
afterAll(async () => {
  await resp?.close();
  await cluster?.stop();
});

/** Every key on one node that matches `pattern`. */
async function keysOn(node: Redis, pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    found.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  return found;
}

const forget = {
  gauge: async (key: string) => void (await resp.client.del(key)),
  policy: async (prefix: string) => void (await resp.client.del(`${prefix}policy`)),
};
gaugeContract('redis cluster (resp, 3 masters)', async () => ({ gauge: new RedisGauge({ redis: resp.redis, scripts: resp.scripts }), forget, close: async () => {} }));

describe('coupons on a redis cluster', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp({ gauges: 'cluster', clusterNodes: cluster.seeds });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('spreads the keys of many coupons over every master, each coupon whole on the master of its slot', { timeout: 120_000 }, async () => {
    const coupons = await Promise.all(Array.from({ length: 48 }, (_, i) => createLive(t, { name: `spread ${i}`, issueStock: { total: 5 }, perUserIssueLimit: 1 })));
    await Promise.all(coupons.map((c) => issue(t, c.id, 'ann').then((res) => expect(res.status).toBe(201))));
    const masters = (await cluster.nodes()).filter((n) => n.role === 'master');
    expect(masters).toHaveLength(3);
    const perMaster = new Map<number, number>(masters.map((m) => [m.port, 0]));
    for (const coupon of coupons) {
      const prefix = couponKeys(coupon.id).prefix;
      const owner = await cluster.masterOf(slotOf(prefix));
      for (const m of masters) {
        const keys = await keysOn(cluster.node(m.port), `cs:{c:${coupon.id}}:*`);
        if (m.port === owner) {
          // Gauges, policy, markers, ledger, the user's counters, the idempotency and operation records.
          expect(keys.length).toBeGreaterThanOrEqual(6);
          for (const key of keys) expect(slotOf(key)).toBe(slotOf(prefix));
          perMaster.set(m.port, (perMaster.get(m.port) ?? 0) + 1);
        } else {
          expect(keys).toEqual([]);
        }
      }
    }
    // 48 coupons over 3 masters: each holds some (a uniform hash gives each 16 ± a few).
    for (const [, n] of perMaster) expect(n).toBeGreaterThan(0);
    await t.settle();
    for (const c of coupons.slice(0, 6)) expect((await sync(t, c.id)).issue).toMatchObject({ remain: 4, ledger: 1, drift: 0 });
  });

  it('elects a drainer and drains through the lease on a cluster: every key of it in the coupon\'s slot', async () => {
    const gauge = new RedisGauge({ redis: resp.redis, scripts: resp.scripts, drainLeaseMs: 10_000 });
    const keys = couponKeys(`cpn_drain_${Date.now().toString(36)}`);
    await gauge.load([{ key: keys.issue, total: 5, remain: 5 }]);
    await gauge.setPolicy(keys.prefix, { open: true, version: 0, windows: { issue: { start: null, end: null } }, limits: { issue: 5 } });
    const take = (user: string) =>
      gauge.take({
        prefix: keys.prefix, window: 'issue', opId: `op_${user}`, idempotencyKey: `k-${user}`, fingerprint: 'fp',
        items: [{ key: keys.issue, n: 1, limit: 'issue', lazy: false }],
        ledger: { scope: 'c', kind: 'issue', subject: user, ref: null, amount: 1 }, now: Date.now(),
      });
    const [a, b] = [await take('a'), await take('b')];
    expect(a.ok && a.drain).toEqual({ holder: 'op_a' });
    expect(b.ok && b.drain).toBeUndefined();
    const moved: string[] = [];
    const round = await gauge.drainElected(keys.prefix, async (events) => void moved.push(...events.map((e) => e.opId)), { holder: 'op_a' });
    expect(round).toEqual({ moved: 2, more: true });
    expect(moved).toEqual(['op_a', 'op_b']);
    // The next round finds the stream empty and gives the lease up: the next take is elected.
    expect(await gauge.drainElected(keys.prefix, async () => {}, { holder: 'op_a' })).toEqual({ moved: 0, more: false });
    const c = await take('c');
    expect(c.ok && c.drain).toEqual({ holder: 'op_c' });
  });

  it('is refused by the cluster when a script touches a key outside its slot', async () => {
    const a = couponKeys('cpn_slot_a').prefix;
    let b = couponKeys('cpn_slot_b').prefix;
    for (let i = 0; slotOf(b) === slotOf(a); i++) b = couponKeys(`cpn_slot_b${i}`).prefix;
    const stray = "redis.call('GET', KEYS[1]); return redis.call('GET', ARGV[1])";
    await expect(resp.client.eval(stray, 1, `${a}policy`, `${b}policy`)).rejects.toThrow(/slot|non local key|cluster/i);
    // The same script within the slot runs.
    expect(await resp.client.eval(stray, 1, `${a}policy`, `${a}markers`)).toBeNull();
    // The adapter refuses a call across slots alone: the calls sharing its turn still run.
    const gauge = new RedisGauge({ redis: resp.redis, scripts: resp.scripts });
    const [across, within] = await Promise.allSettled([gauge.read([`${a}issue`, `${b}issue`]), gauge.read([`${a}issue`])]);
    expect(across).toMatchObject({ status: 'rejected', reason: { message: expect.stringContaining('CROSSSLOT') } });
    expect(within).toEqual({ status: 'fulfilled', value: [null] });
  });

  it('sells exactly the stock of each coupon in a flash sale over several coupons', { timeout: 120_000 }, async () => {
    const coupons = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => createLive(t, { name: `sale ${i}`, issueStock: { total: 20 }, perUserIssueLimit: 1 })));
    const answers = await Promise.all(
      coupons.flatMap((c) => Array.from({ length: 60 }, (_, u) => issue(t, c.id, `u${u}`, { key: `k-${c.id}-${u}` }).then((res) => ({ coupon: c.id, status: res.status })))),
    );
    for (const c of coupons) {
      const mine = answers.filter((a) => a.coupon === c.id);
      expect(mine.filter((a) => a.status === 201)).toHaveLength(20);
      expect(mine.filter((a) => a.status === 409)).toHaveLength(40);
    }
    await t.settle();
    for (const c of coupons) {
      const report = await sync(t, c.id);
      expect(report.issue).toMatchObject({ remain: 0, ledger: 20, drift: 0 });
    }
    const owners = new Set(await Promise.all(coupons.map((c) => cluster.masterOf(slotOf(couponKeys(c.id).prefix)))));
    expect(owners.size).toBeGreaterThan(1);
  });
});
