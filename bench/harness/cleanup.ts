/** Cleanup: every child and database registers here; runs once, on success, error or signal. */
import { killLiveChildren } from "./children.js";

type Cleanup = () => Promise<void>;
const cleanups: Cleanup[] = [];

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
  process.on("exit", killLiveChildren);
}
