/**
 * Scenario 8: a second Tessera instance on the same database. Throughput: rounds of
 * (A alone, A and B together), so the ratio compares like with like (8, 8a).
 * Revocation: a key created on A and checked on both is deleted on A; B is polled every
 * 10 ms until it refuses the key.
 */
import { bearer, CHECK } from "../constants.js";
import type { BenchContext } from "../context.js";
import { connectCall } from "../harness/connect-call.js";
import { runLoad, type LoadResult } from "../harness/load.js";
import { startTessera, type Child } from "../harness/processes.js";
import { sampleRss } from "../harness/rss.js";
import { sleep } from "../harness/sleep.js";
import { summarizeParallel, summarizeSequential, type Summary } from "../harness/summary.js";
import { record, skip, type BenchResults } from "../results.js";
import type { SequentialScenario } from "../scenario.js";

/** Scenario 8 (8, 8a, and the revocation trials): n/a when API keys do not work. */
export const twoInstances: SequentialScenario = {
  id: "8",
  async run(ctx) {
    if (!ctx.mainKey) return skip(ctx.figures, "8", "Two instances", "API keys not available");
    ctx.log("bench: 8 second instance, both under load");
    const b = await startTessera(ctx.tesseraEnv);
    const warmB = await connectCall(b.baseUrl, CHECK, {}, bearer(ctx.mainKey.key));
    if (warmB.status !== 200) throw new Error(`instance B rejected the key: ${warmB.status}`);
    await throughput(ctx, ctx.mainKey.key, b);
    ctx.log("bench: 8 revocation across instances");
    ctx.figures.revocation = await revocation(ctx, b);
    await b.stop();
  },
};

/** Rounds of (A alone, A and B together); records 8 (both) and 8a (A alone). */
async function throughput(ctx: BenchContext, key: string, b: Child): Promise<void> {
  const { a, opts, slice } = ctx;
  const keySpec = (base: string, durS: number) => ctx.spec(base, CHECK, { headers: bearer(key), durationS: durS });
  if (opts.warmupS > 0) await Promise.all([runLoad(keySpec(a.baseUrl, opts.warmupS)), runLoad(keySpec(b.baseUrl, opts.warmupS))]);
  const alone: LoadResult[] = [];
  const both: Summary[] = [];
  let rss = 0;
  for (let r = 0; r < opts.rounds; r++) {
    alone.push(await runLoad(keySpec(a.baseUrl, slice)));
    const sampler = sampleRss([a.pid, b.pid]);
    both.push(summarizeParallel(await Promise.all([runLoad(keySpec(a.baseUrl, slice)), runLoad(keySpec(b.baseUrl, slice))])));
    rss = Math.max(rss, ...Object.values(sampler.stop()));
  }
  const together: Summary = {
    rps: both.reduce((x, y) => x + y.rps, 0) / both.length,
    // Pooled percentiles are not derivable from per-round summaries: take the worst round.
    p50: Math.max(...both.map((x) => x.p50)),
    p99: Math.max(...both.map((x) => x.p99)),
    errors: both.reduce((x, y) => x + y.errors, 0),
    requests: both.reduce((x, y) => x + y.requests, 0),
  };
  record(ctx.figures, "8", "CheckToken, API key, two instances together", together, rss, "p50/p99: worst round");
  record(ctx.figures, "8a", "  same, one instance (interleaved with 8)", summarizeSequential(alone), rss);
}

/** `revocationTrials` trials: ms from sending the delete until A, and until B, refuses the key (scenario 11 uses it too). */
export async function revocation(ctx: BenchContext, b: Child): Promise<NonNullable<BenchResults["revocation"]>> {
  const { a } = ctx;
  const cross: number[] = [];
  const crossAfter: number[] = [];
  const same: number[] = [];
  for (let t = 0; t < ctx.opts.revocationTrials; t++) {
    const k = await ctx.createKey(a.baseUrl, `bench-revoke-${t}`);
    if (!k) throw new Error("could not create a key for the revocation trial");
    for (const s of [a, b]) {
      const r = await connectCall(s.baseUrl, CHECK, {}, bearer(k.key));
      if (r.status !== 200) throw new Error(`fresh key rejected before revocation: ${r.status}`);
    }
    const t0 = performance.now();
    const del = await connectCall(a.baseUrl, "tessera.v1.ApiKeyService/DeleteAccountApiKey", { id: k.id }, bearer(ctx.jwt));
    const t1 = performance.now();
    if (del.status !== 200) throw new Error(`DeleteAccountApiKey answered ${del.status}`);
    const onA = await connectCall(a.baseUrl, CHECK, {}, bearer(k.key));
    same.push(onA.status === 200 ? Number.POSITIVE_INFINITY : performance.now() - t0);
    const deadline = t0 + 5_000;
    let seen = Number.POSITIVE_INFINITY;
    while (performance.now() < deadline) {
      const r = await connectCall(b.baseUrl, CHECK, {}, bearer(k.key));
      if (r.status !== 200) {
        seen = performance.now() - t0;
        break;
      }
      await sleep(10);
    }
    cross.push(seen);
    crossAfter.push(Math.max(0, seen - (t1 - t0)));
  }
  return { crossInstanceMs: cross, crossAfterResponseMs: crossAfter, sameInstanceMs: same };
}
