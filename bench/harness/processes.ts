/**
 * The processes under load: Tessera servers started as `npm start` starts them, and the
 * Better Auth peer (bench/peer-better-auth.ts). Each is stopped at cleanup.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { freePort } from "../../test/helpers/net.js";
import { readyLine, stopChild, track } from "./children.js";
import { onCleanup } from "./cleanup.js";
import { ROOT } from "./root.js";
import { sleep } from "./sleep.js";

/** A running server process: its pid (for RSS), port and base URL, its output, and how to stop it. */
export interface Child {
  child: ChildProcess;
  pid: number;
  port: number;
  baseUrl: string;
  output(): string;
  stop(): Promise<void>;
}

/**
 * The node flags of `npm start` (package.json `scripts.start`, e.g. the young-generation
 * size), so the benchmark runs the server exactly as a deployment started with it does.
 */
function startScriptNodeFlags(): string[] {
  const start = (JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { scripts: { start: string } }).scripts.start;
  const words = start.split(/\s+/);
  return words.slice(words.indexOf("node") + 1, words.indexOf("scripts/tessera.mjs")).filter((w) => w.startsWith("--"));
}

/**
 * Starts the server as `npm start` does, with `env`, on a free port; resolves once /health
 * answers 200. With `stdoutFd` the server writes its log lines straight to that file
 * (as under a log collector) instead of a pipe the benchmark reads.
 */
export async function startTessera(env: Record<string, string>, extraNodeArgs: string[] = [], stdoutFd?: number): Promise<Child> {
  const port = await freePort();
  const child = spawn(process.execPath, [...startScriptNodeFlags(), ...extraNodeArgs, path.join(ROOT, "packages/server/bin/tessera.js"), "serve"], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", HOST: "127.0.0.1", PORT: String(port), LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", stdoutFd ?? "pipe", "pipe"],
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

/** The peer process, with the API keys it created at start. */
export interface PeerChild extends Child {
  keys: string[];
}

/** Starts the Better Auth peer (bench/peer-better-auth.ts); resolves with its port and keys. */
export async function startPeer(dbUrl: string, keys: number): Promise<PeerChild> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "bench/peer-better-auth.ts")], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      PEER_DATABASE_URL: dbUrl,
      PEER_PORT: "0",
      PEER_KEYS: String(keys),
      NODE_ENV: "production",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const { output } = track(child);
  const stop = () => stopChild(child);
  onCleanup(stop);
  const ready = await readyLine<{ port: number; keys: string[] }>(child, output, "peer");
  return { child, pid: child.pid!, port: ready.port, baseUrl: `http://127.0.0.1:${ready.port}`, output, stop, keys: ready.keys };
}
