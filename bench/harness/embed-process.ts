/**
 * Starts bench/embed-service.ts (a Connect service behind `@tessera/connect`) as a
 * child process; it is stopped at cleanup.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { readyLine, stopChild, track } from "./children.js";
import { onCleanup } from "./cleanup.js";
import type { Child } from "./processes.js";
import { ROOT } from "./root.js";

/** What the embedding service reports at `GET /stats`. */
interface EmbedStats {
  checkTokenCalls: number;
  stream: { live: boolean; appliedSequence: string; connects: number; lastError?: string } | null;
}

/** The embedding service: its authenticated and unauthenticated servers (one process), and its stats. */
export interface EmbedService {
  authed: Child;
  open: Child;
  stats(): Promise<EmbedStats>;
}

/** Starts the embedding service against `tesseraUrl`, subscribed to revocations with `watchCredential` when given. */
export async function startEmbedService(tesseraUrl: string, watchCredential: string | undefined): Promise<EmbedService> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "bench/embed-service.ts")], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      NODE_ENV: "production",
      EMBED_TESSERA_URL: tesseraUrl,
      ...(watchCredential ? { EMBED_WATCH_CREDENTIAL: watchCredential } : {}),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const { output } = track(child);
  const stop = () => stopChild(child);
  onCleanup(stop);
  const ready = await readyLine<{ authPort: number; openPort: number }>(child, output, "embedding service");
  const at = (port: number): Child => ({ child, pid: child.pid!, port, baseUrl: `http://127.0.0.1:${port}`, output, stop });
  const authed = at(ready.authPort);
  return {
    authed,
    open: at(ready.openPort),
    async stats() {
      const r = await fetch(`${authed.baseUrl}/stats`);
      return (await r.json()) as EmbedStats;
    },
  };
}
