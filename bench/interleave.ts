/**
 * Runs the interleaved scenarios (1-4 and 7): `rounds` rounds of each in turn, each
 * round a `durationS / rounds` slice, so a machine that drifts (other work on the same
 * cores) shifts every scenario alike and the ratios between them hold.
 */
import type { BenchContext } from "./context.js";
import { runLoad, type LoadResult, type LoadSpec } from "./harness/load.js";
import { ALL_CPUS, canPin, LOAD_CPU, pin, SERVER_CPU } from "./harness/pin.js";
import { runWrk } from "./harness/wrk.js";
import { cpuSeconds } from "./harness/cpu.js";
import { sampleRss } from "./harness/rss.js";
import { summarizeSequential } from "./harness/summary.js";
import { record, skip } from "./results.js";
import type { InterleavedScenario, RoundLoad } from "./scenario.js";

/** Prepares the scenarios in order, runs the ready ones in interleaved rounds and records a row for each. */
export async function runInterleaved(ctx: BenchContext, scenarios: readonly InterleavedScenario[]): Promise<void> {
  const { opts } = ctx;
  const ready: Array<{ scenario: InterleavedScenario; load: RoundLoad }> = [];
  for (const scenario of scenarios) {
    const p = await scenario.prepare(ctx);
    if ("unavailable" in p) skip(ctx.figures, scenario.id, scenario.unavailableName ?? scenario.name, p.unavailable);
    else ready.push({ scenario, load: p });
  }
  ctx.log(`bench: ${ready.map((q) => q.scenario.id).join(", ")} interleaved, ${opts.rounds} round(s)`);
  const loadSpec = (q: RoundLoad, durS: number) => ctx.spec(q.server.baseUrl, q.path, { headers: q.headers, body: q.body, durationS: durS });
  const serverOf = (q: RoundLoad, round: number) => {
    const all = [q.server, ...(q.alternates ?? [])];
    return all[round % all.length]!;
  };
  for (const { load } of ready) {
    for (const server of [load.server, ...(load.alternates ?? [])]) if (opts.warmupS > 0) await runLoad(loadSpec({ ...load, server }, opts.warmupS));
  }
  // With wrk on a machine of 2+ cores, the server under load has a core of its own and wrk
  // another: requests per second are then the server's cost per request, whatever the
  // scheduler would have done with two busy processes on two cores.
  const pinned = opts.loadgen === "wrk" && canPin();
  const measure = async (spec: LoadSpec, pid: number) => {
    if (opts.loadgen !== "wrk") return runLoad(spec);
    if (!pinned) return runWrk(spec);
    pin(pid, SERVER_CPU);
    try {
      return await runWrk(spec, LOAD_CPU);
    } finally {
      pin(pid, ALL_CPUS);
    }
  };
  ctx.log(`bench: interleaved load by ${opts.loadgen}${pinned ? ` (server on CPU ${SERVER_CPU}, wrk on CPU ${LOAD_CPU})` : ""}`);
  const slices = new Map<string, LoadResult[]>(ready.map((q) => [q.scenario.id, []]));
  const rss = new Map<string, number>();
  // The server's CPU seconds during the slices: its cost per request, which other work on
  // the machine slows down but does not change (unlike requests per second).
  const cpu = new Map<string, number>();
  for (let r = 0; r < opts.rounds; r++) {
    for (const { scenario, load } of ready) {
      const server = serverOf(load, r);
      const sampler = sampleRss([server.pid]);
      const cpuBefore = cpuSeconds(server.pid);
      slices.get(scenario.id)!.push(await measure(loadSpec({ ...load, server }, ctx.slice), server.pid));
      const cpuAfter = cpuSeconds(server.pid);
      if (cpuBefore !== undefined && cpuAfter !== undefined) cpu.set(scenario.id, (cpu.get(scenario.id) ?? 0) + cpuAfter - cpuBefore);
      rss.set(scenario.id, Math.max(rss.get(scenario.id) ?? 0, ...Object.values(sampler.stop())));
    }
  }
  for (const { load } of ready) await load.stop?.();
  for (const { scenario } of ready) {
    const summary = summarizeSequential(slices.get(scenario.id)!);
    const cpuS = cpu.get(scenario.id);
    const cpuUsPerReq = cpuS !== undefined && summary.requests > 0 ? (cpuS * 1e6) / summary.requests : undefined;
    record(ctx.figures, scenario.id, scenario.name, summary, rss.get(scenario.id), undefined, cpuUsPerReq);
  }
}
