/**
 * Starts bench/embed-service.ts (a Connect service behind `@tessera/connect`) as a
 * child process; it is stopped at cleanup.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { stopChild, track } from "./children.js";
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
  const ready = await new Promise<{ authPort: number; openPort: number }>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`embedding service did not start: ${output().slice(-2000)}`)), 60_000);
    let buf = "";
    child.stdout!.on("data", (d: Buffer) => {
      buf += d.toString("utf8");
      for (const line of buf.split("\n")) {
        if (!line.startsWith("{")) continue;
        try {
          const j = JSON.parse(line) as { ready?: boolean; authPort: number; openPort: number };
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
      reject(new Error(`embedding service exited (code ${code}): ${output().slice(-2000)}`));
    });
  });
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
