/**
 * Scenario 5: CheckToken with API keys the cache has never seen, with `keys` (100,000)
 * in the database: as fast as answered (5) and at a fixed offered rate (5r). 5a/5b: the
 * same `smallKeys` keys in cache-flushed passes, with `smallKeys` and then `keys` keys
 * in the table, so the table's size is the only difference.
 */
import { bearer, CHECK, FIXED_CONNECTIONS, FIXED_RATE } from "../constants.js";
import type { BenchContext } from "../context.js";
import { generateKeys, insertApiKeys } from "../fixtures.js";
import { runLoad, type LoadResult } from "../harness/load.js";
import { sampleRss } from "../harness/rss.js";
import { sleep } from "../harness/sleep.js";
import { summarizeParallel, summarizeSequential } from "../harness/summary.js";
import { record, skip } from "../results.js";
import type { SequentialScenario } from "../scenario.js";

/** Scenario 5 (5, 5r, 5a, 5b): n/a when API keys do not work. */
export const unseenKeys: SequentialScenario = {
  id: "5",
  async run(ctx) {
    const { opts, log, pool, accountId, ownerId, figures } = ctx;
    if (!ctx.mainKey) return skip(figures, "5", "CheckToken, API keys not in cache", "API keys not available");
    log(`bench: 5 inserting ${opts.smallKeys} keys`);
    const small = generateKeys(opts.smallKeys);
    await insertApiKeys(pool, accountId, ownerId, small, "bench-small");
    const smallPasses = await cacheFlushedPasses(ctx, small);
    log(`bench: 5 inserting ${opts.keys - opts.smallKeys} more keys (${opts.keys} in all)`);
    const large = generateKeys(opts.keys - opts.smallKeys);
    await insertApiKeys(pool, accountId, ownerId, large, "bench-large");
    const largePasses = await cacheFlushedPasses(ctx, small);
    const rssPasses = Math.max(smallPasses.rss, largePasses.rss);
    const comparison = {
      small: summarizeSequential(smallPasses.runs),
      large: summarizeSequential(largePasses.runs),
      smallKeys: opts.smallKeys,
      largeKeys: opts.keys,
    };
    figures.scenario5Comparison = comparison;

    log(`bench: 5 CheckToken, unseen keys, ${opts.keys} in the database`);
    const unseen = await unseenRuns(ctx, large);
    record(
      figures,
      "5",
      `CheckToken, API keys not in cache, ${opts.keys.toLocaleString("en")} in DB`,
      unseen.open,
      Math.max(unseen.openRss, rssPasses),
      unseen.reused ? "ran out of unseen keys: some requests were cache hits" : undefined,
    );
    record(figures, "5r", `  same, offered at a fixed ${FIXED_RATE} req/s (${FIXED_CONNECTIONS} connections)`, unseen.fixed, unseen.fixedRss);
    record(
      figures,
      "5a",
      `  unseen keys, ${opts.smallKeys.toLocaleString("en")} in DB (${opts.passes} x ${opts.smallKeys} requests)`,
      comparison.small,
      rssPasses,
    );
    record(figures, "5b", `  unseen keys, ${opts.keys.toLocaleString("en")} in DB (same requests)`, comparison.large, rssPasses);
  },
};

/**
 * `passes` passes over `keys`, each key once per pass after a cache flush (a `flush_all`
 * revocation, which every instance applies). Pass 0 is a warm-up (query plans,
 * PostgreSQL buffers), not measured.
 */
async function cacheFlushedPasses(ctx: BenchContext, keys: string[]): Promise<{ runs: LoadResult[]; rss: number }> {
  const runs: LoadResult[] = [];
  let rss = 0;
  for (let p = -1; p < ctx.opts.passes; p++) {
    // A flush_all revocation in the log, announced like any other: every cache forgets everything.
    await ctx.pool.query(
      "with e as (insert into revocation_events (kind, target) values ('flush_all', '') returning sequence) select pg_notify('tessera_revocation', (select sequence::text from e))",
    );
    await sleep(100);
    let i = 0;
    const sampler = sampleRss([ctx.a.pid]);
    runs.push(
      await runLoad(
        ctx.spec(ctx.a.baseUrl, CHECK, {
          amount: keys.length,
          connections: Math.min(ctx.opts.connections, keys.length),
          vary: () => ({ headers: bearer(keys[i++ % keys.length]!) }),
        }),
      ),
    );
    rss = Math.max(rss, ...Object.values(sampler.stop()));
    if (p < 0) runs.pop();
  }
  return { runs, rss };
}

/** Each of `keys` at most once (never a cache hit, unless the run outlasts them): as fast as answered, then at the fixed rate. */
async function unseenRuns(ctx: BenchContext, keys: string[]) {
  let i = 0;
  let reused = false;
  const next = () => {
    if (i >= keys.length) reused = true;
    return { headers: bearer(keys[i++ % keys.length]!) };
  };
  const open = await ctx.measure([ctx.a], [ctx.spec(ctx.a.baseUrl, CHECK, { vary: next })], false);
  // The same at a fixed offered rate: what one verification costs without 50 requests queueing for it.
  const fixed = await ctx.measure([ctx.a], [ctx.spec(ctx.a.baseUrl, CHECK, { rate: FIXED_RATE, connections: FIXED_CONNECTIONS, vary: next })], false);
  return { open: summarizeParallel(open.runs), openRss: open.rss, fixed: summarizeParallel(fixed.runs), fixedRss: fixed.rss, reused };
}
