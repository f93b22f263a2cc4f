import { describe, expect, it } from 'vitest';
import { tokenMatches } from './auth.js';
import { fingerprint, hash128 } from './fingerprint.js';

describe('fingerprint', () => {
  it('is 32 hex digits, the same for the same body whatever the field order', () => {
    const a = fingerprint({ userId: 'alice', orderId: 'o-1' });
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(fingerprint({ orderId: 'o-1', userId: 'alice' })).toBe(a);
    expect(fingerprint({ userId: 'alice', orderId: undefined })).toBe(fingerprint({ userId: 'alice', orderId: null }));
  });

  it('tells apart bodies that differ in one character, a field, or a value type', () => {
    const bodies = [
      { userId: 'alice' },
      { userId: 'alicf' },
      { userId: 'alice', orderId: null },
      { userId: 'alice', orderId: '' },
      { userId: 'alice', orderId: 'null' },
      { userId: '1' },
      { userId: 1 },
    ];
    expect(new Set(bodies.map(fingerprint)).size).toBe(bodies.length);
  });

  it('spreads close inputs over all 128 bits (no collision in 100,000 sequential ids)', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 100_000; i++) seen.add(hash128(`user-${i}`));
    expect(seen.size).toBe(100_000);
    // Every hex digit position takes many values: no lane is stuck.
    for (let pos = 0; pos < 32; pos++) expect(new Set([...seen].slice(0, 1000).map((h) => h[pos])).size).toBeGreaterThan(12);
  });
});

describe('tokenMatches', () => {
  const secret = 'csa_0123456789abcdefXYZ';
  it('accepts only the exact token', () => {
    expect(tokenMatches(secret, secret)).toBe(true);
    for (const near of ['', secret.slice(0, -1), `${secret}Z`, secret.replace('X', 'x'), secret + secret, 'c'.repeat(secret.length)]) {
      expect(tokenMatches(near, secret)).toBe(false);
    }
  });
});
