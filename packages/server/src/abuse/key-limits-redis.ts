/**
 * Per-key limits in Redis, shared by every instance: one Lua script checks every window
 * and the budget and counts the calls they allow, atomically, so concurrent calls on any
 * number of instances never overspend. A key's counters share a hash tag (`{ak:<id>}`), so
 * the script also runs on Redis Cluster. While Redis fails, counting falls back to this
 * instance's memory (limits per instance, as for the abuse limits), logged once per outage.
 *
 * Cheap under load: the script is sent once and then called by its SHA (EVALSHA), and the
 * calls of one key are coalesced: while a round trip for a key is out, its further calls
 * wait and then go together in the next one, which counts `k` calls at once and says how
 * many it allowed. The first `m` waiters (in arrival order) pass and the rest are refused,
 * exactly as `k` calls one after another would be: the overshoot is zero.
 */
import type { Redis } from "ioredis";
import type { Logger } from "../lib/logger.js";
import type { KeyLimits } from "../auth/api-keys/limits.js";
import { createMemoryKeyLimiter, refilled, windowStart, type KeyCharge, type KeyLimiter } from "./key-limits.js";

/** A budget's state is kept this long after its last use. */
const BUDGET_TTL_MS = 400 * 86_400_000;

/** Most calls of one key counted by one round trip. */
const MAX_BATCH = 1000;

// KEYS[1]: the budget hash; KEYS[1+i]: window i's counter.
// ARGV: now, has budget (0/1), uses, refill amount, refill interval ms, k (calls to count),
// n (windows), then limit_i, window_ms_i.
// Counts the first m <= k calls that fit every window and the budget, and returns
// {m, 0} when all k fit; {m, 1, i, retry ms} when window i refuses the rest;
// {m, 2, retry ms or -1} when the budget does. Windows are checked before the budget, as
// one call at a time would be: the (m+1)th call is refused by the first full window.
const CHARGE_SCRIPT = `
local now = tonumber(ARGV[1])
local m = tonumber(ARGV[6])
local n = tonumber(ARGV[7])
local why = 0
local wi = 0
local retry = 0
for i = 1, n do
  local limit = tonumber(ARGV[6 + 2 * i])
  local w = tonumber(ARGV[7 + 2 * i])
  local room = limit - tonumber(redis.call('GET', KEYS[1 + i]) or '0')
  if room < 0 then room = 0 end
  if room < m then m = room; why = 1; wi = i; retry = w - (now % w) end
end
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
  local room = r
  if room < 0 then room = 0 end
  if room < m then
    m = room
    why = 2
    if refill > 0 and interval > 0 then retry = t + interval - now else retry = -1 end
  end
  redis.call('HSET', KEYS[1], 'r', r - m, 't', t)
  redis.call('PEXPIRE', KEYS[1], ${BUDGET_TTL_MS})
end
if m > 0 then
  for i = 1, n do
    local w = tonumber(ARGV[7 + 2 * i])
    if redis.call('INCRBY', KEYS[1 + i], m) == m then redis.call('PEXPIRE', KEYS[1 + i], w - (now % w) + 1000) end
  end
end
if why == 1 then return {m, 1, wi, retry} end
if why == 2 then return {m, 2, retry} end
return {m, 0}`;

/** The script's name on the client (ioredis sends it once, then calls it by SHA). */
const COMMAND = "tesseraChargeApiKey";

/** Where the Redis limiter counts and logs. */
export interface RedisKeyLimiterOptions {
  /** The instance's Redis connection (redis-client.ts), shared; not closed by `close()`. */
  redis: Redis;
  /** Prefix of every key (REDIS_KEY_PREFIX). */
  prefix: string;
  logger: Logger;
  /** The clock, in epoch milliseconds (windows are aligned to it). */
  now: () => number;
}

/** A call waiting for its count. */
interface Waiter {
  limits: KeyLimits;
  resolve(c: KeyCharge): void;
}

/** Whether two calls of one key may be counted together (the same limits: almost always the same object). */
function sameLimits(a: KeyLimits, b: KeyLimits): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

/** Per-key limits in Redis, shared by every instance; memory while Redis fails. */
export function createRedisKeyLimiter(opts: RedisKeyLimiterOptions): KeyLimiter {
  const { logger, prefix, now, redis } = opts;
  redis.defineCommand(COMMAND, { lua: CHARGE_SCRIPT });
  const chargeScript = (redis as unknown as Record<string, (...args: Array<string | number>) => Promise<number[]>>)[COMMAND]!.bind(redis);
  const fallback = createMemoryKeyLimiter(now);
  let outage = false;
  let closing = false;
  const down = (e: Error) => {
    if (outage || closing) return;
    outage = true;
    logger.warn({ err: { message: e.message } }, "redis unavailable; API-key limits fall back to this instance's memory until it returns");
  };
  const onError = (e: Error) => down(e);
  const onReady = () => {
    if (outage && !closing) logger.info("redis available again; API-key limits are shared by every instance");
    outage = false;
  };
  redis.on("error", onError);
  redis.on("ready", onReady);

  const budgetKey = (id: string) => `${prefix}{ak:${id}}:b`;
  const windowKeys = (id: string, limits: KeyLimits, nowMs: number) =>
    limits.rateLimits.map((l, i) => `${prefix}{ak:${id}}:w${i}:${l.windowSeconds}:${windowStart(nowMs, l.windowSeconds * 1000)}`);

  /** Counts `k` calls of a key in one round trip: how many passed, and the refusal of the rest. */
  async function chargeMany(keyId: string, limits: KeyLimits, k: number): Promise<{ passed: number; refusal: KeyCharge }> {
    const nowMs = now();
    const b = limits.budget;
    const keys = [budgetKey(keyId), ...windowKeys(keyId, limits, nowMs)];
    const args = [
      String(nowMs),
      b ? "1" : "0",
      String(b?.uses ?? 0),
      String(b?.refillAmount ?? 0),
      String((b?.refillIntervalSeconds ?? 0) * 1000),
      String(k),
      String(limits.rateLimits.length),
      ...limits.rateLimits.flatMap((l) => [String(l.limit), String(l.windowSeconds * 1000)]),
    ];
    const r = await chargeScript(keys.length, ...keys, ...args);
    const passed = Number(r[0]);
    if (r[1] === 1) {
      const l = limits.rateLimits[Number(r[2]) - 1]!;
      return { passed, refusal: { ok: false, reason: "rate", limit: l.limit, windowSeconds: l.windowSeconds, retryAfterMs: Number(r[3]) } };
    }
    if (r[1] === 2) return { passed, refusal: { ok: false, reason: "budget", retryAfterMs: Number(r[2]) < 0 ? undefined : Number(r[2]) } };
    return { passed, refusal: { ok: true } };
  }

  /** Key id -> the calls waiting while a round trip for that key is out. */
  const waiting = new Map<string, Waiter[]>();

  /** Counts `batch` (calls of one key with the same limits), then the key's next batches until none waits. */
  async function run(keyId: string, first: Waiter[]): Promise<void> {
    for (let batch = first; ; ) {
      try {
        const { passed, refusal } = await chargeMany(keyId, batch[0]!.limits, batch.length);
        for (const [i, w] of batch.entries()) w.resolve(i < passed ? { ok: true } : refusal);
      } catch (e) {
        down(e as Error);
        for (const w of batch) w.resolve(await fallback.charge(keyId, w.limits));
      }
      const queue = waiting.get(keyId)!;
      if (queue.length === 0) {
        waiting.delete(keyId);
        return;
      }
      // The oldest waiter's limits, and every waiter with the same limits, in arrival order.
      const head = queue[0]!.limits;
      const next: Waiter[] = [];
      const rest: Waiter[] = [];
      for (const w of queue) (next.length < MAX_BATCH && sameLimits(w.limits, head) ? next : rest).push(w);
      waiting.set(keyId, rest);
      batch = next;
    }
  }

  return {
    charge: (keyId, limits) =>
      new Promise<KeyCharge>((resolve) => {
        const queue = waiting.get(keyId);
        if (queue) {
          queue.push({ limits, resolve });
          return;
        }
        waiting.set(keyId, []);
        void run(keyId, [{ limits, resolve }]);
      }),
    usage: async (keyId, limits) => {
      try {
        const nowMs = now();
        const counts = limits.rateLimits.length > 0 ? await redis.mget(...windowKeys(keyId, limits, nowMs)) : [];
        let budgetRemaining: number | undefined;
        if (limits.budget) {
          const [r, t] = await redis.hmget(budgetKey(keyId), "r", "t");
          budgetRemaining = r === null || t === null ? limits.budget.uses : refilled({ r: Number(r), t: Number(t) }, limits.budget, nowMs).r;
        }
        return { rateLimitUsed: counts.map((c) => (c === null ? 0 : Number(c))), budgetRemaining };
      } catch (e) {
        down(e as Error);
        return fallback.usage(keyId, limits);
      }
    },
    async close() {
      closing = true;
      redis.off("error", onError);
      redis.off("ready", onReady);
      await fallback.close();
    },
  };
}
