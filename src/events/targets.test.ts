import { describe, expect, it } from 'vitest';
import { parseEnv } from '../node/config.js';
import { resolveAll } from '../node/dns.js';
import { workerConfig } from '../worker/env.js';
import { isPublicAddress, isPublicHost, TARGET_REFUSED, TargetPolicy } from './targets.js';

describe('isPublicAddress', () => {
  it.each([
    '0.0.0.0', '0.1.2.3', '10.0.0.1', '100.64.0.1', '100.127.255.255', '127.0.0.1', '127.255.255.254', '169.254.169.254',
    '172.16.0.1', '172.31.255.255', '192.0.0.8', '192.0.2.1', '192.168.1.1', '198.18.0.1', '198.51.100.7', '203.0.113.9',
    '224.0.0.1', '239.255.255.250', '240.0.0.1', '255.255.255.255',
    '::', '::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:a9fe:a9fe', '::ffff:10.0.0.1', '::127.0.0.1', '64:ff9b::7f00:1',
    '64:ff9b:1::1', '2002:7f00:1::1', '2002:c0a8:101::1', 'fd00::1', 'fc00::1', 'fd00:ec2::254', 'fe80::1', 'fe80::1%eth0',
    'fec0::1', 'ff02::1', '2001:db8::1', '2001::1', '3fff::1', '100::1',
  ])('%s is not public', (address) => expect(isPublicAddress(address)).toBe(false));

  it.each(['1.1.1.1', '8.8.8.8', '93.184.215.14', '100.63.255.255', '100.128.0.1', '172.15.255.255', '172.32.0.1', '192.169.0.1',
    '2606:4700::6810:84e5', '2a00:1450:4001:80b::200e', '::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1'])(
    '%s is public',
    (address) => expect(isPublicAddress(address)).toBe(true),
  );

  it.each(['', 'localhost', '1.2.3', '1.2.3.256', '1::2::3', '1:2:3:4:5:6:7:8:9', '::ffff:1.2.3', 'g::1'])('%s is no address', (text) =>
    expect(isPublicAddress(text)).toBe(false),
  );
});

describe('isPublicHost (a URL hostname as written)', () => {
  const host = (url: string) => isPublicHost(new URL(url).hostname);

  it('reads every spelling of an internal address as the address', () => {
    for (const url of ['http://2130706433/', 'http://0x7f.1/', 'http://0x7f000001/', 'http://0177.0.0.1/', 'http://127.1/', 'http://127.0.0.1./',
      'http://0/', 'http://[::ffff:127.0.0.1]/', 'http://[0:0:0:0:0:ffff:7f00:1]/', 'http://[::ffff:169.254.169.254]/', 'http://0xa9fea9fe/']) {
      expect(host(url), url).toBe(false);
    }
  });

  it('refuses localhost, its subdomains, private-use names and single labels', () => {
    for (const url of ['http://localhost/', 'http://LOCALHOST./', 'http://a.b.localhost/', 'http://printer.local/', 'http://metadata.google.internal/',
      'http://nas.home.arpa/', 'http://intranet/', 'http://box.localdomain/']) {
      expect(host(url), url).toBe(false);
    }
  });

  it('allows public names and addresses', () => {
    for (const url of ['https://hooks.shop.example/', 'https://localhost.example.com/', 'http://1.1.1.1/', 'http://[2606:4700::1111]/']) {
      expect(host(url), url).toBe(true);
    }
  });
});

describe('TargetPolicy', () => {
  const REST = 'https://eu1-fine-cat-12345.upstash.io';

  it('refuses what is not http(s), and this service’s own stores even when private targets are allowed', () => {
    const policy = new TargetPolicy({ allowPrivate: true, deny: [`${REST}/`, 'postgres://u:p@127.0.0.1:5432/db', undefined] });
    expect(policy.refusal('ftp://hooks.example/')).toBe(TARGET_REFUSED);
    expect(policy.refusal('not a url')).toBe(TARGET_REFUSED);
    expect(policy.refusal(`${REST}/set/k/v`)).toBe(TARGET_REFUSED);
    expect(policy.refusal(`${REST}:443/`)).toBe(TARGET_REFUSED);
    expect(policy.refusal('http://127.0.0.1:5432/')).toBe(TARGET_REFUSED);
    expect(policy.refusal('http://127.0.0.1:8080/hooks')).toBeNull();
    expect(policy.refusal(`${REST}:8443/`)).toBeNull();
  });

  it('checks every address a name resolves to before a send, and refuses a name that does not resolve', async () => {
    const dns: Record<string, string[]> = { 'good.example': ['93.184.215.14', '2606:4700::6810:84e5'], 'bad.example': ['93.184.215.14', '::1'], 'none.example': [] };
    const asked: string[] = [];
    const policy = new TargetPolicy({
      resolve: async (name) => {
        asked.push(name);
        const found = dns[name];
        if (!found) throw new Error('ENOTFOUND');
        return found;
      },
    });
    expect(await policy.permits('https://good.example/h', 1_000)).toBe(true);
    expect(await policy.permits('https://good.example./h', 1_000)).toBe(true);
    expect(await policy.permits('https://bad.example/h', 1_000)).toBe(false);
    expect(await policy.permits('https://none.example/h', 1_000)).toBe(false);
    expect(await policy.permits('https://gone.example/h', 1_000)).toBe(false);
    expect(await policy.permits('http://127.0.0.1/h', 1_000)).toBe(false);
    expect(await policy.permits('http://93.184.215.14/h', 1_000)).toBe(true); // an address needs no lookup
    expect(asked).toEqual(['good.example', 'good.example', 'bad.example', 'none.example', 'gone.example']);
  });

  it('gives a resolver that never answers up within the deadline', async () => {
    const policy = new TargetPolicy({ resolve: () => new Promise<string[]>(() => {}) });
    expect(await policy.permits('https://slow.example/h', 20)).toBe(false);
  });

  it('with allowPrivate, neither refuses private addresses nor resolves', async () => {
    const policy = new TargetPolicy({ allowPrivate: true, resolve: () => Promise.reject(new Error('not asked')) });
    expect(await policy.permits('http://localhost:8080/h', 1_000)).toBe(true);
    expect(await policy.permits('http://receiver.example/h', 1_000)).toBe(true);
  });

  it('on Node, resolves through the operating system (localhost is loopback)', async () => {
    const addresses = await resolveAll('localhost');
    expect(addresses.length).toBeGreaterThan(0);
    expect(addresses.every((a) => !isPublicAddress(a))).toBe(true);
  });
});

describe('WEBHOOK_ALLOW_PRIVATE', () => {
  const worker = {
    UPSTASH_REDIS_REST_URL: 'https://r.example',
    UPSTASH_REDIS_REST_TOKEN: 't',
    DATABASE_URL: 'postgres://u:p@db.example/db',
    ADMIN_API_TOKEN: 'admin-token-0123456789',
    CLIENT_API_TOKEN: 'client-token-0123456789',
  };
  const node = (value?: string) => {
    const parsed = parseEnv(value === undefined ? {} : { WEBHOOK_ALLOW_PRIVATE: value });
    return parsed.ok ? parsed.config.WEBHOOK_ALLOW_PRIVATE : parsed.message;
  };
  const onWorker = (value?: unknown) => {
    const parsed = workerConfig(value === undefined ? { ...worker } : { ...worker, WEBHOOK_ALLOW_PRIVATE: value });
    return parsed.ok ? parsed.config.WEBHOOK_ALLOW_PRIVATE : parsed.message;
  };

  it('is off unless set to true, on both runtimes', () => {
    expect([node(), node('false'), node('0'), node('true'), node('1')]).toEqual([false, false, false, true, true]);
    expect([onWorker(), onWorker('false'), onWorker('true'), onWorker(true), onWorker(false)]).toEqual([false, false, true, true, false]);
  });

  it('refuses anything else with one clear line', () => {
    expect(node('yes')).toBe('invalid configuration: WEBHOOK_ALLOW_PRIVATE: must be true or false');
    expect(onWorker('on')).toBe('invalid configuration: WEBHOOK_ALLOW_PRIVATE: must be true or false');
  });
});
