/** Summaries of load runs: requests per second and pooled latency percentiles. */
import type { LoadResult } from "./load.js";

/** Percentile (0..100) of a sample, nearest rank; NaN when empty. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

/** Summary numbers of one or more load runs that ran at the same time (rps summed) or one after another. */
export interface Summary {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  requests: number;
}

/** Merges runs that ran in parallel: requests per second add up, latencies pool. */
export function summarizeParallel(runs: LoadResult[]): Summary {
  const all = runs.flatMap((r) => r.latencies).sort((a, b) => a - b);
  return {
    rps: runs.reduce((s, r) => s + r.requests / r.seconds, 0),
    p50: percentile(all, 50),
    p99: percentile(all, 99),
    errors: runs.reduce((s, r) => s + r.errors, 0),
    requests: all.length,
  };
}

/**
 * Merges runs that ran one after another: requests over total time, latencies pool. Runs
 * that give only percentiles (wrk) give the median of their p50s and the largest p99.
 */
export function summarizeSequential(runs: LoadResult[]): Summary {
  const all = runs.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const seconds = runs.reduce((s, r) => s + r.seconds, 0);
  const requests = runs.reduce((s, r) => s + r.requests, 0);
  const own = runs.flatMap((r) => (r.percentiles ? [r.percentiles] : []));
  const byPercentiles = all.length === 0 && own.length > 0;
  return {
    rps: seconds > 0 ? requests / seconds : 0,
    p50: byPercentiles
      ? percentile(
          own.map((p) => p.p50).sort((a, b) => a - b),
          50,
        )
      : percentile(all, 50),
    p99: byPercentiles ? Math.max(...own.map((p) => p.p99)) : percentile(all, 99),
    errors: runs.reduce((s, r) => s + r.errors, 0),
    requests,
  };
}
