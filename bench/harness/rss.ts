/** Server memory: resident set size read from /proc, sampled while a scenario runs. */
import { readFileSync } from "node:fs";

/** Resident set size of a process in MB, from /proc (undefined when unavailable). */
function rssMb(pid: number): number | undefined {
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
