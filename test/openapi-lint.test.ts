/**
 * The OpenAPI document, checked by the ecosystem's linter: Redocly CLI's `lint` with its
 * recommended rules (`redocly.yaml`, nothing turned off) on `/openapi.json` as the app serves it
 * over HTTP, offline — the same run as `npm run lint:openapi`. No error and no warning: client
 * generators name methods by `operationId`, and gateways read `servers` and `security`.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveDocument } from '../scripts/openapi/document.js';
import { redoclyLint, type LintRun } from '../scripts/openapi/lint.js';

interface LintReport {
  totals: { errors: number; warnings: number; ignored: number };
  problems: { ruleId: string; severity: string; message: string; location: { pointer: string }[] }[];
}

const report = (run: LintRun): LintReport => {
  try {
    return JSON.parse(run.stdout) as LintReport;
  } catch {
    throw new Error(`redocly lint printed no JSON report (exit ${run.code}): ${run.stdout}\n${run.stderr}`);
  }
};
const listed = (r: LintReport) => r.problems.map((p) => `${p.severity} ${p.ruleId} at ${p.location[0]?.pointer ?? '?'}: ${p.message}`);

describe('the served OpenAPI document under Redocly lint (recommended rules)', () => {
  let served: Awaited<ReturnType<typeof serveDocument>>;
  beforeAll(async () => {
    served = await serveDocument();
  });
  afterAll(async () => {
    await served?.close();
  });

  it('has no error and no warning', { timeout: 120_000 }, async () => {
    const run = await redoclyLint(served.url, { format: 'json' });
    const r = report(run);
    expect(listed(r)).toEqual([]);
    expect(r.totals).toEqual({ errors: 0, warnings: 0, ignored: 0 });
    expect(run.code).toBe(0);
  });

  it('lints with nothing turned off: the problems of the issue are still found in a copy that has them', { timeout: 120_000 }, async () => {
    expect(await readFile('redocly.yaml', 'utf8')).toMatch(/^extends:\n {2}- recommended\n(?!.*\brules:)/ms);
    const doc = (await (await fetch(served.url)).json()) as {
      servers?: unknown;
      security?: unknown;
      info: Record<string, unknown>;
      paths: Record<string, Record<string, Record<string, unknown>>>;
    };
    // Undo each fix on a copy: no servers, no license, no operationId, no security, no 4xx.
    delete doc.servers;
    delete doc.security;
    delete doc.info.license;
    const health = doc.paths['/health']?.get ?? {};
    delete health.operationId;
    delete health.security;
    const responses = health.responses as Record<string, unknown>;
    for (const status of Object.keys(responses)) if (status.startsWith('4')) delete responses[status];
    const dir = await mkdtemp(join(tmpdir(), 'cs-lint-'));
    try {
      const file = join(dir, 'openapi.json');
      await writeFile(file, JSON.stringify(doc, null, 2));
      const run = await redoclyLint(file, { format: 'json' });
      expect(run.code).not.toBe(0);
      const rules = new Set(report(run).problems.map((p) => p.ruleId));
      for (const rule of ['no-empty-servers', 'security-defined', 'info-license', 'operation-operationId', 'operation-4xx-response']) expect(rules, rule).toContain(rule);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
