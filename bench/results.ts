/**
 * What a benchmark run produces: the table's rows, the targets, the machine and the
 * settings (bench/results.json), and the figures the scenarios gather on the way.
 */
import os from "node:os";
import type { Summary } from "./harness/summary.js";
import type { BenchOptions } from "./options.js";

/** One line of the table. */
export interface Row {
  id: string;
  scenario: string;
  rps: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  errors: number | null;
  requests: number | null;
  /** Max RSS of the server process(es) measured, MB. */
  rssMb: number | null;
  /** The server process's CPU time per request, µs (interleaved scenarios). */
  cpuUsPerReq?: number | null;
  /** Why there are no numbers (feature missing), or extra facts. */
  note?: string;
}

/** One target of issue 8, checked as a ratio (or value) of this run. */
export interface Target {
  name: string;
  target: string;
  measured: string;
  /** The measured ratio or value the check compares. */
  value: number | null;
  pass: boolean | null;
  note?: string;
}

/** Everything a run measured (bench/results.json). */
export interface BenchResults {
  machine: {
    cpus: number;
    cpuModel: string;
    memoryGb: number;
    node: string;
    platform: string;
    date: string;
    /** 1-minute load average when the run started and ended (other work on the same cores skews every figure). */
    loadAvgStart: number;
    loadAvgEnd: number;
  };
  /** Not the Redis URL: it may carry a password. */
  settings: Omit<BenchOptions, "log" | "installSignals" | "redisUrl"> & { logLevel: string; pipelining: number };
  rows: Row[];
  /** Scenario 8: ms from sending the delete to the other instance refusing the key, and from the delete's response. */
  revocation: { crossInstanceMs: number[]; crossAfterResponseMs: number[]; sameInstanceMs: number[] } | null;
  scenario5Comparison: { small: Summary; large: Summary; smallKeys: number; largeKeys: number } | null;
  /** Scenario 11: ms from sending the delete on A to B refusing the key, B's DATABASE_URL through PgBouncer (transaction mode). */
  revocationPooler: { listenUrlMs: number[]; failSafeMs: number[] } | { unavailable: string } | null;
  /** Scenario 10: the embedding service's revocation trials, and what warm keys cost it. */
  embedding: EmbeddingFigures | null;
  /** Scenario 1i: the logger's CPU per line (µs); scenario 1s: one process switched between info and warn. */
  logging: { lineCpuUs: number | null; switched: Figures["loggingSwitched"]; instanceCpuUs: Record<string, number[]> };
  targets: Target[];
}

/** Scenario 10's figures. */
interface EmbeddingFigures {
  /** Whether the embedding service watched the revocation stream (else: why not). */
  stream: boolean;
  note?: string;
  /** ms from sending the delete to the embedding service refusing the key, per trial (Infinity: never within 5 s). */
  revocationMs: number[];
  /** The same, from the delete's response. */
  revocationAfterResponseMs: number[];
  /** Calls with warm keys, and the CheckToken calls they cost (target 0). */
  warmCalls: number;
  warmCheckTokens: number;
}

/** What the scenarios have measured so far; the targets are checked from it. */
export interface Figures {
  rows: Row[];
  /** The summary behind each measured row, by row id. */
  summaries: Map<string, Summary>;
  /** Why a scenario has no numbers, by scenario id. */
  unavailable: Map<string, string>;
  scenario5Comparison: BenchResults["scenario5Comparison"];
  revocation: BenchResults["revocation"];
  revocationPooler: BenchResults["revocationPooler"];
  embedding: EmbeddingFigures | null;
  /** Scenario 1i: the logger's own CPU per RPC line (µs), measured in this process, writing to a file. */
  logLineCpuUs: number | null;
  /**
   * Scenario 1s: one process under a fixed load, its level switched every interval: warn's
   * CPU per request over info's in neighbouring intervals, the control (neighbours at one
   * level), and the means.
   */
  loggingSwitched: { rate: number; intervalS: number; ratios: number[]; controlRatios: number[]; infoCpuUs: number; warnCpuUs: number } | null;
  /** Scenarios run on several instances (1i, 1w): each instance's server CPU per request (µs), in instance order. */
  instanceCpuUs: Map<string, number[]>;
}

/** Empty figures, for the start of a run. */
export function newFigures(): Figures {
  return {
    rows: [],
    summaries: new Map(),
    unavailable: new Map(),
    scenario5Comparison: null,
    revocation: null,
    revocationPooler: null,
    embedding: null,
    logLineCpuUs: null,
    loggingSwitched: null,
    instanceCpuUs: new Map(),
  };
}

/** Records a measured row (and its summary, for the targets). */
export function record(f: Figures, id: string, scenario: string, s: Summary, rss: number | undefined, note?: string, cpuUsPerReq?: number): void {
  f.rows.push({
    id,
    scenario,
    rps: s.rps,
    p50Ms: s.p50,
    p99Ms: s.p99,
    errors: s.errors,
    requests: s.requests,
    rssMb: rss ?? null,
    ...(cpuUsPerReq !== undefined ? { cpuUsPerReq } : {}),
    ...(note ? { note } : {}),
  });
  f.summaries.set(id, s);
}

/** Records a row without numbers: the scenario could not run, and why. */
export function skip(f: Figures, id: string, scenario: string, reason: string): void {
  f.rows.push({ id, scenario, rps: null, p50Ms: null, p99Ms: null, errors: null, requests: null, rssMb: null, note: `n/a (${reason})` });
  f.unavailable.set(id, reason);
}

/**
 * The rows in table order: by scenario number, each scenario's rows in the order it
 * recorded them (scenario 7 is measured with 1-4 but listed after 6).
 */
export function tableOrder(rows: Row[]): Row[] {
  return [...rows].sort((x, y) => Number.parseInt(x.id, 10) - Number.parseInt(y.id, 10));
}

/** 1-minute load average, two decimals. */
export function loadAverage(): number {
  return Math.round(os.loadavg()[0]! * 100) / 100;
}

/** The machine the run measured, for the results. */
export function machine(started: Date, loadAvgStart: number): BenchResults["machine"] {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? "unknown",
    memoryGb: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    date: started.toISOString(),
    loadAvgStart,
    loadAvgEnd: loadAverage(),
  };
}

/** The settings the run used, for the results. */
export function settings(opts: BenchOptions): BenchResults["settings"] {
  return {
    durationS: opts.durationS,
    connections: opts.connections,
    keys: opts.keys,
    smallKeys: opts.smallKeys,
    passes: opts.passes,
    rounds: opts.rounds,
    warmupS: opts.warmupS,
    loginUsers: opts.loginUsers,
    loginConnections: opts.loginConnections,
    revocationTrials: opts.revocationTrials,
    embedRevocationTrials: opts.embedRevocationTrials,
    loadgen: opts.loadgen,
    smoke: opts.smoke,
    logLevel: "warn",
    pipelining: 1,
  };
}
