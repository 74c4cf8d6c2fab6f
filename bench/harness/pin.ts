/** CPU affinity for the interleaved rounds (taskset): the server under load on one core, wrk on another. */
import { execFileSync } from "node:child_process";
import os from "node:os";

export const SERVER_CPU = "0";
export const LOAD_CPU = "1";
export const ALL_CPUS = `0-${os.cpus().length - 1}`;

/** Whether affinity can be set here: taskset is installed and there are at least two CPUs. */
export function canPin(): boolean {
  if (os.cpus().length < 2) return false;
  try {
    execFileSync("taskset", ["-p", String(process.pid)], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Moves every thread of process `pid` to `cpus` (e.g. "0", "0-1"). */
export function pin(pid: number, cpus: string): void {
  execFileSync("taskset", ["-a", "-p", "-c", cpus, String(pid)], { stdio: "ignore" });
}
