/**
 * The `TIME_ZONE` setting shared by the runtimes (Node host, Worker): an IANA zone name the
 * runtime knows, UTC when unset. The days and weeks of period stocks are counted in it.
 */
import { z } from 'zod';
import { isTimeZone } from '../stock/periods.js';

export const TimeZone = z
  .string()
  .default('UTC')
  .refine(isTimeZone, 'must be an IANA time zone this runtime knows, e.g. UTC or Europe/Berlin');
