/**
 * What every request carries: the services built for it (per request on Workers, where a
 * database pool may not outlive the request; once on Node).
 */
import type { CouponAdmin } from '../coupon/admin.js';
import type { CouponDeps } from '../coupon/deps.js';
import type { CouponLive } from '../coupon/live.js';
import type { Maintenance } from '../coupon/maintenance.js';
import type { CouponRecovery } from '../coupon/recovery.js';
import type { CouponTakes } from '../coupon/takes.js';

export interface Services {
  deps: CouponDeps;
  admin: CouponAdmin;
  /** Live reads (a client route and the admin page). */
  live: CouponLive;
  /** Rebuilding lost gauges (an admin action). */
  recovery: CouponRecovery;
  takes: CouponTakes;
  maintenance: Maintenance;
}

export interface AppEnv {
  Variables: { services: Services };
}
