/**
 * The Node host's resolver for webhook targets (`src/events/targets.ts`): every address the
 * operating system's resolver gives for a name, the same lookup `fetch` makes, so a name that
 * points inward is refused before a delivery is sent.
 */
import { lookup } from 'node:dns/promises';
import type { Resolve } from '../events/targets.js';

/** Every address `hostname` resolves to (`getaddrinfo`, all families, in the resolver's order). */
export const resolveAll: Resolve = async (hostname) => (await lookup(hostname, { all: true, verbatim: true })).map((a) => a.address);
