/**
 * Scenario 12 (issue 19): CheckToken with an API key that has a scope and one rate limit
 * (set far above the load, so every call is counted and none refused), against instance
 * A (limits in memory: 12m, compared with 1, a bare RPC on A) and against a second
 * instance with REDIS_URL (one Lua script per call: 12r, compared with 12b, a bare RPC on
 * that instance). Interleaved with 1 and 2 (an unscoped key without limits).
 */
import { randomBytes } from "node:crypto";
import { connectCall } from "../harness/connect-call.js";
import { startTessera, type Child } from "../harness/processes.js";
import { bearer, CHECK, CONFIG } from "../constants.js";
import type { BenchContext } from "../context.js";
import type { InterleavedScenario, RoundLoad } from "../scenario.js";

/** The key's scope and limit: CheckToken only, 10^9 calls an hour. */
const SCOPED = { scopes: ["tessera.v1.AuthService/CheckToken"], rateLimits: [{ limit: 1_000_000_000, windowSeconds: 3600 }] };

/** A scoped, limited key, made through instance A (every instance shares the database). */
async function scopedKey(ctx: BenchContext): Promise<string | undefined> {
  const r = await connectCall(
    ctx.a.baseUrl,
    "tessera.v1.ApiKeyService/CreateAccountApiKey",
    { accountId: ctx.accountId, name: `bench-scoped-${randomBytes(3).toString("hex")}`, expiresAt: new Date(Date.now() + 86_400_000).toISOString(), ...SCOPED },
    bearer(ctx.jwt),
  );
  if (r.status !== 200 || typeof r.json.keyValue !== "string") {
    ctx.log(`bench: scoped CreateAccountApiKey answered ${r.status} ${JSON.stringify(r.json).slice(0, 200)}`);
    return undefined;
  }
  return r.json.keyValue as string;
}

/** Scenario 12m (interleaved): limits counted in instance A's memory. */
export const scopedLimitedKeyMemory: InterleavedScenario = {
  id: "12m",
  name: "CheckToken, API key with a scope and a rate limit (memory)",
  async prepare(ctx): Promise<RoundLoad | { unavailable: string }> {
    const key = await scopedKey(ctx);
    return key ? { server: ctx.a, path: CHECK, headers: bearer(key) } : { unavailable: "scoped keys not available" };
  },
};

/** The instance with REDIS_URL (default the local Redis), started once for 12r and its control 12b. */
const redisInstances = new WeakMap<BenchContext, Promise<Child>>();
function redisInstance(ctx: BenchContext): Promise<Child> {
  let started = redisInstances.get(ctx);
  if (!started) {
    started = startTessera({ ...ctx.tesseraEnv, REDIS_URL: ctx.opts.redisUrl, REDIS_KEY_PREFIX: `tessera-bench-${process.pid}:` });
    redisInstances.set(ctx, started);
  }
  return started;
}

/** Scenario 12r (interleaved): limits counted in Redis. */
export const scopedLimitedKeyRedis: InterleavedScenario = {
  id: "12r",
  name: "CheckToken, API key with a scope and a rate limit (Redis)",
  async prepare(ctx): Promise<RoundLoad | { unavailable: string }> {
    let server: Child;
    try {
      server = await redisInstance(ctx);
    } catch (e) {
      return { unavailable: `Tessera with Redis did not start: ${(e as Error).message.slice(0, 200)}` };
    }
    const key = await scopedKey(ctx);
    return key ? { server, path: CHECK, headers: bearer(key) } : { unavailable: "scoped keys not available" };
  },
};

/**
 * Scenario 12b (interleaved): 12r's control, scenario 1's bare RPC on the same instance
 * with Redis (a second, lighter process than A: 12r is compared with this, not with 1).
 */
export const redisInstanceBare: InterleavedScenario = {
  id: "12b",
  name: "  GetAuthConfig on 12r's instance (its control)",
  async prepare(ctx): Promise<RoundLoad | { unavailable: string }> {
    try {
      return { server: await redisInstance(ctx), path: CONFIG };
    } catch (e) {
      return { unavailable: `Tessera with Redis did not start: ${(e as Error).message.slice(0, 200)}` };
    }
  },
};
