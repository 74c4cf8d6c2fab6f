/**
 * Scenario 9: a Connect service that embeds Tessera with `@tessera/connect`
 * (bench/embed-service.ts, its own process), subscribed to Tessera's revocation stream.
 * The same handler without authentication (9), with an API key (9k) and with the
 * owner's Tessera JWT (9j), measured in the interleaved rounds, so the ratios compare
 * like with like. The stream's credential is an API key of the bench owner (made an
 * instance admin) scoped to `tessera.v1.RevocationService/*`; when the stream cannot be
 * opened the service runs without it (the 0.2 behaviour) and the rows say so.
 */
import { bearer } from "../constants.js";
import type { BenchContext } from "../context.js";
import { connectCall } from "../harness/connect-call.js";
import { startEmbedService, type EmbedService } from "../harness/embed-process.js";
import { sleep } from "../harness/sleep.js";
import type { InterleavedScenario } from "../scenario.js";

/** The procedure under load, and its body. */
export const GREET = "/greet.v1.GreetService/Greet";
const GREET_BODY = JSON.stringify({ name: "bench" });

/** The embedding service of a run, and whether it watches revocations (or why not). */
export interface Embedding {
  service: EmbedService;
  stream: boolean;
  note?: string;
}

const started = new WeakMap<BenchContext, Promise<Embedding>>();

/** Starts (once per run) the embedding service against instance A. */
export function embedding(ctx: BenchContext): Promise<Embedding> {
  let p = started.get(ctx);
  if (!p) {
    p = startEmbedding(ctx);
    started.set(ctx, p);
  }
  return p;
}

async function startEmbedding(ctx: BenchContext): Promise<Embedding> {
  const watchKey = await watchCredential(ctx);
  if (watchKey) {
    const service = await startEmbedService(ctx.a.baseUrl, watchKey);
    for (let i = 0; i < 50; i++) {
      const s = await service.stats();
      if (s.stream?.live) return { service, stream: true };
      await sleep(100);
    }
    const why = (await service.stats()).stream?.lastError ?? "no message";
    await service.authed.stop();
    ctx.log(`bench: 9 revocation stream not live (${why}); measuring without it`);
    return { service: await startEmbedService(ctx.a.baseUrl, undefined), stream: false, note: `no revocation stream: ${why}` };
  }
  return { service: await startEmbedService(ctx.a.baseUrl, undefined), stream: false, note: "no revocation stream: no watch key" };
}

/** An API key allowed to watch revocations: the owner becomes an instance admin and creates one scoped to RevocationService. */
async function watchCredential(ctx: BenchContext): Promise<string | undefined> {
  await ctx.pool.query("update users set is_instance_admin = true where id = $1", [ctx.ownerId]);
  const r = await connectCall(
    ctx.a.baseUrl,
    "tessera.v1.ApiKeyService/CreateAccountApiKey",
    {
      accountId: ctx.accountId,
      name: "bench-watch",
      expiresAt: new Date(Date.now() + 7 * 24 * 3600 * 1000).toISOString(),
    },
    bearer(ctx.jwt),
  );
  if (r.status !== 200 || typeof r.json.keyValue !== "string") {
    ctx.log(`bench: 9 watch key refused: ${r.status} ${JSON.stringify(r.json).slice(0, 200)}`);
    return undefined;
  }
  return r.json.keyValue as string;
}

/** 9: the handler without authentication (the baseline). */
export const embedNoAuth: InterleavedScenario = {
  id: "9",
  name: "Embedding service (@tessera/connect), no auth",
  async prepare(ctx) {
    const e = await embedding(ctx);
    return { server: e.service.open, path: GREET, body: GREET_BODY };
  },
};

/** 9k: the same handler behind the interceptor, with the main API key (warm). */
export const embedApiKey: InterleavedScenario = {
  id: "9k",
  name: "  same, API key",
  async prepare(ctx) {
    if (!ctx.mainKey) return { unavailable: "API keys not available" };
    const e = await embedding(ctx);
    return { server: e.service.authed, path: GREET, body: GREET_BODY, headers: bearer(ctx.mainKey.key) };
  },
};

/** 9j: the same handler behind the interceptor, with the owner's Tessera JWT. */
export const embedJwt: InterleavedScenario = {
  id: "9j",
  name: "  same, Tessera JWT (ES256)",
  async prepare(ctx) {
    const e = await embedding(ctx);
    return { server: e.service.authed, path: GREET, body: GREET_BODY, headers: bearer(ctx.jwt) };
  },
};
