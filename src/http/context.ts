/**
 * What every request carries: the services built for it (per request on Workers, where a
 * database pool may not outlive the request; once on Node).
 */
import type { CouponAdmin } from '../coupon/admin.js';
import type { CouponDeps } from '../coupon/deps.js';
import type { Maintenance } from '../coupon/maintenance.js';
import type { CouponTakes } from '../coupon/takes.js';

export interface Services {
  deps: CouponDeps;
  admin: CouponAdmin;
  takes: CouponTakes;
  maintenance: Maintenance;
}

export interface AppEnv {
  Variables: { services: Services };
}
