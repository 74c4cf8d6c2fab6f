/**
 * The benchmark's child processes: their output is kept (for error messages), and
 * every one still alive is known, so a signal or an exit can kill them all.
 */
import type { ChildProcess } from "node:child_process";

const liveChildren = new Set<ChildProcess>();

/** Registers a child as live and keeps the tail of its stdout and stderr. */
export function track(child: ChildProcess): { output: () => string } {
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

/** Stops a child with SIGTERM (SIGKILL after 5 s) and waits for its exit. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  const t = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(t);
  liveChildren.delete(child);
}

/** SIGKILLs every child still running (synchronous: for process exit). */
export function killLiveChildren(): void {
  for (const c of liveChildren) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
}
