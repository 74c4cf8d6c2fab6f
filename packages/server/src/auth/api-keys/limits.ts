/**
 * A key's rate limits and usage budget, as verification carries them (fixed at
 * creation; counted by `abuse/key-limits.ts`).
 */
import type { ApiKeyAuthRow } from "../../store/api-keys.js";

/** A key's limits. */
export interface KeyLimits {
  rateLimits: ReadonlyArray<{ limit: number; windowSeconds: number }>;
  budget: { uses: number; refillAmount: number; refillIntervalSeconds: number } | undefined;
}

/** The limits of a key row, or undefined when it has none. */
export function limitsOf(row: Pick<ApiKeyAuthRow, "rate_limits" | "budget">): KeyLimits | undefined {
  if (row.rate_limits.length === 0 && !row.budget) return undefined;
  return Object.freeze({
    rateLimits: Object.freeze(row.rate_limits.map((l) => Object.freeze({ limit: l.limit, windowSeconds: l.window_seconds }))),
    budget: row.budget
      ? Object.freeze({ uses: row.budget.uses, refillAmount: row.budget.refill_amount, refillIntervalSeconds: row.budget.refill_interval_seconds })
      : undefined,
  });
}
