/** Server CPU time read from /proc: what a request costs the server, whatever else runs on the machine. */
import { existsSync, readdirSync, readFileSync } from "node:fs";

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** User + system CPU seconds a process has used so far, in 10 ms ticks (undefined when unavailable). */
function cpuTicksSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // After the command: state is field 3, so utime (14) and stime (15) are at 11 and 12.
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/**
 * Nanoseconds of CPU all of a process's threads have used so far, from each thread's
 * `/proc/<pid>/task/<tid>/schedstat` (the 10 ms ticks of `/proc/<pid>/stat` are a few
 * percent of a one-second interval; they are the fallback on a kernel without
 * schedstat); undefined when unavailable.
 */
export function cpuNanos(pid: number): number | undefined {
  if (!existsSync(`/proc/${pid}/schedstat`)) {
    const s = cpuTicksSeconds(pid);
    return s === undefined ? undefined : s * 1e9;
  }
  try {
    let total = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      } catch {
        // a thread that ended between the listing and the read: its time is gone with it
      }
    }
    return total;
  } catch {
    return undefined;
  }
}

/** The same in seconds. */
export function cpuSeconds(pid: number): number | undefined {
  const ns = cpuNanos(pid);
  return ns === undefined ? undefined : ns / 1e9;
}
