/**
 * Scenario 1i: scenario 1's request on instances that log every RPC at LOG_LEVEL=info,
 * one JSON line per RPC written to a file (as under a log collector). Scenario 1w is its
 * control: instances started the same way (fresh, stdout a file) at LOG_LEVEL=warn, so 1i
 * vs 1w differ only in the level. Each runs on two processes that take the rounds in
 * turn (one process can be a few percent faster than its twin for no reason of its own).
 * Both are measured interleaved with scenario 1 (instance A, which also served the setup
 * and holds more), so the ratios 1i/1w and 1i/1 are what info-level logging costs.
 *
 * Besides, the logger's own CPU per line is measured in this process (the server's
 * logger, the same line, to a file): a figure the machine's noise barely moves.
 *
 * Scenario 1s measures the two levels side by side: an info and a warn instance under the
 * same fixed load at the same time, each trial giving the ratio of their CPU per request.
 * A shared machine whose speed drifts by seconds (here up to 2x) slows both alike. A
 * second warn instance is the A/A control: on 2026-12-02 two warn instances differed by
 * a median 17% in one run, more than the 5% the ratio is meant to show, so every run
 * reports its control next to the figure.
 */
import { closeSync, openSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fdSink } from "../../packages/server/src/lib/line-writer.js";
import { createLogger } from "../../packages/server/src/lib/logger.js";
import { CONFIG } from "../constants.js";
import { onCleanup } from "../harness/cleanup.js";
import { cpuSeconds } from "../harness/cpu.js";
import { runLoad } from "../harness/load.js";
import { startTessera, type Child } from "../harness/processes.js";
import type { InterleavedScenario, SequentialScenario } from "../scenario.js";
import type { BenchContext } from "../context.js";

/** Processes per scenario. */
const INSTANCES = 2;

/** An instance at `level` whose stdout is a file. */
async function loggingInstance(ctx: BenchContext, id: string, level: "info" | "warn"): Promise<{ server: Child; file: string }> {
  const file = path.join(tmpdir(), `tessera-bench-${id}-${process.pid}-${Math.random().toString(36).slice(2, 8)}.log`);
  const fd = openSync(file, "w");
  const server = await startTessera({ ...ctx.tesseraEnv, LOG_LEVEL: level }, [], fd);
  closeSync(fd);
  onCleanup(async () => rmSync(file, { force: true }));
  return { server, file };
}

/** `INSTANCES` instances at `level` serving scenario 1's request in turn. */
function loggingInstances(id: string, level: "info" | "warn"): InterleavedScenario["prepare"] {
  return async (ctx) => {
    if (level === "info") ctx.figures.logLineCpuUs = loggerCpuPerLine();
    const started: Array<{ server: Child; file: string }> = [];
    for (let i = 0; i < INSTANCES; i++) started.push(await loggingInstance(ctx, id, level));
    return {
      server: started[0]!.server,
      alternates: started.slice(1).map((s) => s.server),
      path: CONFIG,
      stop: async () => {
        let bytes = 0;
        for (const s of started) {
          await s.server.stop();
          bytes += statSync(s.file).size;
        }
        ctx.log(`bench: scenario ${id} wrote ${Math.round(bytes / 1024)} KiB of log lines`);
      },
    };
  };
}

/** The server's logger's CPU per info line (µs): the per-RPC line, 30 to a turn, written to a file. */
function loggerCpuPerLine(): number {
  const file = path.join(tmpdir(), `tessera-bench-logger-${process.pid}.log`);
  const fd = openSync(file, "w");
  try {
    const logger = createLogger({ json: true, level: "info", destination: fdSink(fd) });
    const line = { procedure: "tessera.v1.AuthService/GetAuthConfig", code: "ok", duration_ms: 0.42, client_ip: "127.0.0.1" };
    const n = 200_000;
    for (let i = 0; i < 20_000; i++) logger.info(line, "rpc"); // warm-up
    logger.flush();
    const before = process.cpuUsage();
    for (let i = 0; i < n; i++) {
      logger.info(line, "rpc");
      if (i % 30 === 29) logger.flush();
    }
    logger.flush();
    const used = process.cpuUsage(before);
    return (used.user + used.system) / n;
  } finally {
    closeSync(fd);
    rmSync(file, { force: true });
  }
}

/** Scenario 1i (interleaved). */
export const infoLogging: InterleavedScenario = {
  id: "1i",
  name: "GetAuthConfig, LOG_LEVEL=info (a line per RPC to a file)",
  prepare: loggingInstances("1i", "info"),
};

/** Scenario 1w (interleaved): 1i's control, the same kind of instances at LOG_LEVEL=warn. */
export const warnLogging: InterleavedScenario = {
  id: "1w",
  name: "  same, LOG_LEVEL=warn (1i's control: instances started alike)",
  prepare: loggingInstances("1w", "warn"),
};

/** Requests per second offered to each instance in scenario 1s (both together stay well under two cores). */
const SIDE_BY_SIDE_RATE = 1000;

/** Scenario 1s (sequential): info and warn instances side by side, CPU per request compared trial by trial, with an A/A control. */
export const loggingSideBySide: SequentialScenario = {
  id: "1s",
  async run(ctx) {
    const { opts } = ctx;
    ctx.log("bench: 1s info and two warn instances side by side at a fixed rate");
    const info = await loggingInstance(ctx, "1s-info", "info");
    const warn = await loggingInstance(ctx, "1s-warn", "warn");
    // The control: a second warn instance, so warn2/warn shows what two instances started
    // alike differ by under the same load (the noise the info/warn ratio has to clear).
    const warn2 = await loggingInstance(ctx, "1s-warn2", "warn");
    const all = [info.server, warn.server, warn2.server];
    const spec = (c: Child, durationS: number) => ctx.spec(c.baseUrl, CONFIG, { durationS, rate: SIDE_BY_SIDE_RATE });
    if (opts.warmupS > 0) await Promise.all(all.map((c) => runLoad(spec(c, opts.warmupS))));
    const trials = opts.smoke ? 1 : Math.max(5, opts.rounds * 2);
    const seconds = opts.smoke ? 1 : 5;
    const ratios: number[] = [];
    const controlRatios: number[] = [];
    const used = [0, 0, 0];
    const served = [0, 0, 0];
    for (let t = 0; t < trials; t++) {
      const before = all.map((c) => cpuSeconds(c.pid) ?? Number.NaN);
      const runs = await Promise.all(all.map((c) => runLoad(spec(c, seconds))));
      const cpu = all.map((c, i) => (cpuSeconds(c.pid) ?? Number.NaN) - before[i]!);
      const perReq = cpu.map((x, i) => (x * 1e6) / Math.max(1, runs[i]!.requests));
      for (let i = 0; i < all.length; i++) {
        used[i]! += cpu[i]!;
        served[i]! += runs[i]!.requests;
      }
      if (perReq.every((x) => Number.isFinite(x) && x > 0)) {
        ratios.push(perReq[1]! / perReq[0]!);
        controlRatios.push(perReq[2]! / perReq[1]!);
      }
    }
    for (const c of all) await c.stop();
    const perRequest = (i: number) => (used[i]! * 1e6) / Math.max(1, served[i]!);
    ctx.figures.loggingSideBySide = { rate: SIDE_BY_SIDE_RATE, ratios, controlRatios, infoCpuUs: perRequest(0), warnCpuUs: perRequest(1) };
  },
};
