/**
 * Finding 16 of issue 13: database errors at startup named neither the setting nor the
 * fix (`tessera: connect ECONNREFUSED 127.0.0.1:1`, `The server does not support SSL
 * connections`), and the DB_* form required TLS while DATABASE_URL did not, unsaid. Now
 * `tessera serve` prints one line naming the setting in use, the host and port (never the
 * password) and the likely fix, and exits non-zero. Each case runs the real command
 * against the local PostgreSQL (which has no TLS: exactly the TLS case) or a socket that
 * never answers.
 */
import { spawn } from "node:child_process";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { loadConfig } from "../../packages/server/src/config/config.js";
import { explainDatabaseError } from "../../packages/server/src/commands/database-errors.js";

const PASSWORD = "s3cret-Pw-never-printed";

/** Runs `tessera serve` with only `env` (and PATH) until it exits. */
function serveUntilExit(env: Record<string, string>): Promise<{ code: number | null; lines: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["packages/server/bin/tessera.js", "serve"], {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", HOST: "127.0.0.1", PORT: "0", LOG_LEVEL: "warn", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdout.resume();
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`still running after 45 s; stderr: ${stderr}`));
    }, 45_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, lines: stderr.trim().split("\n").filter(Boolean) });
    });
  });
}

/** Expects exactly one stderr line, a non-zero exit, no password, and every fragment in the line. */
function expectOneLine(r: { code: number | null; lines: string[] }, ...fragments: string[]): void {
  expect(r.lines, r.lines.join("\n")).toHaveLength(1);
  expect(r.code).toBe(1);
  const line = r.lines[0]!;
  expect(line).not.toContain(PASSWORD);
  for (const f of fragments) expect(line).toContain(f);
}

describe("finding 16: database errors at startup", () => {
  const admin = new URL(inject("pgAdminUrl"));
  const pgHost = admin.hostname;
  const pgPort = admin.port || "5432";
  /** The DB_* form for the local PostgreSQL. */
  const dbParts = (extra: Record<string, string> = {}) => ({ DB_HOST: pgHost, DB_PORT: pgPort, DB_USER: "postgres", DB_PASS: PASSWORD, ...extra });

  let silent: net.Server;
  const held: net.Socket[] = [];
  let silentPort = 0;
  beforeAll(async () => {
    // Accepts connections and never answers: a database behind a firewall that drops packets looks like this.
    silent = net.createServer((s) => held.push(s));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    silentPort = (silent.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    for (const s of held) s.destroy();
    await new Promise((r) => silent?.close(r));
  });

  it("finding 16: a refused connection names DATABASE_URL, the host and port, and asks whether PostgreSQL is running", async () => {
    const r = await serveUntilExit({ DATABASE_URL: `postgres://nobody:${PASSWORD}@127.0.0.1:1/x` });
    expectOneLine(r, "DATABASE_URL", "127.0.0.1:1", "connection refused", "Is PostgreSQL running", "Check the host and port in DATABASE_URL");
    const parts = await serveUntilExit({ DB_HOST: "127.0.0.1", DB_PORT: "1", DB_PASS: PASSWORD, DB_SSL_DISABLE: "true" });
    expectOneLine(parts, "DB_HOST, DB_PORT", "127.0.0.1:1", "connection refused", "Check DB_HOST and DB_PORT");
  }, 120_000);

  it("finding 16: a server without TLS says that the DB_* form requires TLS and how to turn it off, and DATABASE_URL names its sslmode", async () => {
    const parts = await serveUntilExit(dbParts());
    expectOneLine(parts, "DB_HOST, DB_PORT", `${pgHost}:${pgPort}`, "does not accept TLS", "DB_* settings require", "DB_SSL_DISABLE=true");
    const url = await serveUntilExit({ DATABASE_URL: `postgres://postgres:${PASSWORD}@${pgHost}:${pgPort}/postgres?sslmode=verify-full` });
    expectOneLine(url, "DATABASE_URL", `${pgHost}:${pgPort}`, "does not accept TLS", "sslmode=disable in DATABASE_URL");
  }, 120_000);

  it("finding 16: a login PostgreSQL refuses names the user and password settings", async () => {
    const url = await serveUntilExit({ DATABASE_URL: `postgres://tessera_no_such_role:${PASSWORD}@${pgHost}:${pgPort}/postgres` });
    expectOneLine(url, "DATABASE_URL", `${pgHost}:${pgPort}`, 'role "tessera_no_such_role" does not exist', "Check the user and password in DATABASE_URL");
    const parts = await serveUntilExit(dbParts({ DB_USER: "tessera_no_such_role", DB_SSL_DISABLE: "true" }));
    expectOneLine(parts, "DB_HOST, DB_PORT", "Check DB_USER and DB_PASS");
  }, 120_000);

  it("finding 16: a database that does not exist says to create it", async () => {
    const r = await serveUntilExit(dbParts({ DB_NAME: "tessera_no_such_database", DB_SSL_DISABLE: "true" }));
    expectOneLine(r, "DB_HOST, DB_PORT", `${pgHost}:${pgPort}`, 'database "tessera_no_such_database" does not exist', "createdb", "DB_NAME");
  }, 120_000);

  it("finding 16: a database that never answers, or a host name that does not resolve, says so", async () => {
    const timeout = await serveUntilExit({ DATABASE_URL: `postgres://postgres:${PASSWORD}@127.0.0.1:${silentPort}/x` });
    expectOneLine(timeout, "DATABASE_URL", `127.0.0.1:${silentPort}`, "no answer in time", "firewall");
    const unknown = await serveUntilExit({ DATABASE_URL: `postgres://postgres:${PASSWORD}@db.example.invalid:5432/x` });
    expectOneLine(unknown, "DATABASE_URL", "db.example.invalid:5432", "does not resolve", "Check the host in DATABASE_URL");
  }, 120_000);

  it("finding 16: the DB_* form asks for verified TLS by name (sslmode=verify-full), DATABASE_URL is used as written", () => {
    const parts = loadConfig({ DB_HOST: "db.internal" }).database;
    expect(parts).toEqual({ kind: "postgres", url: "postgres://postgres@db.internal:5432/tessera?sslmode=verify-full", source: "DB_*" });
    expect(loadConfig({ DATABASE_URL: "postgres://app@db.internal/auth" }).database).toEqual({
      kind: "postgres",
      url: "postgres://app@db.internal/auth",
      source: "DATABASE_URL",
    });
  });

  it("finding 16: explains the other database failures in the same terms, and leaves other errors alone", () => {
    const viaUrl = { kind: "postgres" as const, url: `postgres://app:${PASSWORD}@db.internal:6543/auth`, source: "DATABASE_URL" as const };
    const viaParts = { ...viaUrl, source: "DB_*" as const };
    const pgError = (code: string, message: string) => Object.assign(new Error(message), { code, severity: "FATAL" });
    const lines = [
      explainDatabaseError(pgError("28P01", 'password authentication failed for user "app"'), viaParts),
      explainDatabaseError(Object.assign(new Error("self-signed certificate in certificate chain"), { code: "SELF_SIGNED_CERT_IN_CHAIN" }), viaParts),
      explainDatabaseError(pgError("53300", "sorry, too many clients already"), viaUrl),
      explainDatabaseError(pgError("42501", "permission denied for schema public"), viaUrl),
      explainDatabaseError(new AggregateError([Object.assign(new Error("connect ECONNREFUSED ::1:6543"), { code: "ECONNREFUSED", port: 6543 })]), viaUrl),
    ];
    expect(lines[0]).toContain("Check DB_USER and DB_PASS");
    expect(lines[1]).toContain("NODE_EXTRA_CA_CERTS");
    expect(lines[2]).toContain("max_connections");
    expect(lines[3]).toContain("DB_AUTO_MIGRATE=false");
    expect(lines[4]).toContain("connection refused");
    for (const l of lines) {
      expect(l).toContain("db.internal:6543");
      expect(l).not.toContain(PASSWORD);
    }
    // Not the database's: another port's socket error, a failed fetch, a plain bug.
    expect(explainDatabaseError(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED", port: 9 }), viaUrl)).toBeUndefined();
    expect(explainDatabaseError(new TypeError("fetch failed"), viaUrl)).toBeUndefined();
    expect(explainDatabaseError(new Error("x is undefined"), viaUrl)).toBeUndefined();
  });
});
