/**
 * The benchmark's moving parts: child processes (Tessera servers, the peer) that are
 * always killed, bench databases that are always dropped, an RSS sampler reading
 * /proc, and a load runner around autocannon that records every response's latency
 * itself (so runs in parallel or in passes can be merged into one distribution).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import pg from "pg";
import { freePort } from "../test/helpers/net.js";

/** The repository root (bench/..). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

// ---------------------------------------------------------------------------
// Cleanup: every child and database registers here; runs once, on success, error or signal.

type Cleanup = () => Promise<void>;
const cleanups: Cleanup[] = [];
const liveChildren = new Set<ChildProcess>();

/** Registers a cleanup step (run in reverse order). */
export function onCleanup(fn: Cleanup): void {
  cleanups.push(fn);
}

/** Runs every registered cleanup step, newest first. Safe to call more than once. */
export async function cleanupAll(): Promise<void> {
  while (cleanups.length > 0) {
    const fn = cleanups.pop()!;
    await fn().catch((e: unknown) => process.stderr.write(`bench cleanup: ${(e as Error).message}\n`));
  }
}

let signalsInstalled = false;
/** Kills children and drops databases on SIGINT/SIGTERM; SIGKILLs children if the runner exits anyway. */
export function installSignalHandlers(): void {
  if (signalsInstalled) return;
  signalsInstalled = true;
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      process.stderr.write(`\nbench: ${sig}, cleaning up\n`);
      const hard = setTimeout(() => process.exit(130), 15_000);
      hard.unref();
      void cleanupAll().finally(() => process.exit(130));
    });
  }
  process.on("exit", () => {
    for (const c of liveChildren) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  const t = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(t);
  liveChildren.delete(child);
}

// ---------------------------------------------------------------------------
// Databases

/** The PostgreSQL server's admin URL (database `postgres`). */
export function adminUrl(): string {
  return process.env.BENCH_DATABASE_ADMIN_URL ?? process.env.TEST_DATABASE_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
}

/** The URL of database `name` on the admin URL's server. */
export function databaseUrl(name: string): string {
  const u = new URL(adminUrl());
  u.pathname = `/${name}`;
  return u.toString();
}

/** Creates an empty database and registers its drop (WITH FORCE). */
export async function createDatabase(name: string): Promise<string> {
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`bad database name ${name}`);
  const admin = new pg.Client({ connectionString: adminUrl(), connectionTimeoutMillis: 5_000 });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  onCleanup(async () => {
    const a = new pg.Client({ connectionString: adminUrl(), connectionTimeoutMillis: 5_000 });
    await a.connect();
    try {
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    } finally {
      await a.end();
    }
  });
  return databaseUrl(name);
}

// ---------------------------------------------------------------------------
// Processes

export interface Child {
  child: ChildProcess;
  pid: number;
  port: number;
  baseUrl: string;
  output(): string;
  stop(): Promise<void>;
}

function track(child: ChildProcess): { output: () => string } {
  liveChildren.add(child);
  let out = "";
  const keep = (d: Buffer) => {
    out += d.toString("utf8");
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  child.on("exit", () => liveChildren.delete(child));
  return { output: () => out };
}

/**
 * The node flags of `npm start` (package.json `scripts.start`, e.g. the young-generation
 * size), so the benchmark runs the server exactly as a deployment started with it does.
 */
export function startScriptNodeFlags(): string[] {
  const start = (JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { scripts: { start: string } }).scripts.start;
  const words = start.split(/\s+/);
  return words.slice(words.indexOf("node") + 1, words.indexOf("scripts/tessera.mjs")).filter((w) => w.startsWith("--"));
}

/** Starts the server as `npm start` does, with `env`, on a free port; resolves once /health answers 200. */
export async function startTessera(env: Record<string, string>, extraNodeArgs: string[] = []): Promise<Child> {
  const port = await freePort();
  const child = spawn(process.execPath, [...startScriptNodeFlags(), ...extraNodeArgs, path.join(ROOT, "packages/server/bin/tessera.js"), "serve"], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", HOST: "127.0.0.1", PORT: String(port), LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const { output } = track(child);
  const handle: Child = { child, pid: child.pid!, port, baseUrl: `http://127.0.0.1:${port}`, output, stop: () => stopChild(child) };
  onCleanup(handle.stop);
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`tessera exited early (code ${child.exitCode}): ${output().slice(-2000)}`);
    try {
      const r = await fetch(`${handle.baseUrl}/health`);
      await r.body?.cancel();
      if (r.status === 200) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`tessera did not become healthy: ${output().slice(-2000)}`);
    await sleep(100);
  }
  return handle;
}

export interface PeerChild extends Child {
  keys: string[];
}

/** Starts the Better Auth peer (bench/peer-better-auth.ts); resolves with its port and keys. */
export async function startPeer(dbUrl: string, keys: number): Promise<PeerChild> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "bench/peer-better-auth.ts")], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", PEER_DATABASE_URL: dbUrl, PEER_PORT: "0", PEER_KEYS: String(keys), NODE_ENV: "production" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const { output } = track(child);
  const stop = () => stopChild(child);
  onCleanup(stop);
  const ready = await new Promise<{ port: number; keys: string[] }>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`peer did not start: ${output().slice(-2000)}`)), 60_000);
    let buf = "";
    child.stdout!.on("data", (d: Buffer) => {
      buf += d.toString("utf8");
      for (const line of buf.split("\n")) {
        if (!line.startsWith("{")) continue;
        try {
          const j = JSON.parse(line) as { ready?: boolean; port: number; keys: string[] };
          if (j.ready) {
            clearTimeout(t);
            resolve(j);
          }
        } catch {
          /* partial line */
        }
      }
    });
    child.on("exit", (code) => {
      clearTimeout(t);
      reject(new Error(`peer exited (code ${code}): ${output().slice(-2000)}`));
    });
  });
  return { child, pid: child.pid!, port: ready.port, baseUrl: `http://127.0.0.1:${ready.port}`, output, stop, keys: ready.keys };
}

// ---------------------------------------------------------------------------
// RSS

/** Resident set size of a process in MB, from /proc (undefined when unavailable). */
export function rssMb(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Samples the processes' RSS every 100 ms until stopped; returns the maximum per pid (MB). */
export function sampleRss(pids: number[]): { stop(): Record<number, number> } {
  const max: Record<number, number> = {};
  const take = () => {
    for (const pid of pids) {
      const v = rssMb(pid);
      if (v !== undefined) max[pid] = Math.max(max[pid] ?? 0, v);
    }
  };
  take();
  const t = setInterval(take, 100);
  return {
    stop() {
      clearInterval(t);
      take();
      return max;
    },
  };
}

// ---------------------------------------------------------------------------
// Load

export interface LoadSpec {
  url: string;
  /** Request path, e.g. /tessera.v1.AuthService/CheckToken. */
  path: string;
  connections: number;
  /** Seconds; ignored when `amount` is set. */
  durationS: number;
  /** Offered load in requests per second over all connections (open loop); unset: as fast as answered. */
  rate?: number;
  /** Stop after exactly this many requests instead of after a duration. */
  amount?: number;
  /** Fixed headers (besides content-type). */
  headers?: Record<string, string>;
  /** Fixed JSON body (default `{}`). */
  body?: string;
  /** Per-request headers/body: called for every request (rotating keys, client IPs). */
  vary?: () => { headers?: Record<string, string>; body?: string };
}

export interface LoadResult {
  /** Responses received (any status). */
  requests: number;
  /** Seconds the run lasted. */
  seconds: number;
  /** Responses with a status other than 200, plus socket errors and timeouts. */
  errors: number;
  /** Every response's latency in ms (float). */
  latencies: number[];
}

/** Runs autocannon in this process (the servers run in others) and records every latency. */
export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const latencies: number[] = [];
  let bad = 0;
  const baseHeaders = { "content-type": "application/json", ...(spec.headers ?? {}) };
  const body = spec.body ?? "{}";
  const vary = spec.vary;
  const opts: autocannon.Options = {
    url: spec.url,
    connections: spec.connections,
    pipelining: 1,
    timeout: 10,
    ...(spec.amount !== undefined ? { amount: spec.amount } : { duration: spec.durationS }),
    ...(spec.rate !== undefined ? { overallRate: spec.rate } : {}),
    requests: [
      {
        method: "POST",
        path: spec.path,
        headers: baseHeaders,
        body,
        ...(vary
          ? {
              setupRequest: (req: autocannon.Request) => {
                const v = vary();
                return { ...req, headers: { ...baseHeaders, ...(v.headers ?? {}) }, body: v.body ?? body };
              },
            }
          : {}),
      },
    ],
  };
  const started = performance.now();
  let lastResponse = started;
  let instance: autocannon.Instance | undefined;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(opts, (err, res) => (err ? reject(err) : resolve(res)));
    instance.on("response", (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
      lastResponse = performance.now();
      latencies.push(responseTime);
      if (statusCode !== 200) bad++;
    });
  });
  void instance;
  // autocannon notices the end of a run on a 1 s tick: time the run up to its last response,
  // or a 1,000-request run would always last at least 1 s.
  const seconds = (lastResponse - started) / 1000;
  return { requests: latencies.length, seconds, errors: bad + result.errors + result.timeouts, latencies };
}

/** Percentile (0..100) of a sample, nearest rank; NaN when empty. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

/** Summary numbers of one or more load runs that ran at the same time (rps summed) or one after another. */
export interface Summary {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  requests: number;
}

/** Merges runs that ran in parallel: requests per second add up, latencies pool. */
export function summarizeParallel(runs: LoadResult[]): Summary {
  const all = runs.flatMap((r) => r.latencies).sort((a, b) => a - b);
  return {
    rps: runs.reduce((s, r) => s + r.requests / r.seconds, 0),
    p50: percentile(all, 50),
    p99: percentile(all, 99),
    errors: runs.reduce((s, r) => s + r.errors, 0),
    requests: all.length,
  };
}

/** Merges runs that ran one after another: requests over total time, latencies pool. */
export function summarizeSequential(runs: LoadResult[]): Summary {
  const all = runs.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const seconds = runs.reduce((s, r) => s + r.seconds, 0);
  return {
    rps: seconds > 0 ? all.length / seconds : 0,
    p50: percentile(all, 50),
    p99: percentile(all, 99),
    errors: runs.reduce((s, r) => s + r.errors, 0),
    requests: all.length,
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A Connect unary call with JSON (setup and revocation probes, not load). */
export async function connectCall(
  baseUrl: string,
  procedure: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, any> }> {
  const r = await fetch(`${baseUrl}/${procedure.replace(/^\//, "")}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  let json: Record<string, any> = {};
  try {
    json = text ? (JSON.parse(text) as Record<string, any>) : {};
  } catch {
    json = { raw: text };
  }
  return { status: r.status, json };
}

