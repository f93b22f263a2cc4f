/**
 * Where webhooks may be sent. An admin names the URL, so without this check the service would
 * POST from inside its own network: to loopback, the cloud metadata endpoint, a private Redis
 * REST endpoint, and the recorded answers would let the admin map internal ports. Only public
 * unicast addresses are allowed, checked when an endpoint is created (the URL as written) and
 * again before every attempt (the addresses its name resolves to, where the runtime can resolve).
 *
 * Runs in workerd and Node alike: no `node:` import. Node injects a resolver (`node:dns`); on
 * the Worker a name is checked as written, and Cloudflare's `fetch` cannot reach private
 * networks anyway.
 */

/** Every address a hostname resolves to (IPv4 dotted, IPv6 text); rejects when it does not resolve. */
export type Resolve = (hostname: string) => Promise<string[]>;

export interface TargetPolicyOptions {
  /** Development only (`WEBHOOK_ALLOW_PRIVATE`): allow private, loopback and link-local targets. */
  allowPrivate?: boolean;
  /** Resolves names before each attempt (Node); absent, names are checked as written (Worker). */
  resolve?: Resolve;
  /** URLs of this service's own stores (e.g. the Upstash REST URL): their host:port is never a target. */
  deny?: (string | undefined)[];
}

/** Why a URL was refused, the same words whatever the reason, so a refusal tells nothing about the network. */
export const TARGET_REFUSED = 'must be a public http(s) address: not private, loopback, link-local, metadata or this service’s own store';

/** The error recorded for a delivery whose target was refused: generic, never a port or connection detail. */
export const DELIVERY_REFUSED = 'target refused: not a public address';

/** Names that only ever mean this machine or a private network. */
const PRIVATE_SUFFIXES = ['.localhost', '.local', '.internal', '.home.arpa', '.localdomain'];

export class TargetPolicy {
  readonly allowPrivate: boolean;
  private readonly resolve: Resolve | undefined;
  private readonly deny: Set<string>;

  constructor(options: TargetPolicyOptions = {}) {
    this.allowPrivate = options.allowPrivate ?? false;
    this.resolve = options.resolve;
    this.deny = new Set(options.deny?.flatMap((u) => (u ? [hostPort(u)] : [])).filter((hp): hp is string => hp !== null));
  }

  /** The URL as written: `null` when it may be a target, else why not ({@link TARGET_REFUSED}). */
  refusal(url: string): string | null {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return TARGET_REFUSED;
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return TARGET_REFUSED;
    if (this.deny.has(hostPort(u) ?? '')) return TARGET_REFUSED;
    if (this.allowPrivate) return null;
    return isPublicHost(u.hostname) ? null : TARGET_REFUSED;
  }

  /**
   * Before an attempt: the URL as written, then every address its name resolves to (all must
   * be public: `fetch` may use any of them). Unresolvable counts as refused. Bounded by `timeoutMs`.
   */
  async permits(url: string, timeoutMs: number): Promise<boolean> {
    if (this.refusal(url) !== null) return false;
    if (this.allowPrivate || !this.resolve) return true;
    const host = new URL(url).hostname;
    if (ipVersion(host) !== 0) return true; // a literal address was checked above
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const addresses = await Promise.race([
        this.resolve(host.replace(/\.$/, '')),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('resolve timed out')), timeoutMs))),
      ]);
      return addresses.length > 0 && addresses.every(isPublicAddress);
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Public addresses only, names checked as written: the default when nothing is configured. */
export const PUBLIC_ONLY = new TargetPolicy();

/** `host:port` of a URL with its scheme's default port; `null` when it is no URL. */
function hostPort(url: string | URL): string | null {
  try {
    const u = typeof url === 'string' ? new URL(url) : url;
    const port = u.port || (u.protocol === 'https:' ? '443' : u.protocol === 'http:' ? '80' : '');
    return `${u.hostname.replace(/\.$/, '')}:${port}`;
  } catch {
    return null;
  }
}

/**
 * A URL's hostname (as `new URL` gives it: IPv4 already canonical — `2130706433`, `0x7f.1` and
 * `0177.0.0.1` all read `127.0.0.1` — IPv6 in brackets) that may be a target as written.
 */
export function isPublicHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  if (host.startsWith('[')) return isPublicAddress(host.slice(1, -1));
  if (ipVersion(host) === 4) return isPublicAddress(host);
  // A name without a dot reaches the local network through the search domains.
  if (!host.includes('.') || host === 'localhost') return false;
  return !PRIVATE_SUFFIXES.some((suffix) => host.endsWith(suffix));
}

/** 4, 6 or 0 (not an address). */
function ipVersion(host: string): 4 | 6 | 0 {
  if (parseIPv4(host) !== null) return 4;
  if (parseIPv6(host.replace(/^\[(.*)\]$/, '$1')) !== null) return 6;
  return 0;
}

/** A dotted-quad IPv4 address as a 32-bit number, else `null`. */
function parseIPv4(text: string): number | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return null;
    value = value * 256 + Number(part);
  }
  return value;
}

/** An IPv6 address (zone id dropped, dotted IPv4 tail allowed) as its eight 16-bit groups, else `null`. */
function parseIPv6(text: string): number[] | null {
  let s = text.replace(/%.*$/, '');
  if (!s.includes(':')) return null;
  const tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  const last = s.slice(lastColon + 1);
  if (last.includes('.')) {
    const v4 = parseIPv4(last);
    if (v4 === null) return null;
    tail.push(v4 >>> 16, v4 & 0xffff);
    // `::ffff:1.2.3.4` → `::ffff`, `::1.2.3.4` → `::`
    s = s.slice(0, lastColon + 1);
    if (!s.endsWith('::')) s = s.slice(0, -1);
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const groups = (part: string | undefined) => (part ? part.split(':') : []);
  const head = groups(halves[0]);
  const rest = groups(halves[1]);
  const words = [...head, ...rest];
  if (!words.every((w) => /^[0-9a-f]{1,4}$/i.test(w))) return null;
  const written = words.length + tail.length;
  if (halves.length === 1 ? written !== 8 : written > 7) return null;
  const zeros = new Array<number>(8 - written).fill(0);
  return [...head.map((w) => parseInt(w, 16)), ...zeros, ...rest.map((w) => parseInt(w, 16)), ...tail];
}

/** IPv4 ranges that are not public unicast: [first address, prefix length]. */
const IPV4_BLOCKED: [string, number][] = [
  ['0.0.0.0', 8], // "this network", incl. the unspecified address
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, incl. the cloud metadata endpoint 169.254.169.254
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, incl. broadcast
];
const V4_MASKS = IPV4_BLOCKED.map(([first, bits]) => {
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return { net: ((parseIPv4(first) ?? 0) & mask) >>> 0, mask };
});

function isPublicIPv4(value: number): boolean {
  return !V4_MASKS.some(({ net, mask }) => ((value & mask) >>> 0) === net);
}

/** True for a public unicast IPv4 or IPv6 address (text); anything else, or no address, is false. */
export function isPublicAddress(text: string): boolean {
  const v4 = parseIPv4(text);
  if (v4 !== null) return isPublicIPv4(v4);
  const g = parseIPv6(text);
  if (!g) return false;
  const [g0 = 0, g1 = 0, g2 = 0, , , g5 = 0, g6 = 0, g7 = 0] = g;
  const embedded = ((g6 << 16) | g7) >>> 0;
  const zeroUpTo = (n: number) => g.slice(0, n).every((w) => w === 0);
  // ::ffff:a.b.c.d (IPv4-mapped): the IPv4 address is what is reached.
  if (zeroUpTo(5) && g5 === 0xffff) return isPublicIPv4(embedded);
  // 64:ff9b::/96 (NAT64): likewise.
  if (g0 === 0x64 && g1 === 0xff9b && g.slice(2, 6).every((w) => w === 0)) return isPublicIPv4(embedded);
  // 2002::/16 (6to4): the IPv4 address is in groups 1–2.
  if (g0 === 0x2002) return isPublicIPv4(((g1 << 16) | g2) >>> 0);
  // Only global unicast (2000::/3) is public: this excludes ::, ::1, IPv4-compatible,
  // fc00::/7 (unique local), fe80::/10 (link-local), fec0::/10 and ff00::/8 (multicast).
  if ((g0 & 0xe000) !== 0x2000) return false;
  if (g0 === 0x2001 && g1 < 0x200) return false; // 2001::/23 IETF protocol assignments, incl. Teredo
  if (g0 === 0x2001 && g1 === 0xdb8) return false; // documentation
  if ((g0 & 0xfff0) === 0x3ff0) return false; // 3fff::/20 documentation
  return true;
}
