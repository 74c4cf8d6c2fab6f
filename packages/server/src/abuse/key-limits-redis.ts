/**
 * Per-key limits in Redis, shared by every instance: one Lua script checks every window
 * and the budget and, only when all allow the call, counts it in all of them, so
 * concurrent calls on any number of instances never overspend. A key's counters share a
 * hash tag (`{ak:<id>}`), so the script also runs on Redis Cluster. While Redis fails,
 * counting falls back to this instance's memory (limits per instance, as for the abuse
 * limits), logged once per outage.
 */
import { Redis } from "ioredis";
import type { Logger } from "../lib/logger.js";
import type { KeyLimits } from "../auth/api-keys/limits.js";
import { createMemoryKeyLimiter, refilled, windowStart, type KeyCharge, type KeyLimiter } from "./key-limits.js";

/** A budget's state is kept this long after its last use. */
const BUDGET_TTL_MS = 400 * 86_400_000;

// KEYS[1]: the budget hash; KEYS[1+i]: window i's counter.
// ARGV: now, has budget (0/1), uses, refill amount, refill interval ms, n, then limit_i, window_ms_i.
// Returns {0, remaining or -1} when counted; {1, i, retry ms} over window i; {2, retry ms or -1} out of budget.
const CHARGE_SCRIPT = `
local now = tonumber(ARGV[1])
local n = tonumber(ARGV[6])
for i = 1, n do
  local limit = tonumber(ARGV[5 + 2 * i])
  local w = tonumber(ARGV[6 + 2 * i])
  local c = tonumber(redis.call('GET', KEYS[1 + i]) or '0')
  if c >= limit then return {1, i, w - (now % w)} end
end
local remaining = -1
if ARGV[2] == '1' then
  local refill = tonumber(ARGV[4])
  local interval = tonumber(ARGV[5])
  local st = redis.call('HMGET', KEYS[1], 'r', 't')
  local r = tonumber(st[1])
  local t = tonumber(st[2])
  if r == nil then r = tonumber(ARGV[3]); t = now end
  if refill > 0 and interval > 0 and now >= t + interval then
    t = t + math.floor((now - t) / interval) * interval
    r = refill
  end
  if r <= 0 then
    redis.call('HSET', KEYS[1], 'r', r, 't', t)
    if refill > 0 and interval > 0 then return {2, t + interval - now} end
    return {2, -1}
  end
  r = r - 1
  redis.call('HSET', KEYS[1], 'r', r, 't', t)
  redis.call('PEXPIRE', KEYS[1], ${BUDGET_TTL_MS})
  remaining = r
end
for i = 1, n do
  local w = tonumber(ARGV[6 + 2 * i])
  if redis.call('INCR', KEYS[1 + i]) == 1 then redis.call('PEXPIRE', KEYS[1 + i], w - (now % w) + 1000) end
end
return {0, remaining}`;

/** Where the Redis limiter connects and logs. */
export interface RedisKeyLimiterOptions {
  url: string;
  /** Prefix of every key (REDIS_KEY_PREFIX). */
  prefix: string;
  logger: Logger;
  /** The clock, in epoch milliseconds (windows are aligned to it). */
  now: () => number;
}

/** Per-key limits in Redis, shared by every instance; memory while Redis fails. */
export function createRedisKeyLimiter(opts: RedisKeyLimiterOptions): KeyLimiter {
  const { logger, prefix, now } = opts;
  const redis = new Redis(opts.url, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: 1000,
    commandTimeout: 500,
    retryStrategy: (times) => Math.min(times * 100, 2000),
  });
  const fallback = createMemoryKeyLimiter(now);
  let outage = false;
  let closing = false;
  const down = (e: Error) => {
    if (outage || closing) return;
    outage = true;
    logger.warn({ err: { message: e.message } }, "redis unavailable; API-key limits fall back to this instance's memory until it returns");
  };
  redis.on("error", down);
  redis.on("ready", () => {
    if (outage && !closing) logger.info("redis available again; API-key limits are shared by every instance");
    outage = false;
  });

  const budgetKey = (id: string) => `${prefix}{ak:${id}}:b`;
  const windowKeys = (id: string, limits: KeyLimits, nowMs: number) =>
    limits.rateLimits.map((l, i) => `${prefix}{ak:${id}}:w${i}:${l.windowSeconds}:${windowStart(nowMs, l.windowSeconds * 1000)}`);

  async function orFallback<T>(command: () => Promise<T>, local: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (e) {
      down(e as Error);
      return local();
    }
  }

  return {
    charge: (keyId, limits) =>
      orFallback<KeyCharge>(
        async () => {
          const nowMs = now();
          const b = limits.budget;
          const args = [
            String(nowMs),
            b ? "1" : "0",
            String(b?.uses ?? 0),
            String(b?.refillAmount ?? 0),
            String((b?.refillIntervalSeconds ?? 0) * 1000),
            String(limits.rateLimits.length),
            ...limits.rateLimits.flatMap((l) => [String(l.limit), String(l.windowSeconds * 1000)]),
          ];
          const keys = [budgetKey(keyId), ...windowKeys(keyId, limits, nowMs)];
          const r = (await redis.eval(CHARGE_SCRIPT, keys.length, ...keys, ...args)) as number[];
          if (r[0] === 0) return { ok: true };
          if (r[0] === 1) {
            const l = limits.rateLimits[Number(r[1]) - 1]!;
            return { ok: false, reason: "rate", limit: l.limit, windowSeconds: l.windowSeconds, retryAfterMs: Number(r[2]) };
          }
          return { ok: false, reason: "budget", retryAfterMs: Number(r[1]) < 0 ? undefined : Number(r[1]) };
        },
        () => fallback.charge(keyId, limits),
      ),
    usage: (keyId, limits) =>
      orFallback(
        async () => {
          const nowMs = now();
          const counts = limits.rateLimits.length > 0 ? await redis.mget(...windowKeys(keyId, limits, nowMs)) : [];
          let budgetRemaining: number | undefined;
          if (limits.budget) {
            const [r, t] = await redis.hmget(budgetKey(keyId), "r", "t");
            budgetRemaining = r === null || t === null ? limits.budget.uses : refilled({ r: Number(r), t: Number(t) }, limits.budget, nowMs).r;
          }
          return { rateLimitUsed: counts.map((c) => (c === null ? 0 : Number(c))), budgetRemaining };
        },
        () => fallback.usage(keyId, limits),
      ),
    async close() {
      closing = true;
      await fallback.close();
      redis.disconnect();
    },
  };
}
