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
  const serversOf = (q: RoundLoad) => [q.server, ...(q.alternates ?? [])];
  const serverIndex = (q: RoundLoad, round: number) => round % serversOf(q).length;
  for (const { load } of ready) {
    for (const server of serversOf(load)) {
      if (opts.warmupS <= 0) continue;
      await load.beforeSlice?.(server);
      await runLoad(loadSpec({ ...load, server }, opts.warmupS));
    }
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
  // The same per instance of a scenario with alternates: how far instances started alike differ.
  const perInstance = new Map<string, Array<{ cpuS: number; requests: number }>>();
  for (let r = 0; r < opts.rounds; r++) {
    // Odd rounds run the scenarios in reverse order, so no scenario always follows the same one.
    for (const { scenario, load } of r % 2 === 0 ? ready : [...ready].reverse()) {
      const i = serverIndex(load, r);
      const server = serversOf(load)[i]!;
      await load.beforeSlice?.(server);
      const sampler = sampleRss([server.pid]);
      const cpuBefore = cpuSeconds(server.pid);
      const slice = await measure(loadSpec({ ...load, server }, ctx.slice), server.pid);
      slices.get(scenario.id)!.push(slice);
      const cpuAfter = cpuSeconds(server.pid);
      if (cpuBefore !== undefined && cpuAfter !== undefined) {
        cpu.set(scenario.id, (cpu.get(scenario.id) ?? 0) + cpuAfter - cpuBefore);
        if (load.alternates?.length) {
          const each = perInstance.get(scenario.id) ?? serversOf(load).map(() => ({ cpuS: 0, requests: 0 }));
          each[i]!.cpuS += cpuAfter - cpuBefore;
          each[i]!.requests += slice.requests;
          perInstance.set(scenario.id, each);
        }
      }
      rss.set(scenario.id, Math.max(rss.get(scenario.id) ?? 0, ...Object.values(sampler.stop())));
    }
  }
  for (const { load } of ready) await load.stop?.();
  for (const [id, each] of perInstance)
    ctx.figures.instanceCpuUs.set(
      id,
      each.map((x) => (x.requests > 0 ? (x.cpuS * 1e6) / x.requests : Number.NaN)),
    );
  for (const { scenario } of ready) {
    const summary = summarizeSequential(slices.get(scenario.id)!);
    const cpuS = cpu.get(scenario.id);
    const cpuUsPerReq = cpuS !== undefined && summary.requests > 0 ? (cpuS * 1e6) / summary.requests : undefined;
    record(ctx.figures, scenario.id, scenario.name, summary, rss.get(scenario.id), undefined, cpuUsPerReq);
  }
}
