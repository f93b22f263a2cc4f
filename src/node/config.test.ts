import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { describeTokens, ensureDataDir, loadTokens, parseEnv, type TokenPair, type TokenSource } from './config.js';

describe('parseEnv', () => {
  it('defaults to the embedded service on 8787', () => {
    const parsed = parseEnv({});
    expect(parsed.ok && parsed.config).toMatchObject({ PORT: 8787, DATA_DIR: './.data', MAINTENANCE_INTERVAL_SECONDS: 60, TIME_ZONE: 'UTC' });
  });

  it('takes an IANA time zone for period stocks, and refuses a made-up one', () => {
    const berlin = parseEnv({ TIME_ZONE: 'Europe/Berlin' });
    expect(berlin.ok && berlin.config.TIME_ZONE).toBe('Europe/Berlin');
    const bad = parseEnv({ TIME_ZONE: 'Mars/Olympus' });
    expect(!bad.ok && bad.message).toContain('TIME_ZONE: must be an IANA time zone');
  });

  it('treats empty variables as unset', () => {
    expect(parseEnv({ DATABASE_URL: '', PORT: '' }).ok).toBe(true);
  });

  it('says in one line what is wrong', () => {
    const parsed = parseEnv({ PORT: 'eighty', ADMIN_API_TOKEN: 'short' });
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.message).toContain('PORT');
      expect(parsed.message).toContain('ADMIN_API_TOKEN: must be at least 16 characters');
      expect(parsed.message).not.toContain('\n');
    }
  });
});

describe('loadTokens', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });
  const config = async (env: Record<string, string> = {}) => {
    const dir = await mkdtemp(join(tmpdir(), 'cs-tokens-'));
    dirs.push(dir);
    const parsed = parseEnv({ DATA_DIR: dir, ...env });
    if (!parsed.ok) throw new Error(parsed.message);
    return parsed.config;
  };

  it('generates the tokens once, keeps them private, and finds them again', async () => {
    const c = await config();
    const first = await loadTokens(c);
    expect(first).toMatchObject({ generated: true, sources: { admin: 'generated', client: 'generated' }, file: `${c.DATA_DIR}/tokens.json` });
    expect(first.admin).not.toBe(first.client);
    expect((await stat(join(c.DATA_DIR, 'tokens.json'))).mode & 0o777).toBe(0o600);
    const second = await loadTokens(c);
    expect(second).toEqual({ ...first, generated: false, sources: { admin: 'stored', client: 'stored' } });
  });

  it('prefers the environment and never writes its tokens', async () => {
    const c = await config({ ADMIN_API_TOKEN: 'admin-token-0123456789', CLIENT_API_TOKEN: 'client-token-0123456789' });
    const tokens = await loadTokens(c);
    expect(tokens).toMatchObject({
      admin: 'admin-token-0123456789',
      client: 'client-token-0123456789',
      generated: false,
      sources: { admin: 'environment', client: 'environment' },
    });
    await expect(readFile(join(c.DATA_DIR, 'tokens.json'), 'utf8')).rejects.toThrow();
  });
});

describe('ensureDataDir', () => {
  let base: string;
  afterEach(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('creates the directory and its missing parents, private (0700), and leaves an existing one as it is', async () => {
    base = await mkdtemp(join(tmpdir(), 'cs-datadir-'));
    const dir = join(base, 'a', 'b', 'data');
    expect(await ensureDataDir({ DATA_DIR: dir })).toBe(dir);
    for (const d of [dir, join(base, 'a', 'b'), join(base, 'a')]) expect((await stat(d)).mode & 0o777).toBe(0o700);
    await chmod(dir, 0o750);
    await ensureDataDir({ DATA_DIR: dir });
    expect((await stat(dir)).mode & 0o777).toBe(0o750);
  });

  it('says in one line which DATA_DIR cannot be created', async () => {
    base = await mkdtemp(join(tmpdir(), 'cs-datadir-'));
    await writeFile(join(base, 'file'), '');
    const error = await ensureDataDir({ DATA_DIR: join(base, 'file', 'data') }).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/^DATA_DIR .*\/file\/data cannot be created: ENOTDIR/);
    expect((error as Error).message).not.toContain('\n');
  });
});

describe('describeTokens', () => {
  const pair = (admin: TokenSource, client: TokenSource): TokenPair => ({
    admin: 'csa_admin-secret-value',
    client: 'csc_client-secret-value',
    generated: admin === 'generated' || client === 'generated',
    sources: { admin, client },
    file: './.data/tokens.json',
  });
  const shown = (tokens: TokenPair) => describeTokens(tokens).join('\n');

  it('shows generated tokens once, with the file that keeps them', () => {
    expect(describeTokens(pair('generated', 'generated'))).toEqual([
      '  admin token:  csa_admin-secret-value',
      '  client token: csc_client-secret-value',
      '  tokens: generated now and kept in ./.data/tokens.json (not printed again)',
    ]);
  });

  it('says only where they are on later starts and when they come from the environment', () => {
    for (const [admin, client] of [['stored', 'stored'], ['environment', 'environment'], ['environment', 'stored']] as const) {
      expect(shown(pair(admin, client))).not.toMatch(/secret-value/);
    }
    expect(describeTokens(pair('stored', 'stored'))).toEqual(['  tokens: kept in ./.data/tokens.json (generated on first start)']);
    expect(describeTokens(pair('environment', 'environment'))).toEqual(['  tokens: from the environment']);
  });

  it('shows only the generated one when the environment sets the other', () => {
    const text = shown(pair('environment', 'generated'));
    expect(text).toContain('csc_client-secret-value');
    expect(text).not.toContain('csa_admin-secret-value');
    expect(text).toContain('admin from the environment; client generated now and kept in ./.data/tokens.json');
  });
});

describe('Redis over RESP', () => {
  it('names the gauge mode from the one Redis variable set', async () => {
    const { gaugeMode } = await import('./config.js');
    const mode = (env: Record<string, string>) => {
      const parsed = parseEnv(env);
      if (!parsed.ok) throw new Error(parsed.message);
      return gaugeMode(parsed.config);
    };
    expect(mode({})).toBe('postgres');
    expect(mode({ REDIS_URL: 'redis://127.0.0.1:6380/0' })).toBe('redis');
    expect(mode({ REDIS_URL: 'rediss://u:p@redis.example:6380' })).toBe('redis');
    expect(mode({ REDIS_CLUSTER_NODES: '10.0.0.1:7000,10.0.0.2:7000' })).toBe('cluster');
    expect(mode({ UPSTASH_REDIS_REST_URL: 'https://x.upstash.io', UPSTASH_REDIS_REST_TOKEN: 't' })).toBe('upstash');
    const both = parseEnv({ REDIS_URL: 'redis://h:1', UPSTASH_REDIS_REST_URL: 'https://x.upstash.io', UPSTASH_REDIS_REST_TOKEN: 't' });
    expect(!both.ok && both.message).toContain('set one of UPSTASH_REDIS_REST_URL, REDIS_URL and REDIS_CLUSTER_NODES');
    const wait = parseEnv({ REDIS_CLUSTER_NODES: 'h:1', REDIS_WAIT_REPLICAS: '1' });
    expect(wait.ok && wait.config.REDIS_WAIT_REPLICAS).toBe(1);
    // Synchronous where there are replicas unless asked otherwise; two connections for scripts.
    const defaults = parseEnv({ REDIS_URL: 'redis://h:1' });
    expect(defaults.ok && [defaults.config.REDIS_WAIT_REPLICAS, defaults.config.REDIS_CONNECTIONS]).toEqual(['auto', 2]);
    const asynchronous = parseEnv({ REDIS_URL: 'redis://h:1', REDIS_WAIT_REPLICAS: '0', REDIS_CONNECTIONS: '1' });
    expect(asynchronous.ok && [asynchronous.config.REDIS_WAIT_REPLICAS, asynchronous.config.REDIS_CONNECTIONS]).toEqual([0, 1]);
    const bad = parseEnv({ REDIS_URL: 'redis://h:1', REDIS_WAIT_REPLICAS: 'some' });
    expect(!bad.ok && bad.message).toContain('REDIS_WAIT_REPLICAS');
    const none = parseEnv({ REDIS_URL: 'redis://h:1', REDIS_CONNECTIONS: '0' });
    expect(!none.ok && none.message).toContain('REDIS_CONNECTIONS');
  });
});
