/**
 * Scenario 10: revocation in the embedding service of scenario 9. Each trial creates an
 * API key on instance A, warms it in the embedding service (one CheckToken, then
 * `WARM_CALLS` calls that must cost none), deletes it on A and polls the embedding
 * service every 5 ms until it refuses the key: ms from sending the delete, and from its
 * response.
 */
import { bearer } from "../constants.js";
import { connectCall } from "../harness/connect-call.js";
import { sleep } from "../harness/sleep.js";
import { skip } from "../results.js";
import type { SequentialScenario } from "../scenario.js";
import { embedding, GREET } from "./embedding-service.js";

const WARM_CALLS = 20;
const LIMIT_MS = 5_000;

/** Scenario 10 (after the interleaved rounds): n/a when API keys do not work. */
export const embeddingRevocation: SequentialScenario = {
  id: "10",
  async run(ctx) {
    if (!ctx.mainKey) return skip(ctx.figures, "10", "Embedding service revocation", "API keys not available");
    const e = await embedding(ctx);
    ctx.log(`bench: 10 revocation in the embedding service, ${ctx.opts.embedRevocationTrials} trials (${e.stream ? "revocation stream" : e.note})`);
    const greet = (key: string) => connectCall(e.service.authed.baseUrl, GREET, { name: "revoke" }, bearer(key));
    const ms: number[] = [];
    const afterResponse: number[] = [];
    let warmCalls = 0;
    let warmCheckTokens = 0;
    for (let t = 0; t < ctx.opts.embedRevocationTrials; t++) {
      const k = await ctx.createKey(ctx.a.baseUrl, `bench-embed-revoke-${t}`);
      if (!k) throw new Error("could not create a key for the embedding revocation trial");
      if ((await greet(k.key)).status !== 200) throw new Error("fresh key refused by the embedding service");
      const before = (await e.service.stats()).checkTokenCalls;
      for (let i = 0; i < WARM_CALLS; i++) if ((await greet(k.key)).status !== 200) throw new Error("warm key refused before revocation");
      warmCalls += WARM_CALLS;
      warmCheckTokens += (await e.service.stats()).checkTokenCalls - before;
      const t0 = performance.now();
      const del = await connectCall(ctx.a.baseUrl, "tessera.v1.ApiKeyService/DeleteAccountApiKey", { id: k.id }, bearer(ctx.jwt));
      const t1 = performance.now();
      if (del.status !== 200) throw new Error(`DeleteAccountApiKey answered ${del.status}`);
      let seen = Number.POSITIVE_INFINITY;
      while (performance.now() - t0 < LIMIT_MS) {
        const r = await greet(k.key);
        if (r.status !== 200) {
          if (r.status !== 401) throw new Error(`the embedding service answered ${r.status} for the deleted key`);
          seen = performance.now() - t0;
          break;
        }
        await sleep(5);
      }
      ms.push(seen);
      afterResponse.push(Math.max(0, seen - (t1 - t0)));
    }
    ctx.figures.embedding = { stream: e.stream, note: e.note, revocationMs: ms, revocationAfterResponseMs: afterResponse, warmCalls, warmCheckTokens };
  },
};
