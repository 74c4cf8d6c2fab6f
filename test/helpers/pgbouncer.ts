/**
 * Debian's PgBouncer in `pool_mode = transaction` (the pooler most deployments put in
 * front of PostgreSQL, through which LISTEN never delivers), on a free port, in front of
 * a PostgreSQL server. Runs as the `postgres` user (PgBouncer refuses root), daemonized
 * with its own ini, auth file, pid file and log in a temporary directory.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort } from "./net.js";

export const PGBOUNCER = "/usr/sbin/pgbouncer";

export interface PgBouncer {
  port: number;
  /** `url` with its host and port replaced by PgBouncer's. */
  via(url: string): string;
  stop(): Promise<void>;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/** Starts PgBouncer in transaction mode in front of `target` (host:port of PostgreSQL, trust auth, user postgres). */
export async function startPgBouncer(target: { host: string; port: number }): Promise<PgBouncer> {
  const dir = mkdtempSync(path.join(tmpdir(), "tessera-pgbouncer-"));
  const port = await freePort();
  const ini = path.join(dir, "pgbouncer.ini");
  const pidfile = path.join(dir, "pgbouncer.pid");
  writeFileSync(path.join(dir, "users.txt"), '"postgres" ""\n');
  writeFileSync(
    ini,
    [
      "[databases]",
      `* = host=${target.host} port=${target.port}`,
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      `unix_socket_dir = ${dir}`,
      "auth_type = trust",
      `auth_file = ${path.join(dir, "users.txt")}`,
      "pool_mode = transaction",
      "max_client_conn = 500",
      "default_pool_size = 20",
      "ignore_startup_parameters = extra_float_digits,options,statement_timeout",
      `logfile = ${path.join(dir, "pgbouncer.log")}`,
      `pidfile = ${pidfile}`,
      "",
    ].join("\n"),
  );
  const isRoot = process.getuid?.() === 0;
  if (isRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
    for (const f of [dir, ini, path.join(dir, "users.txt")]) chownSync(f, uid, gid);
  }
  const r = isRoot
    ? spawnSync("runuser", ["-u", "postgres", "--", PGBOUNCER, "-d", ini], { encoding: "utf8" })
    : spawnSync(PGBOUNCER, ["-d", ini], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`pgbouncer failed: ${r.stderr || r.stdout}`);
  const deadline = Date.now() + 10_000;
  while (!(await canConnect(port))) {
    if (Date.now() > deadline)
      throw new Error(
        `pgbouncer did not listen on ${port}: ${existsSync(path.join(dir, "pgbouncer.log")) ? readFileSync(path.join(dir, "pgbouncer.log"), "utf8") : ""}`,
      );
    await new Promise((res) => setTimeout(res, 50));
  }
  return {
    port,
    via(url) {
      const u = new URL(url);
      u.hostname = "127.0.0.1";
      u.port = String(port);
      return u.toString();
    },
    async stop() {
      try {
        const pid = Number(readFileSync(pidfile, "utf8").trim());
        process.kill(pid, "SIGTERM");
        const until = Date.now() + 5000;
        while (Date.now() < until) {
          try {
            process.kill(pid, 0);
          } catch {
            break;
          }
          await new Promise((res) => setTimeout(res, 50));
        }
      } catch {
        // already gone
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
