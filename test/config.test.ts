/**
 * Configuration: defaults, Neosync-compatible names, and one clear error per bad variable.
 */
import { spawn, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import { ConfigError, loadConfig } from "../packages/server/src/config/config.js";
import { int, verbatim } from "../packages/server/src/config/parse.js";
import { read } from "../packages/server/src/config/read.js";
import { VARIABLE_LIST } from "../packages/server/src/config/schema.js";
import { variable } from "../packages/server/src/config/variable.js";
import { isLoopbackHost } from "../packages/server/src/commands/serve.js";
import { freePort } from "./helpers/net.js";

/** Starts `tessera serve` on the embedded database and resolves with its output up to "listening" (then stops it). */
async function serveOutput(env: Record<string, string>): Promise<string> {
  // A copy of the migrated template: a fresh PGlite directory would spend seconds in initdb.
  const dataDir = mkdtempSync(path.join(tmpdir(), "tessera-serve-"));
  cpSync(inject("pgliteTemplateDir"), dataDir, { recursive: true });
  const child = spawn(process.execPath, ["packages/server/bin/tessera.js", "serve"], {
    env: { PATH: process.env.PATH, TESSERA_DATA_DIR: dataDir, PORT: String(await freePort()), ...env },
  });
  let out = "";
  try {
    return await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "listening" within 45 s: ${out}`)), 45_000);
      const onData = (d: Buffer) => {
        out += String(d);
        if (out.includes("tessera listening")) {
          // Lines logged right after the listening line belong to startup too.
          setTimeout(() => {
            clearTimeout(timer);
            resolve(out);
          }, 200);
        }
      };
      child.stdout.on("data", onData);
      child.stderr.on("data", onData);
      child.on("exit", (code) => reject(new Error(`exited with ${code}: ${out}`)));
    });
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => (child.exitCode === null ? child.once("exit", r) : r(undefined)));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

describe("loadConfig", () => {
  it("has working defaults: none mode, embedded database, 127.0.0.1:8080", () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      host: "127.0.0.1",
      port: 8080,
      authMode: "none",
      database: { kind: "pglite", dataDir: "./.tessera/data" },
      dbAutoMigrate: true,
      logsJson: true,
      shutdownTimeoutMs: 10_000,
      publicUrl: "http://127.0.0.1:8080",
      accessTokenLifetimeSeconds: 900,
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it("reports the package's version (found from src/ and from the dist/ bundle alike)", () => {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
    expect(loadConfig({}).version).toBe(pkg.version);
    expect(pkg.version).not.toBe("0.0.0");
  });

  it("builds a PostgreSQL URL from DB_* variables", () => {
    const c = loadConfig({ DB_HOST: "db.local", DB_PORT: "6543", DB_NAME: "auth", DB_USER: "u@x", DB_PASS: "p:w", DB_SSL_DISABLE: "true" });
    expect(c.database).toEqual({ kind: "postgres", url: "postgres://u%40x:p%3Aw@db.local:6543/auth?sslmode=disable", source: "DB_*" });
  });

  it("prefers DATABASE_URL", () => {
    expect(loadConfig({ DATABASE_URL: "postgres://a@b/c", DB_HOST: "x" }).database).toEqual({
      kind: "postgres",
      url: "postgres://a@b/c",
      source: "DATABASE_URL",
    });
  });

  it("reads DATABASE_LISTEN_URL as the LISTEN connection (unset: the database URL is used)", () => {
    expect(loadConfig({ DATABASE_URL: "postgres://a@pooler/c", DATABASE_LISTEN_URL: "postgres://a@direct/c" }).database).toEqual({
      kind: "postgres",
      url: "postgres://a@pooler/c",
      source: "DATABASE_URL",
      listenUrl: "postgres://a@direct/c",
    });
    expect(loadConfig({ DATABASE_URL: "postgres://a@b/c" }).revocationProbeIntervalMs).toBe(5000);
  });

  it("reads API_KEY_EXTRA_SCOPES: scopes of embedding services, each with an optional least role", () => {
    expect(loadConfig({}).apiKeyExtraScopes).toEqual([]);
    expect(loadConfig({ API_KEY_EXTRA_SCOPES: "jobs:read, jobs:write@admin greet.v1.GreetService/*" }).apiKeyExtraScopes).toEqual([
      { scope: "jobs:read", minRole: undefined },
      { scope: "jobs:write", minRole: "admin" },
      { scope: "greet.v1.GreetService/*", minRole: undefined },
    ]);
  });

  it("maps AUTH_ENABLED=true to full mode when AUTH_MODE is unset", () => {
    expect(loadConfig({ AUTH_ENABLED: "true" }).authMode).toBe("full");
    expect(loadConfig({ AUTH_ENABLED: "true", AUTH_MODE: "none" }).authMode).toBe("none");
  });

  it.each([
    [{ AUTH_MODE: "sometimes" }, "AUTH_MODE"],
    [{ PORT: "eighty" }, "PORT"],
    [{ PORT: "70000" }, "PORT"],
    [{ AUTH_MODE: "admin" }, "AUTH_ADMIN_EMAIL"],
    [{ AUTH_MODE: "admin", AUTH_ADMIN_EMAIL: "a@b.c" }, "AUTH_ADMIN_PASSWORD"],
    [{ DB_AUTO_MIGRATE: "maybe" }, "DB_AUTO_MIGRATE"],
    [{ DATABASE_URL: "mysql://x" }, "DATABASE_URL"],
    [{ DATABASE_URL: "postgres://a@b/c", DATABASE_LISTEN_URL: "mysql://x" }, "DATABASE_LISTEN_URL"],
    [{ REVOCATION_PROBE_INTERVAL_MS: "10" }, "REVOCATION_PROBE_INTERVAL_MS"],
    [{ SHUTDOWN_TIMEOUT_SECONDS: "-1" }, "SHUTDOWN_TIMEOUT_SECONDS"],
    [{ LOG_LEVEL: "verbose" }, "LOG_LEVEL"],
    [{ API_KEY_EXTRA_SCOPES: "jobs:read Jobs:Write" }, "API_KEY_EXTRA_SCOPES"],
    [{ API_KEY_EXTRA_SCOPES: "jobs:write@owner" }, "API_KEY_EXTRA_SCOPES"],
    [{ API_KEY_EXTRA_SCOPES: "*:read" }, "API_KEY_EXTRA_SCOPES"],
  ])("rejects %o naming %s", (env, variable) => {
    let err: unknown;
    try {
      loadConfig(env);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).variable).toBe(variable);
    expect((err as Error).message.startsWith(`${variable}:`)).toBe(true);
  });

  it("stops `tessera serve` with one line naming the variable and exit code 2", () => {
    const r = spawnSync(process.execPath, ["packages/server/bin/tessera.js", "serve"], {
      env: { PATH: process.env.PATH, AUTH_MODE: "bogus" },
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(r.status).toBe(2);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("AUTH_MODE");
  });

  it("warns at startup when AUTH_MODE=none listens on an address other machines can reach", async () => {
    const warning = /"level":40,.*AUTH_MODE=none on an address other machines can reach/;
    expect(await serveOutput({ HOST: "0.0.0.0" })).toMatch(warning);
    const local = await serveOutput({ HOST: "127.0.0.1" });
    expect(local).toContain("tessera listening");
    expect(local).not.toMatch(warning);
  }, 120_000);

  it("tells loopback hosts from reachable ones", () => {
    for (const h of ["127.0.0.1", "127.1.2.3", "localhost", "LOCALHOST", "::1", "[::1]", "::ffff:127.0.0.1"]) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ["0.0.0.0", "::", "10.0.0.1", "192.168.1.5", "example.com", "128.0.0.1", "127.0.0.1.example.com"]) expect(isLoopbackHost(h), h).toBe(false);
  });
});

describe("the configuration schema", () => {
  /** Runs loadConfig on `env` and returns the names it looked up. */
  function namesRead(env: Record<string, string>): Set<string> {
    const seen = new Set<string>();
    const spy = new Proxy(env, {
      get(target, key) {
        if (typeof key === "string") seen.add(key);
        return target[key as string];
      },
    });
    loadConfig(spy);
    return seen;
  }

  it("is all loadConfig reads, and loadConfig reads all of it", () => {
    const declared = new Set(VARIABLE_LIST.flatMap((v) => [v.name, ...(v.aliases ?? [])]));
    const read = new Set([
      ...namesRead({}),
      // Every branch: full mode with a provider and its admin API, the DB_* parts.
      ...namesRead({
        AUTH_MODE: "full",
        AUTH_BASEURL: "https://idp.example",
        AUTH_AUDIENCE: "api",
        AUTH_CLIENT_ID: "tessera",
        AUTH_API_BASEURL: "https://idp.example/realms/acme",
        AUTH_API_CLIENT_ID: "admin-reader",
        DB_HOST: "db.example",
      }),
    ]);
    expect(
      [...read].filter((n) => !declared.has(n)),
      "read but not declared",
    ).toEqual([]);
    expect(
      [...declared].filter((n) => !read.has(n)),
      "declared but never read",
    ).toEqual([]);
  });

  it("is read only in config/: no other server source touches the environment", () => {
    const src = path.resolve(import.meta.dirname, "../packages/server/src");
    const offenders: string[] = [];
    for (const entry of readdirSync(src, { recursive: true, encoding: "utf8" })) {
      if (!entry.endsWith(".ts")) continue;
      const file = entry.split(path.sep).join("/");
      const text = readFileSync(path.join(src, entry), "utf8");
      // loadConfig's default argument is the one mention of process.env; read() the one lookup.
      if (/process\.env/.test(text) && file !== "config/config.ts") offenders.push(`${file}: process.env`);
      if (/\benv(\?\.|\.|\[)/.test(text) && file !== "config/read.ts") offenders.push(`${file}: env lookup`);
    }
    expect(offenders).toEqual([]);
  });

  it("reads a value trimmed (blank is unset), a secret as written, and a deprecated alias when the name is unset", () => {
    const port = variable({ name: "X_PORT", section: "server", description: "test", parser: int(1, 9), default: 5, aliases: ["OLD_PORT"] });
    expect(read({}, port)).toBe(5);
    expect(read({ X_PORT: " 7 " }, port)).toBe(7);
    expect(read({ X_PORT: "  " }, port)).toBe(5);
    expect(read({ OLD_PORT: "8" }, port)).toBe(8);
    expect(read({ X_PORT: "6", OLD_PORT: "8" }, port)).toBe(6);
    expect(() => read({ OLD_PORT: "80" }, port)).toThrow(/^OLD_PORT: must be between 1 and 9, got 80$/);
    const secret = variable({ name: "X_SECRET", section: "server", description: "test", parser: verbatim(), default: undefined });
    expect(read({ X_SECRET: " s p " }, secret)).toBe(" s p ");
    expect(read({ X_SECRET: "" }, secret)).toBe("");
    expect(read({}, secret)).toBeUndefined();
  });

  it("gives every Config its own copy of a default list", () => {
    const a = loadConfig({});
    (a.corsAllowedOrigins as string[]).push("https://changed.example");
    expect(loadConfig({}).corsAllowedOrigins).toEqual([]);
  });
});
