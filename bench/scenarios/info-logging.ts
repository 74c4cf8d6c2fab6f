/**
 * What info-level logging costs (issue 20: at most 5% of a bare RPC's throughput), each
 * level measured on the same processes: servers started at LOG_LEVEL=warn with
 * LOG_LEVEL_SIGUSR2=info, their stdout a file (as under a log collector), switched
 * between the two levels by SIGUSR2 before each measurement.
 *
 * On 2026-12-02 two instances started alike differed by up to 17% under the same load
 * (more than the effect), so comparing an info instance with a warn instance measured
 * which process was luckier. One process at both levels compares like with like: the
 * same heap, the same compiled code, the same place in memory.
 *
 * - 1i and 1w: scenario 1's request as fast as answered, interleaved with the other
 *   scenarios; round r runs both on process r % 2, each after switching it to its level.
 * - 1s: one process under a fixed load, its level switched every interval in the order
 *   info, warn, warn, info, ... (so neither level always goes first); each interval's
 *   CPU per request (all threads, in nanoseconds) is compared with its neighbour's:
 *   across levels for the figure, within a level (warn/warn, info/info) for the control.
 *
 * Besides, the logger's own CPU per line is measured in this process (the server's
 * logger, the same line, to a file): a figure the machine's noise barely moves.
 */
import { closeSync, openSync, readSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fdSink } from "../../packages/server/src/lib/line-writer.js";
import { createLogger } from "../../packages/server/src/lib/logger.js";
import { CONFIG } from "../constants.js";
import { onCleanup } from "../harness/cleanup.js";
import { cpuNanos } from "../harness/cpu.js";
import { runLoad } from "../harness/load.js";
import { ALL_CPUS, canPin, LOAD_CPU, pin, SERVER_CPU } from "../harness/pin.js";
import { startTessera, type Child } from "../harness/processes.js";
import { sleep } from "../harness/sleep.js";
import type { InterleavedScenario, SequentialScenario } from "../scenario.js";
import type { BenchContext } from "../context.js";

type Level = "info" | "warn";

/** Processes 1i and 1w share (round r on process r % n). */
const INSTANCES = 2;

/** A server whose level the benchmark switches, and what it knows of its log file. */
interface Switchable {
  server: Child;
  file: string;
  level: Level;
  /** "log level changed" lines seen so far in the file, and how far it was read. */
  switches: number;
  readTo: number;
}

/** A server at LOG_LEVEL=warn that SIGUSR2 switches to info and back, its stdout a file. */
async function switchable(ctx: BenchContext, id: string): Promise<Switchable> {
  const file = path.join(tmpdir(), `tessera-bench-${id}-${process.pid}-${Math.random().toString(36).slice(2, 8)}.log`);
  const fd = openSync(file, "w");
  const server = await startTessera({ ...ctx.tesseraEnv, LOG_LEVEL: "warn", LOG_LEVEL_SIGUSR2: "info" }, [], fd);
  closeSync(fd);
  onCleanup(async () => rmSync(file, { force: true }));
  return { server, file, level: "warn", switches: 0, readTo: 0 };
}

const SWITCH_LINE = '"msg":"log level changed"';

/** Counts the switch lines written since the last read (the file's new bytes only: it holds every RPC line too). */
function countSwitches(s: Switchable): number {
  const size = statSync(s.file).size;
  if (size <= s.readTo) return s.switches;
  const fd = openSync(s.file, "r");
  try {
    // Back a line's length, so a switch line cut by the previous read is counted whole once.
    const from = Math.max(0, s.readTo - SWITCH_LINE.length);
    const buf = Buffer.alloc(size - from);
    readSync(fd, buf, 0, buf.length, from);
    const text = buf.toString("utf8");
    for (let i = text.indexOf(SWITCH_LINE); i !== -1; i = text.indexOf(SWITCH_LINE, i + 1)) {
      if (from + i + SWITCH_LINE.length > s.readTo) s.switches++;
    }
    s.readTo = size;
    return s.switches;
  } finally {
    closeSync(fd);
  }
}

/** Switches `s` to `level` (SIGUSR2) and waits until its log says so (up to 5 s). */
async function setLevel(s: Switchable, level: Level): Promise<void> {
  if (s.level === level) return;
  const expected = s.switches + 1;
  process.kill(s.server.pid, "SIGUSR2");
  const deadline = Date.now() + 5000;
  while (countSwitches(s) < expected) {
    if (Date.now() > deadline) throw new Error(`tessera ${s.server.pid} did not log its switch to ${level} within 5 s`);
    await sleep(10);
  }
  s.level = level;
}

/** The processes 1i and 1w share, started once per run, and how to stop them (once, whichever scenario asks first). */
interface Shared {
  all: Switchable[];
  stop(): Promise<void>;
}
const shared = new WeakMap<BenchContext, Promise<Shared>>();
function sharedInstances(ctx: BenchContext): Promise<Shared> {
  let started = shared.get(ctx);
  if (!started) {
    started = (async () => {
      const all: Switchable[] = [];
      for (let i = 0; i < INSTANCES; i++) all.push(await switchable(ctx, `1iw${i}`));
      let stopped: Promise<void> | undefined;
      const stop = () => {
        stopped ??= (async () => {
          let bytes = 0;
          for (const s of all) {
            await s.server.stop();
            bytes += statSync(s.file).size;
          }
          ctx.log(`bench: 1i/1w wrote ${Math.round(bytes / 1024)} KiB of log lines, ${all.map(countSwitches).join("+")} level switches`);
        })();
        return stopped;
      };
      return { all, stop };
    })();
    shared.set(ctx, started);
  }
  return started;
}

/** 1i or 1w: scenario 1's request on the shared processes, each switched to `level` before its slice. */
function atLevel(level: Level): InterleavedScenario["prepare"] {
  return async (ctx) => {
    if (level === "info") ctx.figures.logLineCpuUs = loggerCpuPerLine();
    const { all, stop } = await sharedInstances(ctx);
    const byPid = new Map(all.map((s) => [s.server.pid, s]));
    return {
      server: all[0]!.server,
      alternates: all.slice(1).map((s) => s.server),
      path: CONFIG,
      beforeSlice: (server) => setLevel(byPid.get(server.pid)!, level),
      stop,
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
  name: "GetAuthConfig at info (a line per RPC to a file; SIGUSR2)",
  prepare: atLevel("info"),
};

/** Scenario 1w (interleaved): 1i's control, the same processes switched back to warn. */
export const warnLogging: InterleavedScenario = {
  id: "1w",
  name: "  same processes at warn (1i's control)",
  prepare: atLevel("warn"),
};

/** Requests per second offered in scenario 1s (well under one core). */
const SWITCHED_RATE = 1000;
/** Seconds per interval of scenario 1s. */
const INTERVAL_S = 2;
/** Pause before each interval of scenario 1s (ms). */
const SETTLE_MS = 300;

/** The level of interval i: info, warn, warn, info, repeated. */
function levelOf(i: number): Level {
  return i % 4 === 0 || i % 4 === 3 ? "info" : "warn";
}

/** Scenario 1s (sequential): one process, its level switched every interval at a fixed load; warn/info CPU per request of neighbouring intervals. */
export const loggingSwitched: SequentialScenario = {
  id: "1s",
  async run(ctx) {
    const { opts } = ctx;
    ctx.log(
      `bench: 1s one process at ${SWITCHED_RATE} req/s, its level switched every ${INTERVAL_S} s${canPin() ? ` (server on CPU ${SERVER_CPU}, load on CPU ${LOAD_CPU})` : ""}`,
    );
    const s = await switchable(ctx, "1s");
    const spec = (durationS: number) => ctx.spec(s.server.baseUrl, CONFIG, { durationS, rate: SWITCHED_RATE });
    for (const level of ["info", "warn"] as const) {
      await setLevel(s, level);
      if (opts.warmupS > 0) await runLoad(spec(opts.warmupS));
    }
    const intervals = opts.smoke ? 4 : 4 * Math.max(5, opts.rounds);
    const perReq: Array<{ level: Level; us: number }> = [];
    // The server on a core of its own and this process (the load generator) on the other.
    const pinned = canPin();
    if (pinned) {
      pin(s.server.pid, SERVER_CPU);
      pin(process.pid, LOAD_CPU);
    }
    try {
      for (let i = 0; i < intervals; i++) {
        await setLevel(s, levelOf(i));
        // The same pause before every interval, switched or not: an interval that starts
        // after a pause (the wait for a switch) was measured ~7% cheaper than one right
        // after another, which biased the control (neighbours at one level).
        await sleep(SETTLE_MS);
        const before = cpuNanos(s.server.pid);
        const run = await runLoad(spec(opts.smoke ? 1 : INTERVAL_S));
        const after = cpuNanos(s.server.pid);
        if (before === undefined || after === undefined || run.requests === 0) continue;
        perReq.push({ level: levelOf(i), us: (after - before) / 1000 / run.requests });
      }
    } finally {
      if (pinned) pin(process.pid, ALL_CPUS);
    }
    await s.server.stop();
    // Neighbours: info,warn | warn,warn | warn,info | info,info | ... across levels the
    // figure (warn over info, a throughput-like ratio), within a level the control.
    const ratios: number[] = [];
    const controlRatios: number[] = [];
    for (let i = 1; i < perReq.length; i++) {
      const [a, b] = [perReq[i - 1]!, perReq[i]!];
      if (a.level === b.level) controlRatios.push(b.us / a.us);
      else ratios.push(a.level === "warn" ? a.us / b.us : b.us / a.us);
    }
    const mean = (level: Level) => {
      const xs = perReq.filter((p) => p.level === level).map((p) => p.us);
      return xs.reduce((x, y) => x + y, 0) / Math.max(1, xs.length);
    };
    ctx.figures.loggingSwitched = { rate: SWITCHED_RATE, intervalS: INTERVAL_S, ratios, controlRatios, infoCpuUs: mean("info"), warnCpuUs: mean("warn") };
  },
};
