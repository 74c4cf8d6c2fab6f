/**
 * LOG_LEVEL_SIGUSR2: a running `tessera serve` switches its log level on SIGUSR2 and
 * back on the next one, each switch logged at warn; the per-RPC lines follow the level.
 * The real command in a child process (a real signal), on both databases.
 */
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../packages/server/src/config/config.js";
import { logLevelSwitch } from "../packages/server/src/lib/log-level-switch.js";
import { createLogger, rpcLogger } from "../packages/server/src/lib/logger.js";
import { createTestDatabase, DB_KINDS, type TestDatabase } from "./helpers/db.js";
import { startServerProcess, type ServerProcess } from "./faults/process.js";

type Line = { msg?: string; level?: number; from?: string; to?: string; procedure?: string };

describe("logLevelSwitch", () => {
  it("toggles between the configured and the alternate level, says so at warn, and the per-RPC line follows", () => {
    const writes: string[] = [];
    const stream = new Writable({
      write(c, _e, cb) {
        writes.push(String(c));
        cb();
      },
    });
    const logger = createLogger({ json: true, level: "warn", destination: stream });
    const rpc = rpcLogger(logger);
    const fields = { procedure: "tessera.v1.AuthService/GetAuthConfig", code: "ok", duration_ms: 0.4, client_ip: "127.0.0.1" };
    const toggle = logLevelSwitch(logger, "warn", "info");
    rpc(fields);
    expect(toggle()).toEqual({ from: "warn", to: "info" });
    rpc(fields);
    expect(toggle()).toEqual({ from: "info", to: "warn" });
    rpc(fields);
    logger.flush();
    const lines = writes
      .join("")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Line);
    expect(lines.map((l) => l.msg)).toEqual(["log level changed", "rpc", "log level changed"]);
    expect(lines[0]).toMatchObject({ level: 40, from: "warn", to: "info" });
    expect(lines[2]).toMatchObject({ level: 40, from: "info", to: "warn" });
  });

  it("reads LOG_LEVEL_SIGUSR2 (default debug) and rejects a level that is none", () => {
    expect(loadConfig({}).logLevelSigusr2).toBe("debug");
    expect(loadConfig({ LOG_LEVEL_SIGUSR2: "info" }).logLevelSigusr2).toBe("info");
    expect(() => loadConfig({ LOG_LEVEL_SIGUSR2: "loud" })).toThrow(/LOG_LEVEL_SIGUSR2/);
  });
});

describe.each(DB_KINDS)("SIGUSR2 on a running tessera serve (%s)", (kind) => {
  let server: ServerProcess | undefined;
  let database: TestDatabase | undefined;
  afterEach(async () => {
    if (server && server.child.exitCode === null) {
      server.child.kill("SIGTERM");
      await server.exited;
    }
    await database?.drop();
  });

  it("switches to LOG_LEVEL_SIGUSR2 and back: every RPC's line while at info, none at warn", async () => {
    database = await createTestDatabase(kind);
    await database.db.close(); // the server process opens it (PGlite: one process per directory)
    server = await startServerProcess({ LOG_LEVEL: "warn", LOG_LEVEL_SIGUSR2: "info", ...database.env });
    const { child, baseUrl, output } = server;
    const lines = () =>
      output()
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Line);
    const switches = () => lines().filter((l) => l.msg === "log level changed");
    const rpcs = () => lines().filter((l) => l.msg === "rpc");
    /** Waits (up to 10 s: lines are written at most LINGER_MS late) until `done()` holds. */
    const until = async (what: string, done: () => boolean) => {
      const deadline = Date.now() + 10_000;
      while (!done()) {
        if (Date.now() > deadline) throw new Error(`${what} did not happen within 10 s; output: ${output()}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    const call = async () => {
      const r = await fetch(`${baseUrl}/tessera.v1.AuthService/GetAuthConfig`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      });
      expect(r.status).toBe(200);
    };
    for (let i = 0; i < 3; i++) await call();

    child.kill("SIGUSR2");
    await until("the switch to info", () => switches().length === 1);
    expect(switches()[0]).toMatchObject({ from: "warn", to: "info", level: 40 });
    for (let i = 0; i < 3; i++) await call();
    await until("three RPC lines", () => rpcs().length === 3);

    child.kill("SIGUSR2");
    await until("the switch back to warn", () => switches().length === 2);
    expect(switches()[1]).toMatchObject({ from: "info", to: "warn" });
    for (let i = 0; i < 3; i++) await call();
    // A third switch is the marker: every line logged before it is out once it is.
    child.kill("SIGUSR2");
    await until("the third switch", () => switches().length === 3);
    const msgs = lines().map((l) => l.msg);
    const second = msgs.indexOf("log level changed", msgs.indexOf("log level changed") + 1);
    expect(msgs.slice(second + 1, msgs.lastIndexOf("log level changed")), "no RPC line at warn").toEqual([]);
    expect(rpcs()).toHaveLength(3);
  });
});
