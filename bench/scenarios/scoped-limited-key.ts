/**
 * Scenario 12 (issue 19): CheckToken with an API key that has a scope and one rate limit
 * (set far above the load, so every call is counted and none refused), against instance
 * A (limits in memory: 12m) and against an instance with REDIS_URL (one Lua script per
 * call: 12r). Interleaved with 1 (a bare RPC) and 2 (an unscoped key without limits).
 */
import { randomBytes } from "node:crypto";
import { connectCall } from "../harness/connect-call.js";
import { startTessera, type Child } from "../harness/processes.js";
import { bearer, CHECK } from "../constants.js";
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

/** Scenario 12r (interleaved): limits counted in Redis (REDIS_URL, default the local one). */
export const scopedLimitedKeyRedis: InterleavedScenario = {
  id: "12r",
  name: "CheckToken, API key with a scope and a rate limit (Redis)",
  async prepare(ctx): Promise<RoundLoad | { unavailable: string }> {
    const redisUrl = process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379";
    let server: Child;
    try {
      server = await startTessera({ ...ctx.tesseraEnv, REDIS_URL: redisUrl, REDIS_KEY_PREFIX: `tessera-bench-${process.pid}:` });
    } catch (e) {
      return { unavailable: `Tessera with Redis did not start: ${(e as Error).message.slice(0, 200)}` };
    }
    const key = await scopedKey(ctx);
    if (!key) {
      await server.stop();
      return { unavailable: "scoped keys not available" };
    }
    return { server, path: CHECK, headers: bearer(key), stop: () => server.stop() };
  },
};
