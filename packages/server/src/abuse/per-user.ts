/**
 * Limits counted per signed-in user. The abuse interceptor runs before authentication
 * and cannot see who calls, so a handler that knows the caller asks here; the counters,
 * the `retry-after` answer and the aggregated refusal audit are the interceptor's.
 */
import type { RequestInfo } from "../lib/request-info.js";
import { refuse } from "./interceptor.js";
import type { CounterStore } from "./limiter.js";
import type { RefusalRecorder } from "./refusal-audit.js";

/** A limit of `limit` events per `windowMs` for each user, under `name`. */
interface PerUserLimit {
  /** The counter's name; procedures giving the same name share it. */
  name: string;
  limit: number;
  windowMs: number;
}

/** Counts one event of a user against a limit; ResourceExhausted once over it. */
export type PerUserLimiter = (procedure: string, limit: PerUserLimit, userId: string, request: RequestInfo) => Promise<void>;

/** Builds the per-user limiter over the abuse counters. */
export function createPerUserLimiter(store: CounterStore, refusals: RefusalRecorder): PerUserLimiter {
  return async (procedure, l, userId, request) => {
    const { count, resetMs } = await store.hit(`${l.name}:user:${l.windowMs}:${userId}`, l.windowMs);
    if (count > l.limit) {
      refuse(refusals, { procedure, limitBy: "user", limit: l.limit, windowMs: l.windowMs, subject: userId, resetMs, request, metadata: { user_id: userId } });
    }
  };
}
