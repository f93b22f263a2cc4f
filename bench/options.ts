/**
 * What one run measures and how big. `--quick` shrinks every phase so the whole run fits in a
 * CI smoke step (under a minute); it still checks every count, it only measures less.
 */
export interface BenchOptions {
  quick: boolean;
  /** Write a V8 CPU profile of the service during each end-to-end sale (`--cpu-prof`). */
  cpuProf: boolean;
  raw: {
    connections: number;
    /** Takes per redis-benchmark run without pipelining. */
    requests: number;
    /** Takes per run with `-P pipeline`. */
    pipelinedRequests: number;
    pipeline: number;
  };
  gauge: {
    /** Takes in flight: the raw limit's connection count, so the two compare. */
    concurrency: number;
    seconds: number;
    /** Also measure the Postgres gauge on a real PostgreSQL (not only embedded PGlite). */
    realPostgres: boolean;
  };
  sale: {
    connections: number;
    stock: number;
    /** Requests per sale: demand is this many times the stock. */
    demandFactor: number;
    /** Requests that warm the service up on another coupon first (not measured). */
    warmup: number;
    /** A sale that has not finished by then is stopped (and fails its counts). */
    timeoutSeconds: number;
    realPostgres: boolean;
  };
  /** The Worker in N workerd isolates (`bench/isolates.ts`). */
  isolates: {
    counts: number[];
    stock: number;
    requests: number;
    concurrency: number;
  };
  scaling: {
    coupons: number;
    pastTakes: number;
    /** Seconds each latency sample runs. */
    seconds: number;
  };
}

export function parseOptions(argv: readonly string[]): BenchOptions {
  const unknown = argv.filter((a) => a !== '--quick' && a !== '--cpu-prof');
  if (unknown.length > 0) throw new Error(`unknown option ${unknown.join(' ')} (use --quick, --cpu-prof)`);
  const quick = argv.includes('--quick');
  const cpuProf = argv.includes('--cpu-prof');
  if (quick) {
    return {
      quick,
      cpuProf,
      raw: { connections: 50, requests: 30_000, pipelinedRequests: 60_000, pipeline: 16 },
      gauge: { concurrency: 50, seconds: 1.5, realPostgres: false },
      sale: { connections: 200, stock: 100, demandFactor: 10, warmup: 400, timeoutSeconds: 30, realPostgres: false },
      // 16 workerd take ~25 s to start on 2 cores: the quick run stops at 4.
      isolates: { counts: [1, 4], stock: 200, requests: 300, concurrency: 32 },
      scaling: { coupons: 10_000, pastTakes: 50_000, seconds: 1 },
    };
  }
  return {
    quick,
    cpuProf,
    raw: { connections: 50, requests: 300_000, pipelinedRequests: 600_000, pipeline: 16 },
    gauge: { concurrency: 50, seconds: 8, realPostgres: true },
    sale: { connections: 200, stock: 2_000, demandFactor: 10, warmup: 2_000, timeoutSeconds: 300, realPostgres: true },
    isolates: { counts: [1, 4, 16], stock: 1_000, requests: 1_500, concurrency: 32 },
    scaling: { coupons: 100_000, pastTakes: 1_000_000, seconds: 5 },
  };
}
