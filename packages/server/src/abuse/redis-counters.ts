/**
 * Abuse-limit counters in Redis, shared by every instance. While Redis fails, counting
 * falls back to this instance's memory, so every limit is multiplied by the number of
 * instances: `status()` (and so `/health`) says so, and the log says it once when an
 * outage starts and once when Redis is back.
 */
import type { Redis } from "ioredis";
import type { Logger } from "../lib/logger.js";
import { counterKeyDigest, createMemoryCounterStore, RATE_LIMITS_FALLBACK, RATE_LIMITS_REDIS, type CounterStore } from "./limiter.js";

// INCR, set the expiry on the first hit of a window, return count and remaining TTL.
const HIT_SCRIPT = `
local c = redis.call('INCR', KEYS[1])
if c == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {c, ttl}`;

/** The script's name on the client (ioredis sends it once, then calls it by SHA). */
const COMMAND = "tesseraHitCounter";

/** Where the Redis store counts and logs. */
export interface RedisCounterOptions {
  /** The instance's Redis connection (redis-client.ts), shared; not closed by `close()`. */
  redis: Redis;
  /** Prefix of every key (REDIS_KEY_PREFIX plus the store's own). */
  prefix: string;
  logger: Logger;
  /** The clock of the in-memory fallback, in epoch milliseconds. */
  now?: () => number;
}

/** Counters in Redis, shared by every instance; falls back to memory while Redis fails. */
export function createRedisCounterStore(opts: RedisCounterOptions): CounterStore {
  const { logger, prefix, redis } = opts;
  redis.defineCommand(COMMAND, { lua: HIT_SCRIPT, numberOfKeys: 1 });
  const hitScript = (redis as unknown as Record<string, (key: string, windowMs: string) => Promise<[number, number]>>)[COMMAND]!.bind(redis);
  const fallback = createMemoryCounterStore({ now: opts.now });
  let up = false;
  let outageLogged = false;
  let closing = false;

  function unavailable(e: Error): void {
    up = false;
    if (outageLogged || closing) return;
    outageLogged = true;
    logger.warn(
      { err: { message: e.message } },
      "redis unavailable; abuse limits fall back to this instance's memory (limits are per instance until it returns)",
    );
  }
  function available(): void {
    if (up || closing) return;
    up = true;
    if (!outageLogged) return;
    outageLogged = false;
    logger.info("redis available again; abuse limits are shared by every instance");
  }
  const onClose = () => unavailable(new Error("connection closed"));
  redis.on("error", unavailable);
  redis.on("close", onClose);
  redis.on("ready", available);

  const k = (key: string) => prefix + counterKeyDigest(key);
  /** Runs a Redis command; on failure marks the outage and answers from memory. */
  async function orFallback<T>(command: () => Promise<T>, local: () => Promise<T>): Promise<T> {
    try {
      const r = await command();
      available();
      return r;
    } catch (e) {
      unavailable(e as Error);
      return local();
    }
  }
  return {
    hit: (key, windowMs) =>
      orFallback(
        async () => {
          const [count, ttl] = await hitScript(k(key), String(windowMs));
          return { count: Number(count), resetMs: Number(ttl) };
        },
        () => fallback.hit(key, windowMs),
      ),
    peek: (key) =>
      orFallback(
        async () => {
          const [v, ttl] = await Promise.all([redis.get(k(key)), redis.pttl(k(key))]);
          return { count: v === null ? 0 : Number(v), resetMs: Math.max(0, ttl) };
        },
        () => fallback.peek(key),
      ),
    async reset(key) {
      await fallback.reset(key);
      await orFallback(
        () => redis.del(k(key)),
        async () => 0,
      );
    },
    status: () => (up ? RATE_LIMITS_REDIS : RATE_LIMITS_FALLBACK),
    async close() {
      closing = true;
      redis.off("error", unavailable);
      redis.off("close", onClose);
      redis.off("ready", available);
      await fallback.close();
    },
  };
}
