import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadTokens, parseEnv } from './config.js';

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
    expect(first.generated).toBe(true);
    expect(first.admin).not.toBe(first.client);
    expect((await stat(join(c.DATA_DIR, 'tokens.json'))).mode & 0o777).toBe(0o600);
    const second = await loadTokens(c);
    expect(second).toEqual({ ...first, generated: false });
  });

  it('prefers the environment and never writes its tokens', async () => {
    const c = await config({ ADMIN_API_TOKEN: 'admin-token-0123456789', CLIENT_API_TOKEN: 'client-token-0123456789' });
    const tokens = await loadTokens(c);
    expect(tokens).toEqual({ admin: 'admin-token-0123456789', client: 'client-token-0123456789', generated: false });
    await expect(readFile(join(c.DATA_DIR, 'tokens.json'), 'utf8')).rejects.toThrow();
  });
});
