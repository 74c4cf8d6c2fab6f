/**
 * Fixed-window counters for abuse limits: in memory by default, shared by every
 * instance through Redis when REDIS_URL is set (redis-counters.ts). Whatever a caller
 * puts in a key (an email, an address), the store keeps only its SHA-256, so every
 * counter costs the same few bytes; the in-memory store sweeps expired counters on a
 * timer and is capped by count and bytes.
 */
import { createHash } from "node:crypto";

/** Outcome of counting one event against a limit. */
interface HitResult {
  /** The count in the current window, including this hit. */
  count: number;
  /** Milliseconds until the window resets. */
  resetMs: number;
}

/** Fixed-window counters, in memory or in Redis. */
export interface CounterStore {
  /** Counts one event under `key` in a window of `windowMs`; returns the window's count. */
  hit(key: string, windowMs: number): Promise<HitResult>;
  /** Reads the current count without counting. */
  peek(key: string): Promise<HitResult>;
  /** Forgets a key (e.g. failed-login counter after a success). */
  reset(key: string): Promise<void>;
  /** Where the limits are counted now, as `/health` reports it (`memory`, `redis`, or the fallback). */
  status(): string;
  close(): Promise<void>;
}

/** `/health`'s `rate_limits` without Redis. */
const RATE_LIMITS_MEMORY = "memory";
/** `/health`'s `rate_limits` while Redis counts for every instance. */
export const RATE_LIMITS_REDIS = "redis";
/** `/health`'s `rate_limits` while Redis is configured but unavailable. */
export const RATE_LIMITS_FALLBACK = "memory (redis unavailable: limits are per instance)";

/** The fixed-size form a counter key is stored under: SHA-256, base64url (43 characters). */
export function counterKeyDigest(key: string): string {
  return createHash("sha256").update(key).digest("base64url");
}

/** Default cap on in-memory counters. */
const MAX_COUNTERS = 100_000;
/** Default cap on the estimated bytes of in-memory counters. */
const MAX_COUNTER_BYTES = 16 * 1024 * 1024;
/**
 * Estimated bytes of one in-memory counter: its 43-character digest key (a one-byte
 * string with its header), the window object and the Map entry. Every counter costs the
 * same, whatever it counts.
 */
const COUNTER_BYTES = 160;
const DEFAULT_SWEEP_MS = 60_000;

/** Clock, caps and sweep interval of the in-memory store. */
export interface MemoryCounterOptions {
  /** The clock, in epoch milliseconds (tests pass a controllable one). */
  now?: () => number;
  /** At most this many counters (default MAX_COUNTERS). */
  maxKeys?: number;
  /** At most this many estimated bytes (default MAX_COUNTER_BYTES). */
  maxBytes?: number;
  /** How often expired counters are swept (default 60 s). */
  sweepIntervalMs?: number;
}

/** The in-memory store, with its size for tests and operators. */
export interface MemoryCounterStore extends CounterStore {
  /** How many counters are held and their estimated bytes. */
  stats(): { keys: number; bytes: number };
}

/**
 * In-memory counters. Expired windows are swept every `sweepIntervalMs` (an unref'd
 * timer, stopped by close()); when the caps are reached, expired counters go first, then
 * the oldest windows (a flood of distinct keys can make limits forget old counters, never
 * grow memory).
 */
export function createMemoryCounterStore(opts: MemoryCounterOptions = {}): MemoryCounterStore {
  const now = opts.now ?? Date.now;
  const maxEntries = Math.max(1, Math.min(opts.maxKeys ?? MAX_COUNTERS, Math.floor((opts.maxBytes ?? MAX_COUNTER_BYTES) / COUNTER_BYTES)));
  // Insertion order is window-start order: a new window re-inserts its key at the end.
  const windows = new Map<string, { count: number; resetAt: number }>();
  function sweepExpired(t: number): void {
    for (const [k, w] of windows) if (w.resetAt <= t) windows.delete(k);
  }
  function makeRoom(t: number): void {
    sweepExpired(t);
    // Still full: drop the oldest tenth, so a flood does not pay a sweep per insert.
    let drop = windows.size - maxEntries + Math.max(1, Math.ceil(maxEntries / 10));
    for (const k of windows.keys()) {
      if (drop-- <= 0) break;
      windows.delete(k);
    }
  }
  const timer = setInterval(() => sweepExpired(now()), opts.sweepIntervalMs ?? DEFAULT_SWEEP_MS);
  timer.unref();
  return {
    async hit(key, windowMs) {
      const k = counterKeyDigest(key);
      const t = now();
      let w = windows.get(k);
      if (!w || w.resetAt <= t) {
        windows.delete(k);
        if (windows.size >= maxEntries) makeRoom(t);
        w = { count: 0, resetAt: t + windowMs };
        windows.set(k, w);
      }
      w.count++;
      return { count: w.count, resetMs: w.resetAt - t };
    },
    async peek(key) {
      const t = now();
      const w = windows.get(counterKeyDigest(key));
      if (!w || w.resetAt <= t) return { count: 0, resetMs: 0 };
      return { count: w.count, resetMs: w.resetAt - t };
    },
    async reset(key) {
      windows.delete(counterKeyDigest(key));
    },
    status: () => RATE_LIMITS_MEMORY,
    stats: () => ({ keys: windows.size, bytes: windows.size * COUNTER_BYTES }),
    async close() {
      clearInterval(timer);
      windows.clear();
    },
  };
}
