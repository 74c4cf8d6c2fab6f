/**
 * Finding 15 (issue 13), the parts below the server: the data directory's lock file
 * (exclusive, atomic, stale-lock detection, released on close and on exit) and the
 * admin socket's bounds. The real server and CLI: finding-15-embedded-lock.test.ts.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import net from "node:net";
import { hostname, tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, inject, it } from "vitest";
import { callAdminSocket } from "../../packages/server/src/server/local-admin/client.js";
import { ADMIN_SOCKET_NAME, MAX_REQUEST_BYTES } from "../../packages/server/src/server/local-admin/protocol.js";
import { startAdminSocket } from "../../packages/server/src/server/local-admin/server.js";
import { createLogger } from "../../packages/server/src/lib/logger.js";
import { DataDirLockedError, FOREIGN_STALE_MS, LOCK_FILE_NAME, lockDataDir, processStartTime } from "../../packages/server/src/store/data-dir-lock.js";
import { openDatabase } from "../../packages/server/src/store/db.js";
import { runTessera } from "../helpers/tessera-cli.js";

const HOLDER = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "lock-holder.ts");
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), "tessera-f15-lock-"));
  dirs.push(d);
  return d;
}
const lockFile = (dir: string) => path.join(dir, LOCK_FILE_NAME);
function writeLock(dir: string, owner: Record<string, unknown>, ageMs = 0): void {
  writeFileSync(lockFile(dir), JSON.stringify({ host: hostname(), command: "tessera serve", since: new Date().toISOString(), ...owner }));
  const t = new Date(Date.now() - ageMs);
  utimesSync(lockFile(dir), t, t);
}
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", ""]);
  return r.pid!;
}

/** A lock-holder child process, driven line by line. */
class Holder {
  readonly child: ChildProcessWithoutNullStreams;
  readonly #lines: string[] = [];
  readonly #waiters: ((l: string) => void)[] = [];
  constructor(dir: string) {
    this.child = spawn(process.execPath, ["--import", "tsx", HOLDER, dir], { env: { PATH: process.env.PATH ?? "" } });
    createInterface({ input: this.child.stdout }).on("line", (l) => {
      const w = this.#waiters.shift();
      if (w) w(l);
      else this.#lines.push(l);
    });
  }
  next(): Promise<string> {
    const l = this.#lines.shift();
    return l !== undefined ? Promise.resolve(l) : new Promise((resolve) => this.#waiters.push(resolve));
  }
  send(cmd: string): void {
    this.child.stdin.write(`${cmd}\n`);
  }
}

describe("finding 15: the data directory lock", () => {
  it("finding 15: a second open of a held directory refuses, naming the holder; close releases it", async () => {
    const root = tempDir();
    const dataDir = path.join(root, "data");
    cpSync(inject("pgliteTemplateDir"), dataDir, { recursive: true });
    const db = await openDatabase({ kind: "pglite", dataDir }, undefined, { command: "tessera serve" });
    const again = await openDatabase({ kind: "pglite", dataDir }).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(DataDirLockedError);
    expect((again as DataDirLockedError).self).toBe(true);
    // Another process: refused, told who holds it.
    const other = new Holder(dataDir);
    try {
      expect(await other.next()).toBe("ready");
      other.send("lock");
      expect(await other.next()).toBe("refused");
      expect(() => lockDataDir(dataDir, "x")).toThrow(`the embedded database in ${dataDir} is already open in this process`);
      await db.close();
      expect(existsSync(lockFile(dataDir))).toBe(false);
      other.send("lock");
      expect(await other.next()).toBe("got");
      const refused = await openDatabase({ kind: "pglite", dataDir }).catch((e: unknown) => e);
      expect((refused as Error).message).toMatch(
        new RegExp(`^the embedded database in ${dataDir} is in use by \`lock-holder\` \\(pid ${other.child.pid}, since \\S+\\)$`),
      );
      // A process that exits without closing leaves no lock.
      other.send("exit-holding");
      await new Promise((r) => other.child.once("exit", r));
      expect(existsSync(lockFile(dataDir))).toBe(false);
      const reopened = await openDatabase({ kind: "pglite", dataDir });
      await reopened.close();
    } finally {
      other.child.kill();
    }
  }, 60_000);

  it("finding 15: while a process that takes no commands holds the directory, every command refuses with one line", async () => {
    const dataDir = tempDir();
    const holder = new Holder(dataDir);
    try {
      expect(await holder.next()).toBe("ready");
      holder.send("lock");
      expect(await holder.next()).toBe("got");
      const env = { TESSERA_DATA_DIR: dataDir };
      const runs = await Promise.all(
        [
          ["keys", "list"],
          ["keys", "rotate"],
          ["migrate", "status"],
          ["migrate", "up"],
        ].map((a) => runTessera(a, env)),
      );
      for (const r of runs) {
        expect(r.code, r.stderr).toBe(1);
        expect(r.stdout).toBe("");
        expect(r.stderr).toMatch(
          new RegExp(
            `^tessera: the embedded database in ${dataDir} is in use by \`lock-holder\` \\(pid ${holder.child.pid}, since \\S+\\)[,:] [^\\n]*stop it first[^\\n]*\\n$`,
          ),
        );
      }
      // Nothing was created beside the holder's lock.
      expect(readdirSync(dataDir)).toEqual([LOCK_FILE_NAME]);
    } finally {
      holder.child.kill();
    }
  }, 60_000);

  it("finding 15: a lock naming a dead pid, a pid now used by another process, or a copied directory is taken over", () => {
    const dir = tempDir();
    const parentStart = processStartTime(process.ppid);
    expect(parentStart).toBeDefined();
    const stale = [
      { pid: deadPid() },
      // A live pid whose start time differs: reused by an unrelated process.
      { pid: process.ppid, start: "boot:1" },
      { pid: 1, start: "boot:1" },
      // This process's own pid, in a lock it does not hold (copied, or left by a previous container).
      { pid: process.pid, start: processStartTime(process.pid) },
      // A live holder's lock, copied along with its directory: it holds the original, not this copy.
      { pid: process.ppid, start: parentStart, dir: "1:2" },
    ];
    for (const owner of stale) {
      writeLock(dir, owner);
      const lock = lockDataDir(dir, "test");
      expect(JSON.parse(readFileSync(lockFile(dir), "utf8")).pid).toBe(process.pid);
      lock.release();
      expect(existsSync(lockFile(dir))).toBe(false);
    }
    // The same live pid with its real start time holds it (the lock names this directory, or no directory).
    writeLock(dir, { pid: process.ppid, start: parentStart, dir: `${statSync(dir).dev}:${statSync(dir).ino}` });
    expect(() => lockDataDir(dir, "test")).toThrow(DataDirLockedError);
    writeLock(dir, { pid: process.ppid, start: parentStart });
    expect(() => lockDataDir(dir, "test")).toThrow(DataDirLockedError);
    expect(() => lockDataDir(dir, "test")).toThrow(`is in use by \`tessera serve\` (pid ${process.ppid}, since `);
    // No litter: only the lock that stands.
    expect(readdirSync(dir)).toEqual([LOCK_FILE_NAME]);
  });

  it("finding 15: a lock from another host holds while its heartbeat is fresh; an unreadable one only briefly", () => {
    const dir = tempDir();
    writeLock(dir, { pid: process.ppid, host: "other-host" });
    expect(() => lockDataDir(dir, "test")).toThrow(/in use by `tessera serve` \(pid \d+ on other-host, since /);
    writeLock(dir, { pid: process.ppid, host: "other-host" }, FOREIGN_STALE_MS + 5_000);
    lockDataDir(dir, "test").release();
    writeFileSync(lockFile(dir), "");
    expect(() => lockDataDir(dir, "test")).toThrow(/in use by another process$/);
    const old = new Date(Date.now() - 60_000);
    utimesSync(lockFile(dir), old, old);
    lockDataDir(dir, "test").release();
  });

  it("finding 15: of several processes locking one directory at once, exactly one gets it, with or without a stale lock", async () => {
    const dir = tempDir();
    const holders = [0, 1, 2, 3].map(() => new Holder(dir));
    try {
      for (const h of holders) expect(await h.next()).toBe("ready");
      const dead = deadPid();
      for (let round = 0; round < 12; round++) {
        if (round % 2 === 1) writeLock(dir, { pid: dead });
        for (const h of holders) h.send("lock");
        const answers = await Promise.all(holders.map((h) => h.next()));
        expect(
          answers.filter((a) => a === "got"),
          answers.join(","),
        ).toHaveLength(1);
        expect(answers.filter((a) => a === "refused")).toHaveLength(holders.length - 1);
        for (const h of holders) h.send("release");
        for (const h of holders) expect(await h.next()).toBe("released");
        expect(readdirSync(dir)).toEqual([]);
      }
    } finally {
      for (const h of holders) h.child.kill();
    }
  }, 60_000);
});

describe("finding 15: the admin socket", () => {
  const logLines: string[] = [];
  const logger = createLogger({
    json: true,
    level: "info",
    destination: new Writable({
      write: (c, _e, cb) => {
        logLines.push(String(c));
        cb();
      },
    }),
  });

  /** Sends raw bytes and resolves with everything the server answered before closing. */
  function raw(address: string, data: string | undefined): Promise<string> {
    return new Promise((resolve, reject) => {
      let out = "";
      const s = net.connect({ path: address }, () => {
        if (data !== undefined) s.write(data);
      });
      s.setEncoding("utf8").on("data", (d: string) => (out += d));
      s.on("close", () => resolve(out));
      s.on("error", (e: NodeJS.ErrnoException) => (e.code === "ECONNRESET" || e.code === "EPIPE" ? undefined : reject(e)));
    });
  }

  it("finding 15: listens owner-only inside the data directory, answers one bounded request, and replaces a leftover socket", async () => {
    const dir = tempDir();
    expect(await callAdminSocket(dir, "keys.list")).toEqual({ kind: "unavailable" });
    // The socket file of a killed server: it stays, nobody listens.
    const killed = spawn(process.execPath, [
      "-e",
      "require('net').createServer().listen(process.argv[1], () => console.log('up'))",
      path.join(dir, ADMIN_SOCKET_NAME),
    ]);
    await new Promise((r) => killed.stdout.once("data", r));
    killed.kill("SIGKILL");
    await new Promise((r) => killed.once("exit", r));
    expect(existsSync(path.join(dir, ADMIN_SOCKET_NAME))).toBe(true);
    expect(await callAdminSocket(dir, "keys.list")).toEqual({ kind: "unavailable" });

    const calls: string[] = [];
    const sock = await startAdminSocket({
      dataDir: dir,
      logger,
      async handle(op) {
        calls.push(op);
        if (op === "keys.rotate") throw new Error("no database");
        return { keys: [] };
      },
    });
    expect(sock).toBeDefined();
    try {
      expect(statSync(sock!.address).mode & 0o777).toBe(0o600);
      expect(await callAdminSocket(dir, "keys.list")).toEqual({ kind: "done", pid: process.pid, result: { keys: [] } });
      await expect(callAdminSocket(dir, "keys.rotate")).rejects.toThrow("the server refused: no database");
      expect(JSON.parse(await raw(sock!.address, '{"op":"migrate.up"}\n'))).toEqual({ ok: false, error: "unknown operation" });
      expect(JSON.parse(await raw(sock!.address, "hello\n"))).toEqual({ ok: false, error: "request is not JSON" });
      expect(JSON.parse(await raw(sock!.address, "x".repeat(MAX_REQUEST_BYTES + 10)))).toEqual({ ok: false, error: "request too large" });
      // A connection that sends nothing is closed (after REQUEST_TIMEOUT_MS), unanswered.
      expect(await raw(sock!.address, undefined)).toBe("");
      expect(calls).toEqual(["keys.list", "keys.rotate"]);
      expect(logLines.join("")).toMatch(/"op":"keys\.rotate".*"message":"no database".*"admin socket: operation failed"/);
    } finally {
      await sock?.close();
    }
    expect(existsSync(path.join(dir, ADMIN_SOCKET_NAME))).toBe(false);
    expect(await callAdminSocket(dir, "keys.list")).toEqual({ kind: "unavailable" });
  }, 30_000);
});
