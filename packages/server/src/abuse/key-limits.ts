/**
 * Per-key limits of API keys: fixed-window rate limits (several, applied together) and
 * a usage budget with an optional refill. `charge` counts one call atomically: the call
 * passes only when it fits every window and the budget, and then counts against all of
 * them; a refused call counts against none. In memory by default (per instance, reset
 * by a restart); shared by every instance through one Lua script in Redis when
 * REDIS_URL is set (key-limits-redis.ts).
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { KeyLimits } from "../auth/api-keys/limits.js";
import { BoundedCache } from "../lib/bounded-cache.js";

/** What counting one call decided. */
export type KeyCharge =
  | { ok: true }
  | { ok: false; reason: "rate"; limit: number; windowSeconds: number; retryAfterMs: number }
  | { ok: false; reason: "budget"; retryAfterMs: number | undefined };

/** What a key has used, now. */
export interface KeyUsage {
  rateLimitUsed: number[];
  budgetRemaining: number | undefined;
}

/** Counts calls of keys with limits. */
export interface KeyLimiter {
  /** Counts one call; in memory the answer is immediate (no promise on the hot path), through Redis a promise. */
  charge(keyId: string, limits: KeyLimits): KeyCharge | Promise<KeyCharge>;
  usage(keyId: string, limits: KeyLimits): Promise<KeyUsage>;
  close(): Promise<void>;
}

/** The start of the fixed window of `windowMs` that holds `nowMs`. */
export function windowStart(nowMs: number, windowMs: number): number {
  return nowMs - (nowMs % windowMs);
}

/** A budget after the refills due by `nowMs`: every interval since `t`, remaining is set back to the refill amount. */
export function refilled(b: { r: number; t: number }, limits: NonNullable<KeyLimits["budget"]>, nowMs: number): { r: number; t: number } {
  const interval = limits.refillIntervalSeconds * 1000;
  if (limits.refillAmount <= 0 || interval <= 0 || nowMs < b.t + interval) return b;
  const steps = Math.floor((nowMs - b.t) / interval);
  return { r: limits.refillAmount, t: b.t + steps * interval };
}

/** ResourceExhausted for a refused call, with `retry-after` (seconds) when a wait helps. */
function keyLimitError(c: Exclude<KeyCharge, { ok: true }>): ConnectError {
  const retry = c.retryAfterMs === undefined ? undefined : String(Math.max(1, Math.ceil(c.retryAfterMs / 1000)));
  const headers = retry === undefined ? undefined : { "retry-after": retry };
  if (c.reason === "rate") {
    return new ConnectError(`API key rate limit exceeded (${c.limit} per ${c.windowSeconds} s); retry after ${retry} s`, Code.ResourceExhausted, headers);
  }
  return new ConnectError(
    c.retryAfterMs === undefined ? "API key usage budget exhausted" : `API key usage budget exhausted until its refill in ${retry} s`,
    Code.ResourceExhausted,
    headers,
  );
}

/** The answer for every admitted call. */
const ADMITTED: KeyCharge = Object.freeze({ ok: true });

/** Most keys whose counters one instance keeps in memory. */
const MAX_KEYS = 100_000;

/** Per-key limits in this instance's memory. */
export function createMemoryKeyLimiter(now: () => number): KeyLimiter {
  /** key id -> its windows' counts (by window index, with the window's start) and its budget. */
  interface State {
    windows: Array<{ start: number; count: number }>;
    budget: { r: number; t: number } | undefined;
  }
  const states = new BoundedCache<string, State>({ maxEntries: MAX_KEYS });
  // Plain loops and one shared answer for an admitted call: this runs on every call of a
  // key with limits, and an iterator, a closure or an object per call shows up there.
  function stateOf(keyId: string, limits: KeyLimits, nowMs: number): State {
    let s = states.get(keyId);
    if (!s) {
      s = { windows: [], budget: undefined };
      states.set(keyId, s);
    }
    const rates = limits.rateLimits;
    for (let i = 0; i < rates.length; i++) {
      const start = windowStart(nowMs, rates[i]!.windowSeconds * 1000);
      if (s.windows[i]?.start !== start) s.windows[i] = { start, count: 0 };
    }
    if (limits.budget) s.budget = refilled(s.budget ?? { r: limits.budget.uses, t: nowMs }, limits.budget, nowMs);
    return s;
  }
  return {
    charge(keyId, limits) {
      const nowMs = now();
      const s = stateOf(keyId, limits, nowMs);
      const rates = limits.rateLimits;
      for (let i = 0; i < rates.length; i++) {
        const w = s.windows[i]!;
        const l = rates[i]!;
        if (w.count >= l.limit)
          return { ok: false, reason: "rate", limit: l.limit, windowSeconds: l.windowSeconds, retryAfterMs: w.start + l.windowSeconds * 1000 - nowMs };
      }
      if (limits.budget && s.budget) {
        if (s.budget.r <= 0) {
          const canRefill = limits.budget.refillAmount > 0 && limits.budget.refillIntervalSeconds > 0;
          return { ok: false, reason: "budget", retryAfterMs: canRefill ? s.budget.t + limits.budget.refillIntervalSeconds * 1000 - nowMs : undefined };
        }
        s.budget.r--;
      }
      for (let i = 0; i < rates.length; i++) s.windows[i]!.count++;
      return ADMITTED;
    },
    async usage(keyId, limits) {
      const s = stateOf(keyId, limits, now());
      return { rateLimitUsed: limits.rateLimits.map((_, i) => s.windows[i]!.count), budgetRemaining: s.budget?.r };
    },
    async close() {
      states.clear();
    },
  };
}

/**
 * Counts a call against a key's limits; throws ResourceExhausted (with `retry-after` when
 * a wait helps) over them, or returns a promise that rejects so when the limiter answers
 * later (Redis). Returns nothing when an in-memory limiter admitted the call.
 */
export function chargeWith(limiter: KeyLimiter): (keyId: string, limits: KeyLimits) => Promise<void> | undefined {
  const check = (c: KeyCharge): void => {
    if (!c.ok) throw keyLimitError(c);
  };
  return (keyId, limits) => {
    const c = limiter.charge(keyId, limits);
    if (c instanceof Promise) return c.then(check);
    check(c);
    return undefined;
  };
}
