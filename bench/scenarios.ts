/**
 * The benchmark of issue 8: scenarios 1-8 (one module each in bench/scenarios/) against
 * real Tessera processes and the Better Auth peer, all in one run, and the targets
 * checked as ratios of that run. `runBench()` returns the results; bench/run.ts prints
 * and writes them. A new scenario is a module added to one of the two lists below.
 */
import { setUpBench } from "./context.js";
import { cleanupAll, installSignalHandlers } from "./harness/cleanup.js";
import { runInterleaved } from "./interleave.js";
import type { BenchOptions } from "./options.js";
import { loadAverage, machine, settings, tableOrder, type BenchResults } from "./results.js";
import type { InterleavedScenario, SequentialScenario } from "./scenario.js";
import { apiKeyCached } from "./scenarios/api-key-cached.js";
import { embeddingRevocation } from "./scenarios/embedding-revocation.js";
import { embedApiKey, embedJwt, embedNoAuth } from "./scenarios/embedding-service.js";
import { getAuthConfig } from "./scenarios/get-auth-config.js";
import { infoLogging, loggingSwitched, warnLogging } from "./scenarios/info-logging.js";
import { logins } from "./scenarios/logins.js";
import { peerApiKeyVerify } from "./scenarios/peer-api-key-verify.js";
import { providerJwt } from "./scenarios/provider-jwt.js";
import { tesseraJwt } from "./scenarios/tessera-jwt.js";
import { twoInstances } from "./scenarios/two-instances.js";
import { revocationPooler } from "./scenarios/revocation-pooler.js";
import { redisInstanceBare, scopedLimitedKeyMemory, scopedLimitedKeyRedis } from "./scenarios/scoped-limited-key.js";
import { unseenKeys } from "./scenarios/unseen-keys.js";
import { checkTargets } from "./targets.js";

// The options live in options.ts; test/bench-smoke.test.ts imports them from here.
export { benchOptions, type BenchOptions } from "./options.js";

/** Prepared in this order, then measured together in interleaved rounds. */
const INTERLEAVED: readonly InterleavedScenario[] = [
  getAuthConfig,
  infoLogging,
  warnLogging,
  apiKeyCached,
  tesseraJwt,
  providerJwt,
  peerApiKeyVerify,
  embedNoAuth,
  embedApiKey,
  embedJwt,
  scopedLimitedKeyMemory,
  scopedLimitedKeyRedis,
  redisInstanceBare,
];

/** Measured one after another, in this order, after the interleaved rounds. */
const SEQUENTIAL: readonly SequentialScenario[] = [loggingSwitched, unseenKeys, logins, twoInstances, embeddingRevocation, revocationPooler];

/** Whether scenario `id` (e.g. "9k") is selected by BENCH_ONLY (its number is enough). */
function selected(opts: BenchOptions, id: string): boolean {
  return !opts.only || opts.only.includes(id) || opts.only.includes(String(Number.parseInt(id, 10)));
}

/** Runs the whole benchmark. Always stops its processes and drops its databases. */
export async function runBench(opts: BenchOptions): Promise<BenchResults> {
  if (opts.installSignals !== false) installSignalHandlers();
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  try {
    const started = new Date();
    const loadAvgStart = loadAverage();
    const ctx = await setUpBench(opts, log);
    await runInterleaved(
      ctx,
      INTERLEAVED.filter((s) => selected(opts, s.id)),
    );
    for (const scenario of SEQUENTIAL.filter((s) => selected(opts, s.id))) await scenario.run(ctx);
    const rows = tableOrder(ctx.figures.rows);
    ctx.figures.rows = rows;
    return {
      machine: machine(started, loadAvgStart),
      settings: settings(opts),
      rows,
      revocation: ctx.figures.revocation,
      revocationPooler: ctx.figures.revocationPooler,
      scenario5Comparison: ctx.figures.scenario5Comparison,
      embedding: ctx.figures.embedding,
      logging: {
        lineCpuUs: ctx.figures.logLineCpuUs,
        switched: ctx.figures.loggingSwitched,
        instanceCpuUs: Object.fromEntries(ctx.figures.instanceCpuUs),
      },
      targets: checkTargets(ctx.figures, opts.connections),
    };
  } finally {
    await cleanupAll();
  }
}
