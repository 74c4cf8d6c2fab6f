/**
 * Fixed-window counters for abuse limits: in memory by default, shared by every
 * instance through Redis when REDIS_URL is set. A Redis failure falls back to the
 * in-memory counters of this instance (limits stay enforced per instance) and is logged.
 */
import { Redis } from "ioredis";
import type { Logger } from "../logger.js";

/** Outcome of counting one event against a limit. */
export interface HitResult {
  /** The count in the current window, including this hit. */
  count: number;
  /** Milliseconds until the window resets. */
  resetMs: number;
}

export interface CounterStore {
  /** Counts one event under `key` in a window of `windowMs`; returns the window's count. */
  hit(key: string, windowMs: number): Promise<HitResult>;
  /** Reads the current count without counting. */
  peek(key: string): Promise<HitResult>;
  /** Forgets a key (e.g. failed-login counter after a success). */
  reset(key: string): Promise<void>;
  close(): Promise<void>;
}

const MAX_KEYS = 100_000;

/** In-memory counters, bounded; expired windows are swept lazily. */
export function createMemoryCounterStore(now: () => number = Date.now): CounterStore {
  const windows = new Map<string, { count: number; resetAt: number }>();
  function sweep(t: number) {
    for (const [k, w] of windows) if (w.resetAt <= t) windows.delete(k);
    // Still too many live keys (a flood of distinct keys): drop the oldest entries.
    if (windows.size >= MAX_KEYS) {
      let drop = windows.size - MAX_KEYS + Math.ceil(MAX_KEYS / 10);
      for (const k of windows.keys()) {
        if (drop-- <= 0) break;
        windows.delete(k);
      }
    }
  }
  return {
    async hit(key, windowMs) {
      const t = now();
      let w = windows.get(key);
      if (!w || w.resetAt <= t) {
        if (windows.size >= MAX_KEYS) sweep(t);
        w = { count: 0, resetAt: t + windowMs };
        windows.set(key, w);
      }
      w.count++;
      return { count: w.count, resetMs: w.resetAt - t };
    },
    async peek(key) {
      const t = now();
      const w = windows.get(key);
      if (!w || w.resetAt <= t) return { count: 0, resetMs: 0 };
      return { count: w.count, resetMs: w.resetAt - t };
    },
    async reset(key) {
      windows.delete(key);
    },
    async close() {
      windows.clear();
    },
  };
}

// INCR, set the expiry on the first hit of a window, return count and remaining TTL.
const HIT_SCRIPT = `
local c = redis.call('INCR', KEYS[1])
if c == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {c, ttl}`;

/** Counters in Redis, shared by every instance; falls back to memory while Redis fails. */
export function createRedisCounterStore(url: string, prefix: string, logger: Logger): CounterStore {
  const redis = new Redis(url, {
    lazyConnect: false,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: 1000,
    commandTimeout: 500,
  });
  let warned = false;
  redis.on("error", (e: Error) => {
    if (!warned) logger.warn({ err: { message: e.message } }, "redis unavailable; abuse limits fall back to this instance's memory");
    warned = true;
  });
  redis.on("ready", () => {
    warned = false;
  });
  const fallback = createMemoryCounterStore();
  const k = (key: string) => prefix + key;
  return {
    async hit(key, windowMs) {
      try {
        const [count, ttl] = (await redis.eval(HIT_SCRIPT, 1, k(key), String(windowMs))) as [number, number];
        return { count: Number(count), resetMs: Number(ttl) };
      } catch {
        return fallback.hit(key, windowMs);
      }
    },
    async peek(key) {
      try {
        const [v, ttl] = await Promise.all([redis.get(k(key)), redis.pttl(k(key))]);
        return { count: v === null ? 0 : Number(v), resetMs: Math.max(0, ttl) };
      } catch {
        return fallback.peek(key);
      }
    },
    async reset(key) {
      await fallback.reset(key);
      try {
        await redis.del(k(key));
      } catch {
        /* fallback already reset */
      }
    },
    async close() {
      await fallback.close();
      redis.disconnect();
    },
  };
}
