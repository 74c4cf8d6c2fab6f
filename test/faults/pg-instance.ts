/**
 * A throwaway PostgreSQL server of the machine's own binaries, on a free port, that a
 * fault test may stop and start without disturbing the shared one at 5432.
 */
import pg from "pg";
import { execFileSync, spawnSync } from "node:child_process";
import { chownSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort } from "../helpers/net.js";

export interface PgInstance {
  port: number;
  url: string;
  stop(mode?: "fast" | "immediate"): void;
  start(): void;
  destroy(): void;
}

function binDir(): string {
  const versions = readdirSync("/usr/lib/postgresql").sort();
  return `/usr/lib/postgresql/${versions[versions.length - 1]}/bin`;
}

function asPostgres(cmd: string, args: string[]): void {
  const isRoot = process.getuid?.() === 0;
  const r = isRoot ? spawnSync("runuser", ["-u", "postgres", "--", cmd, ...args], { encoding: "utf8" }) : spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${path.basename(cmd)} failed: ${r.stderr || r.stdout}`);
}

/** Creates and starts a PostgreSQL server with trust auth on 127.0.0.1 and a free port. */
export async function startPgInstance(): Promise<PgInstance> {
  const bin = binDir();
  const root = mkdtempSync(path.join(tmpdir(), "tessera-pg-"));
  const data = path.join(root, "data");
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
    chownSync(root, uid, gid);
  }
  asPostgres(`${bin}/initdb`, ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
  const port = await freePort();
  const opts = `-p ${port} -k ${root} -c listen_addresses=127.0.0.1 -c fsync=off`;
  const start = () => asPostgres(`${bin}/pg_ctl`, ["-D", data, "-o", opts, "-l", path.join(root, "log"), "-w", "-t", "30", "start"]);
  start();
  let destroyed = false;
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop(mode = "fast") {
      asPostgres(`${bin}/pg_ctl`, ["-D", data, "-m", mode, "-w", "-t", "30", "stop"]);
    },
    start,
    destroy() {
      if (destroyed) return;
      destroyed = true;
      try {
        asPostgres(`${bin}/pg_ctl`, ["-D", data, "-m", "immediate", "-w", "stop"]);
      } catch {
        /* already stopped */
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Creates the database `tessera` on the instance; returns its URL. */
export async function createTesseraDatabase(pgi: PgInstance): Promise<string> {
  const admin = new pg.Client({ connectionString: pgi.url });
  await admin.connect();
  try {
    await admin.query("CREATE DATABASE tessera");
  } finally {
    await admin.end();
  }
  return pgi.url.replace(/\/postgres$/, "/tessera");
}
