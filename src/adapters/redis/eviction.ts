/**
 * Whether Redis may evict keys. Every gauge, counter, marker and hold list must stay until the
 * service deletes it: an evicting `maxmemory-policy` (`allkeys-*` drops anything, `volatile-*`
 * exactly the keys with a time to live: idempotency records and period gauges) turns memory
 * pressure into takes that fail closed at best and retries that take twice at worst. Upstash
 * refuses `CONFIG`; there the database's Eviction setting must stay off (its default).
 */

/** Policies under which Redis never deletes a key by itself. */
const SAFE = new Set(['noeviction']);

/**
 * The `maxmemory-policy` as the REST endpoint reports it (one `CONFIG GET` over the Upstash
 * REST protocol), or `null` where it cannot be read (Upstash, a proxy that refuses CONFIG).
 */
export async function evictionPolicy(url: string, token: string, fetcher: typeof fetch = fetch): Promise<string | null> {
  try {
    const res = await fetcher(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(['CONFIG', 'GET', 'maxmemory-policy']),
      signal: AbortSignal.timeout(2_000),
    });
    if (!res.ok) return null;
    const { result } = (await res.json()) as { result?: unknown };
    return Array.isArray(result) && typeof result[1] === 'string' ? result[1] : null;
  } catch {
    return null;
  }
}

/** `true` when Redis may delete keys by itself under memory pressure. */
export const mayEvict = (policy: string): boolean => !SAFE.has(policy);
