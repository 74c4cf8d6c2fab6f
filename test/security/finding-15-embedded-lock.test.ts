/**
 * Finding 15 (issue 13): two processes on one PGlite data directory lose data. PGlite
 * is single-process: the real `tessera serve` holds the embedded data directory, the
 * commands that must work beside it (`keys list`, `keys rotate`, `migrate status`) go
 * through it over its admin socket, everything else refuses at once with one line.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ADMIN_SOCKET_NAME } from "../../packages/server/src/server/local-admin/protocol.js";
import { LOCK_FILE_NAME } from "../../packages/server/src/store/data-dir-lock.js";
import { openDatabase } from "../../packages/server/src/store/db.js";
import { startServerProcess, type ServerProcess } from "../faults/process.js";
import { freePort } from "../helpers/net.js";
import { runTessera } from "../helpers/tessera-cli.js";

const tessera = runTessera;

/** A fresh copy of the migrated PGlite template directory. */
function copyTemplate(): { root: string; dataDir: string } {
  const dir = mkdtempSync(path.join(tmpdir(), "tessera-f15-"));
  const dataDir = path.join(dir, "data");
  cpSync(inject("pgliteTemplateDir"), dataDir, { recursive: true });
  return { root: dir, dataDir };
}

async function jwksKids(baseUrl: string): Promise<string[]> {
  const res = await fetch(`${baseUrl}/.well-known/jwks.json`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid).sort();
}

/** The `kid` of a fresh access token from the server (signs up a new user). */
async function signingKid(baseUrl: string, n: number): Promise<string> {
  const res = await fetch(`${baseUrl}/tessera.v1.AuthService/SignUp`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: `f15-${n}@example.com`, password: "correct horse battery staple" }),
  });
  const body = (await res.json()) as { tokens?: { accessToken: string } };
  expect(res.status, JSON.stringify(body)).toBe(200);
  const header = JSON.parse(Buffer.from(body.tokens!.accessToken.split(".")[0]!, "base64url").toString()) as { kid: string };
  return header.kid;
}

async function expectServing(server: ServerProcess): Promise<void> {
  const res = await fetch(`${server.baseUrl}/health`);
  expect(res.status, server.output()).toBe(200);
  expect(((await res.json()) as { database: string }).database).toBe("ok");
}

async function stop(server: ServerProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill(signal);
  await server.exited;
}

describe("finding 15: one process per embedded data directory, commands through the running server", () => {
  let dir: { root: string; dataDir: string };
  let server: ServerProcess;
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = copyTemplate();
    env = { TESSERA_DATA_DIR: dir.dataDir, AUTH_MODE: "full" };
    server = await startServerProcess(env, undefined, 150_000);
  }, 180_000);
  afterAll(async () => {
    if (server) await stop(server);
    if (dir) rmSync(dir.root, { recursive: true, force: true });
  });

  it("finding 15: keys list, keys rotate and migrate status go through the running server, which signs with the new key at once", async () => {
    const [firstKid] = await jwksKids(server.baseUrl);
    expect(await signingKid(server.baseUrl, 1)).toBe(firstKid);

    const listed = await tessera(["keys", "list"], env);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stderr).toBe("");
    expect(listed.stdout).toMatch(new RegExp(`^KID\\tALG\\tCREATED\\tSTATE\\n${firstKid}\\tES256\\t\\S+\\tactive\\n$`));

    const rotated = await tessera(["keys", "rotate"], env);
    expect(rotated.code, rotated.stderr).toBe(0);
    const newKid = /^new signing key (\S+)$/m.exec(rotated.stdout)?.[1];
    expect(newKid, rotated.stdout).toBeDefined();
    expect(rotated.stdout).toContain(`retired ${firstKid}, published until `);
    expect(rotated.stdout).toContain(`the running server (pid ${server.child.pid}) signs with it now`);
    // Seen by the server immediately: published, and used for the next token.
    expect(await jwksKids(server.baseUrl)).toEqual([firstKid, newKid].sort());
    expect(await signingKid(server.baseUrl, 2)).toBe(newKid);

    const after = await tessera(["keys", "list"], env);
    expect(after.code, after.stderr).toBe(0);
    const [header, ...lines] = after.stdout.trim().split("\n");
    expect(header).toBe("KID\tALG\tCREATED\tSTATE");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^${newKid}\\tES256\\t\\S+\\tactive$`));
    expect(lines[1]).toMatch(new RegExp(`^${firstKid}\\tES256\\t\\S+\\tretired, published until \\S+$`));

    const status = await tessera(["migrate", "status"], env);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^applied \S+\t0001-initial$/m);
    expect(status.stdout).not.toMatch(/^pending/m);
    await expectServing(server);
  }, 120_000);

  it("finding 15: migrate up and migrate down refuse while the server runs, with one line naming it", async () => {
    for (const what of ["up", "down"]) {
      const r = await tessera(["migrate", what], env);
      expect(r.code, r.stdout).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(
        new RegExp(`^tessera: the embedded database in ${dir.dataDir} is in use by \`tessera serve\` \\(pid ${server.child.pid}\\b.*stop it.*\\n$`),
      );
    }
    const status = await tessera(["migrate", "status"], env);
    expect(status.stdout).toMatch(/^applied \S+\t0001-initial$/m);
    await expectServing(server);
  }, 120_000);

  it("finding 15: a second serve on the same directory refuses at once with one line", async () => {
    const second = await tessera(["serve"], { ...env, PORT: String(await freePort()) });
    expect(second.code).toBe(1);
    expect(second.stdout).toBe("");
    expect(second.stderr).toMatch(
      new RegExp(`^tessera: the embedded database in ${dir.dataDir} is in use by \`tessera serve\` \\(pid ${server.child.pid}\\b.*stop it.*\\n$`),
    );
    await expectServing(server);
  }, 120_000);

  it("finding 15: the rotation survives the server's stop, with exactly one active key", async () => {
    const listed = await tessera(["keys", "list"], env);
    const active = listed.stdout.split("\n").filter((l) => l.endsWith("\tactive"));
    expect(active).toHaveLength(1);
    await stop(server);
    const db = await openDatabase({ kind: "pglite", dataDir: dir.dataDir });
    try {
      const rows = await db.kysely.selectFrom("signing_keys").select(["id"]).where("retired_at", "is", null).execute();
      expect(rows.map((r) => r.id)).toEqual([active[0]!.split("\t")[0]]);
    } finally {
      await db.close();
    }
  }, 120_000);
});

describe("finding 15: a killed server does not block the next start", () => {
  it("finding 15: a lock left by a server killed with SIGKILL does not block the next start", async () => {
    const dir = copyTemplate();
    const env = { TESSERA_DATA_DIR: dir.dataDir, AUTH_MODE: "full" };
    try {
      // Generous deadlines: PGlite starts (and replays its WAL after a kill) slowly on a loaded machine.
      const first = await startServerProcess(env, undefined, 150_000);
      await stop(first, "SIGKILL");
      // It left its lock (and its admin socket) behind.
      expect(JSON.parse(readFileSync(path.join(dir.dataDir, LOCK_FILE_NAME), "utf8")).pid).toBe(first.child.pid);
      expect(existsSync(path.join(dir.dataDir, ADMIN_SOCKET_NAME))).toBe(true);
      const next = await startServerProcess(env, undefined, 150_000);
      try {
        await expectServing(next);
        const listed = await tessera(["keys", "list"], env);
        expect(listed.code, listed.stderr).toBe(0);
        expect(listed.stdout).toMatch(/\tactive\n$/);
      } finally {
        await stop(next);
      }
      // Stopped cleanly: no lock left, the directory is free for a command of its own.
      expect(existsSync(path.join(dir.dataDir, LOCK_FILE_NAME))).toBe(false);
      const direct = await tessera(["migrate", "status"], env);
      expect(direct.code, direct.stderr).toBe(0);
      expect(direct.stdout).toMatch(/^applied \S+\t0001-initial$/m);
    } finally {
      rmSync(dir.root, { recursive: true, force: true });
    }
  }, 420_000);
});
