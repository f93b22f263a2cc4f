/**
 * Where the service spent its CPU during a sale (`--cpu-prof`): the V8 profile's self time
 * summed per function and per package, the top entries printed. Enough to see whether the
 * time goes to the app, to Hono/zod, to the Upstash client, to Node's HTTP or to the GC.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The package (or project folder) a script URL belongs to. */
function owner(url: string): string {
  if (url === '') return '(native / V8)';
  if (url.startsWith('node:')) return 'node core';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg?.[1]) return pkg[1];
  const own = /\/(src|scripts|bench)\/(.*)$/.exec(url);
  return own ? `${own[1]}/${own[2]}` : url;
}

/** Self time per node id, and how much of it was idle. */
function selfTimes(profile: CpuProfile): { self: Map<number, number>; busy: number; total: number } {
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const idle = new Set(profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
  let busy = 0;
  let total = 0;
  for (const [id, us] of self) {
    total += us;
    if (!idle.has(id)) busy += us;
  }
  return { self, busy, total };
}

/**
 * A text summary of the busiest profile in `dir` (the main thread's: the loader's thread
 * idles): top `top` functions and packages by self time.
 */
export async function summarizeProfile(dir: string, top: number): Promise<string> {
  let best: { file: string; profile: CpuProfile; busy: number } | null = null;
  for (const name of (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(await readFile(join(dir, name), 'utf8')) as CpuProfile;
    const { busy } = selfTimes(profile);
    if (!best || busy > best.busy) best = { file: join(dir, name), profile, busy };
  }
  if (!best) return `no CPU profile in ${dir}`;
  const { file, profile } = best;
  const { self, total } = selfTimes(profile);
  const byFunction = new Map<string, number>();
  const byOwner = new Map<string, number>();
  for (const node of profile.nodes) {
    const us = self.get(node.id) ?? 0;
    if (us === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = owner(url);
    const name = `${functionName || '(anonymous)'}  ${where}${url ? `:${lineNumber + 1}` : ''}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
    byOwner.set(where, (byOwner.get(where) ?? 0) + us);
  }
  const list = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => `  ${((us / total) * 100).toFixed(1).padStart(5)}%  ${k}`);
  // Inclusive time: what a frame and everything it called cost — where a request's time goes.
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const inclusive = new Map<string, number>();
  for (const [id, us] of self) {
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = nodes.get(at)?.callFrame;
      if (!frame || frame.functionName === '(root)' || frame.functionName === '(idle)') continue;
      const name = `${frame.functionName || '(anonymous)'}  ${owner(frame.url)}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
      if (!seen.has(name)) inclusive.set(name, (inclusive.get(name) ?? 0) + us);
      seen.add(name);
    }
  }
  return [
    `profile ${file} (${(total / 1e6).toFixed(1)} s sampled)`,
    'self time by package:',
    ...list(byOwner),
    'self time by function:',
    ...list(byFunction),
    'inclusive time by function:',
    ...list(inclusive),
  ].join('\n');
}
