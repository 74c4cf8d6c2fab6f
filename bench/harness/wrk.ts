/**
 * wrk, a load generator written in C, for the interleaved scenarios (a fixed request as
 * fast as answered). It costs the machine a fraction of what autocannon in this process
 * does per request, so on two cores the server, not the load generator, sets the pace,
 * and ratios between scenarios move much less from one run to the next. It reports
 * percentiles, not every latency (LoadResult.percentiles).
 */
import { execFileSync, spawn } from "node:child_process";
import path from "node:path";
import type { LoadResult, LoadSpec } from "./load.js";

const SCRIPT = path.join(import.meta.dirname, "wrk-post.lua");

/** Whether `wrk` is installed. */
export function wrkAvailable(): boolean {
  try {
    execFileSync("wrk", ["--version"], { stdio: "ignore" });
    return true;
  } catch (e) {
    // wrk --version exits 1 after printing its version.
    return (e as { status?: number }).status === 1;
  }
}

/** Runs wrk (one thread) for `spec.durationS` seconds, on CPU `cpu` when given (taskset); fixed requests only. */
export function runWrk(spec: LoadSpec, cpu?: string): Promise<LoadResult> {
  if (spec.vary || spec.rate !== undefined || spec.amount !== undefined) throw new Error("wrk runs fixed requests for a duration only");
  const headers = Object.entries(spec.headers ?? {})
    .map(([k, v]) => `${k}: ${v}`)
    .join("\n");
  const args = ["-t1", `-c${spec.connections}`, `-d${Math.max(1, Math.round(spec.durationS))}s`, "--timeout", "10s", "-s", SCRIPT, `${spec.url}${spec.path}`];
  return new Promise((resolve, reject) => {
    const [cmd, argv] = cpu === undefined ? ["wrk", args] : ["taskset", ["-c", cpu, "wrk", ...args]];
    const child = spawn(cmd, argv, {
      env: { PATH: process.env.PATH ?? "", WRK_BODY: spec.body ?? "{}", WRK_HEADERS: headers },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    child.on("error", reject);
    child.on("close", (code) => {
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (code !== 0 || !line) return reject(new Error(`wrk exited ${code}: ${(err || out).slice(-500)}`));
      const r = JSON.parse(line) as { requests: number; duration_us: number; errors: number; p50_us: number; p99_us: number };
      resolve({
        requests: r.requests,
        seconds: r.duration_us / 1e6,
        errors: r.errors,
        latencies: [],
        percentiles: { p50: r.p50_us / 1000, p99: r.p99_us / 1000 },
      });
    });
  });
}
