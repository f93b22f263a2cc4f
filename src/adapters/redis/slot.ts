/**
 * Redis Cluster's key → slot mapping (CRC16/XMODEM of the hash tag, mod 16384), as the cluster
 * computes it: the RESP adapter uses it to send a keyless command (SCAN, WAIT) to the master
 * that holds a coupon's slot, and the tests to show coupons spread over every master.
 */

/** Slots of a Redis Cluster. */
export const SLOTS = 16_384;

const TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const b of bytes) crc = ((crc << 8) & 0xffff) ^ (TABLE[((crc >> 8) ^ b) & 0xff] ?? 0);
  return crc;
}

/** The part of a key that is hashed: the first non-empty `{…}`, else the whole key. */
export function hashTag(key: string): string {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) return key.slice(open + 1, close);
  }
  return key;
}

/** The cluster slot of `key`. */
export const slotOf = (key: string): number => crc16(new TextEncoder().encode(hashTag(key))) % SLOTS;
