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

/**
 * Resolves with the first JSON line `{"ready": true, ...}` the child prints on stdout;
 * rejects when it exits first or stays silent for 60 s (`what` names it in the error).
 */
export function readyLine<T>(child: ChildProcess, output: () => string, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} did not start: ${output().slice(-2000)}`)), 60_000);
    let buf = "";
    child.stdout!.on("data", (d: Buffer) => {
      buf += d.toString("utf8");
      for (const line of buf.split("\n")) {
        if (!line.startsWith("{")) continue;
        try {
          const j = JSON.parse(line) as T & { ready?: boolean };
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
      reject(new Error(`${what} exited (code ${code}): ${output().slice(-2000)}`));
    });
  });
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
