/**
 * The server commands (`keys`, `migrate`) and the embedded database: PGlite is
 * single-process, so while `tessera serve` holds the data directory these commands
 * either go through it (its admin socket: `keys list`, `keys rotate`, `migrate status`)
 * or refuse with one line saying who holds it and what to do.
 */
import type { Config } from "../config/config.js";
import type { AdminOp, AdminResults } from "../server/local-admin/protocol.js";
import type { Db } from "../store/db.js";
import { CliError } from "@tessera/cli";

/** Where an admin operation ran: in this process, or in the server with this pid. */
export type RanIn = { where: "here"; database: Config["database"]["kind"] } | { where: "server"; pid: number };

/** Loads the config and the server modules (only when a server command runs: client commands stay fast). */
async function serverParts() {
  const [{ loadConfigOrExit }, db, lock, ops, client] = await Promise.all([
    import("./serve.js"),
    import("../store/db.js"),
    import("../store/data-dir-lock.js"),
    import("../server/local-admin/ops.js"),
    import("../server/local-admin/client.js"),
  ]);
  return { config: loadConfigOrExit(), ...db, ...lock, ...ops, ...client };
}

/**
 * Runs `op`: on the database itself when this process can open it, else, when a running
 * server holds the embedded data directory, through that server.
 */
export async function runAdminCommand<K extends AdminOp>(op: K, command: string): Promise<{ result: AdminResults[K]; ran: RanIn }> {
  const p = await serverParts();
  let db: Awaited<ReturnType<typeof p.openDatabase>>;
  try {
    db = await p.openDatabase(p.config.database, undefined, { command });
  } catch (e) {
    if (!(e instanceof p.DataDirLockedError) || e.self) throw e;
    const answer = await p.callAdminSocket(e.dataDir, op);
    if (answer.kind === "unavailable") {
      throw new CliError(
        `${e.message}, which takes no commands from other processes (a server still starting, or another command): stop it first, or retry once the server listens`,
      );
    }
    return { result: answer.result, ran: { where: "server", pid: answer.pid } };
  }
  try {
    const result = await p.runAdminOp(db.kysely, op, { now: new Date(), accessTokenLifetimeSeconds: p.config.accessTokenLifetimeSeconds });
    return { result, ran: { where: "here", database: db.kind } };
  } finally {
    await db.close();
  }
}

/**
 * Runs `fn` on the database opened by this process; refuses with one line while another
 * process holds the embedded data directory (`advice`: what to do then).
 */
export async function withOwnDatabase<T>(command: string, advice: string, fn: (db: Db) => Promise<T>): Promise<T> {
  const p = await serverParts();
  let db: Db;
  try {
    db = await p.openDatabase(p.config.database, undefined, { command });
  } catch (e) {
    if (e instanceof p.DataDirLockedError && !e.self) throw new CliError(`${e.message}: ${advice}`);
    throw e;
  }
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}
