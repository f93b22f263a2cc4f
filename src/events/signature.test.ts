import { describe, expect, it } from 'vitest';
import { signWebhook, verifyWebhook } from './signature.js';

describe('webhook signatures', () => {
  const secret = 'whsec_test-secret';
  const body = '{"id":"evt_1","type":"stock.low"}';
  const at = Date.parse('2026-12-02T12:00:00Z');

  it('signs t.body with HMAC-SHA256 and verifies it', async () => {
    const header = await signWebhook(secret, body, at);
    expect(header).toMatch(new RegExp(`^t=${at / 1000},v1=[0-9a-f]{64}$`));
    expect(await verifyWebhook(secret, header, body, at + 1_000)).toBe(true);
  });

  it('refuses another body, another secret, a forged or missing part, and an old timestamp (a replay)', async () => {
    const header = await signWebhook(secret, body, at);
    expect(await verifyWebhook(secret, header, `${body} `, at)).toBe(false);
    expect(await verifyWebhook('whsec_other', header, body, at)).toBe(false);
    expect(await verifyWebhook(secret, header.replace(/v1=./, 'v1=0'), body, at)).toBe(false);
    expect(await verifyWebhook(secret, `t=${at / 1000}`, body, at)).toBe(false);
    expect(await verifyWebhook(secret, '', body, at)).toBe(false);
    expect(await verifyWebhook(secret, header, body, at + 301_000)).toBe(false);
    expect(await verifyWebhook(secret, header, body, at + 299_000)).toBe(true);
  });
});
