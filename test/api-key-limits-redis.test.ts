/**
 * The Redis counter of per-key limits (issue 19), below the RPC layer: concurrent calls
 * of one key are coalesced into one script run per round trip (the script counts `k`
 * calls and says how many fit), and two instances sharing Redis still never let a key
 * exceed a window or its budget, with the refusal each call would get one at a time.
 * Needs the local Redis (127.0.0.1:6379), as test/api-key-limits.test.ts does.
 */
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { createRedisKeyLimiter } from "../packages/server/src/abuse/key-limits-redis.js";
import type { KeyCharge, KeyLimiter } from "../packages/server/src/abuse/key-limits.js";
import { createRedisClient } from "../packages/server/src/abuse/redis-client.js";
import type { KeyLimits } from "../packages/server/src/auth/api-keys/limits.js";
import { createLogger } from "../packages/server/src/lib/logger.js";

type Redis = ReturnType<typeof createRedisClient>;

const logger = createLogger({ json: true, level: "warn", destination: new Writable({ write: (_c, _e, cb) => cb() }) });
/** A clock at the start of an hour: every call of a test falls in one window. */
const HOUR_START = Math.floor(Date.now() / 3_600_000) * 3_600_000 + 3_600_000 * 24;

/** An instance's limiter on its own connection, counting the script runs it sends. */
function instance(prefix: string, now: () => number): { limiter: KeyLimiter; runs: () => number; redis: Redis } {
  const redis = createRedisClient("redis://127.0.0.1:6379");
  let runs = 0;
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = ((command: { name: string }, ...rest: unknown[]) => {
    if (command.name === "evalsha" || command.name === "eval") runs++;
    return (send as (...a: unknown[]) => unknown)(command, ...rest);
  }) as typeof redis.sendCommand;
  return { limiter: createRedisKeyLimiter({ redis, prefix, logger, now }), runs: () => runs, redis };
}

const opened: Array<{ limiter: KeyLimiter; redis: Redis }> = [];
afterEach(async () => {
  for (const o of opened.splice(0)) {
    await o.limiter.close();
    o.redis.disconnect();
  }
});

/** Two instances' limiters sharing one Redis, once both are connected (before, calls count in memory). */
async function twoInstances(now: () => number) {
  const prefix = `tessera-test-${randomBytes(4).toString("hex")}:`;
  const a = instance(prefix, now);
  const b = instance(prefix, now);
  opened.push(a, b);
  await Promise.all([a, b].map(({ redis }) => (redis.status === "ready" ? undefined : new Promise((r) => redis.once("ready", r)))));
  return { a, b };
}

/** `n` concurrent calls of `keyId`, alternating between the two limiters. */
function burst(limiters: KeyLimiter[], keyId: string, limits: KeyLimits, n: number): Promise<KeyCharge[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => limiters[i % limiters.length]!.charge(keyId, limits)));
}

describe("API-key limits in Redis, coalesced", () => {
  it("counts concurrent calls of a key in a few round trips and never exceeds a window, on two instances", async () => {
    const { a, b } = await twoInstances(() => HOUR_START + 1000);
    const limits: KeyLimits = {
      rateLimits: [
        { limit: 1000, windowSeconds: 86_400 },
        { limit: 250, windowSeconds: 3600 },
      ],
      budget: undefined,
    };
    const results = await burst([a.limiter, b.limiter], "k1", limits, 1200);
    expect(results.filter((r) => r.ok)).toHaveLength(250);
    // Refused by the hour window (the second), with the time left in it.
    const refused = results.filter((r) => !r.ok);
    expect(refused).toHaveLength(950);
    for (const r of refused) expect(r).toEqual({ ok: false, reason: "rate", limit: 250, windowSeconds: 3600, retryAfterMs: 3_600_000 - 1000 });
    // Coalesced: far fewer script runs than calls (one per round trip per instance).
    expect(a.runs() + b.runs()).toBeLessThan(100);
    expect(await a.limiter.usage("k1", limits)).toEqual({ rateLimitUsed: [250, 250], budgetRemaining: undefined });
  });

  it("spends a budget exactly across two instances, windows checked first, and refills it", async () => {
    let now = HOUR_START + 5000;
    const { a, b } = await twoInstances(() => now);
    const limits: KeyLimits = { rateLimits: [{ limit: 500, windowSeconds: 3600 }], budget: { uses: 137, refillAmount: 40, refillIntervalSeconds: 60 } };
    const first = await burst([a.limiter, b.limiter], "k2", limits, 600);
    expect(first.filter((r) => r.ok)).toHaveLength(137);
    for (const r of first.filter((x) => !x.ok)) expect(r).toEqual({ ok: false, reason: "budget", retryAfterMs: 60_000 });
    expect((await b.limiter.usage("k2", limits)).budgetRemaining).toBe(0);
    // A minute later the budget is back at 40, and the window (137 used of 500) still has room.
    now += 60_000;
    const second = await burst([a.limiter, b.limiter], "k2", limits, 100);
    expect(second.filter((r) => r.ok)).toHaveLength(40);
    expect((await a.limiter.usage("k2", limits)).rateLimitUsed).toEqual([177]);
    // When the window is the tighter limit, it is the refusal (as one call at a time would see).
    const tight: KeyLimits = { rateLimits: [{ limit: 3, windowSeconds: 3600 }], budget: { uses: 10, refillAmount: 0, refillIntervalSeconds: 0 } };
    const third = await burst([a.limiter, b.limiter], "k3", tight, 8);
    expect(third.filter((r) => r.ok)).toHaveLength(3);
    expect(third.filter((r) => !r.ok).every((r) => !r.ok && r.reason === "rate")).toBe(true);
    expect((await a.limiter.usage("k3", tight)).budgetRemaining).toBe(7);
  });

  it("counts calls of one key with different limits (changed while calls wait) each against their own", async () => {
    const { a } = await twoInstances(() => HOUR_START + 1000);
    const small: KeyLimits = { rateLimits: [{ limit: 5, windowSeconds: 60 }], budget: undefined };
    const large: KeyLimits = { rateLimits: [{ limit: 50, windowSeconds: 3600 }], budget: undefined };
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => a.limiter.charge("k4", i % 2 === 0 ? small : large)));
    expect(results.filter((r, i) => i % 2 === 0 && r.ok)).toHaveLength(5);
    expect(results.filter((r, i) => i % 2 === 1 && r.ok)).toHaveLength(20);
  });

  it("falls back to this instance's memory when Redis is unreachable, still counting exactly", async () => {
    const redis = createRedisClient("redis://127.0.0.1:1");
    redis.on("error", () => {});
    const limiter = createRedisKeyLimiter({ redis, prefix: "unused:", logger, now: () => HOUR_START });
    opened.push({ limiter, redis });
    const limits: KeyLimits = { rateLimits: [{ limit: 7, windowSeconds: 60 }], budget: undefined };
    const results = await Promise.all(Array.from({ length: 20 }, () => limiter.charge("k5", limits)));
    expect(results.filter((r) => r.ok)).toHaveLength(7);
  });
});
